#include "common/testing/pty_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace berth::testing {

absl::StatusOr<PtyProcess> PtyProcess::Start(const std::vector<std::string>& argv, int rows,
                                             int cols) {
  if (argv.empty()) return absl::InvalidArgumentError("pty: empty argv");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  termios cooked{};
  cfmakeraw(&cooked);
  cooked.c_iflag |= ICRNL;
  cooked.c_oflag |= OPOST | ONLCR;
  cooked.c_lflag |= ECHO | ICANON | ISIG;
  winsize ws{};
  ws.ws_row = static_cast<unsigned short>(rows);
  ws.ws_col = static_cast<unsigned short>(cols);
  int master = -1;
  pid_t pid = forkpty(&master, nullptr, &cooked, &ws);
  if (pid < 0) return absl::ErrnoToStatus(errno, "forkpty");
  if (pid == 0) {
    execv(args[0], args.data());
    _exit(127);
  }
  int slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) {
    int err = errno;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    close(master);
    return absl::ErrnoToStatus(err, "open pty slave");
  }
  fcntl(master, F_SETFD, FD_CLOEXEC);
  return PtyProcess(pid, master, slave);
}

PtyProcess::PtyProcess(PtyProcess&& other) noexcept
    : pid_(other.pid_),
      master_(other.master_),
      slave_(other.slave_),
      exited_(other.exited_),
      screen_(std::move(other.screen_)) {
  other.pid_ = -1;
  other.master_ = -1;
  other.slave_ = -1;
}

PtyProcess::~PtyProcess() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (slave_ >= 0) close(slave_);
  if (master_ >= 0) close(master_);
}

void PtyProcess::Drain(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  char buf[4096];
  do {
    pollfd p{master_, POLLIN, 0};
    if (poll(&p, 1, 10) <= 0) continue;
    ssize_t n = read(master_, buf, sizeof(buf));
    if (n <= 0) return;
    screen_.append(buf, static_cast<size_t>(n));
  } while (absl::Now() < deadline);
}

bool PtyProcess::WaitForText(absl::string_view text, absl::Duration timeout, size_t from) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (screen_.size() >= from && screen_.find(text.data(), from, text.size()) != std::string::npos) return true;
    if (absl::Now() >= deadline) return false;
    Drain(absl::Milliseconds(20));
  }
}

absl::Status PtyProcess::Type(absl::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = write(master_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, "write to pty");
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status PtyProcess::Resize(int rows, int cols) {
  winsize ws{};
  ws.ws_row = static_cast<unsigned short>(rows);
  ws.ws_col = static_cast<unsigned short>(cols);
  if (ioctl(master_, TIOCSWINSZ, &ws) != 0) return absl::ErrnoToStatus(errno, "TIOCSWINSZ");
  return absl::OkStatus();
}

absl::StatusOr<unsigned> PtyProcess::LocalFlags() const {
  termios t{};
  if (tcgetattr(master_, &t) != 0) return absl::ErrnoToStatus(errno, "tcgetattr");
  return static_cast<unsigned>(t.c_lflag);
}

absl::StatusOr<int> PtyProcess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      Drain(absl::Milliseconds(20));
      return status;
    }
    if (r < 0) return absl::ErrnoToStatus(errno, "waitpid");
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("pid ", pid_, " still running"));
    }
    Drain(absl::Milliseconds(20));
  }
}

}  // namespace berth::testing
