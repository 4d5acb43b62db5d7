// The GC scheduler with a fake collector: collection at start, on request, batched bursts,
// spacing by min_interval and by the pause fraction, periodic runs, a request made during a
// collection, and the synchronous path.
#include "containerd/gc/scheduler.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::gc {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::WaitFor;

class FakeCollector final : public Collector {
 public:
  absl::StatusOr<CollectionStats> Collect() override {
    absl::Notification* gate = nullptr;
    absl::Duration take;
    absl::Status result;
    {
      absl::MutexLock lock(&mu_);
      ++calls_;
      gate = gate_;
      gate_ = nullptr;
      take = take_;
      result = result_;
      if (++running_ > 1) overlapped_ = true;
    }
    if (gate != nullptr) gate->WaitForNotification();
    absl::SleepFor(take);
    absl::MutexLock lock(&mu_);
    --running_;
    if (!result.ok()) return result;
    return CollectionStats();
  }

  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  bool overlapped() {
    absl::MutexLock lock(&mu_);
    return overlapped_;
  }
  // The next collection waits for `gate`.
  void BlockNext(absl::Notification* gate) {
    absl::MutexLock lock(&mu_);
    gate_ = gate;
  }
  void set_take(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    take_ = d;
  }
  void set_result(absl::Status s) {
    absl::MutexLock lock(&mu_);
    result_ = std::move(s);
  }

 private:
  absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool overlapped_ ABSL_GUARDED_BY(mu_) = false;
  absl::Notification* gate_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Duration take_ ABSL_GUARDED_BY(mu_);
  absl::Status result_ ABSL_GUARDED_BY(mu_);
};

SchedulerOptions Fast() {
  SchedulerOptions o;
  o.delay = absl::Milliseconds(1);
  o.min_interval = absl::Milliseconds(1);
  o.max_pause_fraction = 1;
  o.period = absl::InfiniteDuration();
  o.collect_at_start = false;
  return o;
}

TEST(SchedulerTest, CollectsAtStartThenOnlyWhenAsked) {
  FakeCollector collector;
  SchedulerOptions options = Fast();
  options.collect_at_start = true;
  Scheduler scheduler(&collector, options);
  ASSERT_TRUE(WaitFor([&] { return scheduler.state().runs == 1; }, absl::Seconds(10)));
  EXPECT_FALSE(scheduler.state().requested);
  EXPECT_EQ(scheduler.state().next_due, absl::InfiniteFuture());

  scheduler.RequestCollection();
  ASSERT_TRUE(WaitFor([&] { return scheduler.state().runs == 2; }, absl::Seconds(10)));
  EXPECT_EQ(collector.calls(), 2);
}

TEST(SchedulerTest, BurstOfRequestsCostsOneCollection) {
  FakeCollector collector;
  SchedulerOptions options = Fast();
  options.delay = absl::Milliseconds(300);
  options.min_interval = absl::Hours(1);  // a second collection would have to wait an hour
  Scheduler scheduler(&collector, options);
  for (int i = 0; i < 100; ++i) scheduler.RequestCollection();
  EXPECT_TRUE(scheduler.state().requested);
  ASSERT_TRUE(WaitFor([&] { return scheduler.state().runs == 1; }, absl::Seconds(10)));
  Scheduler::State s = scheduler.state();
  EXPECT_FALSE(s.requested) << "every request was answered by the one collection";
  EXPECT_EQ(collector.calls(), 1);
}

TEST(SchedulerTest, MinIntervalSpacesBackgroundCollectionsButNotSyncOnes) {
  FakeCollector collector;
  SchedulerOptions options = Fast();
  options.min_interval = absl::Hours(1);
  options.collect_at_start = true;
  Scheduler scheduler(&collector, options);
  ASSERT_TRUE(WaitFor([&] { return scheduler.state().runs == 1; }, absl::Seconds(10)));
  scheduler.RequestCollection();
  Scheduler::State s = scheduler.state();
  EXPECT_TRUE(s.requested);
  EXPECT_GE(s.next_due - s.last_end, absl::Hours(1));

  // The sync path runs at once and answers the pending request.
  ASSERT_THAT(scheduler.CollectNow(), IsOk());
  s = scheduler.state();
  EXPECT_EQ(s.runs, 2);
  EXPECT_FALSE(s.requested);
  EXPECT_EQ(collector.calls(), 2);
}

