// Publisher: how berth-containerd's services announce what changed (image created, namespace
// deleted, ...) on the topics of proto/berth/containerd/events/v1/payloads.proto. The services
// publish after their change is committed; the Events service (TODO(#4): the exchange behind
// berth.containerd.events.v1.Events.Subscribe) will implement this interface. Until then
// berth-containerd wires NoopPublisher.
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

// Drops every event. For the daemon until the Events service exists, and for tests that do not
// look at events.
class NoopPublisher final : public Publisher {
 public:
  absl::Status Publish(absl::string_view, absl::string_view,
                       const google::protobuf::Message&) override {
    return absl::OkStatus();
  }
};

}  // namespace berth::containerd::events
