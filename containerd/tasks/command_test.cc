#include "containerd/tasks/command.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::tasks {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

TEST(RunCommandTest, CapturesBothStreamsAndStatus) {
  auto r = RunCommand(
      {{"/bin/sh", "-c", "echo out; echo err >&2; echo last >&2; exit 3"}});
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->Succeeded());
  EXPECT_EQ(WEXITSTATUS(r->wait_status), 3);
  EXPECT_EQ(r->stdout_text, "out\n");
  EXPECT_EQ(r->stderr_text, "err\nlast\n");
  EXPECT_EQ(r->ErrorLine(), "last");
}

TEST(RunCommandTest, RunsInCwdWithoutOurFds) {
  int leaked = ::open("/dev/null", O_RDONLY); // not CLOEXEC on purpose
  ASSERT_GE(leaked, 3);
  auto r =
      RunCommand({{"/bin/sh", "-c", "pwd; ls /proc/self/fd | wc -l"}, "/tmp"});
  ::close(leaked);
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->Succeeded());
  // pwd, then fds 0, 1, 2 plus the one ls opens to list them.
  EXPECT_EQ(r->stdout_text, "/tmp\n4\n");
}

TEST(RunCommandTest, TimesOutAndKills) {
  CommandOptions o;
  o.argv = {"/bin/sleep", "30"};
  o.timeout = absl::Milliseconds(200);
  EXPECT_THAT(RunCommand(o), StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST(RunCommandTest, RefusesRelativeBinary) {
  EXPECT_THAT(RunCommand({{"sh", "-c", "true"}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  auto r = RunCommand({{"/nonexistent/binary"}});
  EXPECT_FALSE(r.ok());
}

TEST(FindExecutableTest, SearchesInOrder) {
  auto sh = FindExecutable("sh", "/nonexistent:/bin:/usr/bin");
  ASSERT_THAT(sh, IsOk());
  EXPECT_EQ(*sh, "/bin/sh");
  EXPECT_THAT(FindExecutable("/bin/sh", ""), IsOk());
  EXPECT_THAT(
      FindExecutable("no-such-binary-here", "/bin"),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("no-such-binary-here")));
  EXPECT_THAT(FindExecutable("bin/sh", "/"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(FindExecutable("/etc/passwd", ""),
              StatusIs(absl::StatusCode::kNotFound));
  auto found = FindExecutableInPath("sh", {"/nonexistent"});
  ASSERT_THAT(found, IsOk());
}

} // namespace
} // namespace berth::containerd::tasks
