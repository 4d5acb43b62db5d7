// The v1 manager on a fake cgroupfs laid out like this VM (hybrid: v1 hierarchies plus a
// cgroup2 tree; the caller's memory cgroup is /process_api/d93f, the others /).
#include "runc/cgroups/v1_manager.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runc/cgroups/fake_cgroupfs.h"
#include "runc/cgroups/manager.h"

namespace berth::runc::cgroups {
namespace {

using ::berth::runc::cgroups::testing::FakeCgroupFs;
using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr const char* kHierarchies[] = {"cpu",     "cpuacct", "cpuset", "memory", "devices",
                                        "freezer", "blkio",   "pids",   "systemd"};

std::string HostMountinfo(const std::vector<std::string>& skip = {}) {
  std::string out = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n";
  int id = 32;
  for (const char* h : kHierarchies) {
    if (std::find(skip.begin(), skip.end(), h) != skip.end()) continue;
    std::string opts = std::string(h) == "systemd" ? "name=systemd" : h;
    absl::StrAppend(&out, id, " 31 0:", id - 3, " / /sys/fs/cgroup/", h,
                    " rw,relatime - cgroup cgroup rw,", opts, "\n");
    ++id;
  }
  absl::StrAppend(&out, "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
  return out;
}

constexpr char kProcCgroup[] =
    "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n"
    "4:memory:/process_api/d93f\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";

// IsFrozen, failing the test on an error.
bool Frozen(Manager& m) {
  absl::StatusOr<bool> f = m.IsFrozen();
  EXPECT_THAT(f, IsOk());
  return f.ok() && *f;
}

class V1ManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<FakeCgroupFs>> fake = FakeCgroupFs::Create();
    ASSERT_THAT(fake, IsOk());
    fs_ = std::move(*fake);
    for (const char* h : kHierarchies) {
      std::string controllers = std::string(h) == "systemd" ? "name=systemd" : h;
      ASSERT_THAT(
          fs_->AddHierarchy(absl::StrCat("/sys/fs/cgroup/", h), FakeCgroupFs::V1Files(controllers),
                            FakeCgroupFs::V1RootFiles(controllers)),
          IsOk());
    }
    ASSERT_THAT(fs_->AddHierarchy("/sys/fs/cgroup/unified", FakeCgroupFs::V2Files()), IsOk());
    ASSERT_THAT(fs_->MakeCgroup("/sys/fs/cgroup/memory/process_api"), IsOk());
    ASSERT_THAT(fs_->MakeCgroup("/sys/fs/cgroup/memory/process_api/d93f"), IsOk());
  }

  Options Opts() {
    Options o;
    o.mountinfo = mountinfo_;
    o.proc_self_cgroup = kProcCgroup;
    o.root_prefix = fs_->root();
    o.fs = fs_.get();
    o.warn = [this](absl::string_view w) { warnings_.emplace_back(w); };
    o.freeze_timeout = absl::Milliseconds(50);
    o.destroy_timeout = absl::Milliseconds(20);
    return o;
  }

  std::unique_ptr<Manager> New(const std::string& path, const std::string& id = "c1") {
    absl::StatusOr<std::unique_ptr<Manager>> m = NewManager(Config{path, id}, Opts());
    EXPECT_THAT(m, IsOk());
    return m.ok() ? std::move(*m) : nullptr;
  }

  // A created manager for /berth-test/c1, with the set-up writes forgotten.
  std::unique_ptr<Manager> Created() {
    std::unique_ptr<Manager> m = New("/berth-test/c1");
    if (m != nullptr) {
      EXPECT_THAT(m->Create(), IsOk());
    }
    fs_->ClearWrites();
    return m;
  }

  static std::string Leaf(absl::string_view hierarchy, absl::string_view file = "") {
    std::string dir = absl::StrCat("/sys/fs/cgroup/", hierarchy, "/berth-test/c1");
    return file.empty() ? dir : absl::StrCat(dir, "/", file);
  }

