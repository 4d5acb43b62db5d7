// berth.containerd.containers.v1.Containers served on a unix socket and called through the
// generated stub: create (defaults, validation), get, list and list-stream with filters, update
// with field masks, delete, namespaces and events.
#include "containerd/containers/containers_service.h"

#include <google/protobuf/any.pb.h>

#include <memory>
#include <string>
#include <vector>

#include "berth/containerd/containers/v1/containers.grpc.pb.h"
#include "common/grpc/status_mapping.h"
#include "common/testing/status_matchers.h"
#include "containerd/events/fake_publisher.h"
#include "containerd/server/service_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::containers {
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

google::protobuf::Any MakeAny(const std::string& type, const std::string& value) {
  google::protobuf::Any any;
  any.set_type_url("type.googleapis.com/" + type);
  any.set_value(value);
  return any;
}

v1::Container MakeContainer(const std::string& id) {
  v1::Container c;
  c.set_id(id);
  c.set_image("docker.io/library/alpine:3.19");
  c.set_spec(R"({"ociVersion":"1.0.2","root":{"path":"rootfs"}})");
  c.set_snapshotter("overlayfs");
  c.set_snapshot_key(id + "-rootfs");
  (*c.mutable_labels())["app"] = "web";
  return c;
}

class ContainersServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = server::ServiceTestEnv::Create();
    ASSERT_THAT(env, IsOk());
    env_ = std::move(*env);
    ContainersServiceOptions options;
    options.publisher = &publisher_;
    options.has_task = [this](absl::string_view, absl::string_view id) -> absl::StatusOr<bool> {
      return id == with_task_;
    };
    service_ = std::make_unique<ContainersService>(&env_->metadata(), std::move(options));
    ASSERT_THAT(env_->Serve({service_.get()}), IsOk());
    stub_ = v1::Containers::NewStub(env_->channel());
  }
  void TearDown() override {
    if (env_ != nullptr) env_->StopServing();
  }

  absl::StatusOr<v1::Container> Create(const v1::Container& c, const std::string& ns = "") {
    auto ctx = CallContext(ns);
    v1::CreateRequest req;
    *req.mutable_container() = c;
    v1::CreateResponse resp;
    absl::Status s = FromGrpcStatus(stub_->Create(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    return resp.container();
  }
  absl::StatusOr<v1::Container> Get(const std::string& id, const std::string& ns = "") {
    auto ctx = CallContext(ns);
    v1::GetRequest req;
    req.set_id(id);
    v1::GetResponse resp;
    absl::Status s = FromGrpcStatus(stub_->Get(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    return resp.container();
  }
  absl::StatusOr<v1::Container> Update(const v1::Container& c,
                                       const std::vector<std::string>& paths) {
    auto ctx = CallContext();
    v1::UpdateRequest req;
    *req.mutable_container() = c;
    for (const std::string& p : paths) req.mutable_update_mask()->add_paths(p);
    v1::UpdateResponse resp;
    absl::Status s = FromGrpcStatus(stub_->Update(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    return resp.container();
  }
  absl::Status Delete(const std::string& id) {
    auto ctx = CallContext();
    v1::DeleteRequest req;
    req.set_id(id);
    v1::DeleteResponse resp;
    return FromGrpcStatus(stub_->Delete(ctx.get(), req, &resp));
  }
  absl::StatusOr<std::vector<std::string>> List(const std::vector<std::string>& filters) {
    auto ctx = CallContext();
    v1::ListRequest req;
    for (const std::string& f : filters) req.add_filters(f);
    v1::ListResponse resp;
    absl::Status s = FromGrpcStatus(stub_->List(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    std::vector<std::string> ids;
    for (const v1::Container& c : resp.containers()) ids.push_back(c.id());
    return ids;
  }
  absl::StatusOr<std::vector<std::string>> ListStream(const std::vector<std::string>& filters) {
    auto ctx = CallContext();
    v1::ListStreamRequest req;
    for (const std::string& f : filters) req.add_filters(f);
    auto reader = stub_->ListStream(ctx.get(), req);
    std::vector<std::string> ids;
    v1::ListStreamResponse resp;
    while (reader->Read(&resp)) ids.push_back(resp.container().id());
    absl::Status s = FromGrpcStatus(reader->Finish());
    if (!s.ok()) return s;
    return ids;
  }
  std::vector<std::string> Topics() {
    std::vector<std::string> out;
    for (const auto& e : publisher_.events()) out.push_back(e.topic);
    return out;
  }

  std::unique_ptr<server::ServiceTestEnv> env_;
  events::FakePublisher publisher_;
  std::string with_task_;
  std::unique_ptr<ContainersService> service_;
  std::unique_ptr<v1::Containers::Stub> stub_;
};

TEST_F(ContainersServiceTest, CreateGetDelete) {
  v1::Container c = MakeContainer("web1");
  (*c.mutable_extensions())["berth.engine.container"] = MakeAny("berth.Test", "\x08\x01");
  auto created = Create(c);
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(created->runtime().name(), kDefaultRuntime);  // filled in
  EXPECT_TRUE(created->has_created_at());
  EXPECT_EQ(created->created_at().seconds(), created->updated_at().seconds());

  auto got = Get("web1");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->image(), c.image());
  EXPECT_EQ(got->spec(), c.spec());
  EXPECT_EQ(got->snapshotter(), "overlayfs");
  EXPECT_EQ(got->snapshot_key(), "web1-rootfs");
  EXPECT_THAT(got->labels(), ElementsAre(Pair("app", "web")));
  ASSERT_EQ(got->extensions().count("berth.engine.container"), 1u);
  EXPECT_EQ(got->extensions().at("berth.engine.container").type_url(),
            "type.googleapis.com/berth.Test");
  EXPECT_EQ(got->extensions().at("berth.engine.container").value(), "\x08\x01");
  EXPECT_FALSE(got->runtime().has_options());

  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(Get("web1", "other"), StatusIs(absl::StatusCode::kNotFound));

  ASSERT_THAT(Delete("web1"), IsOk());
  EXPECT_THAT(Get("web1"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Delete("web1"), StatusIs(absl::StatusCode::kNotFound));

  EXPECT_THAT(Topics(), ElementsAre("/containers/create", "/containers/delete"));
  EXPECT_THAT(publisher_.events()[0].debug, HasSubstr("runtime { name: \"berth-runc\" }"));
}

TEST_F(ContainersServiceTest, CreateValidates) {
  v1::Container c = MakeContainer("x");
  c.set_id("");
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c.set_id("-bad");
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c.set_id("ok");
  c.set_spec("[1, 2]");  // JSON, but not an object
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c.set_spec("");  // may be set later
  (*c.mutable_labels())[""] = "empty key";
  EXPECT_THAT(Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c.mutable_labels()->clear();
  c.mutable_runtime()->set_name("/usr/bin/runc");
  *c.mutable_runtime()->mutable_options() = MakeAny("berth.shim.task.v1.RuntimeOptions", "");
  auto created = Create(c, "ns2");
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(created->runtime().name(), "/usr/bin/runc");
  EXPECT_TRUE(created->runtime().has_options());
  EXPECT_THAT(Create(c, "bad/ns"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Get(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Delete(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ContainersServiceTest, UpdateWithFieldMask) {
  ASSERT_THAT(Create(MakeContainer("c1")), IsOk());

  v1::Container change;
  change.set_id("c1");
  change.set_image("changed:latest");
  (*change.mutable_labels())["tier"] = "front";
  change.set_snapshot_key("ignored");
  // Only the masked fields change; labels.<key> sets one label and keeps the others.
  auto updated = Update(change, {"image", "labels.tier"});
  ASSERT_THAT(updated, IsOk());
  EXPECT_EQ(updated->image(), "changed:latest");
  EXPECT_THAT(updated->labels(), UnorderedElementsAre(Pair("app", "web"), Pair("tier", "front")));
  EXPECT_EQ(updated->snapshot_key(), "c1-rootfs");
  EXPECT_EQ(updated->spec(), MakeContainer("c1").spec());

  // labels.<key> absent from the new labels removes it; `labels` replaces the map.
  change.mutable_labels()->clear();
  updated = Update(change, {"labels.app"});
  ASSERT_THAT(updated, IsOk());
  EXPECT_THAT(updated->labels(), ElementsAre(Pair("tier", "front")));
  (*change.mutable_labels())["only"] = "1";
  updated = Update(change, {"labels"});
  ASSERT_THAT(updated, IsOk());
  EXPECT_THAT(updated->labels(), ElementsAre(Pair("only", "1")));

  // Replacing the runtime with an unnamed one means the default runtime.
  change.mutable_runtime()->set_name("runc");
  ASSERT_THAT(Update(change, {"runtime"}), IsOk());
  EXPECT_EQ(Get("c1")->runtime().name(), "runc");
  change.mutable_runtime()->clear_name();
  updated = Update(change, {"runtime", "spec"});
  ASSERT_THAT(updated, IsOk());
  EXPECT_EQ(updated->runtime().name(), kDefaultRuntime);
  EXPECT_EQ(updated->spec(), "");

  // Immutable and unknown paths.
  change.set_snapshotter("other");
  EXPECT_THAT(Update(change, {"snapshotter"}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Update(change, {"id"}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Update(change, {"nonsense"}), StatusIs(absl::StatusCode::kInvalidArgument));
  change.set_id("missing");
  EXPECT_THAT(Update(change, {"image"}), StatusIs(absl::StatusCode::kNotFound));

  // An empty mask replaces every mutable field.
  v1::Container all = MakeContainer("c1");
  all.set_snapshotter("overlayfs");  // unchanged, so not an error
  all.set_sandbox_id("pod1");
  updated = Update(all, {});
  ASSERT_THAT(updated, IsOk());
  EXPECT_EQ(updated->image(), all.image());
  EXPECT_EQ(updated->sandbox_id(), "pod1");
  EXPECT_EQ(updated->snapshot_key(), all.snapshot_key());
  EXPECT_THAT(updated->labels(), ElementsAre(Pair("app", "web")));

  EXPECT_THAT(Topics(),
              ElementsAre("/containers/create", "/containers/update", "/containers/update",
                          "/containers/update", "/containers/update", "/containers/update",
                          "/containers/update"));
}

TEST_F(ContainersServiceTest, ListAndListStreamWithFilters) {
  v1::Container a = MakeContainer("a");
  v1::Container b = MakeContainer("b");
  (*b.mutable_labels())["app"] = "db";
  b.mutable_runtime()->set_name("runc");
  v1::Container c = MakeContainer("c");
  c.set_sandbox_id("pod");
  for (const auto& x : {c, a, b}) ASSERT_THAT(Create(x), IsOk());
  ASSERT_THAT(Create(MakeContainer("elsewhere"), "other"), IsOk());

  for (const bool stream : {false, true}) {
    SCOPED_TRACE(stream ? "ListStream" : "List");
    auto list = [&](const std::vector<std::string>& filters) {
      return stream ? ListStream(filters) : List(filters);
    };
    auto all = list({});
    ASSERT_THAT(all, IsOk());
    EXPECT_THAT(*all, ElementsAre("a", "b", "c"));
    EXPECT_THAT(*list({"labels.app==web"}), ElementsAre("a", "c"));
    EXPECT_THAT(*list({"runtime.name==runc", "sandbox_id"}), ElementsAre("b", "c"));
    EXPECT_THAT(*list({"id~=^[ab]$,labels.app!=db"}), ElementsAre("a"));
    EXPECT_THAT(*list({"snapshot_key==b-rootfs"}), ElementsAre("b"));
    EXPECT_THAT(*list({"unknown==x"}), IsEmpty());
    EXPECT_THAT(list({"id=="}), StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

TEST_F(ContainersServiceTest, DeleteRefusesContainerWithTask) {
  ASSERT_THAT(Create(MakeContainer("busy")), IsOk());
  with_task_ = "busy";
  EXPECT_THAT(Delete("busy"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Get("busy"), IsOk());
  with_task_.clear();
  EXPECT_THAT(Delete("busy"), IsOk());
}

}  // namespace
}  // namespace berth::containerd::containers
