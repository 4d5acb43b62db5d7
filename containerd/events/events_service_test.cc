// berth.containerd.events.v1.Events served on a unix socket and called through the generated
// stub: Publish with the namespace header, Forward, Subscribe with filters, invalid input,
// many streams, cancellation that frees the reactor and the subscription, and a reader that
// falls behind being ended with RESOURCE_EXHAUSTED.
#include "containerd/events/events_service.h"

#include <memory>
#include <string>
#include <vector>

#include "berth/containerd/events/v1/payloads.pb.h"
#include "common/grpc/status_mapping.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "containerd/metrics/metrics.h"
#include "containerd/server/service_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::events {
namespace {

using ::berth::containerd::server::CallContext;
using ::berth::testing::IsOk;
using ::berth::testing::WaitFor;
using ::testing::HasSubstr;
using ::testing::SizeIs;

class EventsServiceTest : public ::testing::Test {
 protected:
  EventsServiceTest() : metrics_(registry_) {}

  void Start(size_t queue_limit = 1024) {
    auto env = server::ServiceTestEnv::Create();
    ASSERT_THAT(env, IsOk());
    env_ = std::move(*env);
    ExchangeOptions options;
    options.queue_limit = queue_limit;
    options.metrics = &metrics_;
    exchange_ = std::make_unique<Exchange>(options);
    service_ = std::make_unique<EventsService>(exchange_.get());
    ASSERT_THAT(env_->Serve({service_.get()}), IsOk());
    stub_ = v1::Events::NewStub(env_->channel());
  }
  void TearDown() override {
    if (env_ != nullptr) env_->StopServing();
  }

  struct Stream {
    std::unique_ptr<::grpc::ClientContext> ctx;
    std::unique_ptr<::grpc::ClientReader<v1::SubscribeResponse>> reader;
  };
  // Subscribes and waits until the server has registered the subscription (the headers).
  Stream Subscribe(const std::vector<std::string>& filters = {}) {
    Stream s;
    s.ctx = CallContext();
    v1::SubscribeRequest req;
    for (const std::string& f : filters) req.add_filters(f);
    s.reader = stub_->Subscribe(s.ctx.get(), req);
    s.reader->WaitForInitialMetadata();
    return s;
  }
  absl::Status Publish(const std::string& ns, const std::string& topic,
                       const google::protobuf::Message& event) {
    auto ctx = CallContext(ns);
    v1::PublishRequest req;
    req.set_topic(topic);
    req.mutable_event()->PackFrom(event);
    v1::PublishResponse resp;
    return grpc_util::FromGrpcStatus(stub_->Publish(ctx.get(), req, &resp));
  }
  // No subscription and no reactor left behind.
  bool AllStreamsGone() {
    return WaitFor(
        [&] { return service_->live_streams() == 0 && exchange_->subscriber_count() == 0; },
        absl::Seconds(10));
  }

