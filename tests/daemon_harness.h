// Starting real berth daemons for cross-process tests: each gets its own temp root, state
// directory, socket path and metrics port (port 0, read back from its log), and is killed by
// its own PID if the test ends early.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/testing/child_process.h"
#include "common/testing/temp_dir.h"

namespace berth::tests {

// The value after the first "<key>=" in a log file (up to a space or newline), polling until
// `timeout`. `key` may contain spaces ("ready socket").
absl::StatusOr<std::string> WaitForLogValue(const std::string& log_path, const std::string& key,
                                            absl::Duration timeout = absl::Seconds(20));

struct RunningDaemon {
  std::optional<berth::testing::ChildProcess> process;
  std::string socket;        // unix socket path
  std::string metrics_addr;  // host:port actually bound
  std::string log_path;
  // Cgroups (names under each hierarchy's root) the daemon's containers were put under; Stop
  // removes them once empty.
  std::vector<std::string> cgroup_parents;

  // SIGTERM, then the exit status within `timeout`; then removes the empty cgroup_parents.
  absl::StatusOr<int> Stop(absl::Duration timeout = absl::Seconds(15));
};

// Starts `binary_rel` (workspace-relative, e.g. "engine/berthd") with `args`, logging to
// <dir>/<name>.<n>.log, and waits until its "ready socket=" line appears.
// `extra_env` entries ("K=V") are added to its environment.
absl::StatusOr<RunningDaemon> StartDaemon(const std::string& binary_rel,
                                          const std::vector<std::string>& args,
                                          const std::string& dir, const std::string& name,
                                          const std::string& socket,
                                          const std::vector<std::string>& extra_env = {});

// berth-containerd with everything under `dir`. With `tasks`, it runs containers: --shim is the
// runfiles' berth-shim and berth-runc is on its PATH (the test's BUILD target must have
// //shim:berth-shim and //runc:berth-runc in its data).
absl::StatusOr<RunningDaemon> StartContainerd(const berth::testing::TempDir& dir,
                                              bool tasks = false);
// berthd with everything under `dir`, talking to the containerd socket given. Its containers'
// cgroups go under a parent of the test's own ("/berth-test-<dir name>"), removed by Stop.
absl::StatusOr<RunningDaemon> StartBerthd(const berth::testing::TempDir& dir,
                                          const std::string& containerd_socket);

// Writes `tar_path`: a rootfs of Debian's static /bin/busybox with links for its common
// applets (sh, echo, cat, sleep, ...), plus /etc/passwd and /etc/group with root and nobody.
// FailedPrecondition when /bin/busybox is missing (install busybox-static).
absl::Status MakeBusyboxTar(const std::string& work_dir, const std::string& tar_path);

// Runs the berth CLI binary against `socket`.
absl::StatusOr<berth::testing::CommandResult> RunBerth(const std::string& socket,
                                                       const std::vector<std::string>& args);

}  // namespace berth::tests
