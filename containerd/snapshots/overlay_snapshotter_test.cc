// The overlayfs snapshotter: the conformance suite plus what is specific to it (directory layout,
// mount shapes, 128-layer chains, crash recovery, Cleanup). Tests that mount need root and skip
// otherwise; the whole process runs in its own mount namespace (see snapshotter_conformance.h), and
// every test checks that it left no mount behind.
#include "containerd/snapshots/overlay_snapshotter.h"

#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/status_macros.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "containerd/metadata/store.h"
#include "containerd/snapshots/disk_usage.h"
#include "common/mount/mount.h"
#include "containerd/snapshots/snapshotter_conformance.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::snapshots {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::MountPointsUnder;
using testing::ReadTestFile;
using testing::SnapshotterConformanceTest;
using ::testing::UnorderedElementsAre;
using testing::WriteTestFile;

// ---- The conformance suite on the overlay snapshotter ----

absl::StatusOr<std::shared_ptr<Snapshotter>> MakeOverlay(const std::string& dir) {
  struct Holder {
    std::unique_ptr<metadata::Store> store;
    std::unique_ptr<OverlaySnapshotter> snapshotter;
  };
  auto holder = std::make_shared<Holder>();
  BERTH_ASSIGN_OR_RETURN(holder->store, metadata::Store::Open(dir));
  OverlaySnapshotterOptions options;
  options.root = dir;
  BERTH_ASSIGN_OR_RETURN(holder->snapshotter,
                         OverlaySnapshotter::Create(holder->store.get(), options));
  Snapshotter* s = holder->snapshotter.get();
  return std::shared_ptr<Snapshotter>(std::move(holder), s);
}

INSTANTIATE_TEST_SUITE_P(Overlay, SnapshotterConformanceTest,
                         ::testing::Values(testing::SnapshotterFactory{"overlay", MakeOverlay}),
                         [](const auto& info) { return info.param.name; });

// ---- Overlay-specific ----

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (struct dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

class OverlaySnapshotterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { mount_skip_reason_ = testing::EnterPrivateMountNamespace(); }

  void SetUp() override {
    absl::StatusOr<TempDir> t = TempDir::Create();
    ASSERT_THAT(t, IsOk());
    tmp_.emplace(std::move(*t));
    root_ = tmp_->Sub("root");
    Open();
  }

  void TearDown() override {
    if (!tmp_) return;
    EXPECT_THAT(MountPointsUnder(tmp_->path()), IsEmpty()) << "a test left a mount behind";
    EXPECT_THAT(mount_util::UnmountAll(tmp_->path(), MNT_DETACH), IsOk());
    Close();
  }

  void Open(OverlaySnapshotterOptions options = {}) {
    absl::StatusOr<std::unique_ptr<metadata::Store>> store = metadata::Store::Open(root_);
    ASSERT_THAT(store, IsOk());
    store_ = std::move(*store);
    options.root = root_;
    absl::StatusOr<std::unique_ptr<OverlaySnapshotter>> sn =
        OverlaySnapshotter::Create(store_.get(), std::move(options));
    ASSERT_THAT(sn, IsOk());
    sn_ = std::move(*sn);
  }
  void Close() {
    sn_.reset();
    store_.reset();
  }

  bool CanMount() const { return mount_skip_reason_.empty(); }

  int64_t Id(const std::string& key) {
    absl::StatusOr<int64_t> id = sn_->SnapshotId("default", key);
    EXPECT_THAT(id, IsOk());
    return id.ok() ? *id : -1;
  }
  std::string Fs(const std::string& key) { return sn_->SnapshotDir(Id(key)) + "/fs"; }

  // A committed layer `name` on `parent` holding `files`, written straight into its directory (no
  // mount needed).
  void Layer(const std::string& name, const std::string& parent,
             const std::vector<std::pair<std::string, std::string>>& files) {
    const std::string key = name + "-active";
    ASSERT_THAT(sn_->Prepare("default", key, parent), IsOk());
    for (const auto& [file, content] : files) {
      ASSERT_TRUE(WriteTestFile(Fs(key) + "/" + file, content));
    }
    ASSERT_THAT(sn_->Commit("default", name, key), IsOk());
  }

  std::string NewDir(const std::string& name) {
    const std::string dir = tmp_->Sub(name);
    EXPECT_EQ(mkdir(dir.c_str(), 0755), 0) << dir;
    return dir;
  }

  static std::string mount_skip_reason_;
  std::optional<TempDir> tmp_;
  std::string root_;
  std::unique_ptr<metadata::Store> store_;
  std::unique_ptr<OverlaySnapshotter> sn_;
};

