// What a test's daemons may leave behind, found by the test's own directory and cgroup parent
// (never by process name): mounts under a directory and cgroup trees, listed and removed. For the
// final checks and last-resort cleanup of integration tests.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::testing {

// Mount points at or under `dir` (from /proc/self/mountinfo, octal escapes decoded), in mount
// order. What `mount | grep <dir>` shows, for the tests' final check.
absl::StatusOr<std::vector<std::string>> MountsUnder(const std::string& dir);

// Unmounts (lazily) whatever is still mounted at or under `dir`; returns what was there.
std::vector<std::string> UnmountLeftovers(const std::string& dir);

// Removes the cgroup `parent` (e.g. "/berth-test-x") in every hierarchy (each cgroup v1
// controller and the v2 mount), children first. Returns the directories below a parent that
// existed (container cgroups nobody removed) and any that could not be removed.
std::vector<std::string> RemoveCgroupParent(const std::string& parent);

}  // namespace berth::testing
