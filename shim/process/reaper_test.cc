#include "shim/process/reaper.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace berth::shim::process {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

// A child that exits with `code` at once.
pid_t Spawn(int code) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(code);
  return pid;
}

// Records the callback's pids.
struct Seen {
  absl::Mutex mu;
  std::vector<pid_t> pids ABSL_GUARDED_BY(mu);
  void Add(pid_t p) {
    absl::MutexLock l(&mu);
    pids.push_back(p);
  }
  bool Has(pid_t p) {
    absl::MutexLock l(&mu);
    return std::find(pids.begin(), pids.end(), p) != pids.end();
  }
};

class ReaperTest : public ::testing::Test {
 protected:
  // Before any thread: every thread inherits the mask, as in the shim.
  void SetUp() override {
    BlockSigchld();
    sigset_t usr;
    sigemptyset(&usr);
    sigaddset(&usr, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr, nullptr);
  }
};

TEST_F(ReaperTest, OwnThreadReapsAndHandsOutStatusesOnce) {
  Seen seen;
  Reaper reaper([&](pid_t pid, int, absl::Time) { seen.Add(pid); });
  reaper.Start();
  const pid_t a = Spawn(7);
  auto status = reaper.Wait(a);
  ASSERT_THAT(status, IsOk());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 7);
  // The callback runs right after the status is stored (and Wait may return in between).
  EXPECT_TRUE(berth::testing::WaitFor([&] { return seen.Has(a); }, absl::Seconds(5)));
  // Claimed once: it is gone now.
  EXPECT_THAT(reaper.TakeIfReaped(a), StatusIs(absl::StatusCode::kNotFound));

  // A status reaped before anyone asks is kept for TakeIfReaped.
  const pid_t b = Spawn(3);
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  absl::StatusOr<int> taken = reaper.TakeIfReaped(b);
  while (!taken.ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
    taken = reaper.TakeIfReaped(b);
  }
  ASSERT_THAT(taken, IsOk());
  EXPECT_EQ(WEXITSTATUS(*taken), 3);

  reaper.Stop();
  EXPECT_THAT(reaper.Wait(::getpid()), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(ReaperTest, RunUntilSignalReapsOnTheCallingThreadAndCallsIdleOnce) {
  Seen seen;
  std::atomic<std::thread::id> reaping_thread{};
  Reaper reaper([&](pid_t pid, int, absl::Time) {
    reaping_thread = std::this_thread::get_id();
    seen.Add(pid);
  });
  std::atomic<int> idle_calls{0};
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGUSR1);
  std::atomic<int> returned{0};
  std::thread runner([&] {
    returned = reaper.RunUntilSignal(stop, absl::Milliseconds(50), [&] { ++idle_calls; });
  });

  const pid_t a = Spawn(5);
  auto status = reaper.Wait(a);
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(WEXITSTATUS(*status), 5);
  EXPECT_EQ(reaping_thread.load(), runner.get_id());

  // Quiet for 50 ms after the reap: on_idle runs once, not again while nothing happens.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (idle_calls.load() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(idle_calls.load(), 1);
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(idle_calls.load(), 1);

  // The next reap arms it again.
  const pid_t b = Spawn(0);
  ASSERT_THAT(reaper.Wait(b), IsOk());
  while (idle_calls.load() < 2 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(idle_calls.load(), 2);

  // A stop signal ends the loop and is returned.
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  runner.join();
  EXPECT_EQ(returned.load(), SIGUSR1);

  // Children that exit afterwards wait for whoever reaps next (here: the reaper's own thread).
  const pid_t c = Spawn(9);
  reaper.Start();
  auto late = reaper.Wait(c);
  ASSERT_THAT(late, IsOk());
  EXPECT_EQ(WEXITSTATUS(*late), 9);
}

}  // namespace
}  // namespace berth::shim::process
