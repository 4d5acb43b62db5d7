// Terminal handling for `berth run -it`, `attach` and `exec -it`: raw mode on the CLI's own
// terminal (restored when the guard dies, on every return path), the terminal size, and a
// self-pipe that turns asynchronous signals (SIGWINCH, SIGINT, SIGTERM, ...) into bytes a
// relay thread can poll for.
#pragma once

#include <csignal>
#include <memory>
#include <optional>
#include <vector>

#include <termios.h>

#include "absl/status/statusor.h"

namespace berth::cli {

// Puts a terminal in raw mode (like cfmakeraw: no echo, no line editing, no signal keys, no
// output processing) and restores the saved settings in its destructor.
class RawTerminal {
 public:
  // FailedPrecondition if `fd` is not a terminal.
  static absl::StatusOr<std::unique_ptr<RawTerminal>> Enable(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  RawTerminal(int fd, const termios& saved) : fd_(fd), saved_(saved) {}
  int fd_;
  termios saved_;
};

struct WindowSize {
  uint32_t height = 0;
  uint32_t width = 0;
};

// The size of the terminal on `fd`; nullopt if it is not a terminal.
std::optional<WindowSize> GetWindowSize(int fd);

// Delivers the listed signals as bytes on a pipe while alive, then restores the previous
// dispositions. One instance at a time per process (signal handlers are process-wide).
class SignalPipe {
 public:
  static absl::StatusOr<std::unique_ptr<SignalPipe>> Install(const std::vector<int>& signals);
  ~SignalPipe();
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;

  // Readable when a signal arrived.
  int fd() const { return read_fd_; }
  // Reads one pending signal number; 0 if none is pending.
  int Next();

 private:
  SignalPipe(int read_fd, std::vector<std::pair<int, struct sigaction>> saved)
      : read_fd_(read_fd), saved_(std::move(saved)) {}
  int read_fd_;
  std::vector<std::pair<int, struct sigaction>> saved_;
};

// A pipe used to wake poll(2) loops so their threads can be joined.
class Wakeup {
 public:
  Wakeup();
  ~Wakeup();
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;
  int fd() const { return fds_[0]; }
  // Makes fd() readable for good.
  void Notify();

 private:
  int fds_[2] = {-1, -1};
};

}  // namespace berth::cli
