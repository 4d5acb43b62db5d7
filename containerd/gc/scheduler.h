// Scheduler: when berth-containerd collects garbage. A background thread runs the Collector
//  - after RequestCollection (the Trigger interface), `delay` later, so a burst of deletions
//    (an image and its containers) costs one collection;
//  - at most once per `min_interval`, and spaced so collections take at most
//    `max_pause_fraction` of wall time (each collection holds the metadata store's write lock
//    while it marks and sweeps, so other writers wait meanwhile): after one that took d, the
//    next starts no sooner than d * (1 / max_pause_fraction - 1) after it ended;
//  - every `period` even when nobody asked (leases expire, and deleting a lease publishes no
//    event), and once at start (files a crash left behind).
// A request that arrives while a collection runs gets a collection after it: the running one
// may have marked before the change.
// CollectNow is the synchronous path (Images.Delete and Leases.Delete with sync=true): it runs a
// collection that starts after the call, on the caller's thread, ignoring the spacing rules,
// and returns its result. Collections never overlap.
//
// Thread-safe. The destructor stops the thread (waiting for a running collection).
#pragma once

#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "containerd/gc/collector.h"
#include "containerd/gc/trigger.h"

namespace berth::containerd::gc {

struct SchedulerOptions {
  absl::Duration delay = absl::Milliseconds(100);
  absl::Duration min_interval = absl::Seconds(1);
  // In (0, 1].
  double max_pause_fraction = 0.02;
  // absl::InfiniteDuration() for no periodic collection.
  absl::Duration period = absl::Minutes(10);
  bool collect_at_start = true;
};

class Scheduler final : public Trigger {
 public:
  // Starts the background thread. `collector` is not owned and must outlive this object.
  Scheduler(Collector* collector, SchedulerOptions options);
  ~Scheduler() override;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void RequestCollection() override;

  // Runs a collection now and returns its error, if any (see the header comment).
  absl::Status CollectNow();

  // Stops the background thread after the collection it runs, if any. Idempotent. CollectNow
  // still works afterwards.
  void Stop();

  // For tests and diagnostics.
  struct State {
    int64_t runs = 0;        // collections finished, background and sync
    int64_t failures = 0;    // of which failed
    bool requested = false;  // a request waits for its collection
    absl::Time last_end = absl::InfinitePast();
    absl::Duration last_duration;
    absl::Time next_due;  // when the background thread will collect next
  };
  State state() const;

 private:
  void Loop();
  absl::Time NextDueLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RunCollection();

  Collector* const collector_;
  const SchedulerOptions options_;
  const absl::Time started_;

  // Held for a whole collection, so they never overlap. Taken before mu_.
  absl::Mutex collect_mu_;

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool requested_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time requested_at_ ABSL_GUARDED_BY(mu_);
  int64_t runs_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_end_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Duration last_duration_ ABSL_GUARDED_BY(mu_);

  std::thread thread_;
};

}  // namespace berth::containerd::gc
