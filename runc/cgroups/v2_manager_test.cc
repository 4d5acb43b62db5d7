// The v2 manager on a fake cgroup2 tree: which files get which values.
#include "runc/cgroups/v2_manager.h"

#include <errno.h>
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runc/cgroups/device_filter.h"
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

constexpr char kMountinfo[] =
    "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
    "31 23 0:27 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";

class RecordingInstaller : public DeviceFilterInstaller {
 public:
  absl::Status Install(const std::string& dir, const BpfProgram& program) override {
    dirs.push_back(dir);
    programs.push_back(program);
    return result;
  }
  std::vector<std::string> dirs;
  std::vector<BpfProgram> programs;
  absl::Status result;
};

bool SameProgram(const BpfProgram& a, const BpfProgram& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](const bpf_insn& x, const bpf_insn& y) {
           return std::memcmp(&x, &y, sizeof(x)) == 0;
         });
}

class V2ManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<FakeCgroupFs>> fake = FakeCgroupFs::Create();
    ASSERT_THAT(fake, IsOk());
    fs_ = std::move(*fake);
    ASSERT_THAT(fs_->AddHierarchy("/sys/fs/cgroup", FakeCgroupFs::V2Files()), IsOk());
  }

  Options Opts() {
    Options o;
    o.mountinfo = kMountinfo;
    o.proc_self_cgroup = "0::/user.slice/session-1.scope\n";
    o.root_prefix = fs_->root();
    o.fs = fs_.get();
    o.device_filter_installer = &installer_;
    o.warn = [this](absl::string_view w) { warnings_.emplace_back(w); };
    o.freeze_timeout = absl::Milliseconds(30);
    o.destroy_timeout = absl::Milliseconds(20);
    return o;
  }

  std::unique_ptr<Manager> Created(const std::string& path = "/berth-test/c1") {
    absl::StatusOr<std::unique_ptr<Manager>> m = NewManager(Config{path, "c1"}, Opts());
    EXPECT_THAT(m, IsOk());
    if (!m.ok()) return nullptr;
    EXPECT_THAT((*m)->Create(), IsOk());
    fs_->ClearWrites();
    return std::move(*m);
  }

  static std::string Leaf(absl::string_view file = "") {
    return file.empty() ? "/sys/fs/cgroup/berth-test/c1"
                        : absl::StrCat("/sys/fs/cgroup/berth-test/c1/", file);
  }

  std::unique_ptr<FakeCgroupFs> fs_;
  RecordingInstaller installer_;
  std::vector<std::string> warnings_;
};

TEST(ConversionTest, SharesToWeight) {
  EXPECT_EQ(SharesToWeight(0), 0u);
  EXPECT_EQ(SharesToWeight(1), 1u);
  EXPECT_EQ(SharesToWeight(2), 1u);
  EXPECT_EQ(SharesToWeight(1024), 100u);  // the defaults map onto each other
  EXPECT_EQ(SharesToWeight(262144), 10000u);
  EXPECT_EQ(SharesToWeight(1 << 20), 10000u);
  uint64_t last = 0;
  for (uint64_t s = 2; s <= 262144; s += 997) {
    uint64_t w = SharesToWeight(s);
    EXPECT_GE(w, last) << s;
    EXPECT_GE(w, 1u);
    EXPECT_LE(w, 10000u);
    last = w;
  }
}

TEST(ConversionTest, BlkioWeightToIoWeight) {
  EXPECT_EQ(BlkioWeightToIoWeight(0), 0u);
  EXPECT_EQ(BlkioWeightToIoWeight(10), 1u);
  EXPECT_EQ(BlkioWeightToIoWeight(500), 4950u);
  EXPECT_EQ(BlkioWeightToIoWeight(1000), 10000u);
}

TEST_F(V2ManagerTest, PathsAndUnifiedDetection) {
  absl::StatusOr<std::unique_ptr<Manager>> m = NewManager(Config{"a/b", "c1"}, Opts());
  ASSERT_THAT(m, IsOk());
  EXPECT_TRUE((*m)->IsUnified());
  ASSERT_EQ((*m)->Paths().size(), 1u);
  EXPECT_EQ((*m)->Paths()[0].controllers, "");
  EXPECT_EQ((*m)->Paths()[0].path,
            absl::StrCat(fs_->root(), "/sys/fs/cgroup/user.slice/session-1.scope/a/b"));
  m = NewManager(Config{"", "c1"}, Opts());
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ((*m)->Paths()[0].path, absl::StrCat(fs_->root(), "/sys/fs/cgroup/berth-runc/c1"));
}

