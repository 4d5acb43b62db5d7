// `berth run -it` in a real pseudo-terminal: the berth binary runs on the slave side of a pty
// against FakeContainersService, and the test plays the user on the master side: raw mode
// while attached, the initial size, a resize on SIGWINCH, typed input, Ctrl-P Ctrl-Q detach
// with exit code 0, and the terminal settings restored afterwards.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <string>

#include "absl/cleanup/cleanup.h"
#include "common/grpc/server.h"
#include "common/testing/child_process.h"
#include "common/testing/runfiles.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "engine/cli/fake_containers_service.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

using ::berth::cli::testing::FakeContainersService;
using ::berth::testing::IsOk;
using ::berth::testing::WaitFor;
using ::testing::HasSubstr;

// Reads what is available on the master within `timeout`, appending to *out.
void Drain(int master, std::string* out, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  char buf[4096];
  while (absl::Now() < deadline) {
    pollfd p{master, POLLIN, 0};
    if (poll(&p, 1, 20) <= 0) continue;
    ssize_t n = read(master, buf, sizeof(buf));
    if (n <= 0) return;  // EIO once the slave side is closed
    out->append(buf, static_cast<size_t>(n));
  }
}

TEST(TtySessionTest, RunItIsRawResizesAndDetaches) {
  auto dir = berth::testing::TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  FakeContainersService fake;
  grpc_util::UnixServerOptions o;
  o.address = "unix://" + dir->Sub("berthd.sock");
  o.drain_timeout = absl::Seconds(1);
  auto server = grpc_util::UnixGrpcServer::Start(o, {&fake});
  ASSERT_THAT(server, IsOk());

  const std::string berth = berth::testing::RunfilePath("engine/cli/berth");
  termios cooked{};
  cfmakeraw(&cooked);
  cooked.c_iflag |= ICRNL;
  cooked.c_oflag |= OPOST | ONLCR;
  cooked.c_lflag |= ECHO | ICANON | ISIG;
  winsize ws{};
  ws.ws_row = 24;
  ws.ws_col = 80;
  int master = -1;
  pid_t pid = forkpty(&master, nullptr, &cooked, &ws);
  ASSERT_GE(pid, 0) << strerror(errno);
  if (pid == 0) {
    execl(berth.c_str(), "berth", "-H", o.address.c_str(), "run", "-it", "--rm", "busybox", "sh",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  auto kill_child = [&] {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      pid = -1;
    }
  };
  absl::Cleanup cleanup = kill_child;
  // Keep the slave open here too, so its settings can still be read after the CLI exits.
  int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
  ASSERT_GE(slave, 0);
  absl::Cleanup close_fds = [&] {
    close(slave);
    close(master);
  };

  std::string screen;
  ASSERT_TRUE(WaitFor(
      [&] {
        Drain(master, &screen, absl::Milliseconds(10));
        absl::MutexLock lock(&fake.mu);
        return !fake.starts.empty();
      },
      absl::Seconds(20)))
      << screen;
  Drain(master, &screen, absl::Milliseconds(200));
  {
    absl::MutexLock lock(&fake.mu);
    ASSERT_EQ(fake.creates.size(), 1u);
    EXPECT_TRUE(fake.creates[0].config().tty());
    EXPECT_TRUE(fake.creates[0].config().open_stdin());
    EXPECT_EQ(fake.creates[0].host_config().console_size().height(), 24u);
    EXPECT_EQ(fake.creates[0].host_config().console_size().width(), 80u);
    ASSERT_EQ(fake.attaches.size(), 1u);
    EXPECT_TRUE(fake.attaches[0].stdin());
  }
  // The CLI switched the terminal to raw mode (the master reads the slave's settings).
  termios now{};
  ASSERT_EQ(tcgetattr(master, &now), 0);
  EXPECT_EQ(now.c_lflag & (ECHO | ICANON | ISIG), 0u);

  // Typed bytes go through unchanged (no local echo, no line editing) and come back.
  ASSERT_EQ(write(master, "hi\r", 3), 3);
  ASSERT_TRUE(WaitFor(
      [&] {
        Drain(master, &screen, absl::Milliseconds(10));
        return screen.find("hi\r") != std::string::npos;
      },
      absl::Seconds(10)))
      << screen;
  EXPECT_THAT(screen, HasSubstr("hello\n"));

  // A window change reaches the container as a resize.
  winsize bigger{};
  bigger.ws_row = 50;
  bigger.ws_col = 132;
  ASSERT_EQ(ioctl(master, TIOCSWINSZ, &bigger), 0);
  EXPECT_TRUE(WaitFor(
      [&] {
        absl::MutexLock lock(&fake.mu);
        for (const auto& r : fake.resizes) {
          if (r.height() == 50 && r.width() == 132) return true;
        }
        return false;
      },
      absl::Seconds(10)));

  // Ctrl-P Ctrl-Q detaches: exit 0, nothing more printed, terminal restored.
  size_t before = screen.size();
  ASSERT_EQ(write(master, "\x10\x11", 2), 2);
  int status = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        Drain(master, &screen, absl::Milliseconds(10));
        return waitpid(pid, &status, WNOHANG) == pid;
      },
      absl::Seconds(10)));
  pid = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << screen;
  EXPECT_EQ(screen.substr(before), "");
  ASSERT_EQ(tcgetattr(master, &now), 0);
  EXPECT_NE(now.c_lflag & ECHO, 0u);
  EXPECT_NE(now.c_lflag & ICANON, 0u);
  (*server)->Shutdown();
}

}  // namespace
}  // namespace berth::cli
