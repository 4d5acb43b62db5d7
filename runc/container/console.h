// The container's terminal: a pty created inside the container (its own devpts), the slave
// made the process's stdio and controlling terminal, and the master sent to the caller's
// --console-socket with SCM_RIGHTS, as runc does.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runc/spec/spec.h"

namespace berth::runc::container {

// Connects to the unix socket at `path` (before pivot_root, so the path is the host's).
absl::StatusOr<int> ConnectConsoleSocket(const std::string& path);

// Opens /dev/ptmx, sets the window size, makes the slave fds 0-2 and the controlling
// terminal of a new session, and sends the master over `socket_fd`, then closes both.
absl::Status SetupConsole(int socket_fd, const std::optional<spec::ConsoleSize>& size);

// Sends `fd` over the connected unix socket `socket_fd` with SCM_RIGHTS.
absl::Status SendFd(int socket_fd, int fd, const std::string& name);

}  // namespace berth::runc::container
