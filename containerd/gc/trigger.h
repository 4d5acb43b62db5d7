// Trigger: how the rest of berth-containerd asks for a garbage collection after a change that
// may have made something unreachable (an image, container, blob or snapshot deleted, a
// reference dropped). Asking is cheap and never blocks; the Scheduler (scheduler.h) batches
// requests. TriggeringPublisher (triggering_publisher.h) asks on behalf of the services that
// announce such changes as events, so they need no GC code of their own.
#pragma once

namespace berth::containerd::gc {

class Trigger {
 public:
  virtual ~Trigger() = default;
  // Requests a collection soon. Thread-safe, non-blocking.
  virtual void RequestCollection() = 0;
};

}  // namespace berth::containerd::gc
