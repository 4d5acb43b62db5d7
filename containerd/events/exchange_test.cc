// The event exchange in process: validation, order per subscriber under concurrent publishers,
// filters on topic, namespace and payload fields, many subscribers, eviction of a subscriber
// that falls behind, and unregistering on close.
#include "containerd/events/exchange.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "berth/containerd/events/v1/payloads.pb.h"
#include "common/testing/status_matchers.h"
#include "containerd/metrics/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::events {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

v1::TaskExit Exit(const std::string& container, uint32_t status) {
  v1::TaskExit e;
  e.set_container_id(container);
  e.set_id(container);
  e.set_exit_status(status);
  return e;
}

// A subscriber driven by the test: events handed over while it waits are kept in order before
// those it pulls from the queue.
class Consumer {
 public:
  static std::unique_ptr<Consumer> Start(Exchange& exchange,
                                         const std::vector<std::string>& filters = {}) {
    auto c = std::unique_ptr<Consumer>(new Consumer);
    SubscriptionCallbacks cb;
    cb.on_event = [c = c.get()](std::shared_ptr<const v1::Envelope> e) {
      absl::MutexLock lock(&c->mu_);
      c->received_.push_back(*e);
      ++c->pushed_;
    };
    cb.on_end = [c = c.get()](const absl::Status& s) {
      absl::MutexLock lock(&c->mu_);
      c->ended_ = s;
    };
    auto sub = exchange.Subscribe(filters, std::move(cb));
    if (!sub.ok()) {
      ADD_FAILURE() << sub.status();
      return nullptr;
    }
    c->sub_ = std::move(*sub);
    return c;
  }

  // Everything received so far (pulls the queue, then leaves the subscription waiting).
  std::vector<v1::Envelope> Drain() {
    while (true) {
      absl::StatusOr<std::shared_ptr<const v1::Envelope>> next = sub_->Next();
      if (!next.ok() || *next == nullptr) break;
      absl::MutexLock lock(&mu_);
      received_.push_back(**next);
    }
    absl::MutexLock lock(&mu_);
    return received_;
  }
  std::vector<std::string> Topics() {
    std::vector<std::string> out;
    for (const v1::Envelope& e : Drain()) out.push_back(e.topic());
    return out;
  }
  absl::Status ended() {
    absl::MutexLock lock(&mu_);
    return ended_;
  }
  int pushed() {
    absl::MutexLock lock(&mu_);
    return pushed_;
  }
  Subscription& sub() { return *sub_; }

 private:
  absl::Mutex mu_;
  std::vector<v1::Envelope> received_ ABSL_GUARDED_BY(mu_);
  absl::Status ended_ ABSL_GUARDED_BY(mu_);
  int pushed_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<Subscription> sub_;
};

class ExchangeTest : public ::testing::Test {
 protected:
  ExchangeTest() : metrics_(registry_) {}
  ExchangeOptions Options(size_t queue_limit = 1024) {
    ExchangeOptions o;
    o.queue_limit = queue_limit;
    o.clock = [] { return kNow; };
    o.metrics = &metrics_;
    return o;
  }
  double Published(const std::string& topic) {
    return metrics_.events_published.Add({{"topic", topic}}).Value();
  }
  double Dropped(const std::string& topic) {
    return metrics_.events_dropped.Add({{"topic", topic}}).Value();
  }

  prometheus::Registry registry_;
  metrics::ContainerdMetrics metrics_;
};