  std::unique_ptr<FakeCgroupFs> fs_;
  std::string mountinfo_ = HostMountinfo();
  std::vector<std::string> warnings_;
};

TEST_F(V1ManagerTest, ResolvesAbsoluteRelativeAndDefaultPaths) {
  std::unique_ptr<Manager> abs = New("/a/b");
  ASSERT_NE(abs, nullptr);
  EXPECT_FALSE(abs->IsUnified());
  std::vector<std::string> dirs;
  for (const CgroupPath& p : abs->Paths()) {
    dirs.push_back(p.path.substr(fs_->root().size()));
    EXPECT_TRUE(absl::StartsWith(p.path, p.mount_point));
  }
  EXPECT_THAT(dirs, ElementsAre("/sys/fs/cgroup/cpu/a/b", "/sys/fs/cgroup/cpuacct/a/b",
                                "/sys/fs/cgroup/cpuset/a/b", "/sys/fs/cgroup/memory/a/b",
                                "/sys/fs/cgroup/devices/a/b", "/sys/fs/cgroup/freezer/a/b",
                                "/sys/fs/cgroup/blkio/a/b", "/sys/fs/cgroup/pids/a/b",
                                "/sys/fs/cgroup/systemd/a/b"));
  EXPECT_EQ(abs->Paths()[8].controllers, "name=systemd");

  // Relative: below the caller's cgroup, which differs for memory on this VM.
  std::unique_ptr<Manager> rel = New("a/b");
  ASSERT_NE(rel, nullptr);
  EXPECT_EQ(rel->Paths()[3].path,
            absl::StrCat(fs_->root(), "/sys/fs/cgroup/memory/process_api/d93f/a/b"));
  EXPECT_EQ(rel->Paths()[0].path, absl::StrCat(fs_->root(), "/sys/fs/cgroup/cpu/a/b"));

  std::unique_ptr<Manager> def = New("", "ctr-1");
  ASSERT_NE(def, nullptr);
  EXPECT_EQ(def->Paths()[0].path, absl::StrCat(fs_->root(), "/sys/fs/cgroup/cpu/berth-runc/ctr-1"));

  EXPECT_THAT(NewManager(Config{"/a/../b", "c1"}, Opts()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("linux.cgroupsPath")));
}

TEST_F(V1ManagerTest, CreateMakesEveryDirAndFillsTheCpuset) {
  std::unique_ptr<Manager> m = New("/berth-test/c1");
  ASSERT_THAT(m->Create(), IsOk());
  for (const char* h : kHierarchies) EXPECT_TRUE(fs_->Has(Leaf(h))) << h;
  EXPECT_EQ(fs_->Read("/sys/fs/cgroup/cpuset/berth-test/cpuset.cpus"), "0-1");
  EXPECT_EQ(fs_->Read("/sys/fs/cgroup/cpuset/berth-test/cpuset.mems"), "0");
  EXPECT_EQ(fs_->Read(Leaf("cpuset", "cpuset.cpus")), "0-1");
  EXPECT_EQ(fs_->Read(Leaf("cpuset", "cpuset.mems")), "0");
  EXPECT_FALSE(fs_->Has("/sys/fs/cgroup/unified/berth-test"));  // hybrid: v1 only, as runc
  EXPECT_THAT(m->Serialize(),
              HasSubstr(absl::StrCat("memory 2 ", fs_->root(), "/sys/fs/cgroup/memory ",
                                     fs_->root(), "/sys/fs/cgroup/memory/berth-test/c1\n")));
  // Idempotent, and it still knows it made two levels.
  ASSERT_THAT(m->Create(), IsOk());
  EXPECT_THAT(m->Serialize(), HasSubstr("memory 2 "));
}

TEST_F(V1ManagerTest, CpusetOfAnExistingParentIsKept) {
  ASSERT_THAT(fs_->MakeCgroup("/sys/fs/cgroup/cpuset/berth-test"), IsOk());
  ASSERT_THAT(fs_->Put("/sys/fs/cgroup/cpuset/berth-test/cpuset.cpus", "1\n"), IsOk());
  std::unique_ptr<Manager> m = New("/berth-test/c1");
  ASSERT_THAT(m->Create(), IsOk());
  EXPECT_EQ(fs_->Read("/sys/fs/cgroup/cpuset/berth-test/cpuset.cpus"), "1\n");
  EXPECT_EQ(fs_->Read(Leaf("cpuset", "cpuset.cpus")), "1");
  EXPECT_EQ(fs_->Read(Leaf("cpuset", "cpuset.mems")), "0");
}

TEST_F(V1ManagerTest, FailedCreateLeavesNothing) {
  fs_->FailWrites("cpuset.mems", EACCES);
  std::unique_ptr<Manager> m = New("/berth-test/c1");
  EXPECT_THAT(m->Create(), StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("cpuset.mems")));
  for (const char* h : kHierarchies) {
    EXPECT_FALSE(fs_->Has(absl::StrCat("/sys/fs/cgroup/", h, "/berth-test"))) << h;
  }
  EXPECT_THAT(m->Destroy(), IsOk());
}

