// The behaviour every Snapshotter implementation must show, as a value-parameterized GoogleTest
// suite. An implementation's test instantiates it once:
//
//   INSTANTIATE_TEST_SUITE_P(Overlay, SnapshotterConformanceTest,
//                            ::testing::Values(SnapshotterFactory{"overlay", MakeOverlay}),
//                            [](const auto& info) { return info.param.name; });
//
// Include this header in exactly one .cc file of a test binary (it defines the tests). Metadata
// semantics (kinds, parents, errors, labels, listing) run anywhere. Mount semantics (data written
// in an active snapshot shows in a child, whiteouts, read-only views, usage) need to mount what the
// snapshotter returns: they run when the process is root and skip otherwise. The suite moves the
// whole test process into its own mount namespace (private propagation) before the first test, so
// no mount reaches the host, and each test checks that it left none.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "common/mount/mount.h"
#include "containerd/snapshots/snapshotter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::snapshots::testing {

// How the suite gets a fresh, empty snapshotter.
struct SnapshotterFactory {
  std::string name;
  // Makes a snapshotter keeping its state under `dir` (an empty directory the suite owns and
  // removes afterwards). Whatever the snapshotter needs to live (a metadata store, ...) is kept
  // alive by the returned pointer (e.g. with shared_ptr's aliasing constructor).
  std::function<absl::StatusOr<std::shared_ptr<Snapshotter>>(const std::string& dir)> make;
};

// Moves the calling process into a new mount namespace with private propagation, once; "" on
// success (or when already done), else why mounts cannot be tested. Call it while the process is
// single-threaded (unshare(CLONE_NEWNS) requires it), e.g. in SetUpTestSuite.
inline std::string EnterPrivateMountNamespace() {
  static const std::string* const kResult = [] {
    if (geteuid() != 0) return new std::string("mounts need root");
    if (unshare(CLONE_NEWNS) != 0) {
      return new std::string(absl::StrCat("unshare(CLONE_NEWNS): ", strerror(errno)));
    }
    if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      return new std::string(absl::StrCat("make / rprivate: ", strerror(errno)));
    }
    return new std::string();
  }();
  return *kResult;
}

// Mount points at or under `dir` in /proc/self/mountinfo.
inline std::vector<std::string> MountPointsUnder(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f.size() > 4 && (f[4] == dir || absl::StartsWith(f[4], dir + "/"))) out.push_back(f[4]);
  }
  return out;
}

inline bool WriteTestFile(const std::string& path, const std::string& content) {
  std::ofstream out(path);
  out << content;
  return static_cast<bool>(out);
}

