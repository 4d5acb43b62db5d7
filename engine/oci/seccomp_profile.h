// Seccomp profiles in Docker's JSON format (what `--security-opt seccomp=profile.json` takes
// and what Docker's built-in default is written in) and their conversion to the OCI runtime
// spec's linux.seccomp object (config-linux.md "Seccomp").
//
// Docker's format adds to the OCI form:
//   - "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": [...]}], of which
//     only the entry of the host's architecture is used ("architectures" is the plain list;
//     giving both is an error);
//   - per rule, "name" (one syscall, legacy) besides "names", and the conditions
//     "includes"/"excludes" with "caps" (capability names), "arches" (Go architecture names
//     such as "amd64") and "minKernel" ("4.8"): a rule applies only if every included
//     capability is in the container's set, none of the excluded ones is, the host
//     architecture is in (not in) the list and the kernel is at least (below) minKernel.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace berth::engine::oci {

struct SeccompArg {
  uint32_t index = 0;
  uint64_t value = 0;
  uint64_t value_two = 0;
  std::string op;  // "SCMP_CMP_EQ", ...
};

struct SeccompCondition {
  std::vector<std::string> caps;
  std::vector<std::string> arches;
  std::string min_kernel;  // "major.minor", empty for none
};

struct SeccompRule {
  std::vector<std::string> names;
  std::string action;  // "SCMP_ACT_ALLOW", ...
  std::optional<uint32_t> errno_ret;
  std::vector<SeccompArg> args;
  SeccompCondition includes;
  SeccompCondition excludes;
};

struct SeccompArchMap {
  std::string architecture;
  std::vector<std::string> sub_architectures;
};

struct SeccompProfile {
  std::string default_action;
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;
  std::vector<SeccompArchMap> arch_map;
  std::vector<std::string> flags;
  std::string listener_path;
  std::string listener_metadata;
  std::vector<SeccompRule> syscalls;
};

// Docker's default profile (moby profiles/seccomp/default.json): deny with EPERM by default,
// allow the syscalls ordinary programs use, allow the privileged ones only with the matching
// capability (mount/unshare/setns with CAP_SYS_ADMIN, ptrace with CAP_SYS_PTRACE, ...),
// restrict clone(2) to flags without namespace creation and personality(2) to the safe
// personas unless CAP_SYS_ADMIN. Syscalls such as kexec_load, open_by_handle_at (without
// CAP_DAC_READ_SEARCH), add_key or keyctl are never allowed.
const SeccompProfile& DefaultSeccompProfile();

// Parses a profile in Docker's JSON format. InvalidArgument for malformed JSON, wrong field
// types, both "name" and "names", both "architectures" and "archMap", unknown actions or
// operators, a missing defaultAction, or an argument index above 5.
absl::StatusOr<SeccompProfile> ParseSeccompProfile(absl::string_view json);

// What the conditions of a profile are evaluated against.
struct SeccompContext {
  std::vector<std::string> capabilities;  // the container's ("CAP_SYS_ADMIN", ...)
  std::string arch;                       // Go name of the host architecture ("amd64")
  int kernel_major = 0;
  int kernel_minor = 0;
};

// The OCI linux.seccomp object for `profile` in `ctx`: rules whose conditions do not hold are
// dropped, "name" becomes "names", archMap becomes the host's architectures. InvalidArgument
// for an unparsable minKernel.
absl::StatusOr<nlohmann::ordered_json> ToOciSeccomp(const SeccompProfile& profile,
                                                    const SeccompContext& ctx);

// "amd64" -> "SCMP_ARCH_X86_64", ...; empty for an unknown name.
std::string SeccompArchName(absl::string_view go_arch);

}  // namespace berth::engine::oci
