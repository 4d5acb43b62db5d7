// berth.containerd.namespaces.v1.Namespaces served on a unix socket and called through the
// generated stub.
#include "containerd/namespaces/namespaces_service.h"

#include <memory>
#include <string>
#include <vector>

#include "common/grpc/status_mapping.h"
#include "common/testing/status_matchers.h"
#include "containerd/events/fake_publisher.h"
#include "containerd/server/service_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::namespaces {
namespace {

using ::berth::containerd::server::CallContext;
using ::berth::grpc_util::FromGrpcStatus;
using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

class NamespacesServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = server::ServiceTestEnv::Create();
    ASSERT_THAT(env, IsOk());
    env_ = std::move(*env);
    service_ = std::make_unique<NamespacesService>(&env_->metadata(), &publisher_);
    ASSERT_THAT(env_->Serve({service_.get()}), IsOk());
    stub_ = v1::Namespaces::NewStub(env_->channel());
  }
  void TearDown() override {
    if (env_ != nullptr) env_->StopServing();
  }

  absl::StatusOr<v1::Namespace> Create(const std::string& name,
                                       std::map<std::string, std::string> labels = {}) {
    // A namespace header must not matter to this service.
    auto ctx = CallContext("some-other-ns");
    v1::CreateRequest req;
    req.mutable_namespace_()->set_name(name);
    req.mutable_namespace_()->mutable_labels()->insert(labels.begin(), labels.end());
    v1::CreateResponse resp;
    absl::Status s = FromGrpcStatus(stub_->Create(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    return resp.namespace_();
  }
  absl::StatusOr<v1::Namespace> Get(const std::string& name) {
    auto ctx = CallContext();
    v1::GetRequest req;
    req.set_name(name);
    v1::GetResponse resp;
    absl::Status s = FromGrpcStatus(stub_->Get(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    return resp.namespace_();
  }
  absl::StatusOr<std::vector<std::string>> List(const std::vector<std::string>& filters) {
    auto ctx = CallContext();
    v1::ListRequest req;
    for (const auto& f : filters) req.add_filters(f);
    v1::ListResponse resp;
    absl::Status s = FromGrpcStatus(stub_->List(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    std::vector<std::string> names;
    for (const auto& ns : resp.namespaces()) names.push_back(ns.name());
    return names;
  }
  absl::StatusOr<v1::Namespace> Update(const std::string& name,
                                       std::map<std::string, std::string> labels,
                                       const std::vector<std::string>& paths) {
    auto ctx = CallContext();
    v1::UpdateRequest req;
    req.mutable_namespace_()->set_name(name);
    req.mutable_namespace_()->mutable_labels()->insert(labels.begin(), labels.end());
    for (const auto& p : paths) req.mutable_update_mask()->add_paths(p);
    v1::UpdateResponse resp;
    absl::Status s = FromGrpcStatus(stub_->Update(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    return resp.namespace_();
  }
  absl::Status Delete(const std::string& name) {
    auto ctx = CallContext();
    v1::DeleteRequest req;
    req.set_name(name);
    v1::DeleteResponse resp;
    return FromGrpcStatus(stub_->Delete(ctx.get(), req, &resp));
  }

  std::unique_ptr<server::ServiceTestEnv> env_;
  events::FakePublisher publisher_;
  std::unique_ptr<NamespacesService> service_;
  std::unique_ptr<v1::Namespaces::Stub> stub_;
};

TEST_F(NamespacesServiceTest, CreateGetListDelete) {
  auto created = Create("berth", {{"berth.io/owner", "berthd"}});
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(created->name(), "berth");
  ASSERT_THAT(Create("k8s.io"), IsOk());
  EXPECT_THAT(Create("berth"), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(Create("no/slash"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Create("x", {{"", "v"}}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Create("x", {{"k", std::string(4096, 'v')}}),
              StatusIs(absl::StatusCode::kInvalidArgument));

  auto got = Get("berth");
  ASSERT_THAT(got, IsOk());
  EXPECT_THAT(got->labels(), UnorderedElementsAre(Pair("berth.io/owner", "berthd")));
  EXPECT_THAT(Get("absent"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Get(""), StatusIs(absl::StatusCode::kInvalidArgument));

  EXPECT_THAT(*List({}), ElementsAre("berth", "k8s.io"));
  EXPECT_THAT(*List({"labels.\"berth.io/owner\"==berthd"}), ElementsAre("berth"));
  EXPECT_THAT(*List({"name~=^k8s"}), ElementsAre("k8s.io"));
  EXPECT_THAT(*List({"name==nothing"}), IsEmpty());
  EXPECT_THAT(List({"name=="}), StatusIs(absl::StatusCode::kInvalidArgument));

  ASSERT_THAT(Delete("k8s.io"), IsOk());
  EXPECT_THAT(Delete("k8s.io"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(*List({}), ElementsAre("berth"));

  auto events = publisher_.events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].topic, "/namespaces/create");
  EXPECT_EQ(events[0].ns, "berth");
  EXPECT_EQ(events[2].topic, "/namespaces/delete");
  EXPECT_EQ(events[2].ns, "k8s.io");
}

TEST_F(NamespacesServiceTest, UpdateLabelsByMask) {
  ASSERT_THAT(Create("ns", {{"a", "1"}, {"b", "2"}}), IsOk());
  auto one = Update("ns", {{"b", "20"}, {"c", "ignored"}}, {"labels.b"});
  ASSERT_THAT(one, IsOk());
  EXPECT_THAT(one->labels(), UnorderedElementsAre(Pair("a", "1"), Pair("b", "20")));
  auto removed = Update("ns", {}, {"labels.a"});
  ASSERT_THAT(removed, IsOk());
  EXPECT_THAT(removed->labels(), UnorderedElementsAre(Pair("b", "20")));
  auto replaced = Update("ns", {{"z", "26"}}, {});
  ASSERT_THAT(replaced, IsOk());
  EXPECT_THAT(replaced->labels(), UnorderedElementsAre(Pair("z", "26")));
  EXPECT_THAT(Update("ns", {}, {"name"}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Update("absent", {}, {}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Update("bad name", {}, {}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(NamespacesServiceTest, DeleteRefusesANamespaceThatHoldsSomething) {
  ASSERT_THAT(env_->metadata().WithTransaction([](metadata::Transaction& tx) {
    return tx.CreateLease("busy", metadata::Lease{"l1", {}, {}, std::nullopt}).status();
  }),
              IsOk());
  EXPECT_THAT(Delete("busy"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Get("busy"), IsOk()) << "creating an object created its namespace";
}

}  // namespace
}  // namespace berth::containerd::namespaces
