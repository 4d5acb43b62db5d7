// Apply and Diff against real overlayfs mounts (root only). The test process first moves into
// its own mount namespace with private propagation, so no mount made here can appear on the host
// even if the test crashes; each test still unmounts what it mounted and checks
// /proc/self/mountinfo for leftovers.
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "containerd/diff/apply.h"
#include "containerd/diff/diff.h"
#include "containerd/diff/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::diff {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::RemoveTree;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace ::berth::containerd::diff::testing;  // NOLINT: test helpers

class OverlayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) {
      skip_reason_ = "overlay mounts need root";
      return;
    }
    // Single-threaded here (GoogleTest starts no threads), as unshare(CLONE_NEWNS) requires.
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
    if (!tmp_.has_value()) return;
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) {
      EXPECT_EQ(umount2(it->c_str(), MNT_DETACH), 0) << *it << ": " << strerror(errno);
    }
    EXPECT_FALSE(HasMountsUnder(tmp_->path())) << "a mount was left behind";
  }

  std::string MakeDir(const std::string& name) {
    const std::string p = tmp_->Sub(name);
    EXPECT_EQ(mkdir(p.c_str(), 0755), 0) << p;
    return p;
  }

  // Mounts overlayfs at a new dir `name`: read-only from `lowers` alone when `upper` is empty,
  // else read-write with a work dir. Returns "" when the kernel refuses the options.
  std::string Mount(const std::string& name, const std::vector<std::string>& lowers,
                    const std::string& upper = "", const std::string& extra = "") {
    const std::string target = MakeDir(name);
    std::string opts = absl::StrCat("lowerdir=", absl::StrJoin(lowers, ":"));
    if (!upper.empty()) {
      absl::StrAppend(&opts, ",upperdir=", upper, ",workdir=", MakeDir(name + "-work"));
    }
    if (!extra.empty()) absl::StrAppend(&opts, ",", extra);
    if (mount("overlay", target.c_str(), "overlay", upper.empty() ? MS_RDONLY : 0, opts.c_str()) !=
        0) {
      ADD_FAILURE() << "mount overlay " << opts << ": " << strerror(errno);
      return "";
    }
    mounts_.push_back(target);
    return target;
  }

  void Unmount(const std::string& target) {
    ASSERT_EQ(umount2(target.c_str(), 0), 0) << strerror(errno);
    mounts_.erase(std::find(mounts_.begin(), mounts_.end(), target));
  }

  absl::StatusOr<AppliedLayer> ApplyOverlay(const std::string& blob, const std::string& upper,
                                            const std::vector<std::string>& lowers = {}) {
    ApplyOptions o;
    o.overlay = true;
    o.lower_dirs = lowers;
    return Apply(StringReader(blob), upper, o);
  }

  static std::string skip_reason_;
  std::optional<TempDir> tmp_;
  std::vector<std::string> mounts_;
};

std::string OverlayTest::skip_reason_;

