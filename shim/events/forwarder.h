// Forwarder delivers the shim's task events to berth.containerd.events.v1.Events.Forward on
// berth-containerd's --address, as proto/berth/shim/task/v1/task.proto requires: each event in
// an Envelope with the shim's namespace and the time of the event, in order, at least once.
// While berth-containerd is unreachable it keeps up to max_pending events in memory and retries
// with exponential backoff; beyond that it drops the oldest with a warning (berth-containerd
// recovers state through State and Wait after reconnecting). One thread sends; Publish never
// blocks.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "berth/containerd/events/v1/events.grpc.pb.h"
#include "shim/events/publisher.h"

namespace berth::shim::events {

struct ForwarderOptions {
  // berth-containerd's gRPC address, "unix:///path".
  std::string address;
  // The envelope's namespace (the shim's --namespace).
  std::string ns;
  size_t max_pending = 1024;
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // Deadline of one Forward call.
  absl::Duration call_timeout = absl::Seconds(5);
  // Event timestamps; absl::Now when empty.
  std::function<absl::Time()> clock;
};

class Forwarder final : public Publisher {
 public:
  // InvalidArgument for an empty namespace or an address that is not a unix address. The
  // channel connects lazily, so berth-containerd need not be up yet.
  static absl::StatusOr<std::unique_ptr<Forwarder>> Create(ForwarderOptions options);
  // Stop(0).
  ~Forwarder() override;

  void Publish(absl::string_view topic, const google::protobuf::Message& event) override;

  // Tries to deliver what is pending for up to `flush_timeout`, then stops the thread; events
  // published afterwards are dropped. Idempotent. Thread-safe.
  void Stop(absl::Duration flush_timeout);

  // Counters for tests and logs. Thread-safe.
  uint64_t delivered() const;
  uint64_t dropped() const;
  size_t pending() const;

 private:
  Forwarder(ForwarderOptions options,
            std::unique_ptr<::berth::containerd::events::v1::Events::Stub> stub);
  void Run();

  const ForwarderOptions options_;
  std::unique_ptr<::berth::containerd::events::v1::Events::Stub> stub_;
  mutable absl::Mutex mu_;
  std::deque<::berth::containerd::events::v1::Envelope> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t delivered_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  // Bumped whenever the front of pending_ is dropped, so the sender does not pop a newer event
  // after delivering one that was dropped meanwhile.
  uint64_t front_generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time flush_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  std::thread thread_;
};

}  // namespace berth::shim::events
