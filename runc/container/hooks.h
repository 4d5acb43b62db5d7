// OCI lifecycle hooks (runtime-spec config.md "POSIX-platform Hooks"): each hook runs with the
// container's state JSON on stdin, within its timeout.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "runc/spec/spec.h"

namespace berth::runc::container {

// Runs `hooks` in order, stopping at the first failure. `phase` ("createRuntime", ...) names
// the hook in errors: `hooks.createRuntime[1] (/usr/bin/x): exit status 3`.
absl::Status RunHooks(const std::vector<spec::Hook>& hooks, const std::string& phase,
                      const std::string& state_json);

// Runs every hook in `hooks` in order, going on past failures, and returns one status per
// failed hook (empty when all succeeded). For poststart and poststop hooks, whose failures
// the runtime spec says to report as warnings while "the remaining hooks and lifecycle
// continue as if the hook had succeeded" (runtime.md "Lifecycle", steps 9 and 12).
std::vector<absl::Status> RunAllHooks(const std::vector<spec::Hook>& hooks,
                                      const std::string& phase, const std::string& state_json);

}  // namespace berth::runc::container