  prometheus::Registry registry_;
  metrics::ContainerdMetrics metrics_;
  std::unique_ptr<server::ServiceTestEnv> env_;
  std::unique_ptr<Exchange> exchange_;
  std::unique_ptr<EventsService> service_;
  std::unique_ptr<v1::Events::Stub> stub_;
};

v1::TaskExit Exit(const std::string& container, uint32_t status) {
  v1::TaskExit e;
  e.set_container_id(container);
  e.set_id(container);
  e.set_exit_status(status);
  return e;
}

TEST_F(EventsServiceTest, SubscriberReceivesPublishedEventsInTheirNamespaces) {
  Start();
  Stream s = Subscribe();
  EXPECT_EQ(exchange_->subscriber_count(), 1u);
  ASSERT_THAT(Publish("k8s.io", "/tasks/exit", Exit("c1", 2)), IsOk());
  ASSERT_THAT(Publish("", "/tasks/oom", v1::TaskOOM()), IsOk());

  v1::SubscribeResponse resp;
  ASSERT_TRUE(s.reader->Read(&resp));
  EXPECT_EQ(resp.envelope().namespace_(), "k8s.io");
  EXPECT_EQ(resp.envelope().topic(), "/tasks/exit");
  EXPECT_TRUE(resp.envelope().has_timestamp());
  v1::TaskExit exit;
  ASSERT_TRUE(resp.envelope().event().UnpackTo(&exit));
  EXPECT_EQ(exit.exit_status(), 2u);
  ASSERT_TRUE(s.reader->Read(&resp));
  EXPECT_EQ(resp.envelope().namespace_(), "default");
  EXPECT_EQ(resp.envelope().topic(), "/tasks/oom");

  s.ctx->TryCancel();
  EXPECT_EQ(s.reader->Finish().error_code(), ::grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(AllStreamsGone());
  EXPECT_EQ(metrics_.events_subscribers.Value(), 0);
}

TEST_F(EventsServiceTest, ForwardKeepsTheEnvelope) {
  Start();
  Stream s = Subscribe();
  v1::ForwardRequest req;
  v1::Envelope* env = req.mutable_envelope();
  env->mutable_timestamp()->set_seconds(1000);
  env->mutable_timestamp()->set_nanos(5);
  env->set_namespace_("shim-ns");
  env->set_topic("/tasks/start");
  v1::TaskStart start;
  start.set_container_id("c9");
  start.set_pid(42);
  env->mutable_event()->PackFrom(start);
  v1::ForwardResponse fresp;
  auto ctx = CallContext("ignored");
  ASSERT_TRUE(stub_->Forward(ctx.get(), req, &fresp).ok());

  v1::SubscribeResponse resp;
  ASSERT_TRUE(s.reader->Read(&resp));
  EXPECT_EQ(resp.envelope().SerializeAsString(), env->SerializeAsString());
  s.ctx->TryCancel();
  s.reader->Finish();
  EXPECT_TRUE(AllStreamsGone());
}

TEST_F(EventsServiceTest, InvalidRequestsAreInvalidArgument) {
  Start();
  EXPECT_THAT(Publish("", "no-slash", v1::TaskOOM()),
              ::berth::testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("topic")));
  EXPECT_THAT(Publish("bad/ns", "/tasks/oom", v1::TaskOOM()),
              ::berth::testing::StatusIs(absl::StatusCode::kInvalidArgument));
  {
    auto ctx = CallContext();
    v1::PublishRequest req;
    req.set_topic("/tasks/oom");  // no event
    v1::PublishResponse resp;
    EXPECT_EQ(stub_->Publish(ctx.get(), req, &resp).error_code(),
              ::grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    auto ctx = CallContext();
    v1::ForwardRequest req;
    v1::ForwardResponse resp;
    EXPECT_EQ(stub_->Forward(ctx.get(), req, &resp).error_code(),
              ::grpc::StatusCode::INVALID_ARGUMENT);
  }
  auto ctx = CallContext();
  v1::SubscribeRequest req;
  req.add_filters("topic~=\"(\"");
  auto reader = stub_->Subscribe(ctx.get(), req);
  v1::SubscribeResponse resp;
  EXPECT_FALSE(reader->Read(&resp));
  ::grpc::Status st = reader->Finish();
  EXPECT_EQ(st.error_code(), ::grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_TRUE(AllStreamsGone());
}

TEST_F(EventsServiceTest, FiltersSelectWhatIsStreamed) {
  Start();
  Stream exits = Subscribe({"topic==\"/tasks/exit\",event.container_id==c2"});
  Stream images = Subscribe({"topic~=\"^/images/\"", "namespace==k8s.io"});
  ASSERT_THAT(Publish("", "/tasks/exit", Exit("c1", 0)), IsOk());
  ASSERT_THAT(Publish("", "/tasks/exit", Exit("c2", 7)), IsOk());
  v1::ImageCreate image;
  image.set_name("alpine");
  ASSERT_THAT(Publish("", "/images/create", image), IsOk());
  ASSERT_THAT(Publish("k8s.io", "/tasks/oom", v1::TaskOOM()), IsOk());

  v1::SubscribeResponse resp;
  ASSERT_TRUE(exits.reader->Read(&resp));
  v1::TaskExit exit;
  ASSERT_TRUE(resp.envelope().event().UnpackTo(&exit));
  EXPECT_EQ(exit.container_id(), "c2");
  ASSERT_TRUE(images.reader->Read(&resp));
  EXPECT_EQ(resp.envelope().topic(), "/images/create");
  ASSERT_TRUE(images.reader->Read(&resp));
  EXPECT_EQ(resp.envelope().topic(), "/tasks/oom");
  // Nothing else was sent to `exits`: the next event it reads is one published now.
  ASSERT_THAT(Publish("", "/tasks/exit", Exit("c2", 8)), IsOk());
  ASSERT_TRUE(exits.reader->Read(&resp));
  ASSERT_TRUE(resp.envelope().event().UnpackTo(&exit));
  EXPECT_EQ(exit.exit_status(), 8u);

  for (Stream* s : {&exits, &images}) {
    s->ctx->TryCancel();
    s->reader->Finish();
  }
  EXPECT_TRUE(AllStreamsGone());
}

TEST_F(EventsServiceTest, ManyStreamsEachReceiveEveryEventInOrder) {
  Start();
  constexpr int kStreams = 16;
  constexpr int kEvents = 200;
  std::vector<Stream> streams;
  for (int i = 0; i < kStreams; ++i) streams.push_back(Subscribe());
  EXPECT_EQ(exchange_->subscriber_count(), static_cast<size_t>(kStreams));
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_THAT(exchange_->Publish("default", "/tasks/exit", Exit("c", i)), IsOk());
  }
  for (Stream& s : streams) {
    v1::SubscribeResponse resp;
    for (int i = 0; i < kEvents; ++i) {
      ASSERT_TRUE(s.reader->Read(&resp)) << i;
      v1::TaskExit exit;
      ASSERT_TRUE(resp.envelope().event().UnpackTo(&exit));
      ASSERT_EQ(exit.exit_status(), static_cast<uint32_t>(i));
    }
  }
  for (Stream& s : streams) {
    s.ctx->TryCancel();
    EXPECT_EQ(s.reader->Finish().error_code(), ::grpc::StatusCode::CANCELLED);
  }
  EXPECT_TRUE(AllStreamsGone());
}

TEST_F(EventsServiceTest, ClientThatStopsReadingIsEndedWithResourceExhausted) {
  Start(/*queue_limit=*/8);
  Stream slow = Subscribe();
  Stream fast = Subscribe({"topic==/marker"});
  // The slow client reads nothing: once the transport's buffers are full its queue fills and
  // it is dropped. Publishing never blocks meanwhile.
  int published = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < 1000; ++i) {
          EXPECT_THAT(exchange_->Publish("default", "/tasks/exit", Exit("c", published++)), IsOk());
        }
        return exchange_->subscriber_count() == 1;
      },
      absl::Seconds(60)));
  EXPECT_EQ(metrics_.events_subscribers_evicted.Value(), 1);
  EXPECT_GT(metrics_.events_dropped.Add({{"topic", "/tasks/exit"}}).Value(), 0);

  // What was already on its way arrives, in order, then the status.
  v1::SubscribeResponse resp;
  uint32_t expected = 0;
  while (slow.reader->Read(&resp)) {
    v1::TaskExit exit;
    ASSERT_TRUE(resp.envelope().event().UnpackTo(&exit));
    ASSERT_EQ(exit.exit_status(), expected++);
  }
  ::grpc::Status st = slow.reader->Finish();
  EXPECT_EQ(st.error_code(), ::grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  EXPECT_THAT(st.error_message(), HasSubstr("resubscribe"));
  EXPECT_LT(expected, static_cast<uint32_t>(published));

  // The other subscriber was not affected.
  v1::TaskOOM marker;
  ASSERT_THAT(exchange_->Publish("default", "/marker", marker), IsOk());
  ASSERT_TRUE(fast.reader->Read(&resp));
  EXPECT_EQ(resp.envelope().topic(), "/marker");
  fast.ctx->TryCancel();
  fast.reader->Finish();
  EXPECT_TRUE(AllStreamsGone());
}

TEST_F(EventsServiceTest, ClientThatVanishesWithoutCancellingIsCleanedUp) {
  Start();
  {
    Stream s = Subscribe();
    ASSERT_THAT(exchange_->Publish("default", "/tasks/exit", Exit("c", 1)), IsOk());
    // Destroying the context and reader without Finish cancels the call.
    s.ctx->TryCancel();
  }
  EXPECT_TRUE(AllStreamsGone());
  ASSERT_THAT(exchange_->Publish("default", "/tasks/exit", Exit("c", 2)), IsOk());
}

}  // namespace
}  // namespace berth::containerd::events
