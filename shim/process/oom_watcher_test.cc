// OomWatcher on the v2 path (inotify on memory.events), driven by a plain file in a temp dir, so
// it runs without root; the v1 eventfd path is exercised by tests/shim (a real OOM kill).
#include "shim/process/oom_watcher.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "common/fs/fs.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "common/testing/child_process.h"
#include "gtest/gtest.h"

namespace berth::shim::process {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

// Rewrites the file in place: inotify watches the inode, as with the kernel's cgroup file.
void Overwrite(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::close(fd);
}

TEST(OomWatcherTest, ReportsEachNewKillOnceAndNothingElse) {
  auto dir = ::berth::testing::TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  CgroupDirs dirs;
  dirs.version = 2;
  dirs.memory = dir->path();
  const std::string events = dirs.memory + "/memory.events";
  Overwrite(events, "low 0\nhigh 0\nmax 0\noom 1\noom_kill 1\n");
  auto loop = io::EventLoop::Create();
  ASSERT_THAT(loop, IsOk());
  std::atomic<int> calls{0};
  auto watcher = OomWatcher::Create(loop->get(), dirs, [&] { ++calls; });
  ASSERT_THAT(watcher, IsOk());

  // The kill counted before the watch is not new.
  Overwrite(events, "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
  Overwrite(events, "low 0\nhigh 0\nmax 4\noom 3\noom_kill 3\n");
  EXPECT_TRUE(::berth::testing::WaitFor([&] { return calls.load() == 2; }, absl::Seconds(5)));
  Overwrite(events, "low 0\nhigh 0\nmax 9\noom 3\noom_kill 3\n");
  absl::SleepFor(absl::Milliseconds(200));  // a wrong extra report would come in this time
  EXPECT_EQ(calls.load(), 2);

  // After the watcher is gone, nothing more.
  watcher->reset();
  Overwrite(events, "low 0\nhigh 0\nmax 9\noom 4\noom_kill 4\n");
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(calls.load(), 2);
}

TEST(OomWatcherTest, NoCounterIsFailedPrecondition) {
  auto dir = ::berth::testing::TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  auto loop = io::EventLoop::Create();
  ASSERT_THAT(loop, IsOk());
  CgroupDirs dirs;
  dirs.version = 2;
  dirs.memory = dir->path();
  Overwrite(dirs.memory + "/memory.events", "low 0\n");
  EXPECT_THAT(OomWatcher::Create(loop->get(), dirs, [] {}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  dirs.memory = dir->Sub("gone");
  EXPECT_THAT(OomWatcher::Create(loop->get(), dirs, [] {}),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace berth::shim::process
