// Publisher: how berth-containerd's services announce what changed (image created, namespace
// deleted, ...) on the topics of proto/berth/containerd/events/v1/payloads.proto. The services
// publish after their change is committed. Implementations: Exchange (exchange.h, the fan-out
// behind berth.containerd.events.v1.Events.Subscribe), gc::TriggeringPublisher (which passes
// events on to the exchange and asks for garbage collection after deletions), NoopPublisher,
// and FakePublisher for tests.
#pragma once

#include <google/protobuf/message.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace berth::containerd::events {

class Publisher {
 public:
  virtual ~Publisher() = default;

  // Publishes `event` (a payload message of payloads.proto) on `topic` ("/images/create") in
  // namespace `ns`. Called after the change it describes is durable, so a failure here cannot
  // undo it: callers log the error (WARNING) and still report success for the change.
  // Implementations are thread-safe and do not block on subscribers.
  virtual absl::Status Publish(absl::string_view ns, absl::string_view topic,
                               const google::protobuf::Message& event) = 0;
};

// Drops every event. For tests that do not look at events.
class NoopPublisher final : public Publisher {
 public:
  absl::Status Publish(absl::string_view, absl::string_view,
                       const google::protobuf::Message&) override {
    return absl::OkStatus();
  }
};

}  // namespace berth::containerd::events
