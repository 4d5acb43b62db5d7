// Cgroup statistics from fake /proc and cgroup trees in a temp dir, v1 and v2 layouts.
#include "shim/process/cgroup_stats.h"

#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::shim::process {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;

void Put(const std::string& path, const std::string& text) {
  ASSERT_THAT(fs::MakeDirs(path.substr(0, path.rfind('/')), 0755), IsOk());
  ASSERT_THAT(fs::WriteFileAtomically(path, text, 0644), IsOk());
}

TEST(CgroupStatsTest, ReadsV1Hierarchies) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  CgroupRoots roots{dir->Sub("proc"), dir->Sub("cg")};
  Put(roots.proc + "/42/cgroup",
      "12:pids:/c1\n7:cpu,cpuacct:/c1\n5:memory:/parent/c1\n3:blkio:/c1\n0::/\n");
  const std::string cg = roots.cgroup;
  Put(cg + "/cpuacct/c1/cpuacct.usage", "5000\n");
  Put(cg + "/cpuacct/c1/cpuacct.usage_percpu", "3000 2000 \n");
  Put(cg + "/cpuacct/c1/cpuacct.stat", "user 2\nsystem 1\n");
  Put(cg + "/cpu/c1/cpu.stat", "nr_periods 10\nnr_throttled 2\nthrottled_time 777\n");
  Put(cg + "/memory/parent/c1/memory.usage_in_bytes", "1048576\n");
  Put(cg + "/memory/parent/c1/memory.limit_in_bytes", "9223372036854771712\n");
  Put(cg + "/memory/parent/c1/memory.max_usage_in_bytes", "2097152\n");
  Put(cg + "/memory/parent/c1/memory.failcnt", "4\n");
  Put(cg + "/memory/parent/c1/memory.stat", "cache 100\nrss 200\ntotal_inactive_file 50\n");
  Put(cg + "/memory/parent/c1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  Put(cg + "/pids/c1/pids.current", "3\n");
  Put(cg + "/pids/c1/pids.max", "max\n");
  Put(cg + "/blkio/c1/blkio.throttle.io_service_bytes", "8:0 Read 4096\n8:0 Write 8192\nTotal 1\n");
  Put(cg + "/blkio/c1/blkio.throttle.io_serviced", "8:0 Read 1\n8:0 Write 2\n");

  auto dirs = FindCgroupDirs(42, roots);
  ASSERT_THAT(dirs, IsOk());
  EXPECT_EQ(dirs->version, 1);
  EXPECT_EQ(dirs->memory, cg + "/memory/parent/c1");
  auto m = ReadCgroupMetrics(*dirs);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->cgroup_version(), 1u);
  EXPECT_EQ(m->cpu().usage_total_ns(), 5000u);
  EXPECT_THAT(m->cpu().per_cpu_usages_ns(), ::testing::ElementsAre(3000, 2000));
  EXPECT_GT(m->cpu().usage_user_ns(), 0u);
  EXPECT_EQ(m->cpu().throttling().throttled_time_ns(), 777u);
  EXPECT_EQ(m->memory().usage_bytes(), 1048576u);
  EXPECT_EQ(m->memory().limit_bytes(), 0u);
  EXPECT_EQ(m->memory().max_usage_bytes(), 2097152u);
  EXPECT_EQ(m->memory().cache_bytes(), 100u);
  EXPECT_EQ(m->memory().rss_bytes(), 200u);
  EXPECT_EQ(m->memory().inactive_file_bytes(), 50u);
  EXPECT_EQ(m->memory().raw().at("rss"), 200u);
  EXPECT_EQ(m->memory().oom_kill_events(), 1u);
  EXPECT_EQ(m->memory().failcnt(), 4u);
  EXPECT_EQ(m->pids().current(), 3u);
  EXPECT_EQ(m->pids().limit(), 0u);
  ASSERT_EQ(m->blkio().devices_size(), 1);
  EXPECT_EQ(m->blkio().devices(0).read_bytes(), 4096u);
  EXPECT_EQ(m->blkio().devices(0).write_ops(), 2u);
}

TEST(CgroupStatsTest, ReadsTheV2UnifiedDirectory) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  CgroupRoots roots{dir->Sub("proc"), dir->Sub("cg")};
  Put(roots.proc + "/7/cgroup", "0::/berth/c2\n");
  Put(roots.cgroup + "/cgroup.controllers", "cpu memory pids io\n");
  const std::string d = roots.cgroup + "/berth/c2";
  Put(d + "/cpu.stat", "usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 1\n");
  Put(d + "/memory.current", "4096\n");
  Put(d + "/memory.max", "max\n");
  Put(d + "/memory.stat", "anon 1000\nfile 2000\ninactive_file 300\n");
  Put(d + "/memory.events", "low 0\nhigh 0\nmax 5\noom 2\noom_kill 1\n");
  Put(d + "/pids.current", "2\n");
  Put(d + "/pids.max", "100\n");
  Put(d + "/io.stat", "259:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n");
  auto dirs = FindCgroupDirs(7, roots);
  ASSERT_THAT(dirs, IsOk());
  EXPECT_EQ(dirs->version, 2);
  auto m = ReadCgroupMetrics(*dirs);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->cgroup_version(), 2u);
  EXPECT_EQ(m->cpu().usage_total_ns(), 10000u);
  EXPECT_EQ(m->cpu().usage_user_ns(), 6000u);
  EXPECT_EQ(m->memory().usage_bytes(), 4096u);
  EXPECT_EQ(m->memory().limit_bytes(), 0u);
  EXPECT_EQ(m->memory().rss_bytes(), 1000u);
  EXPECT_EQ(m->memory().cache_bytes(), 2000u);
  EXPECT_EQ(m->memory().oom_events(), 2u);
  EXPECT_EQ(m->memory().oom_kill_events(), 1u);
  EXPECT_EQ(m->memory().failcnt(), 5u);
  EXPECT_EQ(m->pids().limit(), 100u);
  ASSERT_EQ(m->blkio().devices_size(), 1);
  EXPECT_EQ(m->blkio().devices(0).major(), 259u);
  EXPECT_EQ(m->blkio().devices(0).write_bytes(), 20u);
}

TEST(CgroupStatsTest, ReadsOomKillsFromV1AndV2Files) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  CgroupDirs v1;
  v1.version = 1;
  v1.memory = dir->Sub("v1");
  Put(v1.memory + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
  auto kills = ReadOomKills(v1);
  ASSERT_THAT(kills, IsOk());
  EXPECT_EQ(*kills, 3u);
  CgroupDirs v2;
  v2.version = 2;
  v2.memory = dir->Sub("v2");
  Put(v2.memory + "/memory.events", "low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\n");
  kills = ReadOomKills(v2);
  ASSERT_THAT(kills, IsOk());
  EXPECT_EQ(*kills, 1u);
  // An old kernel without the counter, a removed cgroup, no memory controller.
  Put(v1.memory + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
  EXPECT_THAT(ReadOomKills(v1), StatusIs(absl::StatusCode::kFailedPrecondition));
  v2.memory = dir->Sub("gone");
  EXPECT_THAT(ReadOomKills(v2), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ReadOomKills(CgroupDirs{}), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(CgroupStatsTest, GoneProcessIsNotFound) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  CgroupRoots roots{dir->Sub("proc"), dir->Sub("cg")};
  EXPECT_THAT(FindCgroupDirs(99, roots).status(), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace berth::shim::process
