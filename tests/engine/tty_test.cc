// Interactive terminals end to end: the real `berth` CLI on the slave side of a pseudo-terminal
// (the test types on the master side, like a user), against real berthd, berth-containerd,
// berth-shim and berth-runc processes (root). Covers `run -it` (raw mode, the container's
// terminal size following the window, Ctrl-P Ctrl-Q detach leaving the container running),
// `attach` to that terminal and the exit code it brings back, `exec -it`, and stdin piped
// without a terminal.
#include <termios.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/testing/child_process.h"
#include "common/testing/pty_process.h"
#include "common/testing/runfiles.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon_harness.h"

namespace berth::tests {
namespace {

using ::berth::testing::ExitCode;
using ::berth::testing::IsOk;
using ::berth::testing::PtyProcess;
using ::testing::HasSubstr;
using nlohmann::json;

class TtyTest : public EngineTest {
 protected:
  std::vector<std::string> BerthArgv(const std::vector<std::string>& args) {
    return env_.BerthArgv(args);
  }
};

TEST_F(TtyTest, RunItResizeDetachAttachExit) {
  auto term = PtyProcess::Start(BerthArgv({"run", "-it", "--name", "tty1", "busybox", "sh"}), 24,
                                80);
  ASSERT_THAT(term, IsOk());
  // busybox sh prints its prompt on the container's terminal.
  ASSERT_TRUE(term->WaitForText("/ # ", absl::Seconds(30))) << term->screen();
  // While attached the CLI keeps the user's terminal raw: the container's pty does the echo.
  auto lflags = term->LocalFlags();
  ASSERT_THAT(lflags, IsOk());
  EXPECT_EQ(*lflags & (ECHO | ICANON | ISIG), 0u);

  // The container's terminal has the window's size, and follows a resize.
  size_t mark = term->screen().size();
  ASSERT_THAT(term->Type("stty size; tty\r"), IsOk());
  EXPECT_TRUE(term->WaitForText("24 80", absl::Seconds(10), mark)) << term->screen();
  EXPECT_TRUE(term->WaitForText("/dev/pts/0", absl::Seconds(10), mark)) << term->screen();
  ASSERT_THAT(term->Resize(50, 132), IsOk());
  // The resize travels CLI -> berthd -> berth-containerd -> shim asynchronously: ask until seen.
  bool resized = false;
  for (int i = 0; i < 50 && !resized; ++i) {
    mark = term->screen().size();
    ASSERT_THAT(term->Type("stty size\r"), IsOk());
    resized = term->WaitForText("50 132", absl::Milliseconds(200), mark);
  }
  EXPECT_TRUE(resized) << term->screen();

  // Input is the container's: arithmetic done by the container's shell.
  mark = term->screen().size();
  ASSERT_THAT(term->Type("echo result=$((6*7))\r"), IsOk());
  EXPECT_TRUE(term->WaitForText("result=42", absl::Seconds(10), mark)) << term->screen();

  // Ctrl-P Ctrl-Q detaches: the CLI exits 0, the container keeps running, the terminal is
  // cooked again.
  ASSERT_THAT(term->Type("\x10\x11"), IsOk());
  auto status = term->Wait(absl::Seconds(15));
  ASSERT_THAT(status, IsOk()) << term->screen();
  EXPECT_EQ(ExitCode(*status), 0) << term->screen();
  lflags = term->LocalFlags();
  ASSERT_THAT(lflags, IsOk());
  EXPECT_NE(*lflags & ECHO, 0u);
  EXPECT_NE(*lflags & ICANON, 0u);
  json j = Inspect("tty1");
  EXPECT_EQ(j["State"]["Status"], "running") << j.dump();
  EXPECT_EQ(j["Config"]["Tty"], true) << j.dump();

  // Attach again from a new terminal: the shell is the same one (its variable survives), and
  // its exit code comes back as attach's exit code.
  auto again = PtyProcess::Start(BerthArgv({"attach", "tty1"}), 30, 100);
  ASSERT_THAT(again, IsOk());
  // Attaching does not print a new prompt by itself: type a command and look for its output.
  bool attached = false;
  for (int i = 0; i < 50 && !attached; ++i) {
    size_t m = again->screen().size();
    ASSERT_THAT(again->Type("echo attached-$((2+3))\r"), IsOk());
    attached = again->WaitForText("attached-5", absl::Milliseconds(200), m);
  }
  ASSERT_TRUE(attached) << again->screen();
  ASSERT_THAT(again->Type("exit 5\r"), IsOk());
  status = again->Wait(absl::Seconds(20));
  ASSERT_THAT(status, IsOk()) << again->screen();
  EXPECT_EQ(ExitCode(*status), 5) << again->screen();
  j = Inspect("tty1");
  EXPECT_EQ(j["State"]["Status"], "exited") << j.dump();
  EXPECT_EQ(j["State"]["ExitCode"], 5) << j.dump();
}

TEST_F(TtyTest, ExecItGetsATerminalAndItsExitCode) {
  auto r = Berth({"run", "-d", "--name", "host", "busybox", "sleep", "300"});
  ASSERT_EQ(ExitCode(r.wait_status), 0) << r.output;
  auto term = PtyProcess::Start(BerthArgv({"exec", "-it", "host", "sh"}), 33, 77);
  ASSERT_THAT(term, IsOk());
  ASSERT_TRUE(term->WaitForText("# ", absl::Seconds(30))) << term->screen();
  size_t mark = term->screen().size();
  ASSERT_THAT(term->Type("stty size; [ -t 0 ] && echo is-a-tty\r"), IsOk());
  EXPECT_TRUE(term->WaitForText("33 77", absl::Seconds(10), mark)) << term->screen();
  EXPECT_TRUE(term->WaitForText("is-a-tty", absl::Seconds(10), mark)) << term->screen();
  ASSERT_THAT(term->Type("exit 3\r"), IsOk());
  auto status = term->Wait(absl::Seconds(20));
  ASSERT_THAT(status, IsOk()) << term->screen();
  EXPECT_EQ(ExitCode(*status), 3) << term->screen();
  // The container itself is untouched by the exec's exit.
  EXPECT_EQ(Inspect("host")["State"]["Status"], "running");
}

TEST_F(TtyTest, StdinPipedWithoutTerminal) {
  // `-i` without `-t`: bytes flow through unchanged and end-of-input closes the container's
  // stdin, so `cat` ends and `wc` sees every byte.
  const std::string berth = berth::testing::RunfilePath("engine/cli/berth");
  auto r = berth::testing::RunCommand(
      {"/bin/sh", "-c",
       absl::StrCat("printf 'one\\ntwo\\nthree\\n' | ", berth, " -H unix://", env_.berthd()->socket,
                    " run -i --rm busybox sh -c 'wc -l; [ -t 0 ] || echo not-a-tty'")});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(ExitCode(r->wait_status), 0) << r->output;
  EXPECT_THAT(r->output, HasSubstr("3\n"));
  EXPECT_THAT(r->output, HasSubstr("not-a-tty"));
}

}  // namespace
}  // namespace berth::tests
