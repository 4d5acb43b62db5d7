// The contract of manager.h, checked for every implementation that runs without root: the v1
// and v2 managers on fake trees, and FakeManager (so that tests written against the fake hold
// for the real thing). The real kernel is covered by v1_root_test and v2_root_test.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runc/cgroups/fake_cgroupfs.h"
#include "runc/cgroups/fake_manager.h"
#include "runc/cgroups/manager.h"

namespace berth::runc::cgroups {
namespace {

using ::berth::runc::cgroups::testing::FakeCgroupFs;
using ::berth::runc::cgroups::testing::FakeManager;
using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// One implementation under test.
class Harness {
 public:
  virtual ~Harness() = default;
  virtual std::unique_ptr<Manager> New() = 0;
  // Makes the processes of the cgroup go away (what the kernel does when they exit).
  virtual void ProcessesExited() = 0;
};

class FakeTreeHarness : public Harness {
 public:
  explicit FakeTreeHarness(bool unified) : unified_(unified) {
    absl::StatusOr<std::unique_ptr<FakeCgroupFs>> fs = FakeCgroupFs::Create();
    EXPECT_THAT(fs, IsOk());
    fs_ = std::move(*fs);
    if (unified) {
      EXPECT_THAT(fs_->AddHierarchy("/sys/fs/cgroup", FakeCgroupFs::V2Files()), IsOk());
      // The kernel's answer to cgroup.freeze.
      fs_->OnWrite("/cgroup.freeze", [this](const std::string& dir, absl::string_view v) {
        EXPECT_THAT(fs_->Put(absl::StrCat(dir.substr(fs_->root().size()), "/cgroup.events"),
                             absl::StrCat("populated 1\nfrozen ", v, "\n")),
                    IsOk());
      });
      mountinfo_ = "1 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
    } else {
      for (const char* h : {"cpu", "cpuset", "memory", "freezer", "pids"}) {
        EXPECT_THAT(fs_->AddHierarchy(absl::StrCat("/sys/fs/cgroup/", h), FakeCgroupFs::V1Files(h),
                                      FakeCgroupFs::V1RootFiles(h)),
                    IsOk());
        absl::StrAppend(&mountinfo_, "1 0 0:1 / /sys/fs/cgroup/", h, " rw - cgroup cgroup rw,", h,
                        "\n");
      }
    }
  }
  std::unique_ptr<Manager> New() override {
    Options o;
    o.mountinfo = mountinfo_;
    o.root_prefix = fs_->root();
    o.fs = fs_.get();
    o.freeze_timeout = absl::Milliseconds(100);
    o.destroy_timeout = absl::Milliseconds(10);
    absl::StatusOr<std::unique_ptr<Manager>> m = NewManager(Config{"", "conformance"}, o);
    EXPECT_THAT(m, IsOk());
    EXPECT_EQ((*m)->IsUnified(), unified_);
    return std::move(*m);
  }
  void ProcessesExited() override {
    for (const char* h :
         {"/sys/fs/cgroup", "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpuset", "/sys/fs/cgroup/memory",
          "/sys/fs/cgroup/freezer", "/sys/fs/cgroup/pids"}) {
      std::string procs = absl::StrCat(h, "/berth-runc/conformance/cgroup.procs");
      if (fs_->Has(procs)) {
        EXPECT_THAT(fs_->Put(procs, ""), IsOk());
      }
    }
  }

 private:
  bool unified_;
  std::unique_ptr<FakeCgroupFs> fs_;
  std::string mountinfo_;
};

class FakeManagerHarness : public Harness {
 public:
  std::unique_ptr<Manager> New() override {
    auto m = std::make_unique<FakeManager>();
    last_ = m.get();
    return m;
  }
  void ProcessesExited() override { last_->pids.clear(); }

