// A child process on the slave side of a pseudo-terminal, driven from the master side the way a
// user at a terminal would: type bytes, read the screen, change the window size, wait for the
// exit. For tests of interactive commands (`berth run -it`, `berth attach`, `berth exec -it`).
// The child is killed (SIGKILL, by its own PID) if the test ends while it still runs.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace berth::testing {

class PtyProcess {
 public:
  // Starts argv[0] (an absolute path) with its stdin/stdout/stderr on a new pty of `rows` x
  // `cols` in the usual cooked mode (echo, canonical input, signals, CR-LF output), as a login
  // terminal would hand it over.
  static absl::StatusOr<PtyProcess> Start(const std::vector<std::string>& argv, int rows = 24,
                                          int cols = 80);

  PtyProcess(PtyProcess&& other) noexcept;
  PtyProcess& operator=(PtyProcess&&) = delete;
  ~PtyProcess();

  pid_t pid() const { return pid_; }

  // Everything the child wrote so far (read from the master while waiting).
  const std::string& screen() const { return screen_; }
  // Reads whatever arrives within `timeout`.
  void Drain(absl::Duration timeout);
  // Reads until the screen, from offset `from`, contains `text`; false after `timeout`.
  bool WaitForText(absl::string_view text, absl::Duration timeout, size_t from = 0);

  // Types `bytes` (written to the master as they are: "\r" is Enter, "\x10\x11" Ctrl-P Ctrl-Q).
  absl::Status Type(absl::string_view bytes);
  // Changes the window size (the child gets SIGWINCH).
  absl::Status Resize(int rows, int cols);
  // The terminal's current local flags (c_lflag), as the child set them.
  absl::StatusOr<unsigned> LocalFlags() const;

  // Waits for the exit, reading the screen meanwhile; the wait status (as from waitpid).
  // DeadlineExceeded if still running after `timeout`.
  absl::StatusOr<int> Wait(absl::Duration timeout);

 private:
  PtyProcess(pid_t pid, int master, int slave) : pid_(pid), master_(master), slave_(slave) {}
  pid_t pid_ = -1;
  int master_ = -1;
  // Held open so the terminal's settings stay readable after the child exits.
  int slave_ = -1;
  bool exited_ = false;
  std::string screen_;
};

}  // namespace berth::testing