// The file's content, or nullopt if it cannot be opened.
inline std::optional<std::string> ReadTestFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class SnapshotterConformanceTest : public ::testing::TestWithParam<SnapshotterFactory> {
 protected:
  static void SetUpTestSuite() { mount_skip_reason_ = EnterPrivateMountNamespace(); }

  void SetUp() override {
    absl::StatusOr<berth::testing::TempDir> t = berth::testing::TempDir::Create();
    ASSERT_TRUE(t.ok()) << t.status();
    tmp_.emplace(std::move(*t));
    const std::string state = tmp_->Sub("state");
    ASSERT_EQ(mkdir(state.c_str(), 0700), 0);
    absl::StatusOr<std::shared_ptr<Snapshotter>> s = GetParam().make(state);
    ASSERT_TRUE(s.ok()) << s.status();
    sn_ = std::move(*s);
  }

  void TearDown() override {
    if (!tmp_) return;
    EXPECT_THAT(MountPointsUnder(tmp_->path()), ::testing::IsEmpty()) << "a mount was left";
    EXPECT_TRUE(mount_util::UnmountAll(tmp_->path(), MNT_DETACH).ok());
    sn_.reset();
  }

  bool CanMount() const { return mount_skip_reason_.empty(); }

  // Mounts `mounts` at a new directory and returns it.
  std::string MountAt(const std::vector<Mount>& mounts, const std::string& name) {
    const std::string dir = tmp_->Sub(name);
    EXPECT_EQ(mkdir(dir.c_str(), 0755), 0) << dir;
    absl::Status s = mount_util::MountAll(mounts, dir);
    EXPECT_TRUE(s.ok()) << s;
    return dir;
  }
  void Unmount(const std::string& dir) {
    absl::Status s = mount_util::UnmountAll(dir);
    EXPECT_TRUE(s.ok()) << s;
  }

  // Prepare `key` on `parent`, write files (name -> content; an empty content deletes), commit as
  // `name`.
  void Layer(const std::string& name, const std::string& parent,
             const std::vector<std::pair<std::string, std::string>>& files) {
    const std::string key = name + "-active";
    absl::StatusOr<std::vector<Mount>> m = sn_->Prepare("default", key, parent);
    ASSERT_TRUE(m.ok()) << m.status();
    const std::string dir = MountAt(*m, "mnt-" + name);
    for (const auto& [file, content] : files) {
      if (content.empty()) {
        EXPECT_EQ(unlink((dir + "/" + file).c_str()), 0) << file << ": " << strerror(errno);
      } else {
        EXPECT_TRUE(WriteTestFile(dir + "/" + file, content)) << file;
      }
    }
    Unmount(dir);
    ASSERT_TRUE(sn_->Commit("default", name, key).ok());
  }

  static std::string mount_skip_reason_;
  std::optional<berth::testing::TempDir> tmp_;
  std::shared_ptr<Snapshotter> sn_;
};

inline std::string SnapshotterConformanceTest::mount_skip_reason_;

#define BERTH_SKIP_UNLESS_MOUNTS() \
  if (!CanMount()) GTEST_SKIP() << mount_skip_reason_

// ---- Metadata semantics ----

TEST_P(SnapshotterConformanceTest, PrepareCommitChain) {
  using ::berth::testing::IsOk;
  using ::berth::testing::StatusIs;
  ASSERT_THAT(sn_->Prepare("default", "a", "", {{"k", "v"}}), IsOk());
  absl::StatusOr<Info> a = sn_->Stat("default", "a");
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->kind, Kind::kActive);
  EXPECT_EQ(a->parent, "");
  EXPECT_EQ(a->labels, (Labels{{"k", "v"}}));

  ASSERT_THAT(sn_->Commit("default", "l1", "a", {{"c", "1"}}), IsOk());
  EXPECT_THAT(sn_->Stat("default", "a"), StatusIs(absl::StatusCode::kNotFound));
  absl::StatusOr<Info> l1 = sn_->Stat("default", "l1");
  ASSERT_THAT(l1, IsOk());
  EXPECT_EQ(l1->kind, Kind::kCommitted);
  EXPECT_EQ(l1->labels, (Labels{{"c", "1"}}));  // the active one's labels are dropped

  ASSERT_THAT(sn_->Prepare("default", "b", "l1"), IsOk());
  ASSERT_THAT(sn_->Commit("default", "l2", "b"), IsOk());
  ASSERT_THAT(sn_->View("default", "v", "l2"), IsOk());
  absl::StatusOr<Info> v = sn_->Stat("default", "v");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->kind, Kind::kView);
  EXPECT_EQ(v->parent, "l2");

  absl::StatusOr<std::vector<Info>> all = sn_->List("default");
  ASSERT_THAT(all, IsOk());
  std::vector<std::string> names;
  for (const Info& i : *all) names.push_back(absl::StrCat(i.name, "<-", i.parent));
  EXPECT_THAT(names, ::testing::ElementsAre("l1<-", "l2<-l1", "v<-l2"));
}