 private:
  FakeManager* last_ = nullptr;
};

struct Implementation {
  std::string name;
  std::function<std::unique_ptr<Harness>()> make;
};

class ManagerConformanceTest : public ::testing::TestWithParam<Implementation> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    m_ = harness_->New();
  }
  std::unique_ptr<Harness> harness_;
  std::unique_ptr<Manager> m_;
};

TEST_P(ManagerConformanceTest, CreateAndDestroyAreIdempotent) {
  EXPECT_THAT(m_->Destroy(), IsOk());  // before Create: nothing to do
  ASSERT_THAT(m_->Create(), IsOk());
  ASSERT_THAT(m_->Create(), IsOk());
  EXPECT_THAT(m_->Destroy(), IsOk());
  EXPECT_THAT(m_->Destroy(), IsOk());
}

TEST_P(ManagerConformanceTest, ProcessesAreListedAndBlockDestroy) {
  ASSERT_THAT(m_->Create(), IsOk());
  absl::StatusOr<std::vector<pid_t>> pids = m_->Pids();
  ASSERT_THAT(pids, IsOk());
  EXPECT_THAT(*pids, IsEmpty());
  ASSERT_THAT(m_->AddProcess(4242), IsOk());
  pids = m_->Pids();
  ASSERT_THAT(pids, IsOk());
  EXPECT_THAT(*pids, ElementsAre(4242));
  EXPECT_THAT(m_->Destroy(), StatusIs(absl::StatusCode::kFailedPrecondition));
  harness_->ProcessesExited();
  EXPECT_THAT(m_->Destroy(), IsOk());
}

TEST_P(ManagerConformanceTest, FreezeAndThaw) {
  ASSERT_THAT(m_->Create(), IsOk());
  absl::StatusOr<bool> frozen = m_->IsFrozen();
  ASSERT_THAT(frozen, IsOk());
  EXPECT_FALSE(*frozen);
  ASSERT_THAT(m_->Freeze(), IsOk());
  frozen = m_->IsFrozen();
  ASSERT_THAT(frozen, IsOk());
  EXPECT_TRUE(*frozen);
  ASSERT_THAT(m_->Thaw(), IsOk());
  frozen = m_->IsFrozen();
  ASSERT_THAT(frozen, IsOk());
  EXPECT_FALSE(*frozen);
  EXPECT_THAT(m_->Destroy(), IsOk());
}

TEST_P(ManagerConformanceTest, EmptyResourcesWriteNothingAndSucceed) {
  ASSERT_THAT(m_->Create(), IsOk());
  EXPECT_THAT(m_->Apply(spec::Resources()), IsOk());
  EXPECT_THAT(m_->GetStats(), IsOk());
  EXPECT_THAT(m_->Destroy(), IsOk());
}

TEST_P(ManagerConformanceTest, SerializeAndPaths) {
  ASSERT_THAT(m_->Create(), IsOk());
  EXPECT_FALSE(m_->Serialize().empty());
  EXPECT_EQ(m_->Serialize(), m_->Serialize());
  ASSERT_FALSE(m_->Paths().empty());
  for (const CgroupPath& p : m_->Paths()) {
    EXPECT_EQ(p.controllers.empty(), m_->IsUnified());
    EXPECT_EQ(p.path.rfind(p.mount_point, 0), 0u) << p.path;
  }
  EXPECT_THAT(m_->Destroy(), IsOk());
}

INSTANTIATE_TEST_SUITE_P(
    All, ManagerConformanceTest,
    ::testing::Values(
        Implementation{"V1OnFakeTree", [] { return std::make_unique<FakeTreeHarness>(false); }},
        Implementation{"V2OnFakeTree", [] { return std::make_unique<FakeTreeHarness>(true); }},
        Implementation{"FakeManager", [] { return std::make_unique<FakeManagerHarness>(); }}),
    [](const ::testing::TestParamInfo<Implementation>& info) { return info.param.name; });

}  // namespace
}  // namespace berth::runc::cgroups
