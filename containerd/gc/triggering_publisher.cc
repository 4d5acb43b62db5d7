#include "containerd/gc/triggering_publisher.h"

namespace berth::containerd::gc {

bool TriggeringPublisher::MayLeaveGarbage(absl::string_view topic) {
  for (absl::string_view t : {"/images/delete", "/images/update", "/containers/delete",
                              "/containers/update", "/content/delete", "/snapshot/remove"}) {
    if (topic == t) return true;
  }
  return false;
}

absl::Status TriggeringPublisher::Publish(absl::string_view ns, absl::string_view topic,
                                          const google::protobuf::Message& event) {
  absl::Status s = next_->Publish(ns, topic, event);
  if (MayLeaveGarbage(topic)) trigger_->RequestCollection();
  return s;
}

}  // namespace berth::containerd::gc
