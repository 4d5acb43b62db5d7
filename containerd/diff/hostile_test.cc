// Hostile layers: each one is either rejected or contained, and NOTHING outside the target
// changes. The target sits three levels down in a sandbox dir, next to an "outside" dir with a
// victim file, so an escape of up to three ".." would land in the sandbox, where the test sees
// it; absolute paths are checked on the real host paths too.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "containerd/diff/apply.h"
#include "containerd/diff/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::diff {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::HasSubstr;
using namespace ::berth::containerd::diff::testing;  // NOLINT: test helpers

class HostileTest : public ::testing::TestWithParam<bool> {  // param: overlay mode
 protected:
  void SetUp() override {
    if (GetParam() && geteuid() != 0) GTEST_SKIP() << "overlay mode needs root";
    absl::StatusOr<TempDir> t = TempDir::Create();
    ASSERT_THAT(t, IsOk());
    tmp_.emplace(std::move(*t));
    for (const char* d : {"s1", "s1/s2", "s1/s2/target", "outside", "outside/dir"}) {
      ASSERT_EQ(mkdir(tmp_->Sub(d).c_str(), 0755), 0) << d;
    }
    target_ = tmp_->Sub("s1/s2/target");
    outside_ = tmp_->Sub("outside");
    WriteFile(outside_ + "/victim", "precious");
    WriteFile(outside_ + "/dir/keep", "keep");
    host_abs_ = absl::StrCat("/berth-diff-hostile-", getpid());
    before_ = Outside();
    struct stat st;
    ASSERT_EQ(stat("/etc/passwd", &st), 0);
    passwd_nlink_ = st.st_nlink;
  }

  void TearDown() override {
    if (!tmp_.has_value()) return;
    // The invariant every test here is about.
    EXPECT_EQ(Outside(), before_) << "something outside the target changed";
    EXPECT_FALSE(Exists(host_abs_)) << "wrote to the host's " << host_abs_;
    struct stat st;
    ASSERT_EQ(stat("/etc/passwd", &st), 0);
    EXPECT_EQ(st.st_nlink, passwd_nlink_) << "a hardlink to the host's /etc/passwd appeared";
  }

  // The sandbox's tree minus the target's contents.
  std::string Outside() {
    std::vector<std::string> keep;
    for (absl::string_view line : absl::StrSplit(DescribeTree(tmp_->path(), false, false), '\n')) {
      if (!absl::StartsWith(line, "s1/s2/target/")) keep.emplace_back(line);
    }
    return absl::StrJoin(keep, "\n");
  }

  absl::StatusOr<AppliedLayer> ApplyTar(const std::string& tar) {
    ApplyOptions o;
    o.overlay = GetParam();
    o.preserve_ownership = geteuid() == 0;
    return Apply(StringReader(tar), target_, o);
  }

  std::optional<TempDir> tmp_;
  std::string target_;
  std::string outside_;
  std::string host_abs_;
  std::string before_;
  nlink_t passwd_nlink_ = 0;
};

TEST_P(HostileTest, DotDotEscapesAreRejected) {
  for (const std::string name : {"../../escape", "../../../outside/victim", "a/../../escape",
                                 "./../escape", "../target-sibling"}) {
    SCOPED_TRACE(name);
    EXPECT_THAT(ApplyTar(TarBuilder().File(name, "pwned").Finish()),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         HasSubstr("points outside the layer root")));
  }
  EXPECT_FALSE(Exists(tmp_->Sub("s1/escape")));
  EXPECT_FALSE(Exists(tmp_->Sub("escape")));
}

TEST_P(HostileTest, DotDotInsideTheLayerIsCleanedNotFollowed) {
  ASSERT_THAT(ApplyTar(TarBuilder().File("a/b/../c", "ok").Finish()), IsOk());
  EXPECT_EQ(ReadFile(target_ + "/a/c"), "ok");
}

TEST_P(HostileTest, AbsolutePathsAreContained) {
  ASSERT_THAT(ApplyTar(TarBuilder()
                           .File(host_abs_ + "/x", "contained")
                           .File(outside_ + "/victim", "contained too")
                           .Finish()),
              IsOk());
  EXPECT_EQ(ReadFile(target_ + host_abs_ + "/x"), "contained");
  EXPECT_EQ(ReadFile(target_ + outside_ + "/victim"), "contained too");
}

TEST_P(HostileTest, FileThroughAnAbsoluteSymlinkIsRejected) {
  EXPECT_THAT(ApplyTar(TarBuilder()
                           .Symlink("evil", "/")
                           .File("evil" + host_abs_, "pwned")
                           .File("evil/etc/x", "pwned")
                           .Finish()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("symlink")));
  EXPECT_THAT(
      ApplyTar(
          TarBuilder().Symlink("evil2", outside_ + "/dir").File("evil2/new", "pwned").Finish()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("symlink")));
  EXPECT_FALSE(Exists(outside_ + "/dir/new"));
}

