// Apply in plain-directory mode: tree contents and metadata, compression detection, diff IDs,
// whiteouts, replacement rules, and clear errors for broken streams. Tests that need root
// (ownership, devices, trusted/security xattrs) skip without it.
#include "containerd/diff/apply.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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

bool IsRoot() { return geteuid() == 0; }

ApplyOptions Plain() {
  ApplyOptions o;
  o.overlay = false;
  o.preserve_ownership = IsRoot();
  return o;
}

class ApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> t = TempDir::Create();
    ASSERT_THAT(t, IsOk());
    tmp_.emplace(std::move(*t));
    target_ = tmp_->Sub("target");
    ASSERT_EQ(mkdir(target_.c_str(), 0755), 0);
  }

  void TearDown() override {
    // Without root, TempDir cannot empty the read-only directories some layers create.
    if (!IsRoot() && tmp_.has_value()) {
      (void)::berth::testing::RunCommand({"/bin/chmod", "-R", "u+rwx", tmp_->path()});
    }
  }

  absl::StatusOr<AppliedLayer> ApplyTar(const std::string& blob,
                                        const ApplyOptions& options = Plain()) {
    return Apply(StringReader(blob), target_, options);
  }

  std::optional<TempDir> tmp_;
  std::string target_;
};

TEST_F(ApplyTest, UnpacksEveryEntryTypeWithMetadata) {
  TarBuilder::Meta exe;
  exe.mode = 04755;
  exe.mtime = 1600000000;
  exe.mtime_nsec = 123456789;
  exe.xattrs["user.origin"] = "berth";
  TarBuilder::Meta ro_dir = TarBuilder::DirMeta();
  ro_dir.mode = 0555;
  ro_dir.mtime = 1500000000;
  const std::string tar = TarBuilder()
                              .Dir("./")
                              .Dir("bin/")
                              .File("bin/tool", "#!/bin/sh\necho hi\n", exe)
                              .Dir("ro/", ro_dir)
                              .File("ro/inside", "data")
                              .Symlink("bin/sh", "/bin/busybox")
                              .Hardlink("bin/tool2", "bin/tool")
                              .Fifo("ro/pipe")
                              .Finish();
  absl::StatusOr<AppliedLayer> applied = ApplyTar(tar);
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->diff_id.ToString(), Sha256(tar));
  EXPECT_EQ(applied->size, tar.size());
  EXPECT_EQ(applied->compressed_size, tar.size());
  EXPECT_EQ(applied->compression, Compression::kNone);
  EXPECT_EQ(applied->entries, 8u);

  const std::string uid = IsRoot() ? "0:0" : absl::StrCat(geteuid(), ":", getegid());
  EXPECT_EQ(DescribeTree(target_),
            absl::StrCat("bin d 0755 ", uid, " mtime=1700000000.000000000\n", "bin/sh l 0777 ", uid,
                         " mtime=1700000000.000000000 -> /bin/busybox\n", "bin/tool f 4755 ", uid,
                         " mtime=1600000000.123456789 size=18 data=\"#!/bin/sh\necho hi\n\" link#0 "
                         "xattr user.origin=berth\n",
                         "bin/tool2 f 4755 ", uid,
                         " mtime=1600000000.123456789 size=18 data=\"#!/bin/sh\necho hi\n\" link#0 "
                         "xattr user.origin=berth\n",
                         "ro d 0555 ", uid, " mtime=1500000000.000000000\n", "ro/inside f 0644 ",
                         uid, " mtime=1700000000.000000000 size=4 data=\"data\"\n",
                         "ro/pipe p 0644 ", uid, " mtime=1700000000.000000000\n"));
  // "./" set the target root's own metadata.
  struct stat st;
  ASSERT_EQ(stat(target_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);
}

TEST_F(ApplyTest, OwnershipFromTheTar) {
  if (!IsRoot()) GTEST_SKIP() << "chown needs root";
  TarBuilder::Meta m;
  m.uid = 1234;
  m.gid = 5678;
  m.mode = 02750;
  TarBuilder::Meta d = TarBuilder::DirMeta();
  d.uid = 42;
  d.gid = 43;
  const std::string tar =
      TarBuilder().Dir("home/", d).File("home/f", "x", m).Symlink("home/l", "f", m).Finish();
  ASSERT_THAT(ApplyTar(tar), IsOk());
  EXPECT_THAT(
      DescribeTree(target_, false, false),
      ::testing::AllOf(HasSubstr("home d 0755 42:43\n"), HasSubstr("home/f f 2750 1234:5678"),
                       HasSubstr("home/l l 0777 1234:5678")));
}