std::string OverlaySnapshotterTest::mount_skip_reason_;

TEST_F(OverlaySnapshotterTest, DirectoryLayout) {
  EXPECT_EQ(sn_->snapshots_dir(), root_ + "/snapshots/overlayfs/snapshots");
  ASSERT_THAT(sn_->Prepare("default", "a", ""), IsOk());
  const std::string a = sn_->SnapshotDir(Id("a"));
  EXPECT_EQ(a, absl::StrCat(sn_->snapshots_dir(), "/", Id("a")));
  EXPECT_THAT(ListDir(a), ElementsAre("fs", "work"));
  ASSERT_EQ(chmod((a + "/fs").c_str(), 0711),
            0);  // what a layer's "./" entry would set
  ASSERT_THAT(sn_->Commit("default", "l1", "a"), IsOk());
  EXPECT_EQ(sn_->SnapshotDir(Id("l1")),
            a);  // Commit keeps the id: no files move

  ASSERT_THAT(sn_->View("default", "v", "l1"), IsOk());
  EXPECT_THAT(ListDir(sn_->SnapshotDir(Id("v"))), ElementsAre("fs"));
  ASSERT_THAT(sn_->Prepare("default", "b", "l1"), IsOk());
  struct stat st;
  ASSERT_EQ(stat(Fs("b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777,
            0711u);  // the merged root keeps the parent's mode
}

TEST_F(OverlaySnapshotterTest, MountShapes) {
  absl::StatusOr<std::vector<Mount>> a = sn_->Prepare("default", "a", "");
  ASSERT_THAT(a, IsOk());
  const std::string fs_a = Fs("a");
  EXPECT_THAT(*a, ElementsAre(Mount{"bind", fs_a, "", {"rw", "rbind"}}));
  ASSERT_THAT(sn_->Commit("default", "l1", "a"), IsOk());
  Layer("l2", "l1", {});

  absl::StatusOr<std::vector<Mount>> b = sn_->Prepare("default", "b", "l2");
  ASSERT_THAT(b, IsOk());
  const std::string dir_b = sn_->SnapshotDir(Id("b"));
  EXPECT_THAT(*b, ElementsAre(Mount{"overlay",
                                    "overlay",
                                    "",
                                    {absl::StrCat("lowerdir=", Fs("l2"), ":", Fs("l1")),
                                     absl::StrCat("upperdir=", dir_b, "/fs"),
                                     absl::StrCat("workdir=", dir_b, "/work")}}));

  absl::StatusOr<std::vector<Mount>> v0 = sn_->View("default", "v0", "");
  ASSERT_THAT(v0, IsOk());
  EXPECT_THAT(*v0, ElementsAre(Mount{"bind", Fs("v0"), "", {"ro", "rbind"}}));
  absl::StatusOr<std::vector<Mount>> v1 = sn_->View("default", "v1", "l1");
  ASSERT_THAT(v1, IsOk());
  EXPECT_THAT(*v1, ElementsAre(Mount{"bind", Fs("l1"), "", {"ro", "rbind"}}));
  absl::StatusOr<std::vector<Mount>> v2 = sn_->View("default", "v2", "l2");
  ASSERT_THAT(v2, IsOk());
  EXPECT_THAT(
      *v2,
      ElementsAre(Mount{
          "overlay", "overlay", "", {"ro", absl::StrCat("lowerdir=", Fs("l2"), ":", Fs("l1"))}}));
}

TEST_F(OverlaySnapshotterTest, ChainOf128LayersMountsAndReadsTheBottomLayer) {
  if (!CanMount()) GTEST_SKIP() << mount_skip_reason_;
  constexpr int kLayers = 128;
  std::string parent;
  for (int i = 0; i < kLayers; ++i) {
    const std::string name = absl::StrCat("layer-", i);
    std::vector<std::pair<std::string, std::string>> files = {
        {absl::StrCat("file-", i), absl::StrCat("content ", i)}, {"top", name}};
    if (i == 0) files.push_back({"bottom", "the bottom layer"});
    Layer(name, parent, files);
    parent = name;
  }
  absl::StatusOr<std::vector<Mount>> m = sn_->Prepare("default", "container", parent);
  ASSERT_THAT(m, IsOk());
  ASSERT_EQ(m->size(), 1u);
  // The point of the test: the absolute form does not fit in mount(2)'s one page.
  EXPECT_GT(mount_util::ParseMountOptions((*m)[0].options).data.size(), mount_util::MountDataLimit());

  const std::string rootfs = NewDir("rootfs");
  ASSERT_THAT(mount_util::MountAll(*m, rootfs), IsOk());
  EXPECT_EQ(ReadTestFile(rootfs + "/bottom"), "the bottom layer");
  EXPECT_EQ(ReadTestFile(rootfs + "/file-0"), "content 0");
  EXPECT_EQ(ReadTestFile(rootfs + "/file-127"), "content 127");
  EXPECT_EQ(ReadTestFile(rootfs + "/top"),
            "layer-127");  // the topmost layer wins
  EXPECT_TRUE(WriteTestFile(rootfs + "/written", "by the container"));
  EXPECT_EQ(unlink((rootfs + "/bottom").c_str()), 0);
  EXPECT_THAT(mount_util::UnmountAll(rootfs), IsOk());
  EXPECT_EQ(ReadTestFile(Fs("container") + "/written"), "by the container");
  EXPECT_EQ(ReadTestFile(Fs("layer-0") + "/bottom"),
            "the bottom layer");  // lower untouched

  // A read-only view of all 128 layers (an overlay of lowerdirs only) too.
  absl::StatusOr<std::vector<Mount>> v = sn_->View("default", "view", parent);
  ASSERT_THAT(v, IsOk());
  const std::string vdir = NewDir("view");
  ASSERT_THAT(mount_util::MountAll(*v, vdir), IsOk());
  EXPECT_EQ(ReadTestFile(vdir + "/bottom"), "the bottom layer");
  EXPECT_FALSE(WriteTestFile(vdir + "/x", "x"));
  EXPECT_THAT(mount_util::UnmountAll(vdir), IsOk());
}

TEST_F(OverlaySnapshotterTest, RemoveDeletesTheDirectoryAfterTheRecord) {
  Layer("l1", "", {{"f", "x"}});
  ASSERT_THAT(sn_->Prepare("default", "child", "l1"), IsOk());
  const std::string l1_dir = sn_->SnapshotDir(Id("l1"));
  const std::string child_dir = sn_->SnapshotDir(Id("child"));

  EXPECT_THAT(sn_->Remove("default", "l1"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ReadTestFile(l1_dir + "/fs/f"), "x");  // refused: nothing touched

  ASSERT_THAT(sn_->Remove("default", "child"), IsOk());
  EXPECT_FALSE(IsDir(child_dir));
  ASSERT_THAT(sn_->Remove("default", "l1"), IsOk());
  EXPECT_FALSE(IsDir(l1_dir));
  EXPECT_THAT(ListDir(sn_->snapshots_dir()), IsEmpty());
  EXPECT_THAT(ListDir(root_ + "/snapshots/overlayfs/trash"), IsEmpty());
}

TEST_F(OverlaySnapshotterTest, CommitRecordsUsageAndUsageAnswersFromIt) {
  ASSERT_THAT(sn_->Prepare("default", "a", ""), IsOk());
  ASSERT_TRUE(WriteTestFile(Fs("a") + "/big", std::string(1 << 20, 'x')));
  absl::StatusOr<DiskUsage> active = sn_->Usage("default", "a");
  ASSERT_THAT(active, IsOk());
  EXPECT_GE(active->size, 1 << 20);
  EXPECT_EQ(active->inodes, 2);  // fs itself and the file
  ASSERT_THAT(sn_->Commit("default", "l1", "a"), IsOk());

  absl::StatusOr<metadata::Snapshot> record = store_->WithReadTransaction(
      [](metadata::Transaction& tx) { return tx.GetSnapshot("default", "overlayfs", "l1"); });
  ASSERT_THAT(record, IsOk());
  ASSERT_TRUE(record->usage.has_value());
  EXPECT_EQ(record->usage->size, active->size);
  EXPECT_EQ(record->usage->inodes, active->inodes);

  // Committed snapshots never change, so Usage does not walk them again.
  ASSERT_EQ(unlink((Fs("l1") + "/big").c_str()), 0);
  absl::StatusOr<DiskUsage> committed = sn_->Usage("default", "l1");
  ASSERT_THAT(committed, IsOk());
  EXPECT_EQ(*committed, *active);
}

TEST_F(OverlaySnapshotterTest, CleanupRemovesOrphansAndKeepsSnapshots) {
  Layer("l1", "", {{"f", "keep me"}});
  ASSERT_THAT(sn_->Prepare("default", "a", "l1"), IsOk());
  ASSERT_THAT(sn_->Prepare("other-namespace", "b", ""), IsOk());
  // Orphans: a directory no record names (e.g. GC dropped the record) and trash leftovers.
  const std::string orphan = sn_->snapshots_dir() + "/999999";
  ASSERT_EQ(mkdir(orphan.c_str(), 0700), 0);
  ASSERT_EQ(mkdir((orphan + "/fs").c_str(), 0755), 0);
  ASSERT_TRUE(WriteTestFile(orphan + "/fs/data", "orphan"));
  const std::string leftover = root_ + "/snapshots/overlayfs/trash/12-abc-1";
  ASSERT_EQ(mkdir(leftover.c_str(), 0700), 0);
  ASSERT_TRUE(WriteTestFile(leftover + "/x", "x"));

  ASSERT_THAT(sn_->Cleanup(), IsOk());
  EXPECT_FALSE(IsDir(orphan));
  EXPECT_THAT(ListDir(root_ + "/snapshots/overlayfs/trash"), IsEmpty());
  EXPECT_THAT(ListDir(sn_->snapshots_dir()),
              UnorderedElementsAre(std::to_string(Id("l1")), std::to_string(Id("a")),
                                   std::to_string(*sn_->SnapshotId("other-namespace", "b"))));
  EXPECT_EQ(ReadTestFile(Fs("l1") + "/f"), "keep me");
  EXPECT_THAT(sn_->Cleanup(), IsOk());  // idempotent
}

TEST_F(OverlaySnapshotterTest, CleanupAfterGarbageCollectionRemovesCollectedDirectories) {
  Layer("l1", "", {{"f", "x"}});
  const std::string dir = sn_->SnapshotDir(Id("l1"));
  // Nothing references l1 (no lease, no gc.root label): the collector drops its record only.
  absl::StatusOr<metadata::GcSweepResult> gc = store_->CollectGarbage();
  ASSERT_THAT(gc, IsOk());
  ASSERT_THAT(sn_->Stat("default", "l1"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(IsDir(dir));
  ASSERT_THAT(sn_->Cleanup(), IsOk());
  EXPECT_FALSE(IsDir(dir));
}

// Runs `body` in a forked child and returns its wait status.
int RunInChild(const std::function<void()>& body) {
  const pid_t pid = fork();
  if (pid == 0) {
    body();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST_F(OverlaySnapshotterTest, CrashBetweenDirectoriesAndCommitLeavesOnlyAnOrphan) {
  Layer("l1", "", {{"f", "x"}});
  Close();
  const std::string id_file = tmp_->Sub("crashed-id");
  // The child dies (as with kill -9: no destructors, no commit) inside the Prepare transaction,
  // right after the directories were made. It writes a file into the new upper dir first, to see
  // whether anything later adopts that data.
  const int status = RunInChild([&] {
    absl::StatusOr<std::unique_ptr<metadata::Store>> store = metadata::Store::Open(root_);
    if (!store.ok()) _exit(10);
    OverlaySnapshotterOptions options;
    options.root = root_;
    options.before_commit_for_testing = [&](int64_t id) {
      WriteTestFile(absl::StrCat(root_, "/snapshots/overlayfs/snapshots/", id, "/fs/stale"),
                    "must never be seen");
      WriteTestFile(id_file, std::to_string(id));
      _exit(42);
    };
    absl::StatusOr<std::unique_ptr<OverlaySnapshotter>> sn =
        OverlaySnapshotter::Create(store->get(), options);
    if (!sn.ok()) _exit(11);
    (void)(*sn)->Prepare("default", "crashy", "l1");
    _exit(12);  // the hook did not run
  });
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 42);
  std::optional<std::string> crashed = ReadTestFile(id_file);
  ASSERT_TRUE(crashed.has_value());
  const int64_t crashed_id = std::stoll(*crashed);

  Open();
  EXPECT_THAT(sn_->Stat("default", "crashy"), StatusIs(absl::StatusCode::kNotFound));
  const std::string orphan = sn_->SnapshotDir(crashed_id);
  EXPECT_TRUE(IsDir(orphan));  // the leftover: a directory without a record

  // SQLite gives the rolled-back id out again; the new snapshot must not see the stale data.
  ASSERT_THAT(sn_->Prepare("default", "next", "l1"), IsOk());
  EXPECT_EQ(Id("next"), crashed_id);
  EXPECT_THAT(ListDir(Fs("next")), IsEmpty());
  EXPECT_TRUE(IsDir(sn_->SnapshotDir(crashed_id) + "/work"));
  if (CanMount()) {
    absl::StatusOr<std::vector<Mount>> m = sn_->Mounts("default", "next");
    ASSERT_THAT(m, IsOk());
    const std::string rootfs = NewDir("rootfs");
    ASSERT_THAT(mount_util::MountAll(*m, rootfs), IsOk());
    EXPECT_EQ(ReadTestFile(rootfs + "/f"), "x");
    EXPECT_EQ(ReadTestFile(rootfs + "/stale"), std::nullopt);
    EXPECT_THAT(mount_util::UnmountAll(rootfs), IsOk());
  }

  // Crash again, and this time let Cleanup find the orphan.
  Close();
  const int status2 = RunInChild([&] {
    absl::StatusOr<std::unique_ptr<metadata::Store>> store = metadata::Store::Open(root_);
    if (!store.ok()) _exit(10);
    OverlaySnapshotterOptions options;
    options.root = root_;
    options.before_commit_for_testing = [&](int64_t id) {
      WriteTestFile(id_file, std::to_string(id));
      _exit(42);
    };
    absl::StatusOr<std::unique_ptr<OverlaySnapshotter>> sn =
        OverlaySnapshotter::Create(store->get(), options);
    if (!sn.ok()) _exit(11);
    (void)(*sn)->View("default", "crashy-view", "l1");
    _exit(12);
  });
  ASSERT_TRUE(WIFEXITED(status2));
  ASSERT_EQ(WEXITSTATUS(status2), 42);
  const int64_t second_id = std::stoll(*ReadTestFile(id_file));
  Open();
  EXPECT_TRUE(IsDir(sn_->SnapshotDir(second_id)));
  ASSERT_THAT(sn_->Cleanup(), IsOk());
  EXPECT_FALSE(IsDir(sn_->SnapshotDir(second_id)));
  EXPECT_THAT(ListDir(sn_->snapshots_dir()),
              UnorderedElementsAre(std::to_string(Id("l1")), std::to_string(Id("next"))));
}

TEST_F(OverlaySnapshotterTest, RecordsThatLostTheirDirectoryAreRecoveredOrReported) {
  Layer("l1", "", {{"f", "x"}});
  // Records without directories, as a crash of an older berth (record first, mkdir second) or a
  // file system that lost them would leave: an active and a view on l1, and a committed one.
  ASSERT_THAT(store_->WithTransaction([](metadata::Transaction& tx) -> absl::Status {
    metadata::Snapshot s;
    s.name = "lost-active";
    s.parent = "l1";
    BERTH_RETURN_IF_ERROR(tx.CreateSnapshot("default", "overlayfs", s).status());
    s.name = "lost-view";
    s.kind = metadata::SnapshotKind::kView;
    BERTH_RETURN_IF_ERROR(tx.CreateSnapshot("default", "overlayfs", s).status());
    s.name = "to-commit";
    s.parent = "";
    s.kind = metadata::SnapshotKind::kActive;
    BERTH_RETURN_IF_ERROR(tx.CreateSnapshot("default", "overlayfs", s).status());
    return tx.CommitSnapshot("default", "overlayfs", "to-commit", "lost-committed").status();
  }),
              IsOk());
  Close();
  Open();  // Create restores what it can

  EXPECT_THAT(ListDir(sn_->SnapshotDir(Id("lost-active"))), ElementsAre("fs", "work"));
  EXPECT_THAT(ListDir(sn_->SnapshotDir(Id("lost-view"))), ElementsAre("fs"));
  EXPECT_FALSE(IsDir(sn_->SnapshotDir(Id("lost-committed"))));
  if (CanMount()) {
    absl::StatusOr<std::vector<Mount>> m = sn_->Mounts("default", "lost-active");
    ASSERT_THAT(m, IsOk());
    const std::string rootfs = NewDir("rootfs");
    ASSERT_THAT(mount_util::MountAll(*m, rootfs), IsOk());
    EXPECT_EQ(ReadTestFile(rootfs + "/f"), "x");
    EXPECT_THAT(mount_util::UnmountAll(rootfs), IsOk());
  }

  // A committed layer's data cannot be made up: building on it fails, and the failure (after the
  // new snapshot's directory was already made) leaves neither record nor directory.
  const std::vector<std::string> before = ListDir(sn_->snapshots_dir());
  EXPECT_THAT(sn_->Prepare("default", "on-lost", "lost-committed"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("missing")));
  EXPECT_THAT(sn_->Stat("default", "on-lost"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(ListDir(sn_->snapshots_dir()), before);
  EXPECT_THAT(ListDir(root_ + "/snapshots/overlayfs/trash"), IsEmpty());
}

TEST_F(OverlaySnapshotterTest, CreateRefusesASnapshotRootOnOverlayfs) {
  if (!CanMount()) GTEST_SKIP() << mount_skip_reason_;
  const std::string lower = NewDir("lower");
  const std::string upper = NewDir("upper");
  const std::string work = NewDir("work");
  const std::string merged = NewDir("merged");
  ASSERT_THAT(mount_util::MountAll({{"overlay",
                         "overlay",
                         "",
                         {"lowerdir=" + lower, "upperdir=" + upper, "workdir=" + work}}},
                       merged),
              IsOk());
  OverlaySnapshotterOptions options;
  options.root = merged + "/berth";
  EXPECT_THAT(OverlaySnapshotter::Create(store_.get(), options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::AllOf(HasSubstr("is on overlayfs"), HasSubstr("ext4"))));
  EXPECT_THAT(mount_util::UnmountAll(merged), IsOk());
}

TEST_F(OverlaySnapshotterTest, CreateValidatesItsArguments) {
  OverlaySnapshotterOptions options;
  options.root = "relative/root";
  EXPECT_THAT(OverlaySnapshotter::Create(store_.get(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("absolute")));
  options.root = root_;
  EXPECT_THAT(OverlaySnapshotter::Create(nullptr, options),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(OverlaySnapshotterTest, ConcurrentCreateRemoveAndCleanupLeaveExactlyTheRecordsDirs) {
  Layer("base", "", {{"f", "x"}});
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) {
        const std::string key = absl::StrCat("k", t, "-", i);
        const std::string name = absl::StrCat("c", t, "-", i);
        if (!sn_->Prepare("default", key, "base").ok() || !sn_->Commit("default", name, key).ok() ||
            !sn_->View("default", key, name).ok() || !sn_->Remove("default", key).ok() ||
            !sn_->Remove("default", name).ok()) {
          ++failures;
        }
      }
    });
  }
  std::thread cleaner([&] {
    while (!stop) {
      if (!sn_->Cleanup().ok()) ++failures;
    }
  });
  for (std::thread& w : workers) w.join();
  stop = true;
  cleaner.join();
  EXPECT_EQ(failures, 0);
  ASSERT_THAT(sn_->Cleanup(), IsOk());
  EXPECT_THAT(ListDir(sn_->snapshots_dir()), ElementsAre(std::to_string(Id("base"))));
  EXPECT_THAT(ListDir(root_ + "/snapshots/overlayfs/trash"), IsEmpty());
}

}  // namespace
}  // namespace berth::containerd::snapshots
