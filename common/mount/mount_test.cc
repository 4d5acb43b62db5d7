// MountAll / UnmountAll. Option parsing and overlay-data shortening run anywhere; real mounts need
// root and run in the test process's own mount namespace (entered once, with private propagation,
// so nothing reaches the host even on a crash). Every test also unmounts what it mounted and checks
// /proc/self/mountinfo for leftovers.
#include "common/mount/mount.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::mount_util {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(ParseMountOptionsTest, SplitsFlagsPropagationAndData) {
  MountArgs a = ParseMountOptions({"ro", "nosuid", "lowerdir=/a:/b", "rprivate", "upperdir=/u"});
  EXPECT_EQ(a.flags, static_cast<unsigned long>(MS_RDONLY | MS_NOSUID));
  EXPECT_EQ(a.propagation, static_cast<unsigned long>(MS_PRIVATE | MS_REC));
  EXPECT_EQ(a.data, "lowerdir=/a:/b,upperdir=/u");

  MountArgs b = ParseMountOptions({"ro", "rw", "rbind"});
  EXPECT_EQ(b.flags, static_cast<unsigned long>(MS_BIND | MS_REC));
  EXPECT_EQ(b.propagation, 0u);
  EXPECT_EQ(b.data, "");
}

TEST(CompactOverlayDataTest, RewritesPathsRelativeToTheSharedDirectory) {
  absl::StatusOr<CompactedData> c = CompactOverlayData(
      "ro,lowerdir=/r/snaps/3/fs:/r/snaps/2/fs:/r/snaps/10/fs,upperdir=/r/snaps/4/fs,"
      "workdir=/r/snaps/4/work,index=off");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->base, "/r/snaps");
  EXPECT_EQ(c->data, "ro,lowerdir=3/fs:2/fs:10/fs,upperdir=4/fs,workdir=4/work,index=off");
  EXPECT_EQ(c->layers, 3u);
}

TEST(CompactOverlayDataTest, KeepsUpperAndWorkOutsideTheBaseAbsolute) {
  absl::StatusOr<CompactedData> c =
      CompactOverlayData("lowerdir=/r/s/1/fs:/r/s/2/fs,upperdir=/other/u,workdir=/other/w");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->base, "/r/s");
  EXPECT_EQ(c->data, "lowerdir=1/fs:2/fs,upperdir=/other/u,workdir=/other/w");
}

TEST(CompactOverlayDataTest, SharedPrefixStopsAtADirectoryBoundary) {
  // "/r/ab" and "/r/abc" share the string "/r/ab" but only the directory "/r".
  absl::StatusOr<CompactedData> c = CompactOverlayData("lowerdir=/r/ab/fs:/r/abc/fs");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->base, "/r");
  EXPECT_EQ(c->data, "lowerdir=ab/fs:abc/fs");

  absl::StatusOr<CompactedData> root = CompactOverlayData("lowerdir=/a/fs:/b/fs");
  ASSERT_THAT(root, IsOk());
  EXPECT_EQ(root->base, "/");
  EXPECT_EQ(root->data, "lowerdir=a/fs:b/fs");
}

