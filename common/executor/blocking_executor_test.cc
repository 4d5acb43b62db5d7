#include "common/executor/blocking_executor.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace berth::executor {
namespace {

TEST(BlockingExecutorTest, RunsConcurrentlyAndJoinsOnShutdown) {
  std::atomic<int> ran{0};
  absl::Notification release;
  {
    BlockingExecutor ex;
    // More blocked tasks than cores: each has its own thread, so all start.
    for (int i = 0; i < 16; ++i) {
      ASSERT_TRUE(ex.Run([&] {
        ran++;
        release.WaitForNotification();
      }));
    }
    while (ran.load() < 16) absl::SleepFor(absl::Milliseconds(1));
    EXPECT_EQ(ex.Running(), 16);
    release.Notify();
  }  // destructor joins
  EXPECT_EQ(ran.load(), 16);
}

TEST(BlockingExecutorTest, RefusesAfterShutdownAndTasksMayRunTasks) {
  BlockingExecutor ex;
  std::atomic<int> ran{0};
  absl::Notification nested_done;
  ASSERT_TRUE(ex.Run([&] {
    ran++;
    ex.Run([&] {
      ran++;
      nested_done.Notify();
    });
  }));
  nested_done.WaitForNotification();
  ex.Shutdown();
  EXPECT_EQ(ran.load(), 2);
  EXPECT_FALSE(ex.Run([] {}));
  EXPECT_EQ(ex.Running(), 0);
}

}  // namespace
}  // namespace berth::executor
