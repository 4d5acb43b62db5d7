// A Publisher for tests that records every event, so a test can check what a service announced.
#pragma once

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "containerd/events/publisher.h"

namespace berth::containerd::events {

class FakePublisher final : public Publisher {
 public:
  struct Event {
    std::string ns;
    std::string topic;
    std::string
        type;  // the payload's full message name, e.g. berth.containerd.events.v1.ImageCreate
    std::string debug;  // the payload's ShortDebugString
  };

  absl::Status Publish(absl::string_view ns, absl::string_view topic,
                       const google::protobuf::Message& event) override {
    absl::MutexLock lock(&mu_);
    events_.push_back(
        {std::string(ns), std::string(topic), event.GetTypeName(), event.ShortDebugString()});
    return absl::OkStatus();
  }

  std::vector<Event> events() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<Event> events_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::containerd::events