TEST_F(V1ManagerTest, DestroyRemovesOnlyWhatCreateMade) {
  ASSERT_THAT(fs_->MakeCgroup("/sys/fs/cgroup/cpu/berth-test"), IsOk());  // someone else's
  std::unique_ptr<Manager> m = New("/berth-test/c1");
  ASSERT_THAT(m->Create(), IsOk());
  EXPECT_THAT(m->Serialize(), HasSubstr("\ncpu 1 "));
  ASSERT_THAT(fs_->MakeCgroup(Leaf("memory", "sub")), IsOk());  // made inside the container
  ASSERT_THAT(m->Destroy(), IsOk());
  EXPECT_TRUE(fs_->Has("/sys/fs/cgroup/cpu/berth-test"));
  EXPECT_FALSE(fs_->Has(Leaf("cpu")));
  for (const char* h : kHierarchies) {
    if (std::string(h) != "cpu") {
      EXPECT_FALSE(fs_->Has(absl::StrCat("/sys/fs/cgroup/", h, "/berth-test"))) << h;
    }
  }
  EXPECT_THAT(m->Destroy(), IsOk());  // idempotent
}

TEST_F(V1ManagerTest, DestroyKeepsAParentAnotherContainerUses) {
  std::unique_ptr<Manager> a = New("", "a");
  std::unique_ptr<Manager> b = New("", "b");
  ASSERT_THAT(a->Create(), IsOk());
  ASSERT_THAT(b->Create(), IsOk());
  ASSERT_THAT(a->Destroy(), IsOk());
  EXPECT_TRUE(fs_->Has("/sys/fs/cgroup/pids/berth-runc/b"));
  EXPECT_FALSE(fs_->Has("/sys/fs/cgroup/pids/berth-runc/a"));
  ASSERT_THAT(b->Destroy(), IsOk());
  EXPECT_FALSE(fs_->Has("/sys/fs/cgroup/pids/berth-runc"));
}

TEST_F(V1ManagerTest, DestroyFailsWhileProcessesRemain) {
  std::unique_ptr<Manager> m = Created();
  ASSERT_THAT(fs_->Put(Leaf("pids", "cgroup.procs"), "4242\n"), IsOk());
  EXPECT_THAT(m->Destroy(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("processes remain")));
  EXPECT_TRUE(fs_->Has(Leaf("pids")));
  EXPECT_FALSE(fs_->Has(Leaf("memory")));  // the others went
  ASSERT_THAT(fs_->Put(Leaf("pids", "cgroup.procs"), ""), IsOk());
  EXPECT_THAT(m->Destroy(), IsOk());
  EXPECT_FALSE(fs_->Has("/sys/fs/cgroup/pids/berth-test"));
}

