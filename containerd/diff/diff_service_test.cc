// berth.containerd.diff.v1.Diff served on a unix socket and called through the generated stub.
// Plain directories (bind mounts used in place) need no privileges; overlayfs snapshots need
// root, run in the test's own mount namespace, and skip without it. Every test checks that no
// mount is left behind.
#include "containerd/diff/diff_service.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "berth/containerd/diff/v1/diff.grpc.pb.h"
#include "common/digest/digest.h"
#include "common/grpc/status_mapping.h"
#include "common/testing/status_matchers.h"
#include "containerd/content/namespaced_store.h"
#include "containerd/diff/test_util.h"
#include "containerd/metadata/store.h"
#include "containerd/server/service_test_util.h"
#include "containerd/snapshots/mount.h"
#include "containerd/snapshots/overlay_snapshotter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::diff {
namespace {

using ::berth::containerd::server::CallContext;
using ::berth::grpc_util::FromGrpcStatus;
using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using testing::Compress;
using ::testing::Contains;
using testing::Decompress;
using ::testing::ElementsAre;
using testing::HasMountsUnder;
using ::testing::HasSubstr;
using ::testing::Pair;
using testing::ReadFile;
using testing::Sha256;
using testing::TarBuilder;
using testing::TarNames;
using testing::WriteFile;

constexpr char kGzipLayer[] = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr char kTarLayer[] = "application/vnd.oci.image.layer.v1.tar";

// A private mount namespace, entered before any gRPC thread exists (unshare(CLONE_NEWNS) fails
// in a multi-threaded process). Empty when mounting works, else why not.
std::string& MountSkipReason() {
  static std::string* reason = new std::string("not set up");
  return *reason;
}
class MountNamespaceEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (geteuid() != 0) {
      MountSkipReason() = "mounts need root";
    } else if (unshare(CLONE_NEWNS) != 0) {
      MountSkipReason() = absl::StrCat("unshare(CLONE_NEWNS): ", strerror(errno));
    } else if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      MountSkipReason() = absl::StrCat("make / rprivate: ", strerror(errno));
    } else {
      MountSkipReason().clear();
    }
  }
};
const auto* const kMountNamespace =
    ::testing::AddGlobalTestEnvironment(new MountNamespaceEnvironment);

berth::types::v1::Mount BindMount(const std::string& dir, bool ro = false) {
  berth::types::v1::Mount m;
  m.set_type("bind");
  m.set_source(dir);
  m.add_options("rbind");
  m.add_options(ro ? "ro" : "rw");
  return m;
}

template <typename Repeated>
void AddMounts(const std::vector<snapshots::Mount>& mounts, Repeated* out) {
  for (const snapshots::Mount& m : mounts) {
    berth::types::v1::Mount* pm = out->Add();
    pm->set_type(m.type);
    pm->set_source(m.source);
    pm->set_target(m.target);
    for (const std::string& o : m.options) pm->add_options(o);
  }
}

class DiffServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = server::ServiceTestEnv::Create();
    ASSERT_THAT(env, IsOk());
    env_ = std::move(*env);
    store_ = std::make_unique<content::NamespacedStore>(&env_->metadata(), &env_->blobs());
    DiffServiceOptions options;
    options.scratch_dir = env_->dir().Sub("scratch");
    options.preserve_ownership = geteuid() == 0;
    service_ = std::make_unique<DiffService>(store_.get(), options);
    ASSERT_THAT(env_->Serve({service_.get()}), IsOk());
    stub_ = v1::Diff::NewStub(env_->channel());
  }
  void TearDown() override {
    if (env_ == nullptr) return;
    env_->StopServing();
    EXPECT_FALSE(HasMountsUnder(env_->dir().path())) << "a mount was left behind";
    EXPECT_THAT(snapshots::UnmountAll(env_->dir().path(), MNT_DETACH), IsOk());
    // Temporary mount points are removed again.
    struct stat st;
    const std::string scratch = env_->dir().Sub("scratch");
    if (stat(scratch.c_str(), &st) == 0) {
      EXPECT_EQ(rmdir(scratch.c_str()), 0) << "scratch dir not empty";
    }
  }

  bool CanMount() const { return MountSkipReason().empty(); }

  // Stores `blob` in the content store of `ns` and returns its digest.
  std::string Store(const std::string& blob, const std::string& ns = "default") {
    const digest::Digest d = *digest::Digest::FromBytes(blob);
    auto w = store_->OpenWriter(ns, "test-" + d.ToString(), std::nullopt,
                                static_cast<int64_t>(blob.size()), std::nullopt);
    EXPECT_THAT(w, IsOk());
    if (!w.ok()) return "";
    EXPECT_THAT((*w)->Write(0, blob), IsOk());
    EXPECT_THAT((*w)->Commit(static_cast<int64_t>(blob.size()), d, {}), IsOk());
    return d.ToString();
  }

  std::string MakeDir(const std::string& name) {
    const std::string dir = env_->dir().Sub(name);
    EXPECT_EQ(mkdir(dir.c_str(), 0755), 0) << dir;
    return dir;
  }

  absl::StatusOr<v1::ApplyResponse> Apply(const std::string& digest, int64_t size,
                                          const std::vector<berth::types::v1::Mount>& mounts,
                                          const std::string& media_type = kGzipLayer) {
    auto ctx = CallContext();
    v1::ApplyRequest req;
    req.mutable_diff()->set_media_type(media_type);
    req.mutable_diff()->set_digest(digest);
    req.mutable_diff()->set_size(size);
    for (const auto& m : mounts) *req.add_mounts() = m;
    v1::ApplyResponse resp;
    absl::Status s = FromGrpcStatus(stub_->Apply(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    return resp;
  }

  absl::StatusOr<v1::DiffResponse> Diff(v1::DiffRequest req, const std::string& lease = "") {
    auto ctx = CallContext("", lease);
    v1::DiffResponse resp;
    absl::Status s = FromGrpcStatus(stub_->Diff(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    return resp;
  }

  // The whole blob `digest` of the default namespace.
  std::string ReadBlob(const std::string& digest) {
    auto r = store_->OpenReader("default", digest);
    EXPECT_THAT(r, IsOk());
    if (!r.ok()) return "";
    std::string out(static_cast<size_t>((*r)->size()), '\0');
    EXPECT_THAT((*r)->ReadAt(0, absl::MakeSpan(out.data(), out.size())), IsOk());
    return out;
  }

  std::unique_ptr<server::ServiceTestEnv> env_;
  std::unique_ptr<content::NamespacedStore> store_;
  std::unique_ptr<DiffService> service_;
  std::unique_ptr<v1::Diff::Stub> stub_;
};

TEST_F(DiffServiceTest, ApplyGzipLayerToDirectory) {
  const std::string tar = TarBuilder()
                              .Dir("etc")
                              .File("etc/hostname", "berth\n")
                              .File("hello.txt", "hello world\n")
                              .Finish();
  const std::string blob = Compress(tar, Compression::kGzip);
  const std::string digest = Store(blob);
  const std::string dir = MakeDir("rootfs");

  auto resp = Apply(digest, static_cast<int64_t>(blob.size()), {BindMount(dir)});
  ASSERT_THAT(resp, IsOk());
  EXPECT_EQ(resp->applied().media_type(), kTarLayer);
  EXPECT_EQ(resp->applied().digest(), Sha256(tar));
  EXPECT_EQ(resp->applied().size(), static_cast<int64_t>(tar.size()));
  EXPECT_EQ(ReadFile(dir + "/hello.txt"), "hello world\n");
  EXPECT_EQ(ReadFile(dir + "/etc/hostname"), "berth\n");

  // size 0 means "not checked"; docker's media type works too.
  EXPECT_THAT(
      Apply(digest, 0, {BindMount(dir)}, "application/vnd.docker.image.rootfs.diff.tar.gzip"),
      IsOk());
}

TEST_F(DiffServiceTest, ApplyErrors) {
  const std::string blob = Compress(TarBuilder().File("a", "a").Finish(), Compression::kGzip);
  const std::string digest = Store(blob);
  const int64_t size = static_cast<int64_t>(blob.size());
  const std::string dir = MakeDir("rootfs");
  EXPECT_THAT(Apply(digest, size, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Apply("", size, {BindMount(dir)}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Apply(digest, size, {BindMount(dir)}, "application/json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a layer")));
  EXPECT_THAT(Apply(digest, size, {BindMount(dir)}, std::string(kGzipLayer) + "+encrypted"),
              StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_THAT(Apply(Sha256("missing"), size, {BindMount(dir)}),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Apply(digest, size + 1, {BindMount(dir)}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("bytes")));
  EXPECT_THAT(Apply(digest, size, {BindMount(dir, /*ro=*/true)}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("read-only")));
  const std::string junk = Store("this is not a tar stream at all, not even close............");
  EXPECT_THAT(Apply(junk, 0, {BindMount(dir)}), StatusIs(absl::StatusCode::kFailedPrecondition));
  // Another namespace does not see the blob.
  auto ctx = CallContext("other");
  v1::ApplyRequest req;
  req.mutable_diff()->set_media_type(kGzipLayer);
  req.mutable_diff()->set_digest(digest);
  *req.add_mounts() = BindMount(dir);
  v1::ApplyResponse resp;
  EXPECT_THAT(FromGrpcStatus(stub_->Apply(ctx.get(), req, &resp)),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(DiffServiceTest, DiffOfDirectoryWritesLabelledBlob) {
  const std::string dir = MakeDir("upper");
  WriteFile(dir + "/a.txt", "aaa");
  ASSERT_EQ(mkdir((dir + "/sub").c_str(), 0755), 0);
  WriteFile(dir + "/sub/b.txt", "bbb");

  v1::DiffRequest req;
  *req.add_upper_mounts() = BindMount(dir);
  req.mutable_labels()->insert({"mine", "yes"});
  req.mutable_source_date_epoch()->set_seconds(1700000000);
  auto resp = Diff(req);
  ASSERT_THAT(resp, IsOk());
  EXPECT_EQ(resp->diff().media_type(), kGzipLayer);
  const std::string blob = ReadBlob(resp->diff().digest());
  EXPECT_EQ(Sha256(blob), resp->diff().digest());
  EXPECT_EQ(resp->diff().size(), static_cast<int64_t>(blob.size()));
  const std::string tar = Decompress(blob);
  EXPECT_EQ(Sha256(tar), resp->uncompressed_digest());
  EXPECT_THAT(TarNames(blob), ElementsAre("a.txt", "sub/", "sub/b.txt"));
  auto info = store_->Info("default", resp->diff().digest());
  ASSERT_THAT(info, IsOk());
  EXPECT_THAT(info->labels, ElementsAre(Pair(kUncompressedLabel, resp->uncompressed_digest()),
                                        Pair("mine", "yes")));
  // Nothing left in the ingests.
  EXPECT_THAT(store_->ListStatuses("default"), IsOk());
  EXPECT_TRUE(store_->ListStatuses("default")->empty());

  // The same changes again: the same blob, reported as success (it exists already).
  auto again = Diff(req);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->diff().digest(), resp->diff().digest());

  // Uncompressed: the blob is the tar.
  req.set_media_type(kTarLayer);
  req.set_ref("my-ref");
  auto plain = Diff(req);
  ASSERT_THAT(plain, IsOk());
  EXPECT_EQ(plain->diff().digest(), plain->uncompressed_digest());
  EXPECT_EQ(plain->uncompressed_digest(), resp->uncompressed_digest());
}

TEST_F(DiffServiceTest, DiffAgainstLowerDirectoryAndLease) {
  const std::string lower = MakeDir("lower");
  const std::string upper = MakeDir("upper");
  for (const std::string& d : {lower, upper}) {
    WriteFile(d + "/same", "same");
    ASSERT_EQ(chmod((d + "/same").c_str(), 0644), 0);
  }
  struct timespec times[2] = {{1600000000, 0}, {1600000000, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, (lower + "/same").c_str(), times, 0), 0);
  ASSERT_EQ(utimensat(AT_FDCWD, (upper + "/same").c_str(), times, 0), 0);
  WriteFile(lower + "/gone", "x");
  WriteFile(upper + "/new", "n");

  metadata::Lease lease;
  lease.id = "build";
  ASSERT_THAT(env_->metadata().WithTransaction(
                  [&](metadata::Transaction& tx) { return tx.CreateLease("default", lease); }),
              IsOk());
  v1::DiffRequest req;
  *req.add_lower_mounts() = BindMount(lower, /*ro=*/true);
  *req.add_upper_mounts() = BindMount(upper, /*ro=*/true);
  auto resp = Diff(req, "build");
  ASSERT_THAT(resp, IsOk());
  EXPECT_THAT(TarNames(ReadBlob(resp->diff().digest())), ElementsAre(".wh.gone", "new"));
  auto held = env_->metadata().WithReadTransaction(
      [&](metadata::Transaction& tx) { return tx.ListLeaseResources("default", "build"); });
  ASSERT_THAT(held, IsOk());
  EXPECT_THAT(*held, Contains(metadata::LeaseResource{"content", resp->diff().digest()}));

  EXPECT_THAT(Diff(req, "no-such-lease"), StatusIs(absl::StatusCode::kNotFound));
  v1::DiffRequest bad = req;
  bad.set_media_type("application/json");
  EXPECT_THAT(Diff(bad), StatusIs(absl::StatusCode::kInvalidArgument));
  bad.clear_upper_mounts();
  bad.clear_media_type();
  EXPECT_THAT(Diff(bad), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Root: unpack two layers into overlayfs snapshots through the service, read the result back
// through the snapshot's mounts, and diff an active snapshot.
class DiffServiceOverlayTest : public DiffServiceTest {
 protected:
  void SetUp() override {
    if (!CanMount()) GTEST_SKIP() << MountSkipReason();
    DiffServiceTest::SetUp();
    snapshots::OverlaySnapshotterOptions options;
    options.root = env_->dir().path();
    auto sn = snapshots::OverlaySnapshotter::Create(&env_->metadata(), options);
    ASSERT_THAT(sn, IsOk());
    sn_ = std::move(*sn);
  }

  // Prepares `key` on `parent`, applies `tar` (gzipped) through the service, commits `name`.
  void Layer(const std::string& name, const std::string& parent, const std::string& tar) {
    const std::string key = name + "-extract";
    auto mounts = sn_->Prepare("default", key, parent);
    ASSERT_THAT(mounts, IsOk());
    const std::string blob = Compress(tar, Compression::kGzip);
    v1::ApplyRequest req;
    req.mutable_diff()->set_media_type(kGzipLayer);
    req.mutable_diff()->set_digest(Store(blob));
    req.mutable_diff()->set_size(static_cast<int64_t>(blob.size()));
    AddMounts(*mounts, req.mutable_mounts());
    auto ctx = CallContext();
    v1::ApplyResponse resp;
    ASSERT_THAT(FromGrpcStatus(stub_->Apply(ctx.get(), req, &resp)), IsOk());
    EXPECT_EQ(resp.applied().digest(), Sha256(tar));
    ASSERT_THAT(sn_->Commit("default", name, key), IsOk());
  }

  std::unique_ptr<snapshots::OverlaySnapshotter> sn_;
};

TEST_F(DiffServiceOverlayTest, ApplyLayersThenReadThroughMounts) {
  Layer("l1", "",
        TarBuilder()
            .Dir("etc")
            .File("etc/os-release", "ID=berth\n")
            .File("etc/remove-me", "x")
            .Dir("opt")
            .File("opt/old", "old")
            .Finish());
  Layer("l2", "l1",
        TarBuilder()
            .Whiteout("etc", "remove-me")
            .Dir("opt")
            .Opaque("opt")
            .File("opt/new", "new")
            .File("etc/added", "added")
            .Finish());

  auto mounts = sn_->View("default", "check", "l2");
  ASSERT_THAT(mounts, IsOk());
  const std::string dir = MakeDir("mnt");
  ASSERT_THAT(snapshots::MountAll(*mounts, dir), IsOk());
  EXPECT_EQ(ReadFile(dir + "/etc/os-release"), "ID=berth\n");
  EXPECT_EQ(ReadFile(dir + "/etc/added"), "added");
  EXPECT_FALSE(testing::Exists(dir + "/etc/remove-me"));
  EXPECT_FALSE(testing::Exists(dir + "/opt/old"));
  EXPECT_EQ(ReadFile(dir + "/opt/new"), "new");
  EXPECT_THAT(snapshots::UnmountAll(dir), IsOk());
}

TEST_F(DiffServiceOverlayTest, DiffOfActiveSnapshot) {
  Layer("l1", "", TarBuilder().File("keep", "k").File("delete-me", "d").Finish());
  auto active = sn_->Prepare("default", "work", "l1");
  ASSERT_THAT(active, IsOk());
  const std::string dir = MakeDir("mnt");
  ASSERT_THAT(snapshots::MountAll(*active, dir), IsOk());
  WriteFile(dir + "/added", "new file");
  ASSERT_EQ(unlink((dir + "/delete-me").c_str()), 0);
  // The container keeps its rootfs mounted while the diff runs.

  // Against a view of the parent: the upper dir holds the changes.
  auto parent = sn_->View("default", "parent-view", "l1");
  ASSERT_THAT(parent, IsOk());
  v1::DiffRequest req;
  AddMounts(*parent, req.mutable_lower_mounts());
  AddMounts(*active, req.mutable_upper_mounts());
  auto resp = Diff(req);
  ASSERT_THAT(resp, IsOk());
  const std::string blob = ReadBlob(resp->diff().digest());
  EXPECT_EQ(Sha256(blob), resp->diff().digest());
  EXPECT_EQ(Sha256(Decompress(blob)), resp->uncompressed_digest());
  // Siblings sorted by name, a whiteout where its file was.
  EXPECT_THAT(TarNames(blob), ElementsAre("added", ".wh.delete-me"));
  auto info = store_->Info("default", resp->diff().digest());
  ASSERT_THAT(info, IsOk());
  EXPECT_THAT(info->labels, ElementsAre(Pair(kUncompressedLabel, resp->uncompressed_digest())));

  // Against nothing: the whole merged tree, read through a temporary read-only mount.
  v1::DiffRequest full;
  AddMounts(*active, full.mutable_upper_mounts());
  auto whole = Diff(full);
  ASSERT_THAT(whole, IsOk());
  EXPECT_THAT(TarNames(ReadBlob(whole->diff().digest())), ElementsAre("added", "keep"));

  EXPECT_THAT(snapshots::UnmountAll(dir), IsOk());
}

}  // namespace
}  // namespace berth::containerd::diff