TEST(CompactOverlayDataTest, RejectsWhatItCannotShorten) {
  EXPECT_THAT(CompactOverlayData("upperdir=/u"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no lowerdir")));
  EXPECT_THAT(CompactOverlayData("lowerdir=/a:rel"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not absolute")));
  EXPECT_THAT(CompactOverlayData("lowerdir=/a\\:b:/c"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("escapes")));
  EXPECT_THAT(CompactOverlayData("lowerdir=/a:/b,upperdir=u,workdir=/w"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("upperdir=\"u\"")));
}

TEST(MountAllTest, OverlayDataThatCannotBeShortenedAndIsTooLongIsInvalidArgument) {
  std::vector<std::string> lowers;
  for (int i = 0; i < 600; ++i) lowers.push_back(absl::StrCat("relative/layer-", i));
  const Mount m{"overlay", "overlay", "", {absl::StrCat("lowerdir=", absl::StrJoin(lowers, ":"))}};
  EXPECT_THAT(MountAll({m}, "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not absolute")));
}

TEST(MountAllTest, OverlayDataTooLongEvenWhenShortenedIsInvalidArgument) {
  // 600 lowerdirs of ~20 bytes each relative to /nonexistent: over a page either way. The length is
  // checked before mount(2), so this needs neither root nor the directories.
  std::vector<std::string> lowers;
  for (int i = 0; i < 600; ++i) lowers.push_back(absl::StrCat("/nonexistent/layer-", i, "/fs"));
  const Mount m{"overlay", "overlay", "", {absl::StrCat("lowerdir=", absl::StrJoin(lowers, ":"))}};
  EXPECT_THAT(MountAll({m}, "/tmp"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("600 layers"), HasSubstr("limit"))));
}

TEST(MountAllTest, RejectsTargetsOutsideTheRoot) {
  const Mount up{"bind", "/tmp", "../escape", {"rbind"}};
  EXPECT_THAT(MountAll({up}, "/tmp"), StatusIs(absl::StatusCode::kInvalidArgument));
  const Mount abs{"bind", "/tmp", "/etc", {"rbind"}};
  EXPECT_THAT(MountAll({abs}, "/tmp"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(UnmountAllTest, MissingTargetIsOk) {
  EXPECT_THAT(UnmountAll("/nonexistent/berth-mount-test"), IsOk());
}

// ---- Real mounts (root) ----

std::vector<std::string> MountsUnder(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f.size() > 4 && (f[4] == dir || absl::StartsWith(f[4], dir + "/"))) out.push_back(f[4]);
  }
  return out;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path) << content;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class RealMountTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) {
      skip_reason_ = "mounts need root";
      return;
    }
    // GoogleTest has started no threads, as unshare(CLONE_NEWNS) requires.
    if (unshare(CLONE_NEWNS) != 0 ||
        mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      skip_reason_ = absl::StrCat("private mount namespace: ", strerror(errno));
    }
  }

  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    absl::StatusOr<TempDir> t = TempDir::Create();
    ASSERT_THAT(t, IsOk());
    tmp_.emplace(std::move(*t));
  }

  void TearDown() override {
    if (!tmp_) return;
    EXPECT_THAT(MountsUnder(tmp_->path()), IsEmpty()) << "a test left a mount behind";
    EXPECT_THAT(UnmountAll(tmp_->path(), MNT_DETACH), IsOk());
  }

  std::string Dir(const std::string& name) {
    const std::string p = tmp_->Sub(name);
    EXPECT_EQ(mkdir(p.c_str(), 0755), 0) << p << ": " << strerror(errno);
    return p;
  }

  static std::string skip_reason_;
  std::optional<TempDir> tmp_;
};

std::string RealMountTest::skip_reason_;

TEST_F(RealMountTest, ReadOnlyBindIsReadOnly) {
  const std::string src = Dir("src");
  WriteFile(src + "/f", "hello");
  const std::string mnt = Dir("mnt");
  ASSERT_THAT(MountAll({{"bind", src, "", {"ro", "rbind"}}}, mnt), IsOk());
  EXPECT_EQ(ReadFile(mnt + "/f"), "hello");
  EXPECT_EQ(open((mnt + "/new").c_str(), O_CREAT | O_WRONLY, 0644), -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_THAT(UnmountAll(mnt), IsOk());
  EXPECT_THAT(MountsUnder(mnt), IsEmpty());
}

TEST_F(RealMountTest, OverlayAndSubMountsThenUnmountAllTakesEverythingDown) {
  const std::string lower = Dir("lower");
  const std::string upper = Dir("upper");
  const std::string work = Dir("work");
  const std::string extra = Dir("extra");
  WriteFile(lower + "/f", "lower");
  mkdir((lower + "/sub").c_str(), 0755);
  WriteFile(extra + "/e", "extra");
  const std::string mnt = Dir("mnt");
  std::vector<Mount> mounts = {
      {"overlay", "overlay", "", {"lowerdir=" + lower, "upperdir=" + upper, "workdir=" + work}},
      {"bind", extra, "sub", {"rbind", "ro"}},
  };
  ASSERT_THAT(MountAll(mounts, mnt), IsOk());
  EXPECT_EQ(ReadFile(mnt + "/f"), "lower");
  EXPECT_EQ(ReadFile(mnt + "/sub/e"), "extra");
  // Stack one more on top: UnmountAll must take down all three.
  ASSERT_THAT(MountAll({{"bind", extra, "", {"rbind"}}}, mnt), IsOk());
  EXPECT_EQ(MountsUnder(mnt).size(), 3u);
  EXPECT_THAT(UnmountAll(mnt), IsOk());
  EXPECT_THAT(MountsUnder(mnt), IsEmpty());
}

TEST_F(RealMountTest, FailureUndoesEarlierMounts) {
  const std::string src = Dir("src");
  const std::string mnt = Dir("mnt");
  std::vector<Mount> mounts = {
      {"bind", src, "", {"rbind"}},
      {"bind", tmp_->Sub("missing"), "", {"rbind"}},
  };
  EXPECT_THAT(MountAll(mounts, mnt),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("mount bind on " + mnt)));
  EXPECT_THAT(MountsUnder(mnt), IsEmpty());
}