TEST_F(V1ManagerTest, SerializeAndLoad) {
  std::unique_ptr<Manager> m = Created();
  std::string text = m->Serialize();
  EXPECT_TRUE(absl::StartsWith(text, "berth-cgroups v1\n")) << text;
  absl::StatusOr<std::unique_ptr<Manager>> loaded = LoadManager(text, Opts());
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ((*loaded)->Serialize(), text);
  ASSERT_THAT((*loaded)->Destroy(), IsOk());
  EXPECT_FALSE(fs_->Has("/sys/fs/cgroup/memory/berth-test"));

  for (const char* bad :
       {"", "berth-cgroups v3\n", "berth-cgroups v1\n",
        "berth-cgroups v1\nmemory 1 /sys/fs/cgroup/memory /etc\n",
        "berth-cgroups v1\nmemory 1 /sys/fs/cgroup/memory /sys/fs/cgroup/memory\n",
        "berth-cgroups v1\nmemory 3 /m /m/a/b\n", "berth-cgroups v1\nmemory 1 /m /m/../etc\n",
        "berth-cgroups v1\n- 1 /m /m/a\n"}) {
    EXPECT_THAT(LoadManager(bad, Opts()), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST_F(V1ManagerTest, SerializeEscapesPaths) {
  std::unique_ptr<Manager> m = New("/a b\\c/d");
  ASSERT_THAT(m->Create(), IsOk());
  std::string text = m->Serialize();
  EXPECT_THAT(text, HasSubstr("/a\\040b\\134c/d\n"));
  absl::StatusOr<std::unique_ptr<Manager>> loaded = LoadManager(text, Opts());
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ((*loaded)->Paths()[0].path, absl::StrCat(fs_->root(), "/sys/fs/cgroup/cpu/a b\\c/d"));
  EXPECT_THAT((*loaded)->Destroy(), IsOk());
  EXPECT_FALSE(fs_->Has("/sys/fs/cgroup/cpu/a b\\c"));
}

TEST_F(V1ManagerTest, AddProcessJoinsEveryHierarchy) {
  std::unique_ptr<Manager> m = Created();
  ASSERT_THAT(m->AddProcess(4242), IsOk());
  EXPECT_EQ(fs_->WritesTo("/cgroup.procs").size(), std::size(kHierarchies));
  EXPECT_EQ(fs_->Read(Leaf("systemd", "cgroup.procs")), "4242\n");
  absl::StatusOr<std::vector<pid_t>> pids = m->Pids();
  ASSERT_THAT(pids, IsOk());
  EXPECT_THAT(*pids, ElementsAre(4242));
  fs_->FailWrites("cgroup.procs", ESRCH);
  EXPECT_THAT(m->AddProcess(4243), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(fs_->Put(Leaf("pids", "cgroup.procs"), ""), IsOk());
}

TEST_F(V1ManagerTest, PidsIncludeChildCgroups) {
  std::unique_ptr<Manager> m = Created();
  ASSERT_THAT(fs_->MakeCgroup(Leaf("pids", "sub")), IsOk());
  ASSERT_THAT(fs_->Put(Leaf("pids", "cgroup.procs"), "10\n11\n"), IsOk());
  ASSERT_THAT(fs_->Put(Leaf("pids", "sub/cgroup.procs"), "12\n"), IsOk());
  absl::StatusOr<std::vector<pid_t>> pids = m->Pids();
  ASSERT_THAT(pids, IsOk());
  EXPECT_THAT(*pids, UnorderedElementsAre(10, 11, 12));
}

TEST_F(V1ManagerTest, MemoryLimitsLowerLimitFirst) {
  std::unique_ptr<Manager> m = Created();
  spec::Resources r;
  r.memory.emplace();
  r.memory->limit = 100 << 20;
  r.memory->swap = 200 << 20;
  r.memory->reservation = 50 << 20;
  r.memory->swappiness = 10;
  r.memory->disable_oom_killer = true;
  r.memory->kernel = 1 << 20;  // ignored, with a warning
  ASSERT_THAT(m->Apply(r), IsOk());
  std::vector<std::string> files;
  for (const auto& w : fs_->writes()) files.push_back(w.path.substr(Leaf("memory").size() + 1));
  // The current limit is unlimited, above the new memsw: lower the memory limit first.
  EXPECT_THAT(files,
              ElementsAre("memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
                          "memory.soft_limit_in_bytes", "memory.swappiness", "memory.oom_control"));
  EXPECT_EQ(fs_->Read(Leaf("memory", "memory.limit_in_bytes")), "104857600");
  EXPECT_EQ(fs_->Read(Leaf("memory", "memory.memsw.limit_in_bytes")), "209715200");
  EXPECT_EQ(fs_->Read(Leaf("memory", "memory.soft_limit_in_bytes")), "52428800");
  EXPECT_EQ(fs_->Read(Leaf("memory", "memory.swappiness")), "10");
  EXPECT_EQ(fs_->Read(Leaf("memory", "memory.oom_control")), "1");
  EXPECT_THAT(warnings_, ElementsAre(HasSubstr("memory.kernel")));
}

TEST_F(V1ManagerTest, MemoryLimitsRaiseSwapFirst) {
  std::unique_ptr<Manager> m = Created();
  ASSERT_THAT(fs_->Put(Leaf("memory", "memory.limit_in_bytes"), "1048576\n"), IsOk());
  spec::Resources r;
  r.memory.emplace();
  r.memory->limit = 4 << 20;
  r.memory->swap = 8 << 20;
  ASSERT_THAT(m->Apply(r), IsOk());
  EXPECT_THAT(fs_->WritesTo("memory.memsw.limit_in_bytes"), ElementsAre("8388608"));
  ASSERT_EQ(fs_->writes().size(), 2u);
  EXPECT_THAT(fs_->writes()[0].path, HasSubstr("memsw"));

  // An unlimited memory limit lifts the swap limit too; -1 first for memsw.
  fs_->ClearWrites();
  r.memory->limit = -1;
  r.memory->swap.reset();
  ASSERT_THAT(m->Apply(r), IsOk());
  ASSERT_EQ(fs_->writes().size(), 2u);
  EXPECT_THAT(fs_->writes()[0].path, HasSubstr("memory.memsw.limit_in_bytes"));
  EXPECT_EQ(fs_->writes()[0].value, "-1");
  EXPECT_EQ(fs_->writes()[1].value, "-1");
}

TEST_F(V1ManagerTest, MemoryErrorsNameTheField) {
  std::unique_ptr<Manager> m = Created();
  spec::Resources r;
  r.memory.emplace();
  r.memory->limit = 100 << 20;
  r.memory->swap = 50 << 20;
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("linux.resources.memory.swap")));
  r.memory->swap.reset();
  r.memory->swappiness = 101;
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("linux.resources.memory.swappiness")));
  r.memory->swappiness.reset();
  fs_->FailWrites("memory.limit_in_bytes", EBUSY);
  ASSERT_THAT(fs_->Put(Leaf("memory", "memory.usage_in_bytes"), "209715200\n"), IsOk());
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                    AllOf(HasSubstr("linux.resources.memory.limit"),
                                          HasSubstr("current usage 209715200"))));
  fs_->FailWrites("memory.soft_limit_in_bytes", EINVAL);
  r.memory->limit.reset();
  r.memory->reservation = 1;
  EXPECT_THAT(m->Apply(r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("linux.resources.memory.reservation: write \"1\" to "),
                             HasSubstr("memory.soft_limit_in_bytes: Invalid argument"))));
}