TEST_P(HostileTest, FileThroughARelativeSymlinkIsRejected) {
  EXPECT_THAT(
      ApplyTar(TarBuilder().Symlink("up", "../../..").File("up/outside/victim", "pwned").Finish()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("symlink")));
  EXPECT_THAT(ApplyTar(TarBuilder()
                           .Dir("d/")
                           .Symlink("d/up", "../../../../outside")
                           .File("d/up/created", "pwned")
                           .Finish()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("symlink")));
}

TEST_P(HostileTest, FileOverASymlinkReplacesTheLinkNotItsTarget) {
  // A symlink to a file outside, then a regular file of the same name: the file must replace
  // the link, never be written through it.
  ASSERT_THAT(ApplyTar(TarBuilder()
                           .Symlink("link", outside_ + "/victim")
                           .File("link", "pwned")
                           .Symlink("rel", "../../../outside/victim")
                           .File("rel", "pwned")
                           .Finish()),
              IsOk());
  EXPECT_EQ(ReadFile(target_ + "/link"), "pwned");
  struct stat st;
  ASSERT_EQ(lstat((target_ + "/link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(ReadFile(outside_ + "/victim"), "precious");
}

TEST_P(HostileTest, SymlinkFromAnEarlierLayerIsNotFollowedEither) {
  ASSERT_THAT(ApplyTar(TarBuilder().Symlink("lib", outside_ + "/dir").Finish()), IsOk());
  EXPECT_THAT(ApplyTar(TarBuilder().File("lib/evil.so", "pwned").Finish()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("symlink")));
  EXPECT_THAT(ApplyTar(TarBuilder().Dir("lib/sub/").Finish()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("symlink")));
}

TEST_P(HostileTest, HardlinksOutOfTheTargetAreRejected) {
  // "/etc/passwd" means <target>/etc/passwd, which does not exist.
  EXPECT_THAT(ApplyTar(TarBuilder().Hardlink("passwd", "/etc/passwd").Finish()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not found")));
  EXPECT_THAT(
      ApplyTar(TarBuilder().Hardlink("victim", "../../../outside/victim").Finish()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("points outside the layer root")));
  EXPECT_THAT(
      ApplyTar(TarBuilder().Symlink("etc", "/etc").Hardlink("passwd", "etc/passwd").Finish()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("symlink")));
  EXPECT_THAT(ApplyTar(TarBuilder().Dir("d/").Hardlink("dirlink", "d").Finish()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("directory")));
  EXPECT_FALSE(Exists(target_ + "/passwd"));
}

TEST_P(HostileTest, HardlinkToASymlinkLinksTheSymlinkItself) {
  ASSERT_THAT(ApplyTar(TarBuilder().Symlink("s", outside_ + "/victim").Hardlink("h", "s").Finish()),
              IsOk());
  struct stat st;
  ASSERT_EQ(lstat((target_ + "/h").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST_P(HostileTest, WhiteoutsThroughSymlinksDeleteNothingOutside) {
  EXPECT_THAT(ApplyTar(TarBuilder().Symlink("evil", outside_).Whiteout("evil", "victim").Finish()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("symlink")));
  EXPECT_THAT(ApplyTar(TarBuilder().Symlink("evil2", outside_ + "/dir").Opaque("evil2").Finish()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("symlink")));
  EXPECT_THAT(ApplyTar(TarBuilder().Whiteout("", "..").Finish()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("invalid whiteout")));
  EXPECT_THAT(
      ApplyTar(TarBuilder().Whiteout("../..", "outside").Finish()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("points outside the layer root")));
}

TEST_P(HostileTest, DevicesAreSkippedWhenNotAllowed) {
  absl::StatusOr<AppliedLayer> applied =
      ApplyTar(TarBuilder().CharDev("kmem", 1, 2).CharDev("sda", 8, 0).File("ok", "ok").Finish());
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->skipped_devices, 2u);
  EXPECT_FALSE(Exists(target_ + "/kmem"));
  EXPECT_FALSE(Exists(target_ + "/sda"));
  EXPECT_EQ(ReadFile(target_ + "/ok"), "ok");
}

TEST_P(HostileTest, EntryThroughAFileIsRejected) {
  EXPECT_THAT(ApplyTar(TarBuilder().File("f", "x").File("f/child", "y").Finish()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a directory")));
}

TEST_P(HostileTest, RootEntryMustBeADirectory) {
  EXPECT_THAT(ApplyTar(TarBuilder().Symlink("./", "/etc").Finish()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(ApplyTar(TarBuilder().Fifo("/").Finish()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

INSTANTIATE_TEST_SUITE_P(Modes, HostileTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Overlay" : "Plain"; });

}  // namespace
}  // namespace berth::containerd::diff
