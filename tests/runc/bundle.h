// OCI bundles for berth-runc's integration tests: the rootfs is common/testing's busybox
// (MakeBusyboxRootfs); a config.json starts from `berth-runc spec` and is edited per test.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "common/testing/child_process.h"

namespace berth::tests {

// The default spec, made non-interactive (terminal false) with `args`, a unique cgroups path
// and hostname "berth-test".
nlohmann::json TestSpec(const std::vector<std::string>& args);

absl::Status WriteSpec(const std::string& bundle, const nlohmann::json& spec);

// Runs berth-runc (from runfiles) with --root <root> and `args`; output (container's too) in
// CommandResult::output.
absl::StatusOr<berth::testing::CommandResult> RunRuntime(const std::string& root,
                                                         const std::vector<std::string>& args,
                                                         const std::string& cwd = "");

// Whether any cgroup directory or mount mentions `needle` (for leak checks).
bool CgroupExists(const std::string& name);
bool MountsMention(const std::string& needle);

}  // namespace berth::tests