TEST_F(V1ManagerTest, Cpu) {
  std::unique_ptr<Manager> m = Created();
  spec::Resources r;
  r.cpu.emplace();
  r.cpu->shares = 512;
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  r.cpu->realtime_period = 1000000;
  r.cpu->realtime_runtime = 30000;
  r.cpu->cpus = "1";
  r.cpu->mems = "0";
  r.cpu->idle = 0;
  ASSERT_THAT(m->Apply(r), IsOk());
  EXPECT_EQ(fs_->Read(Leaf("cpu", "cpu.shares")), "512");
  EXPECT_EQ(fs_->Read(Leaf("cpu", "cpu.cfs_period_us")), "100000");
  EXPECT_EQ(fs_->Read(Leaf("cpu", "cpu.cfs_quota_us")), "50000");
  EXPECT_EQ(fs_->Read(Leaf("cpu", "cpu.rt_period_us")), "1000000");
  EXPECT_EQ(fs_->Read(Leaf("cpu", "cpu.rt_runtime_us")), "30000");
  EXPECT_EQ(fs_->Read(Leaf("cpu", "cpu.idle")), "0");
  EXPECT_EQ(fs_->Read(Leaf("cpuset", "cpuset.cpus")), "1");
  EXPECT_EQ(fs_->Read(Leaf("cpuset", "cpuset.mems")), "0");
  // cpuset first, as runc.
  EXPECT_THAT(fs_->writes()[0].path, HasSubstr("cpuset.cpus"));

  // A period the old quota does not fit: quota first, then the period again.
  fs_->ClearWrites();
  fs_->FailWrites("cpu.cfs_period_us", EINVAL, 1);
  r = spec::Resources();
  r.cpu.emplace();
  r.cpu->quota = 1000;
  r.cpu->period = 2000;
  ASSERT_THAT(m->Apply(r), IsOk());
  EXPECT_THAT(fs_->WritesTo("/cpu.cfs_quota_us"), ElementsAre("1000"));
  EXPECT_THAT(fs_->WritesTo("/cpu.cfs_period_us"), ElementsAre("2000"));
  EXPECT_THAT(fs_->writes()[0].path, HasSubstr("quota"));
}