TEST_F(V2ManagerTest, CreateEnablesControllersInEveryAncestor) {
  absl::StatusOr<std::unique_ptr<Manager>> m = NewManager(Config{"/a/b/c1", "c1"}, Opts());
  ASSERT_THAT(m, IsOk());
  ASSERT_THAT((*m)->Create(), IsOk());
  std::vector<std::string> where;
  for (const auto& w : fs_->writes()) {
    EXPECT_EQ(w.value, "+cpuset +cpu +io +memory +hugetlb +pids +rdma +misc");
    where.push_back(w.path);
  }
  EXPECT_THAT(where, ElementsAre("/sys/fs/cgroup/cgroup.subtree_control",
                                 "/sys/fs/cgroup/a/cgroup.subtree_control",
                                 "/sys/fs/cgroup/a/b/cgroup.subtree_control"));
  EXPECT_TRUE(fs_->Has("/sys/fs/cgroup/a/b/c1/cgroup.procs"));
  EXPECT_THAT((*m)->Serialize(), HasSubstr("\n- 3 "));

  // A controller that cannot be enabled: the others are enabled one by one.
  fs_->ClearWrites();
  fs_->FailWrites("/x/cgroup.subtree_control", ENOENT, 1);
  m = NewManager(Config{"/x/c2", "c2"}, Opts());
  ASSERT_THAT((*m)->Create(), IsOk());
  EXPECT_THAT(
      fs_->WritesTo("/x/cgroup.subtree_control"),
      ElementsAre("+cpuset", "+cpu", "+io", "+memory", "+hugetlb", "+pids", "+rdma", "+misc"));
  ASSERT_THAT((*m)->Destroy(), IsOk());
  EXPECT_FALSE(fs_->Has("/sys/fs/cgroup/x"));
}

TEST_F(V2ManagerTest, Memory) {
  std::unique_ptr<Manager> m = Created();
  spec::Resources r;
  r.memory.emplace();
  r.memory->limit = 100 << 20;
  r.memory->swap = 300 << 20;
  r.memory->reservation = 50 << 20;
  r.memory->swappiness = 10;
  ASSERT_THAT(m->Apply(r), IsOk());
  EXPECT_EQ(fs_->Read(Leaf("memory.max")), "104857600");
  EXPECT_EQ(fs_->Read(Leaf("memory.swap.max")), "209715200");  // swap alone
  EXPECT_EQ(fs_->Read(Leaf("memory.low")), "52428800");
  EXPECT_THAT(warnings_, ElementsAre(HasSubstr("swappiness")));

  fs_->ClearWrites();
  r = spec::Resources();
  r.memory.emplace();
  r.memory->limit = -1;
  ASSERT_THAT(m->Apply(r), IsOk());
  EXPECT_THAT(fs_->WritesTo("memory.swap.max"), ElementsAre("max"));
  EXPECT_THAT(fs_->WritesTo("memory.max"), ElementsAre("max"));

  r.memory->limit.reset();
  r.memory->swap = 1 << 20;
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("linux.resources.memory.swap")));
  r.memory->limit = 2 << 20;
  EXPECT_THAT(m->Apply(r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("below the memory limit")));

  // checkBeforeUpdate: a limit below the usage is refused instead of OOM-killing.
  r = spec::Resources();
  r.memory.emplace();
  r.memory->limit = 1 << 20;
  r.memory->check_before_update = true;
  ASSERT_THAT(fs_->Put(Leaf("memory.current"), "4194304\n"), IsOk());
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("below the current usage 4194304")));
}

