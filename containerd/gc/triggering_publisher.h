// TriggeringPublisher: the Publisher berth-containerd's services are given. It passes every
// event on to the event exchange unchanged and, after an event whose change can leave garbage
// behind, requests a collection. Those topics (payloads.proto): /images/delete and
// /images/update (a target or gc.ref label dropped), /containers/delete and /containers/update
// (a snapshot key or label dropped), /content/delete (a blob's gc.ref labels go with it),
// /snapshot/remove (its parent may now be unreachable).
//
// Lease deletion publishes no event: it is covered by the Scheduler's periodic run, and by
// Leases.Delete with sync=true. The collector itself publishes /content/delete and
// /snapshot/remove straight to the exchange, not through this class, so a collection never
// triggers the next one.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "containerd/events/publisher.h"
#include "containerd/gc/trigger.h"

namespace berth::containerd::gc {

class TriggeringPublisher final : public events::Publisher {
 public:
  // Neither is owned; both must outlive this object.
  TriggeringPublisher(events::Publisher* next, Trigger* trigger) : next_(next), trigger_(trigger) {}

  // next->Publish, then a collection request for the topics above (even if publishing failed:
  // the change itself is committed).
  absl::Status Publish(absl::string_view ns, absl::string_view topic,
                       const google::protobuf::Message& event) override;

  // Whether an event on `topic` requests a collection.
  static bool MayLeaveGarbage(absl::string_view topic);

 private:
  events::Publisher* const next_;
  Trigger* const trigger_;
};

}  // namespace berth::containerd::gc