TEST_F(V1ManagerTest, CpuSharesTheKernelClampsAreAnError) {
  std::unique_ptr<Manager> m = Created();
  fs_->RewriteWrites("cpu.shares", [](absl::string_view) { return std::string("2"); });
  spec::Resources r;
  r.cpu.emplace();
  r.cpu->shares = 1;
  EXPECT_THAT(m->Apply(r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("linux.resources.cpu.shares"), HasSubstr("2-262144"))));
}

TEST_F(V1ManagerTest, PidsZeroMeansUnset) {
  std::unique_ptr<Manager> m = Created();
  spec::Resources r;
  r.pids_limit = 0;
  ASSERT_THAT(m->Apply(r), IsOk());
  EXPECT_THAT(fs_->writes(), IsEmpty());
  r.pids_limit = -1;
  ASSERT_THAT(m->Apply(r), IsOk());
  r.pids_limit = 64;
  ASSERT_THAT(m->Apply(r), IsOk());
  EXPECT_THAT(fs_->WritesTo("/pids.max"), ElementsAre("max", "64"));
}

TEST_F(V1ManagerTest, DevicesDenyAllThenRulesInOrder) {
  std::unique_ptr<Manager> m = Created();
  spec::Resources r;
  spec::DeviceCgroupRule deny_all;
  deny_all.access = "rwm";
  spec::DeviceCgroupRule null_dev;
  null_dev.allow = true;
  null_dev.type = "c";
  null_dev.major = 1;
  null_dev.minor = 3;
  null_dev.access = "rwm";
  spec::DeviceCgroupRule any_mknod;
  any_mknod.allow = true;
  any_mknod.type = "b";
  any_mknod.access = "m";
  r.devices = {deny_all, null_dev, any_mknod};
  ASSERT_THAT(m->Apply(r), IsOk());
  std::vector<std::string> seen;
  for (const auto& w : fs_->writes()) {
    seen.push_back(absl::StrCat(w.path.substr(Leaf("devices").size() + 1), " ", w.value));
  }
  EXPECT_THAT(seen, ElementsAre("devices.deny a", "devices.deny a *:* rwm",
                                "devices.allow c 1:3 rwm", "devices.allow b *:* m"));

  fs_->ClearWrites();
  r.devices[1].type = "q";
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("linux.resources.devices[1].type")));
  EXPECT_THAT(fs_->writes(), IsEmpty());
}

TEST_F(V1ManagerTest, BlkioWeightWithoutWeightFilesIsUnimplemented) {
  std::unique_ptr<Manager> m = Created();
  spec::Resources r;
  r.block_io.emplace();
  r.block_io->weight = 500;
  spec::BlockIoDevice dev;
  dev.major = 8;
  dev.minor = 0;
  dev.rate = 1048576;
  r.block_io->throttle_read_bps = {dev};
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kUnimplemented,
                                    AllOf(HasSubstr("linux.resources.blockIO.weight"),
                                          HasSubstr("blkio.bfq.weight"))));
  EXPECT_THAT(fs_->writes(), IsEmpty());  // refused before anything was written

  r.block_io->weight.reset();
  r.block_io->throttle_write_iops = {dev};
  ASSERT_THAT(m->Apply(r), IsOk());
  EXPECT_THAT(fs_->WritesTo("blkio.throttle.read_bps_device"), ElementsAre("8:0 1048576"));
  EXPECT_THAT(fs_->WritesTo("blkio.throttle.write_iops_device"), ElementsAre("8:0 1048576"));

  // With BFQ's weight file (a kernel with BFQ as the scheduler), the weight goes there.
  ASSERT_THAT(fs_->Put(Leaf("blkio", "blkio.bfq.weight"), "100\n"), IsOk());
  r.block_io = spec::BlockIoResources();
  r.block_io->weight = 300;
  ASSERT_THAT(m->Apply(r), IsOk());
  EXPECT_EQ(fs_->Read(Leaf("blkio", "blkio.bfq.weight")), "300");
}

