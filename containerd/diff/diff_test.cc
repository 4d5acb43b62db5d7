// Diff and DiffDirs on plain directories (an overlay upperdir is a plain directory too; the
// whiteout and xattr cases that need root skip without it): tar layout, digests, compression,
// determinism, and round trips through Apply.
#include "containerd/diff/diff.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "containerd/diff/apply.h"
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

bool IsRoot() { return geteuid() == 0; }

ApplyOptions Plain() {
  ApplyOptions o;
  o.overlay = false;
  o.preserve_ownership = IsRoot();
  return o;
}

void SetTime(const std::string& path, time_t sec, long nsec) {  // NOLINT: timespec
  const struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << path;
}

class DiffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> t = TempDir::Create();
    ASSERT_THAT(t, IsOk());
    tmp_.emplace(std::move(*t));
  }

  std::string MakeDir(const std::string& name) {
    const std::string p = tmp_->Sub(name);
    EXPECT_EQ(mkdir(p.c_str(), 0755), 0) << p;
    return p;
  }

  // A tree with every kind of entry Diff must carry, built with plain syscalls.
  std::string BuildRichTree() {
    const std::string root = MakeDir("rich");
    const std::string long_name(150, 'L');
    EXPECT_EQ(mkdir((root + "/a").c_str(), 0750), 0);
    EXPECT_EQ(mkdir((root + "/a/b").c_str(), 0755), 0);
    EXPECT_EQ(mkdir((root + "/empty").c_str(), 0700), 0);
    WriteFile(root + "/a/f1", "hello", 0640);
    std::string big(2 << 20, '\0');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
    WriteFile(root + "/a/b/big", big);
    WriteFile(root + "/exec", "#!/bin/true\n", 04755);
    WriteFile(root + "/a/" + long_name, "long");
    WriteFile(root + "/caf\xc3\xa9", "utf8");
    WriteFile(root + "/empty-file", "");
    EXPECT_EQ(symlink("../exec", (root + "/a/link").c_str()), 0);
    EXPECT_EQ(link((root + "/a/f1").c_str(), (root + "/a/b/hl").c_str()), 0);
    EXPECT_EQ(mkfifo((root + "/pipe").c_str(), 0600), 0);
    EXPECT_EQ(setxattr((root + "/a/f1").c_str(), "user.k", "v", 1, 0), 0);
    EXPECT_EQ(setxattr((root + "/a").c_str(), "user.dir", "yes", 3, 0), 0);
    // Times last, deepest first: creating entries moves a directory's mtime.
    SetTime(root + "/a/b/big", 1600000000, 1);
    SetTime(root + "/a/f1", 1600000001, 999999999);
    SetTime(root + "/a/link", 1600000002, 5);
    SetTime(root + "/a/" + long_name, 1600000003, 0);
    SetTime(root + "/exec", 1600000004, 42);
    SetTime(root + "/caf\xc3\xa9", 1600000005, 0);
    SetTime(root + "/empty-file", 1600000006, 0);
    SetTime(root + "/pipe", 1600000007, 7);
    SetTime(root + "/a/b", 1600000008, 8);
    SetTime(root + "/a", 1600000009, 9);
    SetTime(root + "/empty", 1600000010, 10);
    return root;
  }

  std::optional<TempDir> tmp_;
};

TEST_F(DiffTest, WritesASortedDeterministicTarWithHardlinks) {
  const std::string root = BuildRichTree();
  std::string blob;
  absl::StatusOr<DiffResult> r = Diff({}, root, StringWriter(&blob), DiffOptions());
  ASSERT_THAT(r, IsOk());
  const std::string tar = Decompress(blob);
  EXPECT_EQ(r->compression, Compression::kGzip);
  EXPECT_EQ(r->diff_id.ToString(), Sha256(tar));
  EXPECT_EQ(r->uncompressed_size, tar.size());
  EXPECT_EQ(r->digest.ToString(), Sha256(blob));
  EXPECT_EQ(r->size, blob.size());
  EXPECT_EQ(tar.size() % 512, 0u);
  EXPECT_EQ(tar.substr(tar.size() - 1024), std::string(1024, '\0'));  // no record padding
  EXPECT_THAT(TarNames(blob), ElementsAre("a/", "a/" + std::string(150, 'L'), "a/b/", "a/b/big",
                                          "a/b/hl", "a/f1 => a/b/hl", "a/link", "caf\xc3\xa9",
                                          "empty/", "empty-file", "exec", "pipe"));
  EXPECT_EQ(r->entries, 12u);
  EXPECT_EQ(r->whiteouts, 0u);

  std::string again;
  absl::StatusOr<DiffResult> r2 = Diff({}, root, StringWriter(&again), DiffOptions());
  ASSERT_THAT(r2, IsOk());
  EXPECT_EQ(again, blob);
  EXPECT_EQ(r2->digest, r->digest);
}

