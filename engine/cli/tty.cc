#include "engine/cli/tty.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>

#include "absl/strings/str_cat.h"

namespace berth::cli {
namespace {

// Write end of the active SignalPipe; the handler only calls write(2), which is
// async-signal-safe.
std::atomic<int> g_signal_write_fd{-1};

void OnSignal(int sig) {
  int saved_errno = errno;
  int fd = g_signal_write_fd.load();
  if (fd >= 0) {
    unsigned char b = static_cast<unsigned char>(sig);
    (void)!write(fd, &b, 1);
  }
  errno = saved_errno;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RawTerminal>> RawTerminal::Enable(int fd) {
  termios saved;
  if (!isatty(fd) || tcgetattr(fd, &saved) != 0) {
    return absl::FailedPreconditionError("the input device is not a TTY");
  }
  termios raw = saved;
  cfmakeraw(&raw);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  if (tcsetattr(fd, TCSANOW, &raw) != 0) return absl::ErrnoToStatus(errno, "set raw mode");
  return std::unique_ptr<RawTerminal>(new RawTerminal(fd, saved));
}

RawTerminal::~RawTerminal() { (void)tcsetattr(fd_, TCSANOW, &saved_); }

std::optional<WindowSize> GetWindowSize(int fd) {
  winsize ws{};
  if (!isatty(fd) || ioctl(fd, TIOCGWINSZ, &ws) != 0) return std::nullopt;
  return WindowSize{ws.ws_row, ws.ws_col};
}

absl::StatusOr<std::unique_ptr<SignalPipe>> SignalPipe::Install(const std::vector<int>& signals) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return absl::ErrnoToStatus(errno, "pipe");
  int expected = -1;
  if (!g_signal_write_fd.compare_exchange_strong(expected, fds[1])) {
    close(fds[0]);
    close(fds[1]);
    return absl::FailedPreconditionError("a signal pipe is already installed");
  }
  std::vector<std::pair<int, struct sigaction>> saved;
  for (int sig : signals) {
    struct sigaction sa {}, old{};
    sa.sa_handler = OnSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(sig, &sa, &old) == 0) saved.emplace_back(sig, old);
  }
  return std::unique_ptr<SignalPipe>(new SignalPipe(fds[0], std::move(saved)));
}

SignalPipe::~SignalPipe() {
  for (auto& [sig, old] : saved_) sigaction(sig, &old, nullptr);
  int w = g_signal_write_fd.exchange(-1);
  if (w >= 0) close(w);
  close(read_fd_);
}

int SignalPipe::Next() {
  unsigned char b = 0;
  return read(read_fd_, &b, 1) == 1 ? b : 0;
}

Wakeup::Wakeup() {
  if (pipe2(fds_, O_CLOEXEC) != 0) fds_[0] = fds_[1] = -1;
}

Wakeup::~Wakeup() {
  for (int fd : fds_) {
    if (fd >= 0) close(fd);
  }
}

void Wakeup::Notify() {
  if (fds_[1] >= 0) {
    close(fds_[1]);
    fds_[1] = -1;
  }
}

}  // namespace berth::cli