TEST(ValidateTopicTest, AcceptsPathsOfSafeElements) {
  for (const char* ok : {"/tasks/exit", "/a", "/x.y/z_1/-"}) {
    EXPECT_THAT(ValidateTopic(ok), IsOk()) << ok;
  }
  for (const char* bad :
       {"", "tasks/exit", "/", "/tasks/", "//x", "/tasks//exit", "/a b", "/tasks/exit?"}) {
    EXPECT_THAT(ValidateTopic(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST_F(ExchangeTest, PublishStampsTimeNamespaceAndPacksThePayload) {
  Exchange exchange(Options());
  auto c = Consumer::Start(exchange);
  ASSERT_NE(c, nullptr);
  ASSERT_THAT(exchange.Publish("default", "/tasks/exit", Exit("c1", 3)), IsOk());
  std::vector<v1::Envelope> got = c->Drain();
  ASSERT_THAT(got, SizeIs(1));
  EXPECT_EQ(got[0].namespace_(), "default");
  EXPECT_EQ(got[0].topic(), "/tasks/exit");
  EXPECT_EQ(got[0].timestamp().seconds(), absl::ToUnixSeconds(kNow));
  EXPECT_EQ(got[0].event().type_url(), "type.googleapis.com/berth.containerd.events.v1.TaskExit");
  v1::TaskExit exit;
  ASSERT_TRUE(got[0].event().UnpackTo(&exit));
  EXPECT_EQ(exit.container_id(), "c1");
  EXPECT_EQ(exit.exit_status(), 3u);
  EXPECT_EQ(Published("/tasks/exit"), 1);
}

TEST_F(ExchangeTest, InvalidEventsAreRejectedAndNotDelivered) {
  Exchange exchange(Options());
  auto c = Consumer::Start(exchange);
  ASSERT_NE(c, nullptr);
  EXPECT_THAT(exchange.Publish("default", "tasks/exit", Exit("c1", 0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("topic")));
  EXPECT_THAT(exchange.Publish("no/slash", "/tasks/exit", Exit("c1", 0)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(exchange.PublishAny("default", "/x", google::protobuf::Any()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("type url")));

  v1::Envelope env;
  env.set_namespace_("k8s.io");
  env.set_topic("/tasks/exit");
  env.mutable_event()->PackFrom(Exit("c1", 0));
  EXPECT_THAT(exchange.Forward(env),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("timestamp")));
  env.mutable_timestamp()->set_seconds(100);
  env.mutable_timestamp()->set_nanos(-1);
  EXPECT_THAT(exchange.Forward(env), StatusIs(absl::StatusCode::kInvalidArgument));
  env.mutable_timestamp()->set_nanos(0);
  env.clear_namespace_();
  EXPECT_THAT(exchange.Forward(env),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("namespace")));
  EXPECT_THAT(c->Drain(), IsEmpty());
}

TEST_F(ExchangeTest, ForwardKeepsTheEnvelope) {
  Exchange exchange(Options());
  auto c = Consumer::Start(exchange);
  ASSERT_NE(c, nullptr);
  v1::Envelope env;
  env.mutable_timestamp()->set_seconds(12345);
  env.mutable_timestamp()->set_nanos(678);
  env.set_namespace_("k8s.io");
  env.set_topic("/tasks/exit");
  env.mutable_event()->PackFrom(Exit("c1", 137));
  ASSERT_THAT(exchange.Forward(env), IsOk());
  std::vector<v1::Envelope> got = c->Drain();
  ASSERT_THAT(got, SizeIs(1));
  EXPECT_EQ(got[0].SerializeAsString(), env.SerializeAsString());
}

TEST_F(ExchangeTest, OnlyEventsPublishedAfterSubscribingAreDelivered) {
  Exchange exchange(Options());
  ASSERT_THAT(exchange.Publish("default", "/images/create", v1::ImageCreate()), IsOk());
  auto c = Consumer::Start(exchange);
  ASSERT_NE(c, nullptr);
  ASSERT_THAT(exchange.Publish("default", "/images/delete", v1::ImageDelete()), IsOk());
  EXPECT_THAT(c->Topics(), ElementsAre("/images/delete"));
}

TEST_F(ExchangeTest, WaitingSubscriberIsHandedTheNextEventThenQueues) {
  Exchange exchange(Options());
  auto c = Consumer::Start(exchange);
  ASSERT_NE(c, nullptr);
  // Not waiting yet: events queue.
  ASSERT_THAT(exchange.Publish("default", "/a", v1::ImageCreate()), IsOk());
  EXPECT_EQ(c->sub().queued(), 1u);
  EXPECT_THAT(c->Topics(), ElementsAre("/a"));  // Drain leaves it waiting
  ASSERT_THAT(exchange.Publish("default", "/b", v1::ImageCreate()), IsOk());
  EXPECT_EQ(c->pushed(), 1);
  EXPECT_EQ(c->sub().queued(), 0u);
  ASSERT_THAT(exchange.Publish("default", "/c", v1::ImageCreate()), IsOk());
  EXPECT_EQ(c->pushed(), 1);  // handed over once, then queued
  EXPECT_EQ(c->sub().queued(), 1u);
  EXPECT_THAT(c->Topics(), ElementsAre("/a", "/b", "/c"));
}

TEST_F(ExchangeTest, EverySubscriberSeesOneOrderUnderConcurrentPublishers) {
  Exchange exchange(Options(/*queue_limit=*/100000));
  std::vector<std::unique_ptr<Consumer>> consumers;
  for (int i = 0; i < 3; ++i) consumers.push_back(Consumer::Start(exchange));
  constexpr int kThreads = 4;
  constexpr int kEach = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        v1::TaskExit e = Exit("t" + std::to_string(t), static_cast<uint32_t>(i));
        ASSERT_THAT(exchange.Publish("default", "/tasks/exit", e), IsOk());
      }
    });
  }
  // One consumer drains while the publishers run, so handover and queueing interleave.
  std::atomic<bool> done{false};
  std::thread drainer([&] {
    while (!done) consumers[0]->Drain();
  });
  for (auto& t : threads) t.join();
  done = true;
  drainer.join();

  std::vector<std::string> first_order;
  for (auto& c : consumers) {
    std::vector<v1::Envelope> got = c->Drain();
    ASSERT_THAT(got, SizeIs(kThreads * kEach));
    std::vector<int> last(kThreads, -1);
    std::vector<std::string> order;
    for (const v1::Envelope& env : got) {
      v1::TaskExit e;
      ASSERT_TRUE(env.event().UnpackTo(&e));
      const int t = e.container_id()[1] - '0';
      EXPECT_EQ(static_cast<int>(e.exit_status()), last[t] + 1) << "thread " << t;
      last[t] = static_cast<int>(e.exit_status());
      order.push_back(e.ShortDebugString());
    }
    if (first_order.empty()) {
      first_order = order;
    } else {
      EXPECT_TRUE(order == first_order) << "subscribers saw different orders";
    }
  }
  EXPECT_EQ(Published("/tasks/exit"), kThreads * kEach);
}

TEST_F(ExchangeTest, FiltersOnTopicNamespaceAndPayloadFields) {
  Exchange exchange(Options());
  auto exits = Consumer::Start(exchange, {"topic==\"/tasks/exit\""});
  auto tasks = Consumer::Start(exchange, {"topic~=\"^/tasks/\""});
  auto k8s = Consumer::Start(exchange, {"namespace==k8s.io"});
  auto c1_exit = Consumer::Start(exchange, {"topic==\"/tasks/exit\",event.container_id==c1"});
  auto failed = Consumer::Start(exchange, {"event.exit_status!=0"});
  auto either = Consumer::Start(exchange, {"event.name==alpine", "event.container_id==c2"});
  auto labelled = Consumer::Start(exchange, {"event.labels.\"berth.io/x\"==1"});
  auto runtime = Consumer::Start(exchange, {"event.runtime.name==berth-runc"});
  auto has_id = Consumer::Start(exchange, {"event.id"});
  auto unknown = Consumer::Start(exchange, {"event.no_such_field"});

  ASSERT_THAT(exchange.Publish("default", "/tasks/exit", Exit("c1", 0)), IsOk());
  ASSERT_THAT(exchange.Publish("k8s.io", "/tasks/exit", Exit("c2", 1)), IsOk());
  ASSERT_THAT(exchange.Publish("default", "/tasks/oom", v1::TaskOOM()), IsOk());
  v1::ImageCreate image;
  image.set_name("alpine");
  (*image.mutable_labels())["berth.io/x"] = "1";
  ASSERT_THAT(exchange.Publish("default", "/images/create", image), IsOk());
  v1::ContainerCreate container;
  container.set_id("c3");
  container.mutable_runtime()->set_name("berth-runc");
  ASSERT_THAT(exchange.Publish("default", "/containers/create", container), IsOk());
  // Through an Any (Forward): the payload is unpacked for the `event` fields.
  v1::Envelope env;
  env.mutable_timestamp()->set_seconds(1);
  env.set_namespace_("k8s.io");
  env.set_topic("/tasks/exit");
  env.mutable_event()->PackFrom(Exit("c1", 9));
  ASSERT_THAT(exchange.Forward(env), IsOk());

  EXPECT_THAT(exits->Topics(), ElementsAre("/tasks/exit", "/tasks/exit", "/tasks/exit"));
  EXPECT_THAT(tasks->Topics(),
              ElementsAre("/tasks/exit", "/tasks/exit", "/tasks/oom", "/tasks/exit"));
  EXPECT_THAT(k8s->Topics(), ElementsAre("/tasks/exit", "/tasks/exit"));
  std::vector<v1::Envelope> got = c1_exit->Drain();
  ASSERT_THAT(got, SizeIs(2));
  EXPECT_EQ(got[0].namespace_(), "default");
  EXPECT_EQ(got[1].namespace_(), "k8s.io");
  got = failed->Drain();
  ASSERT_THAT(got, SizeIs(2));  // exit 1 and 9; TaskOOM has no exit_status: no match
  EXPECT_THAT(either->Topics(), ElementsAre("/tasks/exit", "/images/create"));
  EXPECT_THAT(labelled->Topics(), ElementsAre("/images/create"));
  EXPECT_THAT(runtime->Topics(), ElementsAre("/containers/create"));
  EXPECT_THAT(has_id->Topics(),
              ElementsAre("/tasks/exit", "/tasks/exit", "/containers/create", "/tasks/exit"));
  EXPECT_THAT(unknown->Topics(), IsEmpty());
}

TEST_F(ExchangeTest, PayloadsOfUnknownTypesHaveNoEventFields) {
  Exchange exchange(Options());
  auto by_field = Consumer::Start(exchange, {"event.container_id==c1"});
  auto by_topic = Consumer::Start(exchange, {"topic==/custom/thing"});
  google::protobuf::Any any;
  any.set_type_url("type.googleapis.com/example.Unknown");
  any.set_value(
      "\x0a\x02"
      "c1");
  ASSERT_THAT(exchange.PublishAny("default", "/custom/thing", any), IsOk());
  EXPECT_THAT(by_field->Topics(), IsEmpty());
  EXPECT_THAT(by_topic->Topics(), ElementsAre("/custom/thing"));
  EXPECT_EQ(Published("other"), 1);
}

TEST_F(ExchangeTest, InvalidFiltersAreInvalidArgument) {
  Exchange exchange(Options());
  for (const char* bad : {"topic==", "topic~=\"(\"", "topic==\"unterminated", "a,"}) {
    EXPECT_THAT(exchange.Subscribe({bad}, {}), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
  EXPECT_EQ(exchange.subscriber_count(), 0u);
}

TEST_F(ExchangeTest, ManySubscribersEachGetEveryEvent) {
  Exchange exchange(Options());
  std::vector<std::unique_ptr<Consumer>> consumers;
  for (int i = 0; i < 200; ++i) consumers.push_back(Consumer::Start(exchange));
  EXPECT_EQ(exchange.subscriber_count(), 200u);
  EXPECT_EQ(metrics_.events_subscribers.Value(), 200);
  for (int i = 0; i < 20; ++i) {
    ASSERT_THAT(exchange.Publish("default", "/tasks/exit", Exit("c", i)), IsOk());
  }
  for (auto& c : consumers) EXPECT_THAT(c->Drain(), SizeIs(20));
  consumers.clear();
  EXPECT_EQ(exchange.subscriber_count(), 0u);
  EXPECT_EQ(metrics_.events_subscribers.Value(), 0);
}

TEST_F(ExchangeTest, SubscriberThatFallsBehindIsEvictedWithoutBlockingOthers) {
  Exchange exchange(Options(/*queue_limit=*/3));
  auto slow = Consumer::Start(exchange);
  auto fast = Consumer::Start(exchange);
  ASSERT_NE(slow, nullptr);
  ASSERT_NE(fast, nullptr);
  std::vector<std::string> fast_topics;
  for (int i = 0; i < 10; ++i) {
    const std::string topic = i == 3 ? "/tasks/oom" : "/tasks/exit";
    ASSERT_THAT(exchange.Publish("default", topic, Exit("c", i)), IsOk());
    for (const std::string& t : fast->Topics()) fast_topics.push_back(t);
  }
  // The fourth event found slow's queue full: slow is gone, its three queued events and the
  // fourth one are counted as dropped, and fast got all ten.
  EXPECT_THAT(slow->ended(), StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("behind")));
  EXPECT_THAT(slow->sub().Next(), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(slow->sub().queued(), 0u);
  EXPECT_EQ(exchange.subscriber_count(), 1u);
  EXPECT_EQ(Dropped("/tasks/exit"), 3);
  EXPECT_EQ(Dropped("/tasks/oom"), 1);
  EXPECT_EQ(metrics_.events_subscribers_evicted.Value(), 1);
  EXPECT_EQ(metrics_.events_subscribers.Value(), 1);
  EXPECT_THAT(fast->Drain(), SizeIs(10));
  // Closing an evicted subscription does not count it twice.
  slow->sub().Close();
  EXPECT_EQ(metrics_.events_subscribers.Value(), 1);
}

TEST_F(ExchangeTest, ClosedSubscriptionGetsNothingMore) {
  Exchange exchange(Options());
  auto c = Consumer::Start(exchange);
  ASSERT_NE(c, nullptr);
  EXPECT_THAT(c->Drain(), IsEmpty());  // waiting
  c->sub().Close();
  c->sub().Close();  // idempotent
  EXPECT_EQ(exchange.subscriber_count(), 0u);
  ASSERT_THAT(exchange.Publish("default", "/tasks/exit", Exit("c", 0)), IsOk());
  EXPECT_EQ(c->pushed(), 0);
  EXPECT_THAT(c->sub().Next(), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(c->ended(), IsOk());  // on_end is for eviction only
}

TEST_F(ExchangeTest, CloseRacingPublishersNeverCallsBackAfterwards) {
  Exchange exchange(Options());
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    while (!stop) ASSERT_THAT(exchange.Publish("default", "/tasks/exit", Exit("c", 0)), IsOk());
  });
  for (int i = 0; i < 200; ++i) {
    std::atomic<int> after_close{0};
    std::atomic<bool> closed{false};
    SubscriptionCallbacks cb;
    cb.on_event = [&](std::shared_ptr<const v1::Envelope>) {
      if (closed) ++after_close;
    };
    auto sub = exchange.Subscribe({}, cb);
    ASSERT_THAT(sub, IsOk());
    ASSERT_THAT((*sub)->Next(), IsOk());  // arm
    (*sub)->Close();
    closed = true;
    sub->reset();
    EXPECT_EQ(after_close, 0);
  }
  stop = true;
  publisher.join();
  EXPECT_EQ(exchange.subscriber_count(), 0u);
}

}  // namespace
}  // namespace berth::containerd::events