TEST_F(ApplyTest, SecurityCapabilityIsKeptAndTrustedXattrsAreNot) {
  if (!IsRoot()) GTEST_SKIP() << "security.* and trusted.* xattrs need root";
  // A v2 file capability for cap_net_bind_service (effective), as setcap writes it.
  const std::string cap(
      "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
      "\x00\x00\x00\x00",
      20);
  TarBuilder::Meta m;
  m.mode = 0755;
  m.uid = 1000;  // chown would clear the capability: it must be applied after
  m.xattrs["security.capability"] = cap;
  m.xattrs["trusted.overlay.opaque"] = "y";
  m.xattrs["trusted.overlay.redirect"] = "/etc";
  TarBuilder::Meta d = TarBuilder::DirMeta();
  d.xattrs["trusted.overlay.opaque"] = "y";
  const std::string tar = TarBuilder().Dir("d/", d).File("d/ping", "elf", m).Finish();
  absl::StatusOr<AppliedLayer> applied = ApplyTar(tar);
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->skipped_xattrs, 3u);
  char buf[64];
  const ssize_t n =
      lgetxattr(tmp_->Sub("target/d/ping").c_str(), "security.capability", buf, sizeof(buf));
  ASSERT_EQ(n, 20);
  EXPECT_EQ(std::string(buf, n), cap);
  EXPECT_LT(lgetxattr(tmp_->Sub("target/d").c_str(), "trusted.overlay.opaque", buf, 64), 0);
  EXPECT_LT(lgetxattr(tmp_->Sub("target/d/ping").c_str(), "trusted.overlay.redirect", buf, 64), 0);
}

class CompressionTest : public ApplyTest, public ::testing::WithParamInterface<Compression> {};

TEST_P(CompressionTest, DetectsCompressionAndHashesTheUncompressedTar) {
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) >> 5);
  const std::string tar =
      TarBuilder().Dir("d/").File("d/big", big).File("d/small", "hello").Finish();
  const std::string blob = Compress(tar, GetParam());
  // Odd chunk sizes: the layer source hands out bytes in pieces unrelated to tar blocks.
  absl::StatusOr<AppliedLayer> applied = Apply(StringReader(blob, 1000 + 13), target_, Plain());
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->compression, GetParam());
  EXPECT_EQ(applied->diff_id.ToString(), Sha256(tar));
  EXPECT_EQ(applied->size, tar.size());
  EXPECT_EQ(applied->compressed_size, blob.size());
  EXPECT_EQ(ReadFile(tmp_->Sub("target/d/big")), big);
  EXPECT_EQ(ReadFile(tmp_->Sub("target/d/small")), "hello");
}

INSTANTIATE_TEST_SUITE_P(All, CompressionTest,
                         ::testing::Values(Compression::kNone, Compression::kGzip,
                                           Compression::kZstd),
                         [](const auto& info) { return std::string(CompressionName(info.param)); });

TEST_F(ApplyTest, DiffIdCoversRecordPaddingAfterTheEndMarker) {
  // GNU tar pads archives to a 10 KiB record: those zeros are part of the blob the diff ID
  // names (docker and containerd hash the whole stream).
  std::string tar = TarBuilder().File("f", "x").Finish();
  tar.resize((tar.size() / 10240 + 1) * 10240, '\0');
  absl::StatusOr<AppliedLayer> applied = ApplyTar(Compress(tar, Compression::kGzip));
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->diff_id.ToString(), Sha256(tar));
  EXPECT_EQ(applied->size, tar.size());
}

TEST_F(ApplyTest, EmptyStreamIsAnEmptyLayer) {
  absl::StatusOr<AppliedLayer> applied = ApplyTar("");
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->diff_id.ToString(), Sha256(""));
  EXPECT_EQ(applied->entries, 0u);
  applied = ApplyTar(Compress("", Compression::kGzip));
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->diff_id.ToString(), Sha256(""));
  // Just the end-of-archive marker.
  applied = ApplyTar(std::string(1024, '\0'));
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->entries, 0u);
  EXPECT_EQ(DescribeTree(target_), "\n");
}

