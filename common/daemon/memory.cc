#include "common/daemon/memory.h"

#include <malloc.h>

#include <algorithm>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace berth::daemon {
namespace {

// Above the 1 MiB chunks content and uploads move in (and libcurl's upload buffer).
constexpr int kMmapThreshold = 4 << 20;
// A few chunks' worth may stay at the top of an arena between bursts.
constexpr int kTrimThreshold = static_cast<int>(kTrimThresholdBytes);
constexpr absl::Duration kQuiet = absl::Seconds(1);

class Trimmer {
 public:
  void Poke() {
    absl::MutexLock l(&mu_);
    deadline_ = absl::Now() + kQuiet;
    if (!running_) {
      running_ = true;
      std::thread([this] { Loop(); }).detach();
    }
  }

 private:
  void Loop() {
    {
      absl::MutexLock l(&mu_);
      // Later Pokes move the deadline on; nothing signals the condition variable.
      while (absl::Now() < deadline_) cv_.WaitWithDeadline(&mu_, deadline_);
      running_ = false;
    }
    malloc_trim(0);
  }

  absl::Mutex mu_;
  absl::CondVar cv_;
  absl::Time deadline_ ABSL_GUARDED_BY(mu_);
  bool running_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

void TuneMallocForStreaming() {
  mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
  mallopt(M_ARENA_MAX, std::max(2, static_cast<int>(std::thread::hardware_concurrency())));
}

void TrimSoon() {
  static auto* trimmer = new Trimmer();
  trimmer->Poke();
}

}  // namespace berth::daemon