TEST_F(V1ManagerTest, WhatThisHostCannotDoIsRefusedBeforeWriting) {
  std::unique_ptr<Manager> m = Created();
  spec::Resources base;
  base.pids_limit = 10;
  base.memory.emplace();
  base.memory->limit = 1 << 20;

  spec::Resources r = base;
  r.hugepage_limits = {spec::HugepageLimit{"2MB", 1 << 21}};
  EXPECT_THAT(m->Apply(r),
              StatusIs(absl::StatusCode::kUnimplemented,
                       AllOf(HasSubstr("linux.resources.hugepageLimits"), HasSubstr("hugetlb"))));
  r = base;
  r.net_class_id = 0x100001;
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kUnimplemented,
                                    HasSubstr("linux.resources.network.classID")));
  r = base;
  r.net_priorities = {{"eth0", 5}};
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kUnimplemented,
                                    HasSubstr("linux.resources.network.priorities")));
  r = base;
  r.unified = {{"memory.high", "1G"}};
  EXPECT_THAT(m->Apply(r),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("linux.resources.unified")));
  r = base;
  r.rdma["mlx5_0"].hca_handles = 3;
  EXPECT_THAT(m->Apply(r),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("linux.resources.rdma")));
  EXPECT_THAT(fs_->writes(), IsEmpty());
}

TEST_F(V1ManagerTest, HugetlbAndNetworkWhereMounted) {
  mountinfo_ = absl::StrCat(HostMountinfo(),
                            "50 31 0:50 / /sys/fs/cgroup/hugetlb rw - cgroup cgroup rw,hugetlb\n"
                            "51 31 0:51 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup "
                            "rw,net_cls,net_prio\n");
  ASSERT_THAT(fs_->AddHierarchy("/sys/fs/cgroup/hugetlb", FakeCgroupFs::V1Files("hugetlb")),
              IsOk());
  ASSERT_THAT(fs_->AddHierarchy("/sys/fs/cgroup/net_cls,net_prio",
                                FakeCgroupFs::V1Files("net_cls,net_prio")),
              IsOk());
  std::unique_ptr<Manager> m = Created();
  spec::Resources r;
  r.hugepage_limits = {spec::HugepageLimit{"2MB", 4 << 21}};
  r.net_class_id = 0x100001;
  r.net_priorities = {{"lo", 5}};
  ASSERT_THAT(m->Apply(r), IsOk());
  EXPECT_EQ(fs_->Read("/sys/fs/cgroup/hugetlb/berth-test/c1/hugetlb.2MB.limit_in_bytes"),
            "8388608");
  EXPECT_EQ(fs_->Read("/sys/fs/cgroup/net_cls,net_prio/berth-test/c1/net_cls.classid"), "1048577");
  EXPECT_EQ(fs_->Read("/sys/fs/cgroup/net_cls,net_prio/berth-test/c1/net_prio.ifpriomap"), "lo 5");
  r = spec::Resources();
  r.hugepage_limits = {spec::HugepageLimit{"3MB", 1}};
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("linux.resources.hugepageLimits[0].pageSize")));
  r.hugepage_limits = {spec::HugepageLimit{"../x", 1}};
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(m->Destroy(), IsOk());
  EXPECT_FALSE(fs_->Has("/sys/fs/cgroup/hugetlb/berth-test"));
}

TEST_F(V1ManagerTest, FreezeAndThaw) {
  std::unique_ptr<Manager> m = Created();
  EXPECT_FALSE(Frozen(*m));
  ASSERT_THAT(m->Freeze(), IsOk());
  EXPECT_TRUE(Frozen(*m));
  ASSERT_THAT(m->Thaw(), IsOk());
  EXPECT_THAT(fs_->WritesTo("freezer.state"), ElementsAre("FROZEN", "THAWED"));

  // A freezer that never gets there: DeadlineExceeded, thawed again.
  fs_->ClearWrites();
  fs_->RewriteWrites("freezer.state", [](absl::string_view v) {
    return std::string(v == "FROZEN" ? "FREEZING" : v);
  });
  EXPECT_THAT(m->Freeze(), StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("FREEZING")));
  EXPECT_EQ(fs_->WritesTo("freezer.state").back(), "THAWED");
}