TEST_F(ApplyTest, LongAndNonAsciiNames) {
  const std::string long_dir = std::string(120, 'd');
  const std::string long_name = long_dir + "/" + std::string(200, 'f');
  const std::string tar = TarBuilder()
                              .Dir(long_dir + "/")
                              .File(long_name, "long")
                              .File("caf\xc3\xa9", "utf8")
                              .File("raw\xff\xfe", "latin")
                              .Finish();
  ASSERT_THAT(ApplyTar(tar), IsOk());
  EXPECT_EQ(ReadFile(tmp_->Sub("target/" + long_name)), "long");
  EXPECT_EQ(ReadFile(tmp_->Sub("target/caf\xc3\xa9")), "utf8");
  EXPECT_EQ(ReadFile(tmp_->Sub("target/raw\xff\xfe")), "latin");
}

TEST_F(ApplyTest, PlainWhiteoutsDeleteFromEarlierLayers) {
  ASSERT_THAT(ApplyTar(TarBuilder()
                           .Dir("a/")
                           .File("a/x", "1")
                           .File("a/y", "2")
                           .File("b", "3")
                           .Dir("c/")
                           .Dir("c/sub/")
                           .File("c/sub/deep", "4")
                           .File("c/d", "5")
                           .Dir("gone/")
                           .File("gone/f", "6")
                           .Finish()),
              IsOk());
  absl::StatusOr<AppliedLayer> applied = ApplyTar(TarBuilder()
                                                      .Whiteout("", "b")
                                                      .Whiteout("a", "x")
                                                      .Whiteout("", "gone")
                                                      .Whiteout("", "never-existed")
                                                      .Whiteout("nodir", "x")
                                                      .Dir("c/")
                                                      .Opaque("c")
                                                      .File("c/e", "new")
                                                      .Finish());
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->whiteouts, 6u);
  EXPECT_TRUE(Exists(tmp_->Sub("target/a/y")));
  EXPECT_FALSE(Exists(tmp_->Sub("target/a/x")));
  EXPECT_FALSE(Exists(tmp_->Sub("target/b")));
  EXPECT_FALSE(Exists(tmp_->Sub("target/gone")));
  EXPECT_FALSE(Exists(tmp_->Sub("target/c/d")));
  EXPECT_FALSE(Exists(tmp_->Sub("target/c/sub")));
  EXPECT_EQ(ReadFile(tmp_->Sub("target/c/e")), "new");
  EXPECT_FALSE(Exists(tmp_->Sub("target/nodir")));  // a whiteout creates nothing in plain mode
  EXPECT_FALSE(Exists(tmp_->Sub("target/.wh.b")));
}

TEST_F(ApplyTest, WhiteoutsNeverHideEntriesOfTheSameLayer) {
  ASSERT_THAT(ApplyTar(TarBuilder().Dir("c/").File("c/old", "1").File("n", "old").Finish()),
              IsOk());
  // Spec (layer.md): whiteouts apply to lower layers only, whatever the entry order.
  ASSERT_THAT(ApplyTar(TarBuilder()
                           .File("n", "new")
                           .Whiteout("", "n")
                           .Dir("c/new-dir/")
                           .File("c/new-dir/f", "f")
                           .File("c/new", "2")
                           .Opaque("c")
                           .Finish()),
              IsOk());
  EXPECT_EQ(ReadFile(tmp_->Sub("target/n")), "new");
  EXPECT_EQ(ReadFile(tmp_->Sub("target/c/new")), "2");
  EXPECT_EQ(ReadFile(tmp_->Sub("target/c/new-dir/f")), "f");
  EXPECT_FALSE(Exists(tmp_->Sub("target/c/old")));
}

