// A child process started by a test, killed (SIGKILL, by its own PID only) if the test ends
// while it still runs. Tests never kill anything by name.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::testing {

class ChildProcess {
 public:
  // Starts argv[0] (an absolute path) with stdin from /dev/null and stdout/stderr appended to
  // `output_path` (or /dev/null when empty). `extra_env` entries ("K=V") are added, replacing inherited ones of the same name.
  static absl::StatusOr<ChildProcess> Start(const std::vector<std::string>& argv,
                                            const std::string& output_path,
                                            const std::vector<std::string>& extra_env = {});

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !exited_; }

  absl::Status Signal(int sig);
  // Waits up to `timeout` for the child to exit; returns its wait status (as from waitpid).
  // DeadlineExceeded if it is still running.
  absl::StatusOr<int> Wait(absl::Duration timeout);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
  bool exited_ = false;
  int wait_status_ = 0;
};

// Polls `done` every few milliseconds until it returns true or `timeout` passes.
bool WaitFor(const std::function<bool()>& done, absl::Duration timeout);

// Runs a command to completion, returning its wait status and its combined output.
struct CommandResult {
  int wait_status = 0;
  std::string output;
  bool Succeeded() const;
};
// The exit code in a wait status (as from waitpid), or -1 when the process did not exit (killed
// by a signal).
int ExitCode(int wait_status);
inline int ExitCode(const CommandResult& r) { return ExitCode(r.wait_status); }

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout = absl::Seconds(30),
                                         const std::vector<std::string>& extra_env = {});

// Reads a whole file ("" if missing).
std::string ReadFileOrEmpty(const std::string& path);

}  // namespace berth::testing