TEST_F(V1ManagerTest, NoFreezerHierarchy) {
  mountinfo_ = HostMountinfo({"freezer"});
  std::unique_ptr<Manager> m = Created();
  EXPECT_THAT(m->Freeze(), StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("freezer")));
  EXPECT_THAT(m->Thaw(), IsOk());
  EXPECT_FALSE(Frozen(*m));
}

TEST_F(V1ManagerTest, Stats) {
  std::unique_ptr<Manager> m = Created();
  ASSERT_THAT(fs_->Put(Leaf("cpuacct", "cpuacct.usage"), "123456789\n"), IsOk());
  ASSERT_THAT(fs_->Put(Leaf("cpuacct", "cpuacct.usage_percpu"), "100 200 \n"), IsOk());
  ASSERT_THAT(fs_->Put(Leaf("cpuacct", "cpuacct.stat"), "user 3\nsystem 4\n"), IsOk());
  ASSERT_THAT(fs_->Put(Leaf("cpu", "cpu.stat"),
                       "nr_periods 10\nnr_throttled 2\nthrottled_time 5000\nnr_bursts 0\n"),
              IsOk());
  ASSERT_THAT(fs_->Put(Leaf("memory", "memory.usage_in_bytes"), "4096\n"), IsOk());
  ASSERT_THAT(fs_->Put(Leaf("memory", "memory.memsw.usage_in_bytes"), "8192\n"), IsOk());
  ASSERT_THAT(fs_->Put(Leaf("memory", "memory.limit_in_bytes"), "1048576\n"), IsOk());
  ASSERT_THAT(fs_->Put(Leaf("memory", "memory.stat"), "cache 100\nrss 200\ntotal_rss 300\n"),
              IsOk());
  ASSERT_THAT(fs_->Put(Leaf("memory", "memory.oom_control"),
                       "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"),
              IsOk());
  ASSERT_THAT(fs_->Put(Leaf("pids", "pids.current"), "5\n"), IsOk());
  ASSERT_THAT(fs_->Put(Leaf("pids", "pids.max"), "max\n"), IsOk());
  ASSERT_THAT(
      fs_->Put(Leaf("blkio", "blkio.throttle.io_service_bytes_recursive"),
               "8:0 Read 1000\n8:0 Write 2000\n8:0 Sync 3000\n8:0 Total 3000\nTotal 3000\n"),
      IsOk());
  ASSERT_THAT(fs_->Put(Leaf("blkio", "blkio.throttle.io_serviced_recursive"),
                       "8:0 Read 10\n8:0 Write 20\n"),
              IsOk());
  absl::StatusOr<Stats> st = m->GetStats();
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(st->cpu.usage_ns, 123456789u);
  EXPECT_THAT(st->cpu.per_cpu_ns, ElementsAre(100, 200));
  EXPECT_EQ(st->cpu.user_ns, 3 * 1000000000ull / sysconf(_SC_CLK_TCK));
  EXPECT_EQ(st->cpu.system_ns, 4 * 1000000000ull / sysconf(_SC_CLK_TCK));
  EXPECT_EQ(st->cpu.periods, 10u);
  EXPECT_EQ(st->cpu.throttled_periods, 2u);
  EXPECT_EQ(st->cpu.throttled_ns, 5000u);
  EXPECT_EQ(st->memory.usage, 4096u);
  EXPECT_EQ(st->memory.limit, 1048576u);
  EXPECT_EQ(st->memory.swap_usage, 8192u);
  EXPECT_EQ(st->memory.swap_limit, kUnlimited);
  EXPECT_EQ(st->memory.cache, 100u);
  EXPECT_EQ(st->memory.rss, 200u);
  EXPECT_EQ(st->memory.raw.at("total_rss"), 300u);
  EXPECT_EQ(st->memory.oom_kill_events, 3u);
  EXPECT_EQ(st->pids.current, 5u);
  EXPECT_EQ(st->pids.limit, 0u);
  ASSERT_EQ(st->blkio.size(), 1u);
  EXPECT_EQ(st->blkio[0].major, 8u);
  EXPECT_EQ(st->blkio[0].read_bytes, 1000u);
  EXPECT_EQ(st->blkio[0].write_bytes, 2000u);
  EXPECT_EQ(st->blkio[0].read_ios, 10u);
  EXPECT_EQ(st->blkio[0].write_ios, 20u);
}

}  // namespace
}  // namespace berth::runc::cgroups
