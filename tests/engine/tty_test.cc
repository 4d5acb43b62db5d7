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

using ::berth::testing::IsOk;
using ::berth::testing::PtyProcess;
using ::berth::testing::TempDir;
using ::testing::HasSubstr;
using nlohmann::json;

int ExitCode(int wait_status) { return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1; }

class TtyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (containers)";
    if (access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "needs Debian's busybox-static";
    auto dir = TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(std::move(*dir));
    auto cd = StartContainerd(*dir_, /*tasks=*/true);
    ASSERT_THAT(cd, IsOk());
    cd_.emplace(std::move(*cd));
    auto bd = StartBerthd(*dir_, cd_->socket);
    ASSERT_THAT(bd, IsOk());
    bd_.emplace(std::move(*bd));
    ASSERT_THAT(MakeBusyboxTar(dir_->path(), dir_->Sub("busybox.tar")), IsOk());
    auto r = Berth({"import", dir_->Sub("busybox.tar"), "busybox"});
    ASSERT_EQ(ExitCode(r.wait_status), 0) << r.output;
  }

  void TearDown() override {
    if (bd_.has_value()) {
      auto ids = Berth({"ps", "-a", "-q"});
      for (absl::string_view id : absl::StrSplit(ids.output, '\n', absl::SkipEmpty())) {
        Berth({"rm", "-f", std::string(id)});
      }
      (void)bd_->Stop();
    }
    if (cd_.has_value()) (void)cd_->Stop();
  }

  berth::testing::CommandResult Berth(const std::vector<std::string>& args) {
    auto r = RunBerth(bd_->socket, args);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : berth::testing::CommandResult{-1, ""};
  }

  std::vector<std::string> BerthArgv(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {berth::testing::RunfilePath("engine/cli/berth"), "-H",
                                     "unix://" + bd_->socket};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  json Inspect(const std::string& c) {
    auto r = Berth({"inspect", c});
    json j = json::parse(r.output, nullptr, false);
    return j.is_array() && j.size() == 1 ? j[0] : json::object();
  }

  std::optional<TempDir> dir_;
  std::optional<RunningDaemon> cd_, bd_;
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
       absl::StrCat("printf 'one\\ntwo\\nthree\\n' | ", berth, " -H unix://", bd_->socket,
                    " run -i --rm busybox sh -c 'wc -l; [ -t 0 ] || echo not-a-tty'")});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(ExitCode(r->wait_status), 0) << r->output;
  EXPECT_THAT(r->output, HasSubstr("3\n"));
  EXPECT_THAT(r->output, HasSubstr("not-a-tty"));
}

}  // namespace
}  // namespace berth::tests
