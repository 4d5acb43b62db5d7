// Running the short-lived `berth-shim start` and `berth-shim delete` commands
// of the shim handshake (proto/berth/shim/task/v1/bootstrap.proto) from a
// multi-threaded daemon, and finding binaries (the shim, the OCI runtime) the
// way the tasks API promises: an absolute path, or a name looked up in PATH.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::containerd::tasks {

struct CommandOptions {
  // argv[0] must be an absolute path.
  std::vector<std::string> argv;
  // Working directory of the child; empty keeps the caller's.
  std::string cwd;
  // The child is SIGKILLed (by its pid) when it runs longer than this.
  absl::Duration timeout = absl::Seconds(30);
};

struct CommandResult {
  // As from waitpid(2).
  int wait_status = 0;
  std::string stdout_text;
  std::string stderr_text;
  // WIFEXITED with status 0.
  bool Succeeded() const;
  // The last non-empty line of stderr (the handshake's "one error line"), or a
  // description of how the command ended when stderr is empty.
  std::string ErrorLine() const;
};

// Runs the command with stdin on /dev/null and stdout/stderr captured, and
// waits for it. The child gets no file descriptor of this process besides 0, 1
// and 2 (a daemonizing child such as the shim must not keep the daemon's
// listening socket alive), default signal dispositions and an empty signal
// mask. It is spawned with posix_spawn, which is safe in a threaded process.
// Errors: InvalidArgument (empty or relative argv[0]), DeadlineExceeded (killed
// after the timeout), errno-derived codes when it cannot be spawned. A non-zero
// exit is not an error: look at the result.
absl::StatusOr<CommandResult> RunCommand(const CommandOptions &options);

// The absolute path of `name`: `name` itself when absolute; otherwise the first
// executable
// `<dir>/<name>` for the directories of `search_path` (PATH syntax), tried in
// order. A name holding a '/' but not absolute is refused. NotFound when there
// is no such executable.
absl::StatusOr<std::string> FindExecutable(const std::string &name,
                                           const std::string &search_path);

// FindExecutable with the directories `preferred_dirs` tried before $PATH.
absl::StatusOr<std::string>
FindExecutableInPath(const std::string &name,
                     const std::vector<std::string> &preferred_dirs);

} // namespace berth::containerd::tasks
