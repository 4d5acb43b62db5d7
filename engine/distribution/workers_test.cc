#include "engine/distribution/workers.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>

namespace berth::engine::distribution {
namespace {

void JoinAll(std::vector<std::thread>& threads) {
  for (auto& t : threads) t.join();
}

TEST(StartWorkersTest, EveryItemOnceThenLastOut) {
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::multiset<size_t> seen;
  std::atomic<int> last_outs{0};
  std::function<absl::Status(size_t)> work = [&](size_t i) {
    std::lock_guard<std::mutex> l(mu);
    seen.insert(i);
    return absl::OkStatus();
  };
  std::function<void(absl::Status)> fail = [&](absl::Status) { stop = true; };
  std::function<void()> out = [&] { ++last_outs; };
  auto threads = StartWorkers(50, 4, stop, work, fail, out);
  EXPECT_EQ(threads.size(), 4u);
  JoinAll(threads);
  ASSERT_EQ(seen.size(), 50u);
  for (size_t i = 0; i < 50; ++i) EXPECT_EQ(seen.count(i), 1u) << i;
  EXPECT_EQ(last_outs, 1);
}

TEST(StartWorkersTest, FirstFailureStopsTheOthers) {
  std::atomic<bool> stop{false};
  std::atomic<int> done{0};
  absl::Status failed;
  std::function<absl::Status(size_t)> work = [&](size_t i) {
    if (i == 3) return absl::UnavailableError("item 3");
    ++done;
    return absl::OkStatus();
  };
  std::function<void(absl::Status)> fail = [&](absl::Status s) {
    failed = s;
    stop = true;
  };
  auto threads = StartWorkers(1000, 1, stop, work, fail);
  JoinAll(threads);
  EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(done, 3);  // one worker: items 0, 1, 2, then 3 failed
}

TEST(StartWorkersTest, NothingToDoCallsLastOutAtOnce) {
  std::atomic<bool> stop{false};
  bool out = false;
  std::function<absl::Status(size_t)> work = [](size_t) { return absl::OkStatus(); };
  std::function<void(absl::Status)> fail = [](absl::Status) {};
  std::function<void()> last = [&] { out = true; };
  auto threads = StartWorkers(0, 5, stop, work, fail, last);
  EXPECT_TRUE(threads.empty());
  EXPECT_TRUE(out);
  // More workers than items: one per item.
  auto two = StartWorkers(2, 8, stop, work, fail);
  EXPECT_EQ(two.size(), 2u);
  JoinAll(two);
}

}  // namespace
}  // namespace berth::engine::distribution