TEST_F(RealMountTest, LongOverlayIsMountedFromTheSharedDirectoryWithoutMovingTheCwd) {
  // 100 lowerdirs with ~60-byte absolute paths: ~6 KB of data, over one page.
  const std::string base = Dir("a-rather-long-directory-name-to-make-every-lowerdir-path-long");
  std::vector<std::string> lowers;
  for (int i = 0; i < 100; ++i) {
    const std::string l = absl::StrCat(base, "/", i);
    ASSERT_EQ(mkdir(l.c_str(), 0755), 0);
    WriteFile(absl::StrCat(l, "/file-", i), absl::StrCat(i));
    lowers.push_back(l);
  }
  WriteFile(lowers.back() + "/bottom", "bottom");
  const Mount m{"overlay",
                "overlay",
                "",
                {"lowerdir=" + absl::StrJoin(lowers, ":"), "upperdir=" + Dir("upper"),
                 "workdir=" + Dir("work")}};
  ASSERT_GT(ParseMountOptions(m.options).data.size(), MountDataLimit());
  const std::string mnt = Dir("mnt");
  // The problem being solved: handed to mount(2) as is, the data is cut at one page.
  const std::string data = ParseMountOptions(m.options).data;
  EXPECT_NE(mount("overlay", mnt.c_str(), "overlay", 0, data.c_str()), 0);
  ASSERT_THAT(MountsUnder(mnt), IsEmpty());

  char before[PATH_MAX];
  ASSERT_NE(getcwd(before, sizeof(before)), nullptr);
  ASSERT_THAT(MountAll({m}, mnt), IsOk());
  char after[PATH_MAX];
  ASSERT_NE(getcwd(after, sizeof(after)), nullptr);
  EXPECT_STREQ(before, after);

  EXPECT_EQ(ReadFile(mnt + "/bottom"), "bottom");
  EXPECT_EQ(ReadFile(mnt + "/file-0"), "0");
  EXPECT_EQ(ReadFile(mnt + "/file-99"), "99");
  WriteFile(mnt + "/written", "w");
  EXPECT_EQ(ReadFile(tmp_->Sub("upper/written")), "w");
  EXPECT_THAT(UnmountAll(mnt), IsOk());
}

TEST_F(RealMountTest, RelativeTargetIsResolvedBeforeTheChdir) {
  const std::string base = Dir("another-rather-long-directory-name-so-the-list-is-over-a-page");
  std::vector<std::string> lowers;
  for (int i = 0; i < 100; ++i) {
    const std::string l = absl::StrCat(base, "/", i);
    ASSERT_EQ(mkdir(l.c_str(), 0755), 0);
    lowers.push_back(l);
  }
  WriteFile(lowers[0] + "/top", "top");
  const Mount m{"overlay", "overlay", "", {"ro", "lowerdir=" + absl::StrJoin(lowers, ":")}};
  ASSERT_GT(ParseMountOptions(m.options).data.size(), CompactThreshold());
  Dir("mnt");
  char cwd[PATH_MAX];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  ASSERT_EQ(chdir(tmp_->path().c_str()), 0);
  absl::Status s = MountAll({m}, "mnt");
  EXPECT_EQ(chdir(cwd), 0);
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(ReadFile(tmp_->Sub("mnt/top")), "top");
  EXPECT_THAT(UnmountAll(tmp_->Sub("mnt")), IsOk());
}

}  // namespace
}  // namespace berth::mount_util
