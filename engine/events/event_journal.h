// EventJournal: berthd's record of engine events (container create/start/die/..., image
// tag/delete/import/...), what System.Events and `berth events` read (like dockerd's
// daemon/events package).
//
// Retention. dockerd keeps the last 256 events in memory only, so `docker events --since 1h`
// forgets everything across a restart. berthd keeps:
//   - the last `ring_capacity` (1024) events in memory, for replays of the recent past;
//   - every event in `<root>/events.log`, one JSON object per line, rotated to `events.log.1`
//     when it reaches `max_file_bytes` (1 MiB, a few thousand events), so the disk holds the
//     last 1-2 MiB of events (usually hours to days of history) and older ones fall away.
// On Open the ring is refilled from the files, so `--since` works across a berthd restart. Disk
// writes are plain appends without fsync: the journal is history, not state, and a write error
// is logged and does not fail the operation that published the event.
//
// Subscribing without losing events. Each event gets a sequence number under the journal's lock.
// Subscribe registers the subscriber and copies the matching ring events in one critical
// section; live events published from then on queue on the subscriber (bounded by
// `max_pending`) while the past is replayed with no lock held, then the queue is drained and
// the subscriber goes live in another critical section in which the queue is empty. So every
// event is delivered exactly once and in sequence order, and a slow replay (a client reading
// slowly) never blocks publishers.
//
// Thread-safe. The journal must outlive its subscriptions.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/events/event.h"
#include "engine/events/event_filter.h"

namespace berth::engine::events {

struct JournalOptions {
  // The journal file ("<root>/events.log"); empty keeps events in memory only.
  std::string path;
  // Events kept in memory.
  size_t ring_capacity = 1024;
  // Size at which the journal file is rotated to "<path>.1" (replacing the older one).
  size_t max_file_bytes = 1 << 20;
  // Live events a subscriber may have queued while its replay runs; past that it is ended
  // with ResourceExhausted (it could not keep up).
  size_t max_pending = 4096;
  // Time stamped on published events (injectable for tests).
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

struct SubscribeOptions {
  // Replay stored events at or after this time; unset: live events only.
  std::optional<absl::Time> since;
  // Deliver no event stamped after this time; unset: until cancelled.
  std::optional<absl::Time> until;
  EventFilter filter;
};

struct EventHandlers {
  // Past events and those published during the replay, on Subscribe's thread with no journal
  // lock held: it may block (flow control). Returning false ends the subscription.
  std::function<bool(const Event&)> replay;
  // Live events, on the publisher's thread with the journal's lock held: it must not block
  // or call into the journal. Returning false ends the subscription.
  std::function<bool(const Event&)> live;
  // The journal ended the subscription by itself: OK once `until` has passed (at the end of
  // the replay, or when a later event is published), ResourceExhausted when the subscriber fell
  // more than max_pending events behind during its replay, Unavailable when the journal is
  // destroyed. At most once, on any thread, possibly under the journal's lock (same rules as
  // `live`). Not called when a handler returned false or the subscription was cancelled.
  std::function<void(const absl::Status&)> end;
};

class EventJournal {
 public:
  // A registered subscriber; destroying it (or Cancel) unsubscribes. Never call Cancel from
  // inside a handler.
  class Subscription {
   public:
    ~Subscription() { Cancel(); }
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    // Stops deliveries: once it returns, no handler runs for this subscription. Idempotent.
    void Cancel();

   private:
    friend class EventJournal;
    Subscription(EventJournal* journal, uint64_t id) : journal_(journal), id_(id) {}
    EventJournal* journal_;
    uint64_t id_;
  };

  // Loads the journal file(s) at options.path (creating the file if absent). Lines that do
  // not parse are skipped with a warning; errors opening the file are returned (the caller
  // decides whether to run with memory only).
  static absl::StatusOr<std::unique_ptr<EventJournal>> Open(JournalOptions options);
  // Ends remaining subscriptions with Unavailable.
  ~EventJournal();

  // Records an event stamped with the clock's time and delivers it to live subscribers.
  void Publish(v1::EventType type, std::string action, std::string actor_id,
               std::map<std::string, std::string> attributes);

  // Replays the stored events matching `options` (since..until, filter) through
  // handlers.replay, then delivers live ones through handlers.live. Returns after the replay,
  // with the subscription live, or already ended (by `until`, a handler's false, or overflow).
  // InvalidArgument when since > until.
  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(const SubscribeOptions& options,
                                                          EventHandlers handlers);

  // The events in memory, oldest first (diagnostics and tests).
  std::vector<Event> Recent() const;
  // Number of live (registered) subscriptions.
  size_t Subscribers() const;

 private:
  struct Subscriber {
    uint64_t id = 0;
    SubscribeOptions options;
    EventHandlers handlers;
    bool live = false;
    bool overflowed = false;
    // An event after `until` was published during the replay.
    bool until_passed = false;
    std::deque<Event> pending;
  };

  explicit EventJournal(JournalOptions options) : options_(std::move(options)) {}

  absl::Status Load();
  // Appends one event to the file, rotating it first when full.
  void PersistLocked(const Event& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Events on disk with seq < `before_seq` that match `options`, oldest first.
  std::vector<Event> ReadDisk(const SubscribeOptions& options, uint64_t before_seq);
  void Unsubscribe(uint64_t id);

  const JournalOptions options_;
  mutable absl::Mutex mu_;
  std::deque<Event> ring_ ABSL_GUARDED_BY(mu_);
  // Whether older events than the ring's exist (evicted, or on disk beyond the ring at Open).
  bool evicted_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_sub_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, std::shared_ptr<Subscriber>> subs_ ABSL_GUARDED_BY(mu_);

  // The file: appended under mu_ then file_mu_; read (replays) under file_mu_ alone, so a
  // rotation cannot happen in the middle of a read.
  absl::Mutex file_mu_ ABSL_ACQUIRED_AFTER(mu_);
  int fd_ ABSL_GUARDED_BY(file_mu_) = -1;
  size_t file_bytes_ ABSL_GUARDED_BY(file_mu_) = 0;
  bool write_failed_ ABSL_GUARDED_BY(file_mu_) = false;
};

}  // namespace berth::engine::events
