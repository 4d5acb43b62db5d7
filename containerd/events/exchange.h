// Exchange: berth-containerd's event fan-out, the engine behind berth.containerd.events.v1.Events
// (proto/berth/containerd/events/v1/events.proto has the contract). Services publish through
// the Publisher interface; the Events service adds Publish/Forward from clients and shims, and
// each Subscribe stream is one Subscription here.
//
// Order: Publish, PublishAny and Forward take one lock for the whole fan-out, so every
// subscriber sees events in one order, the order the exchange accepted them.
//
// Slow subscribers: each Subscription has a bounded queue (ExchangeOptions::queue_limit,
// 1024 as events.proto promises). Publishing never waits for a subscriber: an event that
// would make a queue longer than the limit instead ends that subscription with
// ResourceExhausted ("evicted"); its queued events are discarded and counted in
// berth_containerd_events_dropped_total, and its on_end callback tells the consumer (the
// Subscribe stream then finishes with RESOURCE_EXHAUSTED, and the client resubscribes and
// resyncs, as the proto says). Dropping the subscriber rather than single events means a
// consumer never silently misses an event in the middle of its stream.
//
// Filters: the language of containerd/filters (filter.h). Fields: `topic`, `namespace`, and
// `event.<field>[.<field>...]` for the payload's fields, looked up by protobuf reflection on the
// payload unpacked from its Any (types the binary does not know have no `event` fields):
// scalars as text (integers in decimal, bools "true"/"false", enums by name), nested messages
// by path (`event.runtime.name`), map<string, string> by key (`event.labels.<key>`, as
// filters::LookupMap); repeated fields are not matchable.
//
// Thread-safe. Subscriptions must be closed (or destroyed) before the Exchange is destroyed.
#pragma once

#include <google/protobuf/any.pb.h>
#include <google/protobuf/message.h>

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "berth/containerd/events/v1/events.pb.h"
#include "containerd/events/publisher.h"
#include "containerd/filters/filter.h"
#include "containerd/metrics/metrics.h"

namespace berth::containerd::events {

class Exchange;

// InvalidArgument unless `topic` is `/<element>[/<element>...]` with elements of
// [A-Za-z0-9_.-] (events.proto, Publish).
absl::Status ValidateTopic(absl::string_view topic);

// The value of filter field `path` for an event (see the header comment); `payload` is the
// unpacked event when the caller has it, else it is unpacked from envelope.event() on demand.
std::optional<std::string> LookupEventField(const v1::Envelope& envelope,
                                            const google::protobuf::Message* payload,
                                            absl::Span<const std::string> path);

// What a subscriber is told. Both callbacks run with the exchange's and the subscription's
// locks held: they must not block and must not call back into the Exchange or the Subscription
// (starting an asynchronous gRPC write is fine).
struct SubscriptionCallbacks {
  // Receives the next event when the consumer is waiting for one (Next() found the queue empty).
  // Called at most once per such Next(); later events queue until the next Next().
  std::function<void(std::shared_ptr<const v1::Envelope>)> on_event;
  // The subscription was evicted (ResourceExhausted). No callback follows.
  std::function<void(const absl::Status&)> on_end;
};

// One subscriber's view of the exchange: the events matching its filter, in order.
class Subscription {
 public:
  ~Subscription();  // Close()s.
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // The next queued event. When none is queued it returns nullptr and arms on_event: the next
  // matching event is handed to on_event instead of being queued. Errors: ResourceExhausted
  // once evicted, Cancelled once closed (nothing more will come either way).
  absl::StatusOr<std::shared_ptr<const v1::Envelope>> Next();

  // Unregisters from the exchange and discards the queue. When it returns, no callback is
  // running or will run. Idempotent. Must not be called from a callback.
  void Close();

  // Events queued and not yet taken (for tests).
  size_t queued() const;

 private:
  friend class Exchange;
  Subscription(Exchange* exchange, filters::Filter filter, SubscriptionCallbacks callbacks)
      : exchange_(exchange), filter_(std::move(filter)), callbacks_(std::move(callbacks)) {}

  // Called by the exchange with its lock held. Returns false when this event evicted the
  // subscription (the exchange then unregisters it).
  bool Offer(std::shared_ptr<const v1::Envelope> event, size_t limit,
             metrics::ContainerdMetrics* metrics);

  Exchange* const exchange_;
  const filters::Filter filter_;
  const SubscriptionCallbacks callbacks_;

  mutable absl::Mutex mu_;
  std::deque<std::shared_ptr<const v1::Envelope>> queue_ ABSL_GUARDED_BY(mu_);
  bool armed_ ABSL_GUARDED_BY(mu_) = false;
  // OK while subscribed; ResourceExhausted or Cancelled once ended.
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

struct ExchangeOptions {
  // Events a subscriber may have queued before it is evicted (events.proto: 1024).
  size_t queue_limit = 1024;
  // The time Publish stamps on envelopes. Tests inject their own.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Not owned; null records nothing.
  metrics::ContainerdMetrics* metrics = nullptr;
};

class Exchange final : public Publisher {
 public:
  explicit Exchange(ExchangeOptions options = {});
  ~Exchange() override;
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // Publisher: packs `event` into an Any, stamps the current time. InvalidArgument for an
  // invalid topic or namespace name.
  absl::Status Publish(absl::string_view ns, absl::string_view topic,
                       const google::protobuf::Message& event) override;

  // Events.Publish: as Publish for an already packed payload. InvalidArgument as Publish, and
  // for an empty type URL.
  absl::Status PublishAny(absl::string_view ns, absl::string_view topic,
                          const google::protobuf::Any& event);

  // Events.Forward: fans out `envelope` unchanged (its timestamp and namespace kept).
  // InvalidArgument as PublishAny, and for an unset or invalid timestamp or an empty namespace.
  absl::Status Forward(const v1::Envelope& envelope);

  // Registers a subscriber for the events matching `filters` (parsed as events.proto says).
  // InvalidArgument for a filter that does not parse. Events published after this returns are
  // delivered; earlier ones never are.
  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(absl::Span<const std::string> filters,
                                                          SubscriptionCallbacks callbacks);

  // Subscriptions currently registered.
  size_t subscriber_count() const;

 private:
  friend class Subscription;
  // Validated envelope in; `payload` is the unpacked event when known.
  void Deliver(std::shared_ptr<const v1::Envelope> envelope,
               const google::protobuf::Message* payload);
  void Unregister(Subscription* subscription);

  const ExchangeOptions options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_set<Subscription*> subscriptions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::containerd::events