TEST_F(OverlayTest, WhiteoutsAndOpaqueDirsHideLowerLayers) {
  TarBuilder::Meta sticky = TarBuilder::DirMeta();
  sticky.mode = 01777;
  sticky.uid = 0;
  const std::string layer1 = TarBuilder()
                                 .Dir("etc/")
                                 .File("etc/keep", "k")
                                 .File("etc/del", "d")
                                 .Dir("tmp/", sticky)
                                 .Dir("opq/")
                                 .File("opq/old", "o")
                                 .Dir("opq/sub/")
                                 .File("opq/sub/old2", "o2")
                                 .Dir("gone-dir/")
                                 .File("gone-dir/child", "c")
                                 .File("stays", "s")
                                 .Finish();
  const std::string layer2 = TarBuilder()
                                 .Whiteout("etc", "del")
                                 .Whiteout("", "gone-dir")
                                 .Whiteout("", "never-existed")
                                 .Dir("opq/")
                                 .Opaque("opq")
                                 .File("opq/new", "n")
                                 .File("tmp/newfile", "t")  // no "tmp/" entry
                                 .Finish();
  const std::string l1 = MakeDir("l1");
  const std::string l2 = MakeDir("l2");
  absl::StatusOr<AppliedLayer> a1 = ApplyOverlay(Compress(layer1, Compression::kGzip), l1);
  ASSERT_THAT(a1, IsOk());
  EXPECT_EQ(a1->diff_id.ToString(), Sha256(layer1));
  absl::StatusOr<AppliedLayer> a2 = ApplyOverlay(Compress(layer2, Compression::kZstd), l2, {l1});
  ASSERT_THAT(a2, IsOk());
  EXPECT_EQ(a2->diff_id.ToString(), Sha256(layer2));
  EXPECT_EQ(a2->whiteouts, 4u);

  // The upperdir holds overlay whiteouts, and tmp/ got its metadata from the lower layer.
  EXPECT_THAT(DescribeTree(l2, false, false),
              ::testing::AllOf(HasSubstr("etc/del c 0000 0:0"), HasSubstr("dev=0:0"),
                               HasSubstr("gone-dir c 0000"), HasSubstr("never-existed c 0000"),
                               HasSubstr("opq d 0755 0:0 xattr trusted.overlay.opaque=y"),
                               HasSubstr("tmp d 1777 0:0\n")));

  const std::string merged = Mount("merged", {l2, l1});
  ASSERT_FALSE(merged.empty());
  EXPECT_EQ(ReadFile(merged + "/etc/keep"), "k");
  EXPECT_FALSE(Exists(merged + "/etc/del"));
  EXPECT_FALSE(Exists(merged + "/gone-dir"));
  EXPECT_FALSE(Exists(merged + "/never-existed"));
  EXPECT_EQ(ReadFile(merged + "/stays"), "s");
  EXPECT_EQ(ReadFile(merged + "/opq/new"), "n");
  EXPECT_FALSE(Exists(merged + "/opq/old"));
  EXPECT_FALSE(Exists(merged + "/opq/sub"));
  EXPECT_EQ(ReadFile(merged + "/tmp/newfile"), "t");
  struct stat st;
  ASSERT_EQ(stat((merged + "/tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
}

TEST_F(OverlayTest, DiffOfALiveSnapshotRoundTrips) {
  const std::string base = TarBuilder()
                               .Dir("etc/")
                               .File("etc/hosts", "127.0.0.1 localhost\n")
                               .File("etc/motd", "hi")
                               .File("etc/passwd", "root:x:0:0::/root:/bin/sh\n")
                               .Dir("var/")
                               .Dir("var/cache/")
                               .File("var/cache/junk", "junk")
                               .Dir("var/lib/")
                               .File("var/lib/old-state", "old")
                               .Dir("usr/")
                               .File("usr/untouched", "same")
                               .Finish();
  const std::string lower = MakeDir("lower");
  ASSERT_THAT(ApplyOverlay(base, lower), IsOk());
  const std::string upper = MakeDir("upper");
  const std::string live = Mount("live", {lower}, upper);
  ASSERT_FALSE(live.empty());

  // What a container does to its rootfs.
  WriteFile(live + "/etc/hosts", "127.0.0.1 localhost berth\n");
  ASSERT_EQ(chmod((live + "/etc/passwd").c_str(), 0600), 0);
  ASSERT_EQ(unlink((live + "/etc/motd").c_str()), 0);
  RemoveTree(live + "/var/cache");
  ASSERT_FALSE(Exists(live + "/var/cache"));
  RemoveTree(live + "/var/lib");  // removed and made again: opaque
  ASSERT_EQ(mkdir((live + "/var/lib").c_str(), 0700), 0);
  WriteFile(live + "/var/lib/state", "new");
  ASSERT_EQ(mkdir((live + "/app").c_str(), 0755), 0);
  WriteFile(live + "/app/bin", std::string(300000, 'b'), 0755);
  ASSERT_EQ(link((live + "/app/bin").c_str(), (live + "/app/bin-alias").c_str()), 0);
  ASSERT_EQ(symlink("/app/bin", (live + "/app/link").c_str()), 0);
  ASSERT_EQ(setxattr((live + "/app/bin").c_str(), "user.note", "built", 5, 0), 0);
  ASSERT_EQ(mkfifo((live + "/app/fifo").c_str(), 0644), 0);
  const std::string expected = DescribeTree(live, /*skip_trusted=*/true);
  Unmount(live);

  std::string blob;
  absl::StatusOr<DiffResult> r = Diff({lower}, upper, StringWriter(&blob), DiffOptions());
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->diff_id.ToString(), Sha256(Decompress(blob)));
  EXPECT_THAT(TarNames(blob),
              ElementsAre("app/", "app/bin", "app/bin-alias => app/bin", "app/fifo", "app/link",
                          "etc/", "etc/hosts", "etc/.wh.motd", "etc/passwd", "var/",
                          "var/.wh.cache", "var/lib/", "var/lib/.wh..wh..opq", "var/lib/state"));
  EXPECT_EQ(r->whiteouts, 3u);

  // Deterministic: the same upperdir gives the same blob.
  std::string again;
  absl::StatusOr<DiffResult> r2 = Diff({lower}, upper, StringWriter(&again), DiffOptions());
  ASSERT_THAT(r2, IsOk());
  EXPECT_EQ(r2->digest, r->digest);

  // Apply the layer on the same lower in a fresh upperdir: the merged view is what the
  // container saw.
  const std::string upper2 = MakeDir("upper2");
  absl::StatusOr<AppliedLayer> applied = ApplyOverlay(blob, upper2, {lower});
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->diff_id, r->diff_id);
  const std::string view = Mount("view", {upper2, lower});
  ASSERT_FALSE(view.empty());
  EXPECT_EQ(DescribeTree(view, /*skip_trusted=*/true), expected);
}

TEST_F(OverlayTest, MetacopyUpperRoundTrips) {
  const std::string lower = MakeDir("lower");
  ASSERT_THAT(
      ApplyOverlay(TarBuilder().Dir("bin/").File("bin/tool", "tool data", {0755}).Finish(), lower),
      IsOk());
  const std::string upper = MakeDir("upper");
  const std::string target = MakeDir("live");
  const std::string opts = absl::StrCat("lowerdir=", lower, ",upperdir=", upper,
                                        ",workdir=", MakeDir("work"), ",metacopy=on");
  if (mount("overlay", target.c_str(), "overlay", 0, opts.c_str()) != 0) {
    GTEST_SKIP() << "overlayfs here refuses metacopy=on: " << strerror(errno);
  }
  mounts_.push_back(target);
  ASSERT_EQ(chown((target + "/bin/tool").c_str(), 1000, 1000), 0);
  Unmount(target);
  std::string value;
  char buf[16];
  ASSERT_GE(lgetxattr((upper + "/bin/tool").c_str(), "trusted.overlay.metacopy", buf, sizeof(buf)),
            0)
      << "chown did not make a metacopy copy-up";

  std::string blob;
  ASSERT_THAT(Diff({lower}, upper, StringWriter(&blob), DiffOptions()), IsOk());
  const std::string out = MakeDir("out");
  ApplyOptions o;
  o.overlay = false;
  ASSERT_THAT(Apply(StringReader(blob), out, o), IsOk());
  EXPECT_EQ(ReadFile(out + "/bin/tool"), "tool data");
  struct stat st;
  ASSERT_EQ(stat((out + "/bin/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);
}

TEST_F(OverlayTest, RenamedDirectoryWithRedirectDirIsRefused) {
  const std::string lower = MakeDir("lower");
  ASSERT_THAT(ApplyOverlay(TarBuilder().Dir("d/").File("d/f", "f").Finish(), lower), IsOk());
  const std::string upper = MakeDir("upper");
  const std::string target = MakeDir("live");
  const std::string opts = absl::StrCat("lowerdir=", lower, ",upperdir=", upper,
                                        ",workdir=", MakeDir("work"), ",redirect_dir=on");
  if (mount("overlay", target.c_str(), "overlay", 0, opts.c_str()) != 0) {
    GTEST_SKIP() << "overlayfs here refuses redirect_dir=on: " << strerror(errno);
  }
  mounts_.push_back(target);
  ASSERT_EQ(rename((target + "/d").c_str(), (target + "/moved").c_str()), 0) << strerror(errno);
  Unmount(target);
  std::string blob;
  EXPECT_THAT(Diff({lower}, upper, StringWriter(&blob), DiffOptions()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("redirect")));
}

TEST_F(OverlayTest, HostileLayerCannotForgeOverlayMetadata) {
  // trusted.overlay.* xattrs in a tar would let a layer redirect lookups into other lower
  // layers or fake opaque dirs: Apply drops them, and only .wh. entries make whiteouts.
  TarBuilder::Meta forged = TarBuilder::DirMeta();
  forged.xattrs["trusted.overlay.redirect"] = "/etc";
  forged.xattrs["trusted.overlay.opaque"] = "y";
  const std::string lower = MakeDir("lower");
  ASSERT_THAT(
      ApplyOverlay(
          TarBuilder().Dir("etc/").File("etc/shadow", "s").Dir("x/").File("x/f", "f").Finish(),
          lower),
      IsOk());
  const std::string upper = MakeDir("upper");
  absl::StatusOr<AppliedLayer> a =
      ApplyOverlay(TarBuilder().Dir("x/", forged).File("x/g", "g").Finish(), upper, {lower});
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->skipped_xattrs, 2u);
  const std::string view = Mount("view", {upper, lower});
  ASSERT_FALSE(view.empty());
  EXPECT_EQ(ReadFile(view + "/x/f"), "f");  // not hidden: x is not opaque
  EXPECT_EQ(ReadFile(view + "/x/g"), "g");
  EXPECT_FALSE(Exists(view + "/x/shadow"));  // not redirected to /etc
}

}  // namespace
}  // namespace berth::containerd::diff
