// berth.containerd.snapshots.v1.Snapshots served on a unix socket over the overlay snapshotter and
// called through the generated stub: prepare/view/commit/mounts/remove/stat/update/usage/list,
// filters, snapshotter selection, namespaces, events and leases. Mounting what the service
// returns needs root; those tests skip without it. The process runs in its own mount namespace
// and every test checks that it left no mount behind.
#include "containerd/snapshots/snapshots_service.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "berth/containerd/snapshots/v1/snapshots.grpc.pb.h"
#include "common/grpc/status_mapping.h"
#include "common/testing/status_matchers.h"
#include "containerd/events/fake_publisher.h"
#include "containerd/metadata/store.h"
#include "containerd/server/service_test_util.h"
#include "common/mount/mount.h"
#include "containerd/snapshots/overlay_snapshotter.h"
#include "containerd/snapshots/snapshotter_conformance.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::snapshots {
namespace testing {
// Only its mount-namespace and mountinfo helpers are used here; the suite runs in
// overlay_snapshotter_test.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SnapshotterConformanceTest);
}  // namespace testing

namespace {

using ::berth::containerd::server::CallContext;
using ::berth::grpc_util::FromGrpcStatus;
using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;

MATCHER_P(IsOkAndHolds, inner, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "status " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(inner, *arg, result_listener);
}

// Enter a private mount namespace before any test starts a gRPC thread (unshare(CLONE_NEWNS)
// fails in a multi-threaded process).
class MountNamespaceEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { skip_reason() = testing::EnterPrivateMountNamespace(); }
  static std::string& skip_reason() {
    static std::string* reason = new std::string("not set up");
    return *reason;
  }
};
const auto* const kMountNamespace =
    ::testing::AddGlobalTestEnvironment(new MountNamespaceEnvironment);

class SnapshotsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = server::ServiceTestEnv::Create();
    ASSERT_THAT(env, IsOk());
    env_ = std::move(*env);
    OverlaySnapshotterOptions options;
    options.root = env_->dir().path();
    auto sn = OverlaySnapshotter::Create(&env_->metadata(), options);
    ASSERT_THAT(sn, IsOk());
    overlay_ = std::move(*sn);
    service_ = std::make_unique<SnapshotsService>(
        &env_->metadata(), std::vector<Snapshotter*>{overlay_.get()}, &publisher_);
    ASSERT_THAT(env_->Serve({service_.get()}), IsOk());
    stub_ = v1::Snapshots::NewStub(env_->channel());
  }
  void TearDown() override {
    if (env_ == nullptr) return;
    env_->StopServing();
    EXPECT_THAT(testing::MountPointsUnder(env_->dir().path()), IsEmpty()) << "a mount was left";
    EXPECT_THAT(mount_util::UnmountAll(env_->dir().path(), MNT_DETACH), IsOk());
  }

  bool CanMount() const { return MountNamespaceEnvironment::skip_reason().empty(); }

  absl::StatusOr<std::vector<berth::types::v1::Mount>> Prepare(
      const std::string& key, const std::string& parent = "", const std::string& ns = "",
      const std::string& lease = "", const std::map<std::string, std::string>& labels = {},
      const std::string& snapshotter = "") {
    auto ctx = CallContext(ns, lease);
    v1::PrepareRequest req;
    req.set_snapshotter(snapshotter);
    req.set_key(key);
    req.set_parent(parent);
    req.mutable_labels()->insert(labels.begin(), labels.end());
    v1::PrepareResponse resp;
    absl::Status s = FromGrpcStatus(stub_->Prepare(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    return std::vector<berth::types::v1::Mount>(resp.mounts().begin(), resp.mounts().end());
  }
  absl::StatusOr<std::vector<berth::types::v1::Mount>> View(const std::string& key,
                                                            const std::string& parent,
                                                            const std::string& lease = "") {
    auto ctx = CallContext("", lease);
    v1::ViewRequest req;
    req.set_key(key);
    req.set_parent(parent);
    v1::ViewResponse resp;
    absl::Status s = FromGrpcStatus(stub_->View(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    return std::vector<berth::types::v1::Mount>(resp.mounts().begin(), resp.mounts().end());
  }
  absl::StatusOr<std::vector<berth::types::v1::Mount>> Mounts(const std::string& key) {
    auto ctx = CallContext();
    v1::MountsRequest req;
    req.set_key(key);
    v1::MountsResponse resp;
    absl::Status s = FromGrpcStatus(stub_->Mounts(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    return std::vector<berth::types::v1::Mount>(resp.mounts().begin(), resp.mounts().end());
  }
  absl::Status Commit(const std::string& name, const std::string& key,
                      const std::string& lease = "",
                      const std::map<std::string, std::string>& labels = {}) {
    auto ctx = CallContext("", lease);
    v1::CommitRequest req;
    req.set_name(name);
    req.set_key(key);
    req.mutable_labels()->insert(labels.begin(), labels.end());
    v1::CommitResponse resp;
    return FromGrpcStatus(stub_->Commit(ctx.get(), req, &resp));
  }
  absl::Status Remove(const std::string& key) {
    auto ctx = CallContext();
    v1::RemoveRequest req;
    req.set_key(key);
    v1::RemoveResponse resp;
    return FromGrpcStatus(stub_->Remove(ctx.get(), req, &resp));
  }
  absl::StatusOr<v1::Info> Stat(const std::string& key, const std::string& ns = "") {
    auto ctx = CallContext(ns);
    v1::StatRequest req;
    req.set_key(key);
    v1::StatResponse resp;
    absl::Status s = FromGrpcStatus(stub_->Stat(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    return resp.info();
  }
  // Names of the listed snapshots, in order, and how many batches carried them.
  absl::StatusOr<std::vector<std::string>> List(const std::vector<std::string>& filters = {},
                                                const std::string& snapshotter = "") {
    auto ctx = CallContext();
    v1::ListRequest req;
    req.set_snapshotter(snapshotter);
    for (const std::string& f : filters) req.add_filters(f);
    auto reader = stub_->List(ctx.get(), req);
    std::vector<std::string> names;
    v1::ListResponse resp;
    while (reader->Read(&resp)) {
      for (const v1::Info& info : resp.infos()) names.push_back(info.name());
    }
    absl::Status s = FromGrpcStatus(reader->Finish());
    if (!s.ok()) return s;
    return names;
  }
  std::vector<metadata::LeaseResource> LeaseResources(const std::string& lease) {
    absl::StatusOr<std::vector<metadata::LeaseResource>> r = env_->metadata().WithReadTransaction(
        [&](metadata::Transaction& tx) { return tx.ListLeaseResources("default", lease); });
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : std::vector<metadata::LeaseResource>{};
  }
  void CreateLease(const std::string& id) {
    metadata::Lease lease;
    lease.id = id;
    ASSERT_THAT(env_->metadata().WithTransaction(
                    [&](metadata::Transaction& tx) { return tx.CreateLease("default", lease); }),
                IsOk());
  }
  static std::vector<Mount> FromProto(const std::vector<berth::types::v1::Mount>& mounts) {
    std::vector<Mount> out;
    for (const auto& m : mounts) {
      out.push_back(Mount{m.type(), m.source(), m.target(),
                          std::vector<std::string>(m.options().begin(), m.options().end())});
    }
    return out;
  }

  std::unique_ptr<server::ServiceTestEnv> env_;
  std::unique_ptr<OverlaySnapshotter> overlay_;
  events::FakePublisher publisher_;
  std::unique_ptr<SnapshotsService> service_;
  std::unique_ptr<v1::Snapshots::Stub> stub_;
};

TEST_F(SnapshotsServiceTest, PrepareCommitViewAndMountShapes) {
  auto a = Prepare("a", "", "", "", {{"k", "v"}});
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(*a, SizeIs(1));
  EXPECT_EQ((*a)[0].type(), "bind");
  EXPECT_THAT((*a)[0].source(), HasSubstr("/snapshots/overlayfs/snapshots/"));
  EXPECT_EQ((*a)[0].target(), "");
  EXPECT_THAT((*a)[0].options(), ::testing::Contains("rw"));
  // Converted field for field from what the snapshotter returns.
  auto direct = overlay_->Mounts("default", "a");
  ASSERT_THAT(direct, IsOk());
  EXPECT_EQ(FromProto(*a), *direct);

  auto info = Stat("a");
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->kind(), v1::KIND_ACTIVE);
  EXPECT_THAT(info->labels(), ElementsAre(Pair("k", "v")));
  EXPECT_TRUE(info->has_created_at());

  ASSERT_THAT(Commit("l1", "a", "", {{"layer", "1"}}), IsOk());
  EXPECT_THAT(Stat("a"), StatusIs(absl::StatusCode::kNotFound));
  info = Stat("l1");
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->kind(), v1::KIND_COMMITTED);
  EXPECT_THAT(info->labels(), ElementsAre(Pair("layer", "1")));  // the active's are dropped

  auto b = Prepare("b", "l1");
  ASSERT_THAT(b, IsOk());
  ASSERT_THAT(*b, SizeIs(1));
  EXPECT_EQ((*b)[0].type(), "overlay");
  auto again = Mounts("b");
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(FromProto(*again), FromProto(*b));
  EXPECT_EQ(Stat("b")->parent(), "l1");

  auto v = View("v", "l1");
  ASSERT_THAT(v, IsOk());
  ASSERT_THAT(*v, SizeIs(1));
  EXPECT_THAT((*v)[0].options(), ::testing::Contains("ro"));
  EXPECT_EQ(Stat("v")->kind(), v1::KIND_VIEW);

  EXPECT_THAT(Mounts("l1"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Commit("l2", "v"), StatusIs(absl::StatusCode::kFailedPrecondition));

  std::vector<std::string> topics;
  for (const auto& e : publisher_.events()) topics.push_back(e.topic + " " + e.debug);
  EXPECT_THAT(topics, ElementsAre("/snapshot/prepare key: \"a\" snapshotter: \"overlayfs\"",
                                  "/snapshot/commit key: \"a\" name: \"l1\" snapshotter: "
                                  "\"overlayfs\"",
                                  "/snapshot/prepare key: \"b\" parent: \"l1\" snapshotter: "
                                  "\"overlayfs\""));
}

TEST_F(SnapshotsServiceTest, Errors) {
  EXPECT_THAT(Prepare(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Prepare("a", "", "", "", {}, "btrfs"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown snapshotter")));
  EXPECT_THAT(Prepare("a", "", "", "", {}, "overlayfs"), IsOk());  // named explicitly
  EXPECT_THAT(Prepare("a"), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(Prepare("b", "missing"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Prepare("b", "a"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Prepare("b", "", "bad/ns"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Commit("", "a"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Commit("n", "missing"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Remove("missing"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Mounts(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(List({}, "zfs"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(List({"name=="}), StatusIs(absl::StatusCode::kInvalidArgument));
  // Namespaces are separate.
  EXPECT_THAT(Stat("a", "other"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Prepare("a", "", "other"), IsOk());
}

TEST_F(SnapshotsServiceTest, RemoveParentsLast) {
  ASSERT_THAT(Prepare("a"), IsOk());
  ASSERT_THAT(Commit("l1", "a"), IsOk());
  ASSERT_THAT(Prepare("b", "l1"), IsOk());
  EXPECT_THAT(Remove("l1"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Remove("b"), IsOk());
  EXPECT_THAT(Remove("l1"), IsOk());
  EXPECT_THAT(List(), IsOkAndHolds(IsEmpty()));
  EXPECT_EQ(publisher_.events().back().topic, "/snapshot/remove");
  auto ctx = CallContext();
  v1::CleanupResponse resp;
  EXPECT_THAT(FromGrpcStatus(stub_->Cleanup(ctx.get(), v1::CleanupRequest(), &resp)), IsOk());
}

TEST_F(SnapshotsServiceTest, UpdateLabelsAndUsage) {
  auto a = Prepare("a", "", "", "", {{"keep", "1"}, {"drop", "2"}});
  ASSERT_THAT(a, IsOk());
  {
    auto ctx = CallContext();
    v1::UpdateRequest req;
    req.mutable_info()->set_name("a");
    (*req.mutable_info()->mutable_labels())["new"] = "3";
    req.mutable_update_mask()->add_paths("labels.new");
    req.mutable_update_mask()->add_paths("labels.drop");
    v1::UpdateResponse resp;
    ASSERT_THAT(FromGrpcStatus(stub_->Update(ctx.get(), req, &resp)), IsOk());
    EXPECT_THAT(resp.info().labels(),
                ::testing::UnorderedElementsAre(Pair("keep", "1"), Pair("new", "3")));
    EXPECT_EQ(Stat("a")->labels_size(), 2);
  }
  {
    auto ctx = CallContext();
    v1::UpdateRequest req;
    req.mutable_info()->set_name("a");
    req.mutable_update_mask()->add_paths("kind");
    v1::UpdateResponse resp;
    EXPECT_THAT(FromGrpcStatus(stub_->Update(ctx.get(), req, &resp)),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
  // Write into the active snapshot's directory (its bind source) and see Usage count it.
  ASSERT_TRUE(testing::WriteTestFile((*a)[0].source() + "/data", std::string(64 << 10, 'x')));
  auto ctx = CallContext();
  v1::UsageRequest req;
  req.set_key("a");
  v1::UsageResponse usage;
  ASSERT_THAT(FromGrpcStatus(stub_->Usage(ctx.get(), req, &usage)), IsOk());
  EXPECT_GE(usage.size(), 64 << 10);
  EXPECT_GE(usage.inodes(), 2);
}

TEST_F(SnapshotsServiceTest, ListWithFilters) {
  ASSERT_THAT(Prepare("a", "", "", "", {{"app", "web"}}), IsOk());
  ASSERT_THAT(Commit("l1", "a", "", {{"app", "web"}}), IsOk());
  ASSERT_THAT(Prepare("c", "l1"), IsOk());
  ASSERT_THAT(View("v", "l1"), IsOk());
  EXPECT_THAT(List(), IsOkAndHolds(ElementsAre("c", "l1", "v")));
  EXPECT_THAT(List({"kind==committed"}), IsOkAndHolds(ElementsAre("l1")));
  EXPECT_THAT(List({"parent==l1,kind!=view"}), IsOkAndHolds(ElementsAre("c")));
  EXPECT_THAT(List({"labels.app==web", "name~=^v"}), IsOkAndHolds(ElementsAre("l1", "v")));
  EXPECT_THAT(List({"nosuchfield"}), IsOkAndHolds(IsEmpty()));
}

TEST_F(SnapshotsServiceTest, LeaseHoldsWhatPrepareViewAndCommitCreate) {
  CreateLease("l");
  ASSERT_THAT(Prepare("a", "", "", "l"), IsOk());
  ASSERT_THAT(Commit("layer", "a", "l"), IsOk());
  ASSERT_THAT(View("v", "layer", "l"), IsOk());
  EXPECT_THAT(LeaseResources("l"),
              ElementsAre(metadata::LeaseResource{"snapshots/overlayfs", "a"},
                          metadata::LeaseResource{"snapshots/overlayfs", "layer"},
                          metadata::LeaseResource{"snapshots/overlayfs", "v"}));

  // An unknown lease fails before anything is created.
  EXPECT_THAT(Prepare("b", "", "", "nope"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Stat("b"), StatusIs(absl::StatusCode::kNotFound));

  // A failed Prepare leaves the lease as it was: it gains nothing...
  CreateLease("other");
  EXPECT_THAT(Prepare("v", "", "", "other"), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(LeaseResources("other"), IsEmpty());
  // ...and keeps what it already held.
  EXPECT_THAT(Prepare("v", "", "", "l"), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(LeaseResources("l"), SizeIs(3));
}

// Root: what the service hands out really mounts, and the layers stack.
TEST_F(SnapshotsServiceTest, MountsWork) {
  if (!CanMount()) GTEST_SKIP() << MountNamespaceEnvironment::skip_reason();
  const std::string dir = env_->dir().Sub("mnt");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);

  auto a = Prepare("a");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(mount_util::MountAll(FromProto(*a), dir), IsOk());
  EXPECT_TRUE(testing::WriteTestFile(dir + "/base", "from l1"));
  ASSERT_THAT(mount_util::UnmountAll(dir), IsOk());
  ASSERT_THAT(Commit("l1", "a"), IsOk());

  auto b = Prepare("b", "l1");
  ASSERT_THAT(b, IsOk());
  ASSERT_THAT(mount_util::MountAll(FromProto(*b), dir), IsOk());
  EXPECT_EQ(testing::ReadTestFile(dir + "/base"), "from l1");
  EXPECT_TRUE(testing::WriteTestFile(dir + "/mine", "b"));
  ASSERT_THAT(mount_util::UnmountAll(dir), IsOk());

  auto v = View("v", "l1");
  ASSERT_THAT(v, IsOk());
  ASSERT_THAT(mount_util::MountAll(FromProto(*v), dir), IsOk());
  EXPECT_EQ(testing::ReadTestFile(dir + "/base"), "from l1");
  EXPECT_FALSE(testing::WriteTestFile(dir + "/nope", "x"));  // read-only
  ASSERT_THAT(mount_util::UnmountAll(dir), IsOk());
}

}  // namespace
}  // namespace berth::containerd::snapshots
