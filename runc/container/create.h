// Creating a container (`berth-runc create`/`run`): berth-runc clones the container's init
// directly into its new namespaces (no re-exec of itself), puts it in its cgroup, runs the
// createRuntime hooks, and lets the init set up its rootfs and process. The init then blocks
// on the exec FIFO until `start`. On any failure nothing is left: no process, cgroup, state
// directory or mount (mounts live only in the init's mount namespace).
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "runc/spec/spec.h"
#include "runc/state/state.h"

namespace berth::runc::container {

struct CreateOptions {
  std::string id;
  std::string bundle;  // absolute
  std::string pid_file;
  std::string console_socket;
  bool no_pivot = false;
  int preserve_fds = 0;
  // Told about non-fatal trouble (e.g. the seccomp cache could not be written).
  std::function<void(const std::string&)> warn;
};

struct Created {
  state::ContainerState state;
  // The init is our child (`run` waits for it); `create` just exits and lets it be reparented.
  pid_t pid = 0;
};

absl::StatusOr<Created> CreateContainer(state::Store& store, const spec::Spec& spec,
                                        const CreateOptions& options);

// The OCI state JSON that hooks get on stdin.
std::string HookStateJson(const spec::Spec& spec, const std::string& id,
                          const std::string& bundle, pid_t pid, const char* status);

// Writes `pid` to `path` atomically (a shim polls for it), like runc's --pid-file.
absl::Status WritePidFile(const std::string& path, pid_t pid);

}  // namespace berth::runc::container