TEST_F(V2ManagerTest, Cpu) {
  std::unique_ptr<Manager> m = Created();
  spec::Resources r;
  r.cpu.emplace();
  r.cpu->shares = 1024;
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  r.cpu->burst = 1000;
  r.cpu->idle = 1;
  r.cpu->cpus = "0-1";
  r.cpu->mems = "0";
  ASSERT_THAT(m->Apply(r), IsOk());
  EXPECT_EQ(fs_->Read(Leaf("cpu.weight")), "100");
  EXPECT_EQ(fs_->Read(Leaf("cpu.max")), "50000 100000");
  EXPECT_EQ(fs_->Read(Leaf("cpu.max.burst")), "1000");
  EXPECT_EQ(fs_->Read(Leaf("cpu.idle")), "1");
  EXPECT_EQ(fs_->Read(Leaf("cpuset.cpus")), "0-1");
  EXPECT_EQ(fs_->Read(Leaf("cpuset.mems")), "0");

  fs_->ClearWrites();
  r = spec::Resources();
  r.cpu.emplace();
  r.cpu->shares = 2;
  r.cpu->quota = -1;
  ASSERT_THAT(m->Apply(r), IsOk());
  r.cpu->shares.reset();
  r.cpu->quota.reset();
  r.cpu->period = 20000;
  ASSERT_THAT(m->Apply(r), IsOk());
  EXPECT_THAT(fs_->WritesTo("cpu.weight"), ElementsAre("1"));
  EXPECT_THAT(fs_->WritesTo("cpu.max"), ElementsAre("max", "max 20000"));

  r.cpu->realtime_runtime = 1000;
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kUnimplemented,
                                    HasSubstr("linux.resources.cpu.realtimeRuntime")));
  r.cpu->realtime_runtime.reset();
  r.cpu->shares = 300000;
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("linux.resources.cpu.shares")));
}

TEST_F(V2ManagerTest, PidsIoHugetlbRdma) {
  std::unique_ptr<Manager> m = Created();
  spec::Resources r;
  r.pids_limit = 32;
  r.block_io.emplace();
  r.block_io->weight = 500;
  spec::BlockIoDevice dev;
  dev.major = 8;
  dev.minor = 16;
  dev.rate = 4096;
  r.block_io->throttle_read_bps = {dev};
  r.block_io->throttle_write_iops = {dev};
  dev.weight = 100;
  r.block_io->weight_devices = {dev};
  r.hugepage_limits = {spec::HugepageLimit{"2MB", 4 << 21}};
  r.rdma["mlx5_0"].hca_handles = 3;
  ASSERT_THAT(m->Apply(r), IsOk());
  EXPECT_EQ(fs_->Read(Leaf("pids.max")), "32");
  EXPECT_THAT(fs_->WritesTo("io.weight"), ElementsAre("4950", "8:16 910"));
  EXPECT_THAT(fs_->WritesTo("io.max"), ElementsAre("8:16 rbps=4096", "8:16 wiops=4096"));
  EXPECT_EQ(fs_->Read(Leaf("hugetlb.2MB.max")), "8388608");
  EXPECT_EQ(fs_->Read(Leaf("rdma.max")), "mlx5_0 hca_handle=3");

  // With BFQ, blkio weights go to io.bfq.weight unconverted.
  fs_->ClearWrites();
  ASSERT_THAT(fs_->Put(Leaf("io.bfq.weight"), "default 100\n"), IsOk());
  r = spec::Resources();
  r.block_io.emplace();
  r.block_io->weight = 500;
  ASSERT_THAT(m->Apply(r), IsOk());
  EXPECT_THAT(fs_->WritesTo("io.bfq.weight"), ElementsAre("500"));
  r.block_io->weight = 5;
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("linux.resources.blockIO.weight")));
  r.block_io->weight.reset();
  r.block_io->leaf_weight = 500;
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kUnimplemented,
                                    HasSubstr("linux.resources.blockIO.leafWeight")));
  r = spec::Resources();
  r.hugepage_limits = {spec::HugepageLimit{"64KB", 1}};
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("hugepageLimits[0].pageSize")));
  r = spec::Resources();
  r.net_class_id = 1;
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kUnimplemented,
                                    HasSubstr("linux.resources.network.classID")));
}

