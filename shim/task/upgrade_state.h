// UpgradeState is what a running berth-shim hands to the new binary it re-executes in place
// (SIGUSR2, see shim/main.cc): the init process's state and the numbers of the fds that stay
// open across execve. It is written to `<bundle>/upgrade.json` just before the execve and read
// (then removed) by `serve --restore=<file>`. Only the same host and the same bundle ever read
// it, so it is plain JSON without versioning beyond a `version` field that must match.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "berth/types/v1/task.pb.h"

namespace berth::shim::task {

inline constexpr int kUpgradeStateVersion = 1;

struct UpgradeState {
  // TaskService's phase of the init process: "created", "running", "paused" or "stopped".
  std::string phase;
  pid_t pid = 0;
  uint64_t start_time = 0;
  std::optional<absl::Time> started_at;
  // The exit, when it was recorded (also durable in exit.json).
  bool exited = false;
  // As requested at Create, for State.
  std::string stdin_path, stdout_path, stderr_path;
  ::berth::types::v1::StdinMode stdin_mode = ::berth::types::v1::STDIN_MODE_UNSPECIFIED;
  // The json-file log; empty path with LOG_DRIVER_NONE.
  std::string log_path;
  uint64_t log_max_size_bytes = 0;
  uint32_t log_max_files = 0;
  bool rootfs_mounted = false;
  // Handed-over fds (-1 = none): the output pipes' read ends and stdin's write end.
  int stdout_fd = -1, stderr_fd = -1, stdin_fd = -1;
};

std::string UpgradeStateToJson(const UpgradeState& state);
// InvalidArgument for malformed text or another version.
absl::StatusOr<UpgradeState> UpgradeStateFromJson(const std::string& text);

// Written atomically, mode 0600.
absl::Status WriteUpgradeState(const std::string& path, const UpgradeState& state);
absl::StatusOr<UpgradeState> ReadUpgradeState(const std::string& path);

}  // namespace berth::shim::task
