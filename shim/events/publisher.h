// Publisher is how the shim's task code reports task events ("/tasks/exit", ...; payloads in
// berth.containerd.events.v1). Forwarder (forwarder.h) delivers them to berth-containerd;
// tests use RecordingPublisher-style fakes.
#pragma once

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace berth::shim::events {

class Publisher {
 public:
  virtual ~Publisher() = default;
  // Queues `event` under `topic`, stamped with the current time. Never blocks and never fails
  // (delivery problems are the implementation's to handle). Thread-safe.
  virtual void Publish(absl::string_view topic, const google::protobuf::Message& event) = 0;
};

}  // namespace berth::shim::events