TEST_F(V2ManagerTest, MissingControllerIsRefusedBeforeWriting) {
  std::unique_ptr<Manager> m = Created();
  // Like this VM's cgroup2 tree: v1 took every controller but hugetlb.
  ASSERT_THAT(fs_->Put(Leaf("cgroup.controllers"), "hugetlb\n"), IsOk());
  spec::Resources r;
  r.pids_limit = 10;
  r.memory.emplace();
  r.memory->limit = 1 << 20;
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kUnimplemented,
                                    AllOf(HasSubstr("linux.resources.memory"),
                                          HasSubstr("\"memory\" controller is not available"),
                                          HasSubstr("cgroup.controllers: \"hugetlb\""))));
  EXPECT_THAT(fs_->writes(), IsEmpty());
  r = spec::Resources();
  r.hugepage_limits = {spec::HugepageLimit{"1GB", 1 << 30}};
  EXPECT_THAT(m->Apply(r), IsOk());
}

TEST_F(V2ManagerTest, DevicesBecomeAProgram) {
  std::unique_ptr<Manager> m = Created();
  spec::Resources r;
  spec::DeviceCgroupRule deny_all;
  spec::DeviceCgroupRule null_dev;
  null_dev.allow = true;
  null_dev.type = "c";
  null_dev.major = 1;
  null_dev.minor = 3;
  r.devices = {deny_all, null_dev};
  ASSERT_THAT(m->Apply(r), IsOk());
  ASSERT_EQ(installer_.dirs.size(), 1u);
  EXPECT_EQ(installer_.dirs[0], absl::StrCat(fs_->root(), Leaf()));
  EXPECT_TRUE(SameProgram(installer_.programs[0], CompileDeviceFilter(r.devices)));

  installer_.result = absl::PermissionDeniedError("load device program: Operation not permitted");
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kPermissionDenied,
                                    HasSubstr("linux.resources.devices: load device program")));
  r.devices[0].access = "rwx";
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("linux.resources.devices[0].access")));
  EXPECT_EQ(installer_.dirs.size(), 2u);
}

TEST_F(V2ManagerTest, Unified) {
  std::unique_ptr<Manager> m = Created();
  spec::Resources r;
  r.memory.emplace();
  r.memory->limit = 1 << 20;
  r.unified = {{"memory.high", "524288"}, {"memory.max", "2097152"}};
  ASSERT_THAT(m->Apply(r), IsOk());
  EXPECT_EQ(fs_->Read(Leaf("memory.high")), "524288");
  EXPECT_THAT(fs_->WritesTo("memory.max"), ElementsAre("1048576", "2097152"));  // unified last

  for (const char* bad : {"../memory.max", "memory", "cgroup.procs", ".max"}) {
    r.unified = {{bad, "1"}};
    EXPECT_THAT(m->Apply(r),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("linux.resources.unified")))
        << bad;
  }
  r.unified = {{"memory.nonsense", "1"}};
  EXPECT_THAT(m->Apply(r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not exist")));
  ASSERT_THAT(fs_->Put(Leaf("cgroup.controllers"), "memory\n"), IsOk());
  r.unified = {{"pids.max", "3"}};
  EXPECT_THAT(m->Apply(r), StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("\"pids\"")));
}

