#include "engine/distribution/workers.h"

#include <algorithm>
#include <memory>

namespace berth::engine::distribution {

std::vector<std::thread> StartWorkers(size_t n, size_t workers, const std::atomic<bool>& stop,
                                      const std::function<absl::Status(size_t)>& work,
                                      const std::function<void(absl::Status)>& fail,
                                      const std::function<void()>& last_out) {
  std::vector<std::thread> threads;
  const size_t count = n == 0 ? 0 : std::clamp<size_t>(workers, 1, n);
  if (count == 0) {
    if (last_out) last_out();
    return threads;
  }
  // The threads share the counters and their own copies of the callbacks.
  struct Shared {
    std::atomic<size_t> next{0};
    std::atomic<size_t> running{0};
    std::function<absl::Status(size_t)> work;
    std::function<void(absl::Status)> fail;
    std::function<void()> last_out;
  };
  auto shared = std::make_shared<Shared>();
  shared->running = count;
  shared->work = work;
  shared->fail = fail;
  shared->last_out = last_out;
  for (size_t w = 0; w < count; ++w) {
    threads.emplace_back([shared, n, &stop] {
      while (!stop.load()) {
        const size_t i = shared->next.fetch_add(1);
        if (i >= n) break;
        if (absl::Status s = shared->work(i); !s.ok()) {
          shared->fail(std::move(s));
          break;
        }
      }
      if (shared->running.fetch_sub(1) == 1 && shared->last_out) shared->last_out();
    });
  }
  return threads;
}

}  // namespace berth::engine::distribution