TEST_F(ApplyTest, ReplacesEntriesButMergesDirectories) {
  ASSERT_THAT(ApplyTar(TarBuilder()
                           .Dir("etc/")
                           .File("etc/keep", "k")
                           .File("was-file", "f")
                           .Dir("was-dir/")
                           .File("was-dir/child", "c")
                           .Symlink("was-link", "/nowhere")
                           .Finish()),
              IsOk());
  ASSERT_THAT(ApplyTar(TarBuilder()
                           .Dir("etc/")
                           .File("etc/added", "a")
                           .Dir("was-file/")
                           .File("was-dir", "now a file")
                           .File("was-link", "now a file too")
                           .Finish()),
              IsOk());
  EXPECT_EQ(ReadFile(tmp_->Sub("target/etc/keep")), "k");
  EXPECT_EQ(ReadFile(tmp_->Sub("target/etc/added")), "a");
  struct stat st;
  ASSERT_EQ(lstat(tmp_->Sub("target/was-file").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(ReadFile(tmp_->Sub("target/was-dir")), "now a file");
  ASSERT_EQ(lstat(tmp_->Sub("target/was-link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST_F(ApplyTest, HardlinkToAFileOfAnEarlierLayer) {
  ASSERT_THAT(ApplyTar(TarBuilder().File("base", "shared").Finish()), IsOk());
  ASSERT_THAT(ApplyTar(TarBuilder().Hardlink("again", "/base").Finish()), IsOk());
  struct stat a, b;
  ASSERT_EQ(lstat(tmp_->Sub("target/base").c_str(), &a), 0);
  ASSERT_EQ(lstat(tmp_->Sub("target/again").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
}

TEST_F(ApplyTest, ParentsMissingFromTheTarAreCreated) {
  ASSERT_THAT(ApplyTar(TarBuilder().File("usr/local/bin/x", "x").Finish()), IsOk());
  struct stat st;
  ASSERT_EQ(stat(tmp_->Sub("target/usr/local").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST_F(ApplyTest, DevicesOnlyWhenAllowed) {
  const std::string tar = TarBuilder().Dir("dev/").CharDev("dev/null", 1, 3).Finish();
  absl::StatusOr<AppliedLayer> applied = ApplyTar(tar);
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->skipped_devices, 1u);
  EXPECT_FALSE(Exists(tmp_->Sub("target/dev/null")));
  if (!IsRoot()) GTEST_SKIP() << "mknod of a device needs root";
  ApplyOptions o = Plain();
  o.allow_devices = true;
  applied = ApplyTar(tar, o);
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->skipped_devices, 0u);
  struct stat st;
  ASSERT_EQ(lstat(tmp_->Sub("target/dev/null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
}

TEST_F(ApplyTest, TruncatedGzipIsAClearError) {
  std::string big(1 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 3) big[i] = static_cast<char>(i);
  const std::string blob = Compress(TarBuilder().File("big", big).Finish(), Compression::kGzip);
  EXPECT_THAT(ApplyTar(blob.substr(0, blob.size() / 2)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::AllOf(HasSubstr("gzip"), HasSubstr("truncated"))));
}

TEST_F(ApplyTest, CorruptGzipIsAClearError) {
  std::string big(1 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 3) big[i] = static_cast<char>(i);
  std::string blob = Compress(TarBuilder().File("big", big).Finish(), Compression::kGzip);
  for (size_t i = blob.size() / 3; i < blob.size() / 3 + 64; ++i) blob[i] ^= 0x55;
  EXPECT_THAT(ApplyTar(blob), StatusIs(absl::StatusCode::kFailedPrecondition,
                                       HasSubstr("read layer: decompress (gzip)")));
}

TEST_F(ApplyTest, GzipCrcIsChecked) {
  // Incompressible data goes into stored deflate blocks, where flipped bytes still inflate
  // fine: only the gzip trailer's CRC can tell (libarchive does not check it; Apply does).
  std::string noise(1 << 20, '\0');
  uint64_t x = 88172645463325252ull;
  for (char& c : noise) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  std::string blob = Compress(TarBuilder().File("noise", noise).Finish(), Compression::kGzip);
  for (size_t i = blob.size() / 2; i < blob.size() / 2 + 16; ++i) blob[i] ^= 0x5a;
  EXPECT_THAT(ApplyTar(blob),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("gzip CRC mismatch")));
}

TEST_F(ApplyTest, MultiMemberGzipIsAccepted) {
  // Concatenated gzip members are one valid gzip stream (RFC 1952; Go reads them too). The
  // trailer check must not mistake the last member's CRC for damage.
  const std::string tar = TarBuilder().File("a", std::string(5000, 'a')).File("b", "b").Finish();
  const std::string blob = Compress(tar.substr(0, 2048), Compression::kGzip) +
                           Compress(tar.substr(2048), Compression::kGzip);
  absl::StatusOr<AppliedLayer> applied = ApplyTar(blob);
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->diff_id.ToString(), Sha256(tar));
  EXPECT_EQ(ReadFile(tmp_->Sub("target/b")), "b");
}

TEST_F(ApplyTest, GnuTarLayers) {
  // A layer made by GNU tar (gnu format: ././@LongLink names, 10 KiB records), as hand-built
  // images and `docker import` of tarballs have.
  const std::string src = tmp_->Sub("src");
  ASSERT_EQ(mkdir(src.c_str(), 0755), 0);
  const std::string long_name = std::string(130, 'n');
  ASSERT_EQ(mkdir((src + "/dir").c_str(), 0710), 0);
  WriteFile(src + "/dir/" + long_name, "long", 0600);
  WriteFile(src + "/dir/f", "f");
  ASSERT_EQ(link((src + "/dir/f").c_str(), (src + "/dir/hard").c_str()), 0);
  ASSERT_EQ(symlink(long_name.c_str(), (src + "/dir/sym").c_str()), 0);
  // The gnu format stores whole seconds only.
  for (const std::string& p :
       std::vector<std::string>{"/dir/" + long_name, "/dir/f", "/dir/sym", "/dir"}) {
    const struct timespec ts[2] = {{1600000000, 0}, {1600000000, 0}};
    ASSERT_EQ(utimensat(AT_FDCWD, (src + p).c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << p;
  }
  const std::string layer = tmp_->Sub("layer.tgz");
  absl::StatusOr<::berth::testing::CommandResult> r =
      ::berth::testing::RunCommand({"/usr/bin/tar", "--format=gnu", "-czf", layer, "-C", src, "."});
  ASSERT_THAT(r, IsOk());
  ASSERT_TRUE(r->Succeeded()) << r->output;
  const int fd = open(layer.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  absl::StatusOr<AppliedLayer> applied = ApplyFd(fd, target_, Plain());
  close(fd);
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->compression, Compression::kGzip);
  EXPECT_EQ(applied->size % 10240, 0u);  // the record padding went into the diff ID
  EXPECT_EQ(DescribeTree(target_), DescribeTree(src));
}

TEST_F(ApplyTest, TruncatedZstdAndTarAreErrors) {
  std::string big(1 << 20, 'y');
  for (size_t i = 0; i < big.size(); i += 5) big[i] = static_cast<char>(i >> 3);
  const std::string tar = TarBuilder().File("big", big).Finish();
  const std::string zst = Compress(tar, Compression::kZstd);
  EXPECT_THAT(ApplyTar(zst.substr(0, zst.size() - 100)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("zstd")));
  EXPECT_THAT(ApplyTar(tar.substr(0, 4096)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("runcated")));
}

TEST_F(ApplyTest, NotATarIsAClearError) {
  std::string junk(4096, '\0');
  for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>(i * 31 + 7);
  EXPECT_THAT(ApplyTar(junk), StatusIs(absl::StatusCode::kFailedPrecondition,
                                       HasSubstr("tar, tar+gzip or tar+zstd")));
  EXPECT_THAT(ApplyTar(Compress(junk, Compression::kGzip)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(ApplyTest, SourceErrorIsReturnedWithContext) {
  const std::string blob =
      Compress(TarBuilder().File("f", std::string(100000, 'z')).Finish(), Compression::kGzip);
  size_t served = 0;
  ReadFn failing = [&](char* buf, size_t len) -> absl::StatusOr<size_t> {
    if (served >= 200) return absl::UnavailableError("content store went away");
    const size_t n = std::min<size_t>(len, 100);
    memcpy(buf, blob.data() + served, n);
    served += n;
    return n;
  };
  EXPECT_THAT(
      Apply(failing, target_, Plain()),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("read layer: content store went away")));
}

TEST_F(ApplyTest, TargetMustBeADirectory) {
  EXPECT_THAT(Apply(StringReader(""), tmp_->Sub("missing"), Plain()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an existing directory")));
}

TEST_F(ApplyTest, ApplyFdReadsAFile) {
  const std::string tar = TarBuilder().File("from-fd", "ok").Finish();
  const std::string path = tmp_->Sub("layer.tar.zst");
  WriteFile(path, Compress(tar, Compression::kZstd));
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  absl::StatusOr<AppliedLayer> applied = ApplyFd(fd, target_, Plain());
  close(fd);
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->diff_id.ToString(), Sha256(tar));
  EXPECT_EQ(ReadFile(tmp_->Sub("target/from-fd")), "ok");
}

}  // namespace
}  // namespace berth::containerd::diff
