// `berth-runc exec`: a new process in a running container. berth-runc joins the init's
// namespaces (user first), forks so the child lands in the pid namespace, puts the child in
// the container's cgroup, and the child becomes the process as `process` says before exec.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "runc/spec/spec.h"
#include "runc/state/state.h"

namespace berth::runc::container {

struct ExecOptions {
  std::string id;
  std::string console_socket;
  std::string pid_file;
  bool detach = false;
  int preserve_fds = 0;
};

// Starts the process. With `detach`, returns its pid once it has exec'd; otherwise waits for
// it (forwarding signals) and returns its exit code.
absl::StatusOr<int> Exec(const state::Store& store, const spec::Process& process,
                         const ExecOptions& options);

}  // namespace berth::runc::container
