#include "common/fs/fs.h"

#include <errno.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/fs/atomic_file.h"
#include "common/fs/run_in_child.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace berth::fs {
namespace {

using ::berth::fs::testing::RunInChild;
using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

class FsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> dir = TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(std::move(*dir));
  }
  std::string Sub(absl::string_view name) const { return dir_->Sub(name); }
  void Write(absl::string_view name, absl::string_view data) {
    ASSERT_THAT(WriteFileAtomically(Sub(name), data, 0644), IsOk());
  }

  std::optional<TempDir> dir_;
};

TEST_F(FsTest, ReadFileReadsWholeFiles) {
  Write("empty", "");
  EXPECT_EQ(*ReadFile(Sub("empty")), "");
  std::string big(3 * 1024 * 1024 + 7, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31 + 7);
  Write("big", big);
  EXPECT_EQ(*ReadFile(Sub("big")), big);
}

// /proc files report size 0; reading must go to end of file anyway.
TEST_F(FsTest, ReadFileReadsProcFiles) {
  absl::StatusOr<std::string> stat = ReadFile("/proc/self/stat");
  ASSERT_THAT(stat, IsOk());
  EXPECT_THAT(*stat, HasSubstr(absl::StrCat(getpid(), " (")));
  absl::StatusOr<std::string> maps = ReadFile("/proc/self/maps");  // usually > 4 KiB
  ASSERT_THAT(maps, IsOk());
  EXPECT_FALSE(maps->empty());
}

TEST_F(FsTest, ReadFileErrorsNameThePath) {
  EXPECT_THAT(ReadFile(Sub("missing")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(Sub("missing"))));
  EXPECT_THAT(ReadFile(dir_->path()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(dir_->path())));
}

TEST_F(FsTest, ListDirListsNamesSorted) {
  Write("b", "");
  Write("a", "");
  Write(".hidden", "");
  ASSERT_THAT(MakeDirs(Sub("dir"), 0755), IsOk());
  ASSERT_EQ(symlink("nowhere", Sub("link").c_str()), 0);
  absl::StatusOr<std::vector<std::string>> names = ListDir(dir_->path());
  ASSERT_THAT(names, IsOk());
  EXPECT_THAT(*names, ElementsAre(".hidden", "a", "b", "dir", "link"));
  names = ListDir(Sub("dir"));
  ASSERT_THAT(names, IsOk());
  EXPECT_THAT(*names, IsEmpty());
  EXPECT_THAT(ListDir(Sub("missing")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(Sub("missing"))));
  EXPECT_THAT(ListDir(Sub("a")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(Sub("a"))));
}

TEST_F(FsTest, MakeDirsCreatesParentsWithExactMode) {
  const mode_t old_umask = umask(077);
  ASSERT_THAT(MakeDirs(Sub("a/b/c"), 0751), IsOk());
  umask(old_umask);
  for (absl::string_view d : {"a", "a/b", "a/b/c"}) {
    SCOPED_TRACE(d);
    EXPECT_TRUE(IsDir(Sub(d)));
    EXPECT_EQ(ModeOf(Sub(d)), 0751);
  }
}

TEST_F(FsTest, MakeDirsIsIdempotentAndLeavesExistingModes) {
  ASSERT_THAT(MakeDirs(Sub("a"), 0700), IsOk());
  ASSERT_THAT(MakeDirs(Sub("a/b"), 0755), IsOk());
  EXPECT_EQ(ModeOf(Sub("a")), 0700);
  EXPECT_THAT(MakeDirs(Sub("a/b"), 0755), IsOk());
  EXPECT_THAT(MakeDirs(Sub("a/b/"), 0755), IsOk());
  EXPECT_THAT(MakeDirs(Sub("a//b//c/"), 0755), IsOk());
  EXPECT_TRUE(IsDir(Sub("a/b/c")));
  EXPECT_THAT(MakeDirs("/", 0755), IsOk());
}

TEST_F(FsTest, MakeDirsFollowsSymlinksToDirectories) {
  ASSERT_THAT(MakeDirs(Sub("real"), 0755), IsOk());
  ASSERT_EQ(symlink("real", Sub("link").c_str()), 0);
  ASSERT_THAT(MakeDirs(Sub("link/x"), 0755), IsOk());
  EXPECT_TRUE(IsDir(Sub("real/x")));
}

