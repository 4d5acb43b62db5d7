// berth.containerd.images.v1.Images served on a unix socket and called through the generated
// stub: create/get/list/update/delete, field masks, filters, the delete guard, sync delete,
// namespaces and events.
#include "containerd/images/images_service.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/grpc/status_mapping.h"
#include "common/testing/status_matchers.h"
#include "containerd/events/fake_publisher.h"
#include "containerd/server/service_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::images {
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

constexpr char kIndex[] = "application/vnd.oci.image.index.v1+json";
constexpr char kManifest[] = "application/vnd.oci.image.manifest.v1+json";
const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:" + std::string(64, 'b');

v1::Image MakeImage(const std::string& name, const std::string& media_type,
                    const std::string& digest, std::map<std::string, std::string> labels = {}) {
  v1::Image image;
  image.set_name(name);
  image.mutable_labels()->insert(labels.begin(), labels.end());
  image.mutable_target()->set_media_type(media_type);
  image.mutable_target()->set_digest(digest);
  image.mutable_target()->set_size(1234);
  (*image.mutable_target()->mutable_annotations())["org.opencontainers.image.ref.name"] = "3.19";
  return image;
}

class ImagesServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    metadata::StoreOptions options;
    options.clock = [this] {
      absl::MutexLock lock(&clock_mu_);
      return now_;
    };
    auto env = server::ServiceTestEnv::Create(options);
    ASSERT_THAT(env, IsOk());
    env_ = std::move(*env);
    ImagesServiceOptions service_options;
    service_options.publisher = &publisher_;
    service_options.collect_garbage = [this] {
      ++collections_;
      return absl::OkStatus();
    };
    service_ = std::make_unique<ImagesService>(&env_->metadata(), service_options);
    ASSERT_THAT(env_->Serve({service_.get()}), IsOk());
    stub_ = v1::Images::NewStub(env_->channel());
  }
  void TearDown() override {
    if (env_ != nullptr) env_->StopServing();
  }

  void Advance(absl::Duration d) {
    absl::MutexLock lock(&clock_mu_);
    now_ += d;
  }

  absl::StatusOr<v1::Image> Create(const v1::Image& image, const std::string& ns = "") {
    auto ctx = CallContext(ns);
    v1::CreateRequest req;
    *req.mutable_image() = image;
    v1::CreateResponse resp;
    absl::Status s = FromGrpcStatus(stub_->Create(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    return resp.image();
  }
  absl::StatusOr<v1::Image> Get(const std::string& name, const std::string& ns = "") {
    auto ctx = CallContext(ns);
    v1::GetRequest req;
    req.set_name(name);
    v1::GetResponse resp;
    absl::Status s = FromGrpcStatus(stub_->Get(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    return resp.image();
  }
  absl::StatusOr<std::vector<std::string>> List(const std::vector<std::string>& filters,
                                                const std::string& ns = "") {
    auto ctx = CallContext(ns);
    v1::ListRequest req;
    for (const auto& f : filters) req.add_filters(f);
    v1::ListResponse resp;
    absl::Status s = FromGrpcStatus(stub_->List(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    std::vector<std::string> names;
    for (const auto& image : resp.images()) names.push_back(image.name());
    return names;
  }
  absl::StatusOr<v1::Image> Update(const v1::Image& image, const std::vector<std::string>& paths) {
    auto ctx = CallContext();
    v1::UpdateRequest req;
    *req.mutable_image() = image;
    for (const auto& p : paths) req.mutable_update_mask()->add_paths(p);
    v1::UpdateResponse resp;
    absl::Status s = FromGrpcStatus(stub_->Update(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    return resp.image();
  }
  absl::Status Delete(const std::string& name, bool sync = false,
                      const std::string& if_target = "") {
    auto ctx = CallContext();
    v1::DeleteRequest req;
    req.set_name(name);
    req.set_sync(sync);
    if (!if_target.empty()) req.mutable_target()->set_digest(if_target);
    v1::DeleteResponse resp;
    return FromGrpcStatus(stub_->Delete(ctx.get(), req, &resp));
  }

  absl::Mutex clock_mu_;
  absl::Time now_ ABSL_GUARDED_BY(clock_mu_) = absl::FromUnixSeconds(1700000000);
  std::unique_ptr<server::ServiceTestEnv> env_;
  events::FakePublisher publisher_;
  std::atomic<int> collections_{0};
  std::unique_ptr<ImagesService> service_;
  std::unique_ptr<v1::Images::Stub> stub_;
};

TEST_F(ImagesServiceTest, CreateGetAndErrors) {
  auto created = Create(MakeImage("docker.io/library/alpine:3.19", kIndex, kDigestA, {{"a", "1"}}));
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(created->created_at().seconds(), 1700000000);
  EXPECT_EQ(created->updated_at().seconds(), 1700000000);

  auto got = Get("docker.io/library/alpine:3.19");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->target().media_type(), kIndex);
  EXPECT_EQ(got->target().digest(), kDigestA);
  EXPECT_EQ(got->target().size(), 1234);
  EXPECT_THAT(got->target().annotations(),
              UnorderedElementsAre(Pair("org.opencontainers.image.ref.name", "3.19")));
  EXPECT_THAT(got->labels(), UnorderedElementsAre(Pair("a", "1")));

  EXPECT_THAT(Create(MakeImage("docker.io/library/alpine:3.19", kIndex, kDigestB)),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(Get("docker.io/library/redis:7"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Get(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Create(MakeImage("", kIndex, kDigestA)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Create(MakeImage("x", "", kDigestA)), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Create(MakeImage("x", kIndex, "sha256:short")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  v1::Image no_size = MakeImage("x", kIndex, kDigestA);
  no_size.mutable_target()->set_size(0);
  EXPECT_THAT(Create(no_size), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Create(MakeImage("x", kIndex, kDigestA, {{"", "v"}})),
              StatusIs(absl::StatusCode::kInvalidArgument));

  auto events = publisher_.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].topic, "/images/create");
  EXPECT_EQ(events[0].ns, "default");
  EXPECT_EQ(events[0].type, "berth.containerd.events.v1.ImageCreate");
}

TEST_F(ImagesServiceTest, UpdateHonoursTheFieldMask) {
  ASSERT_THAT(Create(MakeImage("img", kIndex, kDigestA, {{"keep", "k"}, {"change", "c"}})), IsOk());
  Advance(absl::Seconds(10));

  // One label key: set, then removed by an absent value; target untouched.
  v1::Image req = MakeImage("img", kManifest, kDigestB, {{"change", "C"}, {"ignored", "i"}});
  auto one = Update(req, {"labels.change"});
  ASSERT_THAT(one, IsOk());
  EXPECT_THAT(one->labels(), UnorderedElementsAre(Pair("keep", "k"), Pair("change", "C")));
  EXPECT_EQ(one->target().digest(), kDigestA);
  EXPECT_EQ(one->updated_at().seconds(), 1700000010);
  EXPECT_EQ(one->created_at().seconds(), 1700000000);
  auto removed = Update(MakeImage("img", kIndex, kDigestA), {"labels.change"});
  ASSERT_THAT(removed, IsOk());
  EXPECT_THAT(removed->labels(), UnorderedElementsAre(Pair("keep", "k")));

  // Target only: labels in the request are ignored.
  auto moved = Update(MakeImage("img", kManifest, kDigestB, {{"x", "y"}}), {"target"});
  ASSERT_THAT(moved, IsOk());
  EXPECT_EQ(moved->target().digest(), kDigestB);
  EXPECT_EQ(moved->target().media_type(), kManifest);
  EXPECT_THAT(moved->labels(), UnorderedElementsAre(Pair("keep", "k")));

  // Empty mask: labels and target both replaced.
  auto both = Update(MakeImage("img", kIndex, kDigestA, {{"new", "n"}}), {});
  ASSERT_THAT(both, IsOk());
  EXPECT_EQ(both->target().digest(), kDigestA);
  EXPECT_THAT(both->labels(), UnorderedElementsAre(Pair("new", "n")));
  auto all_labels = Update(MakeImage("img", kManifest, kDigestB, {{"z", "1"}}), {"labels"});
  ASSERT_THAT(all_labels, IsOk());
  EXPECT_THAT(all_labels->labels(), UnorderedElementsAre(Pair("z", "1")));
  EXPECT_EQ(all_labels->target().digest(), kDigestA);

  EXPECT_THAT(Update(MakeImage("img", kIndex, kDigestA), {"name"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Update(MakeImage("img", "", kDigestA), {"target"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Update(MakeImage("nope", kIndex, kDigestA), {}),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Update(MakeImage("", kIndex, kDigestA), {}),
              StatusIs(absl::StatusCode::kInvalidArgument));

  auto events = publisher_.events();
  ASSERT_EQ(events.size(), 6u);  // create + 5 successful updates
  EXPECT_EQ(events.back().topic, "/images/update");
}

TEST_F(ImagesServiceTest, ListFiltersAndOrder) {
  ASSERT_THAT(Create(MakeImage("docker.io/library/redis:7", kManifest, kDigestB,
                               {{"berth.io/owner", "tests"}})),
              IsOk());
  ASSERT_THAT(Create(MakeImage("docker.io/library/alpine:3.19", kIndex, kDigestA,
                               {{"berth.io/owner", "berthd"}})),
              IsOk());
  ASSERT_THAT(Create(MakeImage("example.com/app:1", kIndex, kDigestB)), IsOk());

  EXPECT_THAT(*List({}), ElementsAre("docker.io/library/alpine:3.19", "docker.io/library/redis:7",
                                     "example.com/app:1"));
  EXPECT_THAT(*List({"name==\"docker.io/library/alpine:3.19\""}),
              ElementsAre("docker.io/library/alpine:3.19"));
  EXPECT_THAT(*List({"target.media_type==\"" + std::string(kIndex) + "\""}),
              ElementsAre("docker.io/library/alpine:3.19", "example.com/app:1"));
  EXPECT_THAT(*List({"target.digest==" + kDigestB}),
              ElementsAre("docker.io/library/redis:7", "example.com/app:1"));
  EXPECT_THAT(*List({"labels.\"berth.io/owner\""}),
              ElementsAre("docker.io/library/alpine:3.19", "docker.io/library/redis:7"));
  EXPECT_THAT(*List({"labels.\"berth.io/owner\"==berthd", "name~=^example"}),
              ElementsAre("docker.io/library/alpine:3.19", "example.com/app:1"));
  EXPECT_THAT(*List({"name~=docker,target.digest==" + kDigestB}),
              ElementsAre("docker.io/library/redis:7"));
  EXPECT_THAT(*List({"target.size==1234"}), IsEmpty()) << "not a filter field";
  EXPECT_THAT(List({"name=="}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(List({"name~=\"(\""}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ImagesServiceTest, DeleteWithTargetGuardAndSync) {
  ASSERT_THAT(Create(MakeImage("img", kIndex, kDigestA)), IsOk());
  EXPECT_THAT(Delete("img", false, kDigestB),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(kDigestA)));
  EXPECT_THAT(Get("img"), IsOk()) << "a failed guard deletes nothing";
  EXPECT_THAT(Delete("img", true, kDigestA), IsOk());
  EXPECT_EQ(collections_, 1) << "sync runs a collection after the deletion";
  EXPECT_THAT(Get("img"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Delete("img"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Delete(""), StatusIs(absl::StatusCode::kInvalidArgument));

  ASSERT_THAT(Create(MakeImage("img2", kIndex, kDigestA)), IsOk());
  EXPECT_THAT(Delete("img2"), IsOk());
  EXPECT_EQ(collections_, 1) << "async delete leaves collection to the background";
  auto events = publisher_.events();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[1].topic, "/images/delete");
  EXPECT_THAT(events[1].debug, HasSubstr("img"));
}

TEST_F(ImagesServiceTest, NamespacesKeepImagesApart) {
  ASSERT_THAT(Create(MakeImage("img", kIndex, kDigestA), "ns-a"), IsOk());
  ASSERT_THAT(Create(MakeImage("img", kManifest, kDigestB), "ns-b"), IsOk());
  EXPECT_EQ(Get("img", "ns-a")->target().digest(), kDigestA);
  EXPECT_EQ(Get("img", "ns-b")->target().digest(), kDigestB);
  EXPECT_THAT(Get("img"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(*List({}, "ns-c"), IsEmpty());
  EXPECT_THAT(List({}, "bad/ns"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace berth::containerd::images
