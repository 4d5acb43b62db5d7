// The commands that act on an existing container: start, kill, delete, pause/resume, and the
// status every command needs. Each loads the state saved by create, checks the init is still
// the same process (pid + start time), and acts.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runc/cgroups/manager.h"
#include "runc/state/state.h"

namespace berth::runc::container {

struct Loaded {
  state::ContainerState state;
  std::unique_ptr<cgroups::Manager> cgroup;
  state::Status status;
};

// Loads a container and its current status. NotFound when it does not exist.
absl::StatusOr<Loaded> Load(const state::Store& store, const std::string& id);

// Lets the created container's init exec the user process; runs poststart hooks (their
// failures are warnings, per the spec). FailedPrecondition unless the container is created.
absl::Status Start(state::Store& store, const std::string& id, std::vector<std::string>* warnings);

// Sends `signal` to the init, or with `all` to every process in the container's cgroup.
// FailedPrecondition when the container is stopped.
absl::Status Kill(const state::Store& store, const std::string& id, int signal, bool all);

// Removes a stopped container (cgroup, state) and runs poststop hooks. With `force`, a
// created/running/paused one is killed first. FailedPrecondition otherwise.
absl::Status Delete(state::Store& store, const std::string& id, bool force,
                    std::vector<std::string>* warnings);

absl::Status Pause(const state::Store& store, const std::string& id);
absl::Status Resume(const state::Store& store, const std::string& id);

// Parses a signal given by name ("KILL", "SIGKILL", "sigterm") or number.
absl::StatusOr<int> ParseSignal(const std::string& s);

}  // namespace berth::runc::container