TEST_F(FsTest, MakeDirsRejectsNonDirectoryComponents) {
  Write("file", "x");
  EXPECT_THAT(MakeDirs(Sub("file/sub"), 0755),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr(absl::StrCat(Sub("file"), " exists and is not a directory"))));
  EXPECT_THAT(MakeDirs(Sub("file"), 0755),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a directory")));
  ASSERT_EQ(symlink("nowhere", Sub("dangling").c_str()), 0);
  EXPECT_THAT(MakeDirs(Sub("dangling/x"), 0755),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(Sub("dangling"))));
  EXPECT_THAT(MakeDirs("", 0755), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MakeDirs(Sub("m"), 020755), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(FsTest, RemoveAllRemovesATree) {
  ASSERT_THAT(MakeDirs(Sub("t/a/b/c"), 0755), IsOk());
  Write("t/f", "x");
  Write("t/a/b/c/g", "y");
  ASSERT_THAT(MakeDirs(Sub("t/empty"), 0755), IsOk());
  ASSERT_EQ(mkfifo(Sub("t/a/fifo").c_str(), 0600), 0);
  if (geteuid() == 0) {
    // A directory without permissions: root still removes it, as rm -rf does.
    ASSERT_THAT(MakeDirs(Sub("t/locked/inner"), 0755), IsOk());
    ASSERT_EQ(chmod(Sub("t/locked").c_str(), 0), 0);
  }
  EXPECT_THAT(RemoveAll(Sub("t")), IsOk());
  EXPECT_FALSE(Exists(Sub("t")));
}

TEST_F(FsTest, RemoveAllNeverFollowsSymlinks) {
  ASSERT_THAT(MakeDirs(Sub("outside/sub"), 0755), IsOk());
  Write("outside/keep", "keep");
  Write("outside-file", "keep");
  ASSERT_THAT(MakeDirs(Sub("t"), 0755), IsOk());
  ASSERT_EQ(symlink(Sub("outside").c_str(), Sub("t/abs-link").c_str()), 0);
  ASSERT_EQ(symlink("../outside", Sub("t/rel-link").c_str()), 0);
  ASSERT_EQ(symlink(Sub("outside-file").c_str(), Sub("t/file-link").c_str()), 0);
  EXPECT_THAT(RemoveAll(Sub("t")), IsOk());
  EXPECT_FALSE(Exists(Sub("t")));
  EXPECT_EQ(*ReadFile(Sub("outside/keep")), "keep");
  EXPECT_TRUE(IsDir(Sub("outside/sub")));
  EXPECT_EQ(*ReadFile(Sub("outside-file")), "keep");

  // A symlink given as the path, even with a trailing slash, is removed itself.
  ASSERT_EQ(symlink(Sub("outside").c_str(), Sub("top-link").c_str()), 0);
  EXPECT_THAT(RemoveAll(Sub("top-link/")), IsOk());
  EXPECT_FALSE(Exists(Sub("top-link")));
  EXPECT_EQ(*ReadFile(Sub("outside/keep")), "keep");
}

TEST_F(FsTest, RemoveAllOfFilesAndMissingPaths) {
  Write("f", "x");
  EXPECT_THAT(RemoveAll(Sub("f")), IsOk());
  EXPECT_FALSE(Exists(Sub("f")));
  EXPECT_THAT(RemoveAll(Sub("missing")), IsOk());
  EXPECT_THAT(RemoveAll(Sub("missing/deeper")), IsOk());
}

TEST_F(FsTest, RemoveAllRefusesEmptyAndRoot) {
  EXPECT_THAT(RemoveAll(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RemoveAll("/"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("refusing")));
  EXPECT_THAT(RemoveAll("//"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(FsTest, RemoveAllReportsErrorsWithThePath) {
  Write("f", "x");
  EXPECT_THAT(RemoveAll(Sub("f/sub")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(Sub("f/sub"))));
}

// Mounts below the tree (a tmpfs, and a bind mount of a directory on the same file system,
// which has the same device number) are left alone with their content; everything else goes.
// Runs in a child with its own mount namespace, so the mounts never exist outside it.
TEST_F(FsTest, RemoveAllDoesNotCrossMountPoints) {
  ASSERT_THAT(MakeDirs(Sub("t/tmpfs"), 0755), IsOk());
  ASSERT_THAT(MakeDirs(Sub("t/bind"), 0755), IsOk());
  ASSERT_THAT(MakeDirs(Sub("t/plain/sub"), 0755), IsOk());
  Write("t/plain/sub/f", "x");
  ASSERT_THAT(MakeDirs(Sub("volume"), 0755), IsOk());
  Write("volume/data", "precious");

  const std::string t = Sub("t");
  const std::string volume = Sub("volume");
  absl::StatusOr<std::string> child = RunInChild([&]() -> std::string {
    if (unshare(CLONE_NEWNS) != 0) return absl::StrCat("SKIP unshare: ", strerror(errno));
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return "make / private";
    if (mount("tmpfs", (t + "/tmpfs").c_str(), "tmpfs", 0, "size=1m") != 0) return "mount tmpfs";
    if (!WriteFileAtomically(t + "/tmpfs/inside", "x", 0644).ok()) return "write in tmpfs";
    if (mount(volume.c_str(), (t + "/bind").c_str(), nullptr, MS_BIND, nullptr) != 0) {
      return "bind mount";
    }

    const absl::Status st = RemoveAll(t);
    if (st.code() != absl::StatusCode::kFailedPrecondition ||
        st.message().find("is a mount point") == absl::string_view::npos) {
      return absl::StrCat("RemoveAll(t): ", st.ToString());
    }
    if (Exists(t + "/plain")) return "plain subtree not removed";
    if (!Exists(t + "/tmpfs/inside")) return "tmpfs content removed";
    if (!Exists(t + "/bind/data")) return "bind-mounted content removed";

    // The path itself being a mount point: nothing is removed.
    const absl::Status top = RemoveAll(t + "/tmpfs");
    if (top.code() != absl::StatusCode::kFailedPrecondition) {
      return absl::StrCat("RemoveAll(mount point): ", top.ToString());
    }
    if (!Exists(t + "/tmpfs/inside")) return "content of mount point removed";
    return "";
  });
  ASSERT_THAT(child, IsOk());
  if (absl::StartsWith(*child, "SKIP")) GTEST_SKIP() << *child;
  EXPECT_EQ(*child, "");
  EXPECT_EQ(*ReadFile(Sub("volume/data")), "precious");
  // With the namespace gone the mount points are plain empty directories again.
  EXPECT_THAT(RemoveAll(t), IsOk());
  EXPECT_FALSE(Exists(t));
}

}  // namespace
}  // namespace berth::fs