TEST_F(DiffTest, RoundTripThroughApplyReproducesTheTree) {
  const std::string root = BuildRichTree();
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kZstd}) {
    SCOPED_TRACE(CompressionName(c));
    std::string blob;
    DiffOptions o;
    o.compression = c;
    absl::StatusOr<DiffResult> r = Diff({}, root, StringWriter(&blob), o);
    ASSERT_THAT(r, IsOk());
    const std::string out = MakeDir(absl::StrCat("out-", CompressionName(c)));
    absl::StatusOr<AppliedLayer> applied = Apply(StringReader(blob), out, Plain());
    ASSERT_THAT(applied, IsOk());
    EXPECT_EQ(applied->diff_id, r->diff_id);
    EXPECT_EQ(applied->compression, c);
    EXPECT_EQ(applied->compressed_size, r->size);
    EXPECT_EQ(DescribeTree(out), DescribeTree(root));
    if (c == Compression::kNone) {
      EXPECT_EQ(r->digest, r->diff_id);
    }
  }
}

TEST_F(DiffTest, GnuTarReadsTheLayer) {
  // Interop: GNU tar extracts what Diff wrote, sub-second mtimes and SCHILY.xattr records
  // included (Go's archive/tar reads the same records).
  const std::string root = BuildRichTree();
  std::string blob;
  ASSERT_THAT(Diff({}, root, StringWriter(&blob), DiffOptions()), IsOk());
  const std::string layer = tmp_->Sub("layer.tgz");
  WriteFile(layer, blob);
  const std::string out = MakeDir("gnu");
  absl::StatusOr<::berth::testing::CommandResult> r =
      ::berth::testing::RunCommand({"/usr/bin/tar", "--xattrs", "--xattrs-include=*",
                                    "--same-owner", "-xpzf", layer, "-C", out});
  ASSERT_THAT(r, IsOk());
  ASSERT_TRUE(r->Succeeded()) << r->output;
  EXPECT_EQ(DescribeTree(out), DescribeTree(root));
}

TEST_F(DiffTest, SameDiffIdWhateverTheCompression) {
  const std::string root = BuildRichTree();
  std::vector<std::string> ids;
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kZstd}) {
    std::string blob;
    DiffOptions o;
    o.compression = c;
    o.level = c == Compression::kGzip ? 9 : 1;
    absl::StatusOr<DiffResult> r = Diff({}, root, StringWriter(&blob), o);
    ASSERT_THAT(r, IsOk());
    ids.push_back(r->diff_id.ToString());
  }
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(ids[0], ids[2]);
}

