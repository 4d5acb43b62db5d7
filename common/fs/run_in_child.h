// Runs test code in a forked child, for what must not touch the test process: lowered
// rlimits, a private mount namespace. Test-only.
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"

namespace berth::fs::testing {

// Forks, runs `body` in the child and returns what it returned ("" meaning success, anything
// else a description of what went wrong, by convention). Internal if the child dies without
// finishing `body` (a crash, a signal). The calling process must be single-threaded, as
// GoogleTest tests are unless they start threads.
absl::StatusOr<std::string> RunInChild(const std::function<std::string()>& body);

}  // namespace berth::fs::testing
