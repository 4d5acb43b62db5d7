// ProgressQueue: hands progress lines from transfer workers to the operation's thread, which
// alone calls the client's sink (images::Distribution's contract), and throttles byte-count
// updates so a fast transfer does not flood the stream (at most one "Downloading"/"Pushing"
// line per layer every `min_interval`; phase changes always go through).
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "berth/engine/v1/types.pb.h"

namespace berth::engine::distribution {

namespace v1 = ::berth::engine::v1;

class ProgressQueue {
 public:
  explicit ProgressQueue(absl::Duration min_interval = absl::Milliseconds(100),
                         std::function<absl::Time()> clock = [] { return absl::Now(); })
      : min_interval_(min_interval), clock_(std::move(clock)) {}

  // Queues a line. Thread-safe.
  void Post(v1::TransferProgress p);
  // A line for layer `id` in `phase` with a status text and byte counts.
  void Post(const std::string& id, v1::TransferPhase phase, const std::string& status,
            int64_t current = 0, int64_t total = 0);
  // No more lines will come (after the queued ones).
  void Close();
  // Waits up to `timeout` for a line: true with `*p` set; false on timeout or when closed
  // and drained (see closed()).
  bool Next(v1::TransferProgress* p, absl::Duration timeout);
  bool Drained();
  // The operation thread's loop: hands every line to `send` until the queue is closed and
  // drained, calling `poll` between lines (at least every 50 ms), e.g. to notice cancellation.
  void Relay(const std::function<void()>& poll,
             const std::function<void(v1::TransferProgress)>& send);

 private:
  const absl::Duration min_interval_;
  const std::function<absl::Time()> clock_;
  absl::Mutex mu_;
  std::deque<v1::TransferProgress> lines_ ABSL_GUARDED_BY(mu_);
  struct Last {
    v1::TransferPhase phase;
    absl::Time at;
  };
  std::map<std::string, Last> last_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

// Docker's "12 hex digits" id of a layer digest.
std::string ShortId(const std::string& digest);

}  // namespace berth::engine::distribution