TEST_F(V2ManagerTest, FreezeWaitsForTheEvent) {
  std::unique_ptr<Manager> m = Created();
  // The fake kernel never reports "frozen 1": DeadlineExceeded, and thawed again.
  EXPECT_THAT(m->Freeze(), StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(fs_->WritesTo("cgroup.freeze"), ElementsAre("1", "0"));
  // Reported frozen: OK.
  fs_->ClearWrites();
  ASSERT_THAT(fs_->Put(Leaf("cgroup.events"), "populated 1\nfrozen 1\n"), IsOk());
  EXPECT_THAT(m->Freeze(), IsOk());
  absl::StatusOr<bool> frozen = m->IsFrozen();
  ASSERT_THAT(frozen, IsOk());
  EXPECT_TRUE(*frozen);
  EXPECT_THAT(fs_->WritesTo("cgroup.freeze"), ElementsAre("1"));
}

TEST_F(V2ManagerTest, SigkillUsesCgroupKill) {
  std::unique_ptr<Manager> m = Created();
  ASSERT_THAT(m->Kill(SIGKILL), IsOk());
  EXPECT_THAT(fs_->WritesTo("cgroup.kill"), ElementsAre("1"));
}

TEST_F(V2ManagerTest, Stats) {
  std::unique_ptr<Manager> m = Created();
  ASSERT_THAT(fs_->Put(Leaf("cpu.stat"),
                       "usage_usec 100\nuser_usec 60\nsystem_usec 40\nnr_periods 7\n"
                       "nr_throttled 3\nthrottled_usec 9\n"),
              IsOk());
  ASSERT_THAT(fs_->Put(Leaf("memory.current"), "4096\n"), IsOk());
  ASSERT_THAT(fs_->Put(Leaf("memory.max"), "1048576\n"), IsOk());
  ASSERT_THAT(fs_->Put(Leaf("memory.swap.current"), "1024\n"), IsOk());
  ASSERT_THAT(fs_->Put(Leaf("memory.swap.max"), "2048\n"), IsOk());
  ASSERT_THAT(fs_->Put(Leaf("memory.peak"), "8192\n"), IsOk());
  ASSERT_THAT(fs_->Put(Leaf("memory.stat"), "anon 300\nfile 200\n"), IsOk());
  ASSERT_THAT(fs_->Put(Leaf("memory.events"), "low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\n"), IsOk());
  ASSERT_THAT(fs_->Put(Leaf("pids.current"), "3\n"), IsOk());
  ASSERT_THAT(fs_->Put(Leaf("pids.max"), "100\n"), IsOk());
  ASSERT_THAT(fs_->Put(Leaf("io.stat"),
                       "8:16 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n"
                       "8:0 rbytes=5 wbytes=6 rios=7 wios=8 dbytes=0 dios=0\n"),
              IsOk());
  absl::StatusOr<Stats> st = m->GetStats();
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(st->cpu.usage_ns, 100000u);
  EXPECT_EQ(st->cpu.user_ns, 60000u);
  EXPECT_EQ(st->cpu.system_ns, 40000u);
  EXPECT_EQ(st->cpu.periods, 7u);
  EXPECT_EQ(st->cpu.throttled_periods, 3u);
  EXPECT_EQ(st->cpu.throttled_ns, 9000u);
  EXPECT_EQ(st->memory.usage, 4096u);
  EXPECT_EQ(st->memory.limit, 1048576u);
  EXPECT_EQ(st->memory.max_usage, 8192u);
  EXPECT_EQ(st->memory.swap_usage, 5120u);
  EXPECT_EQ(st->memory.swap_limit, 1050624u);
  EXPECT_EQ(st->memory.cache, 200u);
  EXPECT_EQ(st->memory.rss, 300u);
  EXPECT_EQ(st->memory.failcnt, 4u);
  EXPECT_EQ(st->memory.oom_events, 2u);
  EXPECT_EQ(st->memory.oom_kill_events, 1u);
  EXPECT_EQ(st->pids.current, 3u);
  EXPECT_EQ(st->pids.limit, 100u);
  ASSERT_EQ(st->blkio.size(), 2u);
  EXPECT_EQ(st->blkio[0].minor, 0u);
  EXPECT_EQ(st->blkio[0].write_ios, 8u);
  EXPECT_EQ(st->blkio[1].read_bytes, 10u);
}

TEST_F(V2ManagerTest, SerializeLoadDestroy) {
  std::unique_ptr<Manager> m = Created();
  std::string text = m->Serialize();
  EXPECT_EQ(text, absl::StrCat("berth-cgroups v2\n- 2 ", fs_->root(), "/sys/fs/cgroup ",
                               fs_->root(), Leaf(), "\n"));
  absl::StatusOr<std::unique_ptr<Manager>> loaded = LoadManager(text, Opts());
  ASSERT_THAT(loaded, IsOk());
  EXPECT_TRUE((*loaded)->IsUnified());
  ASSERT_THAT((*loaded)->Destroy(), IsOk());
  EXPECT_FALSE(fs_->Has("/sys/fs/cgroup/berth-test"));
  EXPECT_TRUE(fs_->Has("/sys/fs/cgroup/cgroup.procs"));
  EXPECT_THAT(LoadManager("berth-cgroups v2\nmemory 1 /m /m/a\n", Opts()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace berth::runc::cgroups
