// berth.containerd.leases.v1.Leases served on a unix socket and called through the generated
// stub, together with Content to show a lease holding an ingest and then its blob.
#include "containerd/leases/leases_service.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "berth/containerd/content/v1/content.grpc.pb.h"
#include "common/digest/digest.h"
#include "common/grpc/status_mapping.h"
#include "common/id/sequence_id_source.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "containerd/content/content_service.h"
#include "containerd/content/namespaced_store.h"
#include "containerd/events/publisher.h"
#include "containerd/server/service_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::leases {
namespace {

using ::berth::containerd::server::CallContext;
using ::berth::grpc_util::FromGrpcStatus;
using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;
namespace contentpb = ::berth::containerd::content::v1;

constexpr int64_t kNow = 1700000000;

class LeasesServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    metadata::StoreOptions store_options;
    store_options.clock = [this] {
      absl::MutexLock lock(&clock_mu_);
      return now_;
    };
    auto env = server::ServiceTestEnv::Create(store_options);
    ASSERT_THAT(env, IsOk());
    env_ = std::move(*env);
    LeasesServiceOptions options;
    options.ids = &ids_;
    options.clock = store_options.clock;
    options.collect_garbage = [this] {
      ++collections_;
      return absl::OkStatus();
    };
    service_ = std::make_unique<LeasesService>(&env_->metadata(), options);
    content_store_ = std::make_unique<content::NamespacedStore>(&env_->metadata(), &env_->blobs());
    content_ = std::make_unique<content::ContentService>(content_store_.get(), &publisher_);
    ASSERT_THAT(env_->Serve({service_.get(), content_.get()}), IsOk());
    stub_ = v1::Leases::NewStub(env_->channel());
    content_stub_ = contentpb::Content::NewStub(env_->channel());
  }
  void TearDown() override {
    if (env_ != nullptr) env_->StopServing();
  }

  absl::StatusOr<v1::Lease> Create(const v1::CreateRequest& req, const std::string& ns = "") {
    auto ctx = CallContext(ns);
    v1::CreateResponse resp;
    absl::Status s = FromGrpcStatus(stub_->Create(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    return resp.lease();
  }
  absl::StatusOr<v1::Lease> Create(const std::string& id,
                                   std::map<std::string, std::string> labels = {},
                                   const std::string& ns = "") {
    v1::CreateRequest req;
    req.set_id(id);
    req.mutable_labels()->insert(labels.begin(), labels.end());
    return Create(req, ns);
  }
  absl::StatusOr<std::vector<std::string>> List(const std::vector<std::string>& filters,
                                                const std::string& ns = "") {
    auto ctx = CallContext(ns);
    v1::ListRequest req;
    for (const auto& f : filters) req.add_filters(f);
    v1::ListResponse resp;
    absl::Status s = FromGrpcStatus(stub_->List(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    std::vector<std::string> ids;
    for (const auto& l : resp.leases()) ids.push_back(l.id());
    return ids;
  }
  absl::Status Delete(const std::string& id, bool sync = false) {
    auto ctx = CallContext();
    v1::DeleteRequest req;
    req.set_id(id);
    req.set_sync(sync);
    v1::DeleteResponse resp;
    return FromGrpcStatus(stub_->Delete(ctx.get(), req, &resp));
  }
  absl::Status AddResource(const std::string& lease, const std::string& type,
                           const std::string& id) {
    auto ctx = CallContext();
    v1::AddResourceRequest req;
    req.set_lease_id(lease);
    req.mutable_resource()->set_type(type);
    req.mutable_resource()->set_id(id);
    v1::AddResourceResponse resp;
    return FromGrpcStatus(stub_->AddResource(ctx.get(), req, &resp));
  }
  absl::Status DeleteResource(const std::string& lease, const std::string& type,
                              const std::string& id) {
    auto ctx = CallContext();
    v1::DeleteResourceRequest req;
    req.set_lease_id(lease);
    req.mutable_resource()->set_type(type);
    req.mutable_resource()->set_id(id);
    v1::DeleteResourceResponse resp;
    return FromGrpcStatus(stub_->DeleteResource(ctx.get(), req, &resp));
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Resources(
      const std::string& lease) {
    auto ctx = CallContext();
    v1::ListResourcesRequest req;
    req.set_lease_id(lease);
    v1::ListResourcesResponse resp;
    absl::Status s = FromGrpcStatus(stub_->ListResources(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& r : resp.resources()) out.emplace_back(r.type(), r.id());
    return out;
  }

  absl::Mutex clock_mu_;
  absl::Time now_ ABSL_GUARDED_BY(clock_mu_) = absl::FromUnixSeconds(kNow);
  id::SequenceIdSource ids_;
  std::atomic<int> collections_{0};
  events::NoopPublisher publisher_;
  std::unique_ptr<server::ServiceTestEnv> env_;
  std::unique_ptr<LeasesService> service_;
  std::unique_ptr<content::NamespacedStore> content_store_;
  std::unique_ptr<content::ContentService> content_;
  std::unique_ptr<v1::Leases::Stub> stub_;
  std::unique_ptr<contentpb::Content::Stub> content_stub_;
};

TEST_F(LeasesServiceTest, CreateWithIdsAndExpirations) {
  auto plain = Create("pull-1", {{"berth.io/owner", "berthd"}});
  ASSERT_THAT(plain, IsOk());
  EXPECT_EQ(plain->id(), "pull-1");
  EXPECT_EQ(plain->created_at().seconds(), kNow);
  EXPECT_FALSE(plain->has_expires_at());
  EXPECT_THAT(plain->labels(), UnorderedElementsAre(Pair("berth.io/owner", "berthd")));
  EXPECT_THAT(Create("pull-1"), StatusIs(absl::StatusCode::kAlreadyExists));

  auto generated = Create("");
  ASSERT_THAT(generated, IsOk());
  EXPECT_EQ(generated->id(), id::SequenceIdSource::IdFor(1));

  v1::CreateRequest ttl;
  ttl.set_id("ttl");
  ttl.mutable_ttl()->set_seconds(3600);
  auto with_ttl = Create(ttl);
  ASSERT_THAT(with_ttl, IsOk());
  EXPECT_EQ(with_ttl->expires_at().seconds(), kNow + 3600);

  v1::CreateRequest at;
  at.set_id("at");
  at.mutable_expires_at()->set_seconds(kNow - 10);  // already past: allowed
  auto with_at = Create(at);
  ASSERT_THAT(with_at, IsOk());
  EXPECT_EQ(with_at->expires_at().seconds(), kNow - 10);

  auto labelled = Create("label-expiry", {{"berth.io/gc.expire", "2030-01-02T03:04:05Z"}});
  ASSERT_THAT(labelled, IsOk());
  EXPECT_EQ(labelled->expires_at().seconds(), 1893553445);
  EXPECT_THAT(labelled->labels(), Contains(Pair("berth.io/gc.expire", "2030-01-02T03:04:05Z")));

  v1::CreateRequest zero_ttl;
  zero_ttl.set_id("z");
  zero_ttl.mutable_ttl();
  EXPECT_THAT(Create(zero_ttl), StatusIs(absl::StatusCode::kInvalidArgument));
  v1::CreateRequest both = ttl;
  both.set_id("both");
  (*both.mutable_labels())["berth.io/gc.expire"] = "2030-01-02T03:04:05Z";
  EXPECT_THAT(Create(both), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Create("bad-label", {{"berth.io/gc.expire", "tomorrow"}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Create("no/slash"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Create("x", {{"", "v"}}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(LeasesServiceTest, ListFiltersDeleteAndNamespaces) {
  ASSERT_THAT(Create("a", {{"berth.io/owner", "berthd"}}), IsOk());
  ASSERT_THAT(Create("b", {{"berth.io/owner", "tests"}}), IsOk());
  ASSERT_THAT(Create("c", {}, "other"), IsOk());
  EXPECT_THAT(*List({}), ElementsAre("a", "b"));
  EXPECT_THAT(*List({}, "other"), ElementsAre("c"));
  EXPECT_THAT(*List({"labels.\"berth.io/owner\"==tests"}), ElementsAre("b"));
  EXPECT_THAT(*List({"id==a", "id==c"}), ElementsAre("a"));
  EXPECT_THAT(List({"id=="}), StatusIs(absl::StatusCode::kInvalidArgument));

  EXPECT_THAT(Delete("c"), StatusIs(absl::StatusCode::kNotFound)) << "c is in another namespace";
  EXPECT_THAT(Delete(""), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(Delete("a"), IsOk());
  EXPECT_EQ(collections_, 0);
  ASSERT_THAT(Delete("b", /*sync=*/true), IsOk());
  EXPECT_EQ(collections_, 1);
  EXPECT_THAT(*List({}), IsEmpty());
}

TEST_F(LeasesServiceTest, ResourcesAreIdempotentAndValidated) {
  ASSERT_THAT(Create("l"), IsOk());
  const std::string digest = "sha256:" + std::string(64, 'c');
  ASSERT_THAT(AddResource("l", "content", digest), IsOk());
  ASSERT_THAT(AddResource("l", "content", digest), IsOk());
  ASSERT_THAT(AddResource("l", "snapshots/overlayfs", "layer-3"), IsOk());
  ASSERT_THAT(AddResource("l", "ingests", "ref-1"), IsOk());
  EXPECT_THAT(*Resources("l"), ElementsAre(Pair("content", digest), Pair("ingests", "ref-1"),
                                           Pair("snapshots/overlayfs", "layer-3")));
  ASSERT_THAT(DeleteResource("l", "ingests", "ref-1"), IsOk());
  ASSERT_THAT(DeleteResource("l", "ingests", "ref-1"), IsOk());
  EXPECT_THAT(*Resources("l"), Not(Contains(Pair("ingests", "ref-1"))));

  EXPECT_THAT(AddResource("l", "volumes", "x"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(AddResource("l", "content", ""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(AddResource("", "content", digest), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(AddResource("nope", "content", digest), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(DeleteResource("nope", "content", digest), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Resources("nope"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Resources(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(LeasesServiceTest, LeaseHoldsAnIngestThenItsBlobAgainstCollection) {
  ASSERT_THAT(Create("pull"), IsOk());
  const std::string data(100000, 'z');
  const std::string digest = digest::Digest::FromBytes(data)->ToString();

  // Half an upload under the lease, then the stream breaks.
  {
    auto ctx = CallContext("", "pull");
    auto stream = content_stub_->Write(ctx.get());
    contentpb::WriteRequest req;
    req.set_action(contentpb::WRITE_ACTION_WRITE);
    req.set_ref("layer-x");
    req.set_data(data.substr(0, 40000));
    contentpb::WriteResponse resp;
    ASSERT_TRUE(stream->Write(req) && stream->Read(&resp));
    ctx->TryCancel();
    stream->Finish();
  }
  EXPECT_THAT(*Resources("pull"), ElementsAre(Pair("ingests", "layer-x")));
  auto marked = env_->metadata().WithReadTransaction(
      [](metadata::Transaction& tx) { return tx.CollectGarbageCandidates(); });
  ASSERT_THAT(marked, IsOk());
  EXPECT_THAT(marked->leased_ingests, ElementsAre(metadata::NamedRef{"default", "layer-x"}))
      << "garbage collection keeps the half-written ingest";

  // Resume and commit under the same lease: the lease now holds the blob instead.
  ASSERT_TRUE(berth::testing::WaitFor(
      [&] {
        auto ctx = CallContext("", "pull");
        auto stream = content_stub_->Write(ctx.get());
        contentpb::WriteRequest req;
        req.set_action(contentpb::WRITE_ACTION_COMMIT);
        req.set_ref("layer-x");
        req.set_offset(40000);
        req.set_data(data.substr(40000));
        req.set_expected(digest);
        contentpb::WriteResponse resp;
        stream->Write(req);
        stream->Read(&resp);
        return stream->Finish().ok();
      },
      absl::Seconds(10)));
  EXPECT_THAT(*Resources("pull"), ElementsAre(Pair("content", digest)));

  // Nothing but the lease references the blob: a collection keeps it while the lease lives...
  auto kept = env_->metadata().CollectGarbage();
  ASSERT_THAT(kept, IsOk());
  EXPECT_THAT(kept->removed_blobs, IsEmpty());
  // ...and drops it once the lease is gone.
  ASSERT_THAT(Delete("pull"), IsOk());
  auto swept = env_->metadata().CollectGarbage();
  ASSERT_THAT(swept, IsOk());
  EXPECT_THAT(swept->unreferenced_digests, ElementsAre(digest));
}

}  // namespace
}  // namespace berth::containerd::leases
