// The worker pool pull and push share: a few threads take items 0..n-1 in order and stop
// at the first failure (theirs or another's, seen through `stop`).
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

#include "absl/status/status.h"

namespace berth::engine::distribution {

// Starts min(workers, n) threads (at least one when n > 0) that run `work(i)` for the items
// i = 0, 1, ... n-1, each item once, until every item is taken or `stop` is set. A failing
// item ends its thread after `fail(status)` (which is expected to set `stop` for the
// others). `last_out` (may be empty) runs on the last thread to end, or at once when there is
// nothing to do. The callbacks are copied; what they refer to, and `stop`, must outlive the
// returned threads, which the caller joins.
std::vector<std::thread> StartWorkers(size_t n, size_t workers, const std::atomic<bool>& stop,
                                      const std::function<absl::Status(size_t)>& work,
                                      const std::function<void(absl::Status)>& fail,
                                      const std::function<void()>& last_out = nullptr);

}  // namespace berth::engine::distribution
