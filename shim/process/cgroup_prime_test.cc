// RewriteOwnCgroup against fake /proc and cgroup trees (which file it writes, and what), and on
// the host's real cgroups (as root): the process stays where it was.
#include "shim/process/cgroup_prime.h"

#include <unistd.h>

#include <string>

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

std::string Read(const std::string& path) {
  absl::StatusOr<std::string> text = fs::ReadFile(path);
  return text.ok() ? *text : "<" + std::string(text.status().message()) + ">";
}

void Put(const std::string& path, const std::string& text) {
  ASSERT_THAT(fs::MakeDirs(path.substr(0, path.rfind('/')), 0755), IsOk());
  ASSERT_THAT(fs::WriteFileAtomically(path, text, 0644), IsOk());
}

TEST(CgroupPrimeTest, WritesOwnPidIntoOwnV1PidsCgroup) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  CgroupRoots roots{dir->Sub("proc"), dir->Sub("cg")};
  const std::string self = std::to_string(::getpid());
  Put(roots.proc + "/" + self + "/cgroup", "8:pids:/shims/s1\n1:cpu,cpuacct:/\n0::/\n");
  Put(roots.cgroup + "/pids/shims/s1/cgroup.procs", "");
  Put(roots.cgroup + "/cpu/cgroup.procs", "");
  ASSERT_THAT(RewriteOwnCgroup(roots), IsOk());
  EXPECT_EQ(Read(roots.cgroup + "/pids/shims/s1/cgroup.procs"), self);
  EXPECT_EQ(Read(roots.cgroup + "/cpu/cgroup.procs"), "");
}

TEST(CgroupPrimeTest, WritesIntoTheUnifiedCgroupOnV2) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  CgroupRoots roots{dir->Sub("proc"), dir->Sub("cg")};
  const std::string self = std::to_string(::getpid());
  Put(roots.proc + "/" + self + "/cgroup", "0::/system.slice/berth.service\n");
  Put(roots.cgroup + "/cgroup.controllers", "cpu memory pids\n");
  Put(roots.cgroup + "/system.slice/berth.service/cgroup.procs", "");
  ASSERT_THAT(RewriteOwnCgroup(roots), IsOk());
  EXPECT_EQ(Read(roots.cgroup + "/system.slice/berth.service/cgroup.procs"), self);
}

TEST(CgroupPrimeTest, NoKnownCgroupIsFailedPrecondition) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  CgroupRoots roots{dir->Sub("proc"), dir->Sub("cg")};
  Put(roots.proc + "/" + std::to_string(::getpid()) + "/cgroup", "9:freezer:/\n");
  ASSERT_THAT(fs::MakeDirs(roots.cgroup, 0755), IsOk());
  EXPECT_THAT(RewriteOwnCgroup(roots), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(CgroupPrimeTest, LeavesTheProcessInItsCgroupsOnTheHost) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to write cgroup.procs";
  const std::string before = Read("/proc/self/cgroup");
  ASSERT_FALSE(before.empty());
  ASSERT_THAT(RewriteOwnCgroup(), IsOk());
  EXPECT_EQ(Read("/proc/self/cgroup"), before);
}

}  // namespace
}  // namespace berth::shim::process