TEST(SchedulerTest, SlowCollectionsAreSpacedByThePauseFraction) {
  FakeCollector collector;
  collector.set_take(absl::Milliseconds(40));
  SchedulerOptions options = Fast();
  options.max_pause_fraction = 0.1;  // the next waits at least 9x the last one's duration
  options.collect_at_start = true;
  Scheduler scheduler(&collector, options);
  ASSERT_TRUE(WaitFor([&] { return scheduler.state().runs == 1; }, absl::Seconds(10)));
  scheduler.RequestCollection();
  Scheduler::State s = scheduler.state();
  EXPECT_GE(s.last_duration, absl::Milliseconds(40));
  EXPECT_GE(s.next_due - s.last_end, s.last_duration * 9);
  // And it does run once that time has passed.
  ASSERT_TRUE(WaitFor([&] { return scheduler.state().runs == 2; }, absl::Seconds(10)));
}

TEST(SchedulerTest, CollectsPeriodicallyWithoutRequests) {
  FakeCollector collector;
  SchedulerOptions options = Fast();
  options.period = absl::Milliseconds(20);
  Scheduler scheduler(&collector, options);
  EXPECT_TRUE(WaitFor([&] { return scheduler.state().runs >= 3; }, absl::Seconds(10)));
}

TEST(SchedulerTest, RequestDuringACollectionGetsAnotherOneAndNoneOverlap) {
  FakeCollector collector;
  absl::Notification gate;
  collector.BlockNext(&gate);
  Scheduler scheduler(&collector, Fast());
  scheduler.RequestCollection();
  ASSERT_TRUE(WaitFor([&] { return collector.calls() == 1; }, absl::Seconds(10)));
  scheduler.RequestCollection();  // during the blocked collection
  // A sync collection asked for now waits for the running one, then runs its own.
  std::thread sync([&] { EXPECT_THAT(scheduler.CollectNow(), IsOk()); });
  gate.Notify();
  sync.join();
  ASSERT_TRUE(WaitFor([&] { return !scheduler.state().requested; }, absl::Seconds(10)));
  EXPECT_GE(scheduler.state().runs, 2);
  EXPECT_FALSE(collector.overlapped());
}

TEST(SchedulerTest, CollectNowReturnsTheCollectorsError) {
  FakeCollector collector;
  collector.set_result(absl::UnavailableError("database is locked"));
  Scheduler scheduler(&collector, Fast());
  EXPECT_THAT(scheduler.CollectNow(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(scheduler.state().failures, 1);
  collector.set_result(absl::OkStatus());
  EXPECT_THAT(scheduler.CollectNow(), IsOk());
  EXPECT_EQ(scheduler.state().failures, 1);
  EXPECT_EQ(scheduler.state().runs, 2);
}

TEST(SchedulerTest, StopWaitsForTheRunningCollection) {
  FakeCollector collector;
  absl::Notification gate;
  collector.BlockNext(&gate);
  SchedulerOptions options = Fast();
  options.collect_at_start = true;
  Scheduler scheduler(&collector, options);
  ASSERT_TRUE(WaitFor([&] { return collector.calls() == 1; }, absl::Seconds(10)));
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    scheduler.Stop();
    stopped = true;
  });
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(stopped) << "Stop returned while a collection ran";
  gate.Notify();
  stopper.join();
  EXPECT_EQ(scheduler.state().runs, 1);
  scheduler.RequestCollection();  // no thread any more: nothing runs
  EXPECT_THAT(scheduler.CollectNow(), IsOk());
  EXPECT_EQ(collector.calls(), 2);
}

}  // namespace
}  // namespace berth::containerd::gc