TEST_F(DiffTest, SourceDateEpochAndSecondTruncation) {
  const std::string root = MakeDir("t");
  WriteFile(root + "/new", "n");
  WriteFile(root + "/old", "o");
  SetTime(root + "/new", 2000000000, 5);
  SetTime(root + "/old", 1000000000, 123);
  DiffOptions o;
  o.compression = Compression::kNone;
  o.source_date_epoch = absl::FromUnixSeconds(1500000000);
  o.nanosecond_mtimes = false;
  std::string blob;
  ASSERT_THAT(Diff({}, root, StringWriter(&blob), o), IsOk());
  const std::string out = MakeDir("out");
  ASSERT_THAT(Apply(StringReader(blob), out, Plain()), IsOk());
  struct stat st;
  ASSERT_EQ(lstat((out + "/new").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1500000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 0);
  ASSERT_EQ(lstat((out + "/old").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1000000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 0);
}

TEST_F(DiffTest, OverlayWhiteoutsAndOpaqueDirsBecomeOciWhiteouts) {
  if (!IsRoot()) GTEST_SKIP() << "whiteout devices and trusted xattrs need root";
  const std::string upper = MakeDir("upper");
  ASSERT_EQ(mknod((upper + "/gone").c_str(), S_IFCHR | 0, makedev(0, 0)), 0);
  // overlayfs links whiteouts to one shared inode: they must not turn into tar hardlinks.
  ASSERT_EQ(link((upper + "/gone").c_str(), (upper + "/gone-too").c_str()), 0);
  ASSERT_EQ(mkdir((upper + "/opq").c_str(), 0710), 0);
  ASSERT_EQ(setxattr((upper + "/opq").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
  ASSERT_EQ(setxattr((upper + "/opq").c_str(), "trusted.overlay.origin", "x", 1, 0), 0);
  WriteFile(upper + "/opq/a-child", "c");
  ASSERT_EQ(mkdir((upper + "/not-opaque").c_str(), 0755), 0);
  ASSERT_EQ(setxattr((upper + "/not-opaque").c_str(), "trusted.overlay.opaque", "x", 1, 0), 0);
  ASSERT_EQ(mkdir((upper + "/not-opaque/sub").c_str(), 0755), 0);
  ASSERT_EQ(mknod((upper + "/not-opaque/sub/wo").c_str(), S_IFCHR | 0, makedev(0, 0)), 0);
  // A real device is not a whiteout.
  ASSERT_EQ(mknod((upper + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);

  std::string blob;
  absl::StatusOr<DiffResult> r = Diff({}, upper, StringWriter(&blob), DiffOptions());
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(TarNames(blob), ElementsAre(".wh.gone", ".wh.gone-too", "not-opaque/",
                                          "not-opaque/sub/", "not-opaque/sub/.wh.wo", "null",
                                          "opq/", "opq/.wh..wh..opq", "opq/a-child"));
  EXPECT_EQ(r->whiteouts, 4u);

  // Applied back in overlay mode, the whiteouts are whiteouts again, and no trusted.* xattr
  // came through the tar (overlayfs' origin must not).
  const std::string again = MakeDir("again");
  ApplyOptions o;
  o.allow_devices = true;
  ASSERT_THAT(Apply(StringReader(blob), again, o), IsOk());
  EXPECT_THAT(
      DescribeTree(again, false, false),
      ::testing::AllOf(HasSubstr("gone c 0000 0:0 mtime="), HasSubstr("gone-too c 0000 0:0 mtime="),
                       HasSubstr("not-opaque d 0755 0:0\n"), HasSubstr("not-opaque/sub/wo c 0000"),
                       HasSubstr("dev=1:3"),
                       HasSubstr("opq d 0710 0:0 xattr trusted.overlay.opaque=y\n"),
                       HasSubstr("opq/a-child f 0644")));
}

TEST_F(DiffTest, RedirectedDirectoriesAreRefused) {
  if (!IsRoot()) GTEST_SKIP() << "trusted xattrs need root";
  const std::string upper = MakeDir("upper");
  ASSERT_EQ(mkdir((upper + "/moved").c_str(), 0755), 0);
  ASSERT_EQ(setxattr((upper + "/moved").c_str(), "trusted.overlay.redirect", "/orig", 5, 0), 0);
  std::string blob;
  EXPECT_THAT(Diff({}, upper, StringWriter(&blob), DiffOptions()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("redirect_dir=off")));
}

TEST_F(DiffTest, MetacopyFilesTakeTheirDataFromTheLowerDirs) {
  if (!IsRoot()) GTEST_SKIP() << "trusted xattrs need root";
  const std::string lower1 = MakeDir("lower1");
  const std::string lower2 = MakeDir("lower2");
  const std::string upper = MakeDir("upper");
  ASSERT_EQ(mkdir((lower2 + "/bin").c_str(), 0755), 0);
  WriteFile(lower2 + "/bin/tool", "the real data");
  ASSERT_EQ(mkdir((upper + "/bin").c_str(), 0755), 0);
  // What overlayfs leaves after `chmod 700 bin/tool` with metacopy=on: metadata, no data.
  WriteFile(upper + "/bin/tool", "", 0700);
  ASSERT_EQ(truncate((upper + "/bin/tool").c_str(), 13), 0);
  ASSERT_EQ(setxattr((upper + "/bin/tool").c_str(), "trusted.overlay.metacopy", "", 0, 0), 0);
  // And a renamed one: `mv bin/tool bin/renamed` records where the data is.
  WriteFile(upper + "/bin/renamed", "", 0755);
  ASSERT_EQ(truncate((upper + "/bin/renamed").c_str(), 13), 0);
  ASSERT_EQ(setxattr((upper + "/bin/renamed").c_str(), "trusted.overlay.metacopy", "", 0, 0), 0);
  ASSERT_EQ(
      setxattr((upper + "/bin/renamed").c_str(), "trusted.overlay.redirect", "/bin/tool", 9, 0), 0);
  std::string blob;
  ASSERT_THAT(Diff({lower1, lower2}, upper, StringWriter(&blob), DiffOptions()), IsOk());
  const std::string out = MakeDir("out");
  ASSERT_THAT(Apply(StringReader(blob), out, Plain()), IsOk());
  EXPECT_EQ(ReadFile(out + "/bin/tool"), "the real data");
  EXPECT_EQ(ReadFile(out + "/bin/renamed"), "the real data");
  struct stat st;
  ASSERT_EQ(stat((out + "/bin/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);

  // Without the lower that holds the data, Diff refuses instead of writing zeros.
  EXPECT_THAT(Diff({lower1}, upper, StringWriter(&blob), DiffOptions()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("metacopy")));
}

TEST_F(DiffTest, SocketsAreSkipped) {
  const std::string root = MakeDir("s");
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  const std::string path = root + "/sock";
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
  WriteFile(root + "/file", "f");
  std::string blob;
  ASSERT_THAT(Diff({}, root, StringWriter(&blob), DiffOptions()), IsOk());
  EXPECT_THAT(TarNames(blob), ElementsAre("file"));
}

TEST_F(DiffTest, SinkErrorsAreReturned) {
  const std::string root = BuildRichTree();
  size_t written = 0;
  WriteFn failing = [&](absl::string_view data) {
    if (written > 1000) return absl::UnavailableError("ingest closed");
    written += data.size();
    return absl::OkStatus();
  };
  EXPECT_THAT(Diff({}, root, failing, DiffOptions()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("write layer: ingest closed")));
}

TEST_F(DiffTest, BadArguments) {
  std::string blob;
  EXPECT_THAT(Diff({}, tmp_->Sub("missing"), StringWriter(&blob), DiffOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Diff({tmp_->Sub("missing")}, tmp_->path(), StringWriter(&blob), DiffOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  DiffOptions o;
  o.level = 42;
  EXPECT_THAT(Diff({}, tmp_->path(), StringWriter(&blob), o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("level")));
}

// ---------------------------------------------------------------------------------------------
// DiffDirs

TEST_F(DiffTest, DiffDirsWritesChangesAndWhiteouts) {
  const std::string base = TarBuilder()
                               .Dir("etc/")
                               .File("etc/hosts", "127.0.0.1 localhost\n")
                               .File("etc/motd", "hi")
                               .File("etc/shadow", "secret", {0600})
                               .Dir("var/")
                               .Dir("var/cache/")
                               .File("var/cache/junk", "junk")
                               .Dir("usr/")
                               .File("usr/unchanged", "same")
                               .File("will-be-dir", "file")
                               .Finish();
  const std::string lower = MakeDir("lower");
  const std::string upper = MakeDir("upper");
  ASSERT_THAT(Apply(StringReader(base), lower, Plain()), IsOk());
  ASSERT_THAT(Apply(StringReader(base), upper, Plain()), IsOk());
  WriteFile(upper + "/etc/hosts", "127.0.0.1 localhost berth\n");
  ASSERT_EQ(chmod((upper + "/etc/shadow").c_str(), 0640), 0);
  ASSERT_EQ(unlink((upper + "/etc/motd").c_str()), 0);
  RemoveTree(upper + "/var/cache");
  ASSERT_EQ(mkdir((upper + "/opt").c_str(), 0755), 0);
  WriteFile(upper + "/opt/new", "new");
  ASSERT_EQ(unlink((upper + "/will-be-dir").c_str()), 0);
  ASSERT_EQ(mkdir((upper + "/will-be-dir").c_str(), 0755), 0);
  WriteFile(upper + "/will-be-dir/inside", "in");

  std::string blob;
  absl::StatusOr<DiffResult> r = DiffDirs(lower, upper, StringWriter(&blob), DiffOptions());
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(TarNames(blob),
              ElementsAre("etc/", "etc/hosts", "etc/.wh.motd", "etc/shadow", "opt/", "opt/new",
                          "var/", "var/.wh.cache", "will-be-dir/", "will-be-dir/inside"));
  EXPECT_EQ(r->whiteouts, 2u);

  // Applying the diff to a copy of the lower tree gives the upper tree.
  const std::string copy = MakeDir("copy");
  ASSERT_THAT(Apply(StringReader(base), copy, Plain()), IsOk());
  ASSERT_THAT(Apply(StringReader(blob), copy, Plain()), IsOk());
  EXPECT_EQ(DescribeTree(copy, false, false), DescribeTree(upper, false, false));
}

TEST_F(DiffTest, DiffDirsAgainstNothingWritesEverything) {
  const std::string root = BuildRichTree();
  std::string a, b;
  ASSERT_THAT(DiffDirs("", root, StringWriter(&a), DiffOptions()), IsOk());
  ASSERT_THAT(Diff({}, root, StringWriter(&b), DiffOptions()), IsOk());
  EXPECT_EQ(a, b);
}

TEST_F(DiffTest, DiffDirsOfIdenticalTreesIsEmpty) {
  const std::string base = TarBuilder().Dir("d/").File("d/f", "x").Finish();
  const std::string lower = MakeDir("lower");
  const std::string upper = MakeDir("upper");
  ASSERT_THAT(Apply(StringReader(base), lower, Plain()), IsOk());
  ASSERT_THAT(Apply(StringReader(base), upper, Plain()), IsOk());
  std::string blob;
  absl::StatusOr<DiffResult> r = DiffDirs(lower, upper, StringWriter(&blob), DiffOptions());
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->entries, 0u);
  EXPECT_EQ(r->uncompressed_size, 1024u);  // the end-of-archive marker only
}

}  // namespace
}  // namespace berth::containerd::diff