TEST_P(SnapshotterConformanceTest, CreationErrorsLeaveNothingBehind) {
  using ::berth::testing::IsOk;
  using ::berth::testing::StatusIs;
  ASSERT_THAT(sn_->Prepare("default", "a", ""), IsOk());
  ASSERT_THAT(sn_->Prepare("default", "act", ""), IsOk());
  ASSERT_THAT(sn_->Commit("default", "l1", "a"), IsOk());

  EXPECT_THAT(sn_->Prepare("default", "", ""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(sn_->Prepare("default", "act", ""), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(sn_->View("default", "l1", ""), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(sn_->Prepare("default", "x", "nope"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(sn_->Prepare("default", "x", "act"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(sn_->View("default", "x", "act"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(sn_->Prepare("default", "x", "", {{"", "v"}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(sn_->Stat("default", "x"), StatusIs(absl::StatusCode::kNotFound));

  absl::StatusOr<std::vector<Info>> all = sn_->List("default");
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(all->size(), 2u);
}

TEST_P(SnapshotterConformanceTest, CommitErrors) {
  using ::berth::testing::IsOk;
  using ::berth::testing::StatusIs;
  ASSERT_THAT(sn_->Prepare("default", "a", ""), IsOk());
  ASSERT_THAT(sn_->Prepare("default", "b", ""), IsOk());
  ASSERT_THAT(sn_->View("default", "v", ""), IsOk());
  ASSERT_THAT(sn_->Commit("default", "l1", "a"), IsOk());

  EXPECT_THAT(sn_->Commit("default", "l2", "missing"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(sn_->Commit("default", "l1", "b"), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(sn_->Commit("default", "l2", "v"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(sn_->Commit("default", "l2", "l1"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(sn_->Commit("default", "", "b"), StatusIs(absl::StatusCode::kInvalidArgument));
  // b is untouched by the failed commits.
  absl::StatusOr<Info> b = sn_->Stat("default", "b");
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(b->kind, Kind::kActive);
}

TEST_P(SnapshotterConformanceTest, MountsOfEachKind) {
  using ::berth::testing::IsOk;
  using ::berth::testing::StatusIs;
  absl::StatusOr<std::vector<Mount>> a = sn_->Prepare("default", "a", "");
  ASSERT_THAT(a, IsOk());
  EXPECT_FALSE(a->empty());
  absl::StatusOr<std::vector<Mount>> again = sn_->Mounts("default", "a");
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(*again, *a);
  ASSERT_THAT(sn_->Commit("default", "l1", "a"), IsOk());
  EXPECT_THAT(sn_->Mounts("default", "l1"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(sn_->Mounts("default", "a"), StatusIs(absl::StatusCode::kNotFound));
  absl::StatusOr<std::vector<Mount>> v = sn_->View("default", "v", "l1");
  ASSERT_THAT(v, IsOk());
  absl::StatusOr<std::vector<Mount>> v_again = sn_->Mounts("default", "v");
  ASSERT_THAT(v_again, IsOk());
  EXPECT_EQ(*v_again, *v);
}

TEST_P(SnapshotterConformanceTest, RemoveRefusesParentsAndRemovesLeaves) {
  using ::berth::testing::IsOk;
  using ::berth::testing::StatusIs;
  ASSERT_THAT(sn_->Prepare("default", "a", ""), IsOk());
  ASSERT_THAT(sn_->Commit("default", "l1", "a"), IsOk());
  ASSERT_THAT(sn_->Prepare("default", "child", "l1"), IsOk());
  ASSERT_THAT(sn_->View("default", "view", "l1"), IsOk());

  EXPECT_THAT(sn_->Remove("default", "l1"),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::HasSubstr("parent")));
  EXPECT_THAT(sn_->Stat("default", "l1"), IsOk());
  EXPECT_THAT(sn_->Remove("default", "child"), IsOk());
  EXPECT_THAT(sn_->Remove("default", "l1"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(sn_->Remove("default", "view"), IsOk());
  EXPECT_THAT(sn_->Remove("default", "l1"), IsOk());
  EXPECT_THAT(sn_->Remove("default", "l1"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(sn_->Remove("default", ""), StatusIs(absl::StatusCode::kInvalidArgument));
  absl::StatusOr<std::vector<Info>> all = sn_->List("default");
  ASSERT_THAT(all, IsOk());
  EXPECT_THAT(*all, ::testing::IsEmpty());
  // A removed name can be used again.
  EXPECT_THAT(sn_->Prepare("default", "l1", ""), IsOk());
}

TEST_P(SnapshotterConformanceTest, UpdateLabels) {
  using ::berth::testing::IsOk;
  using ::berth::testing::StatusIs;
  ASSERT_THAT(sn_->Prepare("default", "a", "", {{"x", "1"}, {"y", "2"}}), IsOk());
  Info change;
  change.name = "a";
  change.labels = {{"x", "10"}, {"z", "3"}};
  absl::StatusOr<Info> one = sn_->Update("default", change, {"labels.x"});
  ASSERT_THAT(one, IsOk());
  EXPECT_EQ(one->labels, (Labels{{"x", "10"}, {"y", "2"}}));
  absl::StatusOr<Info> remove = sn_->Update("default", change, {"labels.y"});
  ASSERT_THAT(remove, IsOk());
  EXPECT_EQ(remove->labels, (Labels{{"x", "10"}}));
  absl::StatusOr<Info> all = sn_->Update("default", change);
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(all->labels, change.labels);
  absl::StatusOr<Info> stat = sn_->Stat("default", "a");
  ASSERT_THAT(stat, IsOk());
  EXPECT_EQ(stat->labels, change.labels);
  EXPECT_EQ(stat->kind, Kind::kActive);

  EXPECT_THAT(sn_->Update("default", change, {"parent"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  change.name = "missing";
  EXPECT_THAT(sn_->Update("default", change), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(SnapshotterConformanceTest, ListWalkAndNamespaces) {
  using ::berth::testing::IsOk;
  using ::berth::testing::StatusIs;
  ASSERT_THAT(sn_->Prepare("default", "a", ""), IsOk());
  ASSERT_THAT(sn_->Commit("default", "l1", "a"), IsOk());
  ASSERT_THAT(sn_->Prepare("default", "b", "l1"), IsOk());
  ASSERT_THAT(sn_->View("default", "c", "l1"), IsOk());
  ASSERT_THAT(sn_->Prepare("other", "b", ""),
              IsOk());  // same key, another namespace

  absl::StatusOr<std::vector<Info>> active =
      sn_->List("default", [](const Info& i) { return i.kind == Kind::kActive; });
  ASSERT_THAT(active, IsOk());
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0].name, "b");
  EXPECT_EQ((*active)[0].parent, "l1");

  absl::StatusOr<std::vector<Info>> other = sn_->List("other");
  ASSERT_THAT(other, IsOk());
  ASSERT_EQ(other->size(), 1u);
  EXPECT_EQ((*other)[0].parent, "");
  EXPECT_THAT(sn_->Stat("other", "l1"), StatusIs(absl::StatusCode::kNotFound));
  absl::StatusOr<std::vector<Info>> none = sn_->List("empty-namespace");
  ASSERT_THAT(none, IsOk());
  EXPECT_THAT(*none, ::testing::IsEmpty());

  std::vector<std::string> seen;
  absl::Status walk = sn_->Walk("default", [&](const Info& i) -> absl::Status {
    seen.push_back(i.name);
    // Calling back in is allowed.
    if (!sn_->Stat("default", i.name).ok()) return absl::InternalError("stat in walk");
    if (i.name == "c") return absl::CancelledError("stop");
    return absl::OkStatus();
  });
  EXPECT_THAT(walk, StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(seen, ::testing::ElementsAre("b", "c"));
}

TEST_P(SnapshotterConformanceTest, UsageOfEmptySnapshots) {
  using ::berth::testing::IsOk;
  using ::berth::testing::StatusIs;
  ASSERT_THAT(sn_->Prepare("default", "a", ""), IsOk());
  absl::StatusOr<DiskUsage> u = sn_->Usage("default", "a");
  ASSERT_THAT(u, IsOk());
  EXPECT_GE(u->size, 0);
  EXPECT_GE(u->inodes, 0);
  ASSERT_THAT(sn_->Commit("default", "l1", "a"), IsOk());
  EXPECT_THAT(sn_->Usage("default", "l1"), IsOk());
  EXPECT_THAT(sn_->Usage("default", "missing"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(SnapshotterConformanceTest, CleanupIsSafeAnyTime) {
  using ::berth::testing::IsOk;
  ASSERT_THAT(sn_->Prepare("default", "a", ""), IsOk());
  ASSERT_THAT(sn_->Commit("default", "l1", "a"), IsOk());
  ASSERT_THAT(sn_->Prepare("default", "b", "l1"), IsOk());
  ASSERT_THAT(sn_->Remove("default", "b"), IsOk());
  absl::Status s = sn_->Cleanup();
  if (s.code() == absl::StatusCode::kUnimplemented) GTEST_SKIP() << "no Cleanup";
  EXPECT_THAT(s, IsOk());
  EXPECT_THAT(sn_->Prepare("default", "c", "l1"), IsOk());
  EXPECT_THAT(sn_->Mounts("default", "c"), IsOk());
}

// ---- Mount semantics ----

TEST_P(SnapshotterConformanceTest, FilesOfAnActiveSnapshotAppearInChildren) {
  BERTH_SKIP_UNLESS_MOUNTS();
  using ::berth::testing::IsOk;
  Layer("l1", "", {{"base", "from l1"}, {"shadowed", "old"}});
  Layer("l2", "l1", {{"second", "from l2"}, {"shadowed", "new"}});

  absl::StatusOr<std::vector<Mount>> m = sn_->Prepare("default", "c", "l2");
  ASSERT_THAT(m, IsOk());
  const std::string dir = MountAt(*m, "c");
  EXPECT_EQ(ReadTestFile(dir + "/base"), "from l1");
  EXPECT_EQ(ReadTestFile(dir + "/second"), "from l2");
  EXPECT_EQ(ReadTestFile(dir + "/shadowed"), "new");
  EXPECT_TRUE(WriteTestFile(dir + "/mine", "container"));
  Unmount(dir);

  absl::StatusOr<std::vector<Mount>> again = sn_->Mounts("default", "c");
  ASSERT_THAT(again, IsOk());
  const std::string dir2 = MountAt(*again, "c2");
  EXPECT_EQ(ReadTestFile(dir2 + "/mine"), "container");  // kept across mounts
  Unmount(dir2);
  // Parents are untouched by the child's writes.
  absl::StatusOr<std::vector<Mount>> v = sn_->View("default", "v", "l2");
  ASSERT_THAT(v, IsOk());
  const std::string vdir = MountAt(*v, "v");
  EXPECT_EQ(ReadTestFile(vdir + "/mine"), std::nullopt);
  Unmount(vdir);
}

TEST_P(SnapshotterConformanceTest, DeletingALowerFileHidesIt) {
  BERTH_SKIP_UNLESS_MOUNTS();
  using ::berth::testing::IsOk;
  Layer("l1", "", {{"keep", "k"}, {"gone", "g"}});
  Layer("l2", "l1", {{"gone", ""}});  // deleted in l2's upper: a whiteout
  absl::StatusOr<std::vector<Mount>> v = sn_->View("default", "v2", "l2");
  ASSERT_THAT(v, IsOk());
  const std::string v2 = MountAt(*v, "v2");
  EXPECT_EQ(ReadTestFile(v2 + "/keep"), "k");
  EXPECT_EQ(ReadTestFile(v2 + "/gone"), std::nullopt);
  Unmount(v2);
  Layer("l3", "l2", {{"other", "o"}});  // still hidden two layers up
  absl::StatusOr<std::vector<Mount>> a = sn_->Prepare("default", "a", "l3");
  ASSERT_THAT(a, IsOk());
  const std::string dir = MountAt(*a, "a");
  EXPECT_EQ(ReadTestFile(dir + "/gone"), std::nullopt);
  EXPECT_EQ(ReadTestFile(dir + "/other"), "o");
  Unmount(dir);
  // l1 itself still has the file.
  absl::StatusOr<std::vector<Mount>> v1 = sn_->View("default", "v1", "l1");
  ASSERT_THAT(v1, IsOk());
  const std::string d1 = MountAt(*v1, "v1");
  EXPECT_EQ(ReadTestFile(d1 + "/gone"), "g");
  Unmount(d1);
}

TEST_P(SnapshotterConformanceTest, ViewsAreReadOnly) {
  BERTH_SKIP_UNLESS_MOUNTS();
  using ::berth::testing::IsOk;
  Layer("l1", "", {{"f", "1"}});
  Layer("l2", "l1", {{"g", "2"}});
  // No parent, one parent, several parents: each mount shape.
  for (const auto& [key, parent] :
       std::vector<std::pair<std::string, std::string>>{{"v0", ""}, {"v1", "l1"}, {"v2", "l2"}}) {
    absl::StatusOr<std::vector<Mount>> v = sn_->View("default", key, parent);
    ASSERT_THAT(v, IsOk());
    const std::string dir = MountAt(*v, key);
    if (!parent.empty()) {
      EXPECT_EQ(ReadTestFile(dir + "/f"), "1") << key;
    }
    const int fd = open((dir + "/new").c_str(), O_CREAT | O_WRONLY, 0644);
    const int err = errno;
    EXPECT_EQ(fd, -1) << key;
    EXPECT_EQ(err, EROFS) << key;
    if (fd >= 0) close(fd);
    if (!parent.empty()) {
      EXPECT_NE(unlink((dir + "/f").c_str()), 0) << key;
    }
    Unmount(dir);
  }
}

TEST_P(SnapshotterConformanceTest, UsageCountsBytesWrittenInTheSnapshotOnly) {
  BERTH_SKIP_UNLESS_MOUNTS();
  using ::berth::testing::IsOk;
  Layer("l1", "", {{"parent-file", std::string(3 << 20, 'p')}});
  absl::StatusOr<std::vector<Mount>> m = sn_->Prepare("default", "a", "l1");
  ASSERT_THAT(m, IsOk());
  absl::StatusOr<DiskUsage> before = sn_->Usage("default", "a");
  ASSERT_THAT(before, IsOk());
  EXPECT_LT(before->size, 1 << 20);  // the parent's 3 MiB is not counted

  const std::string dir = MountAt(*m, "a");
  EXPECT_TRUE(WriteTestFile(dir + "/one-mib", std::string(1 << 20, 'x')));
  EXPECT_EQ(mkdir((dir + "/d").c_str(), 0755), 0);
  EXPECT_TRUE(WriteTestFile(dir + "/d/small", "abc"));
  Unmount(dir);
  absl::StatusOr<DiskUsage> after = sn_->Usage("default", "a");
  ASSERT_THAT(after, IsOk());
  EXPECT_GE(after->size - before->size, 1 << 20);
  EXPECT_LT(after->size - before->size, 2 << 20);
  EXPECT_EQ(after->inodes - before->inodes, 3);

  ASSERT_THAT(sn_->Commit("default", "l2", "a"), IsOk());
  absl::StatusOr<DiskUsage> committed = sn_->Usage("default", "l2");
  ASSERT_THAT(committed, IsOk());
  EXPECT_EQ(*committed, *after);
}

#undef BERTH_SKIP_UNLESS_MOUNTS

}  // namespace berth::containerd::snapshots::testing
