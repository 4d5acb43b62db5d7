// The names config.json uses for kernel constants, and their numbers: capabilities, rlimits,
// namespace types, rootfs/mount propagation, scheduler policies and flags, I/O priority classes,
// and the seccomp action/operator/flag names the runtime spec lists. The parser resolves names
// with these; `berth-runc features` lists them. Tables are constant arrays (no start-up cost,
// nothing allocated); lookups are linear over a few dozen entries.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "runc/spec/spec.h"

namespace berth::runc::spec {

struct NamedValue {
  absl::string_view name;
  uint64_t value;
};

// Capabilities (capabilities(7)): "CAP_CHOWN" (0) .. "CAP_CHECKPOINT_RESTORE" (40), in number
// order (index == number). Names are exact and upper-case, as the runtime spec writes them.
absl::Span<const NamedValue> CapabilityNames();
std::optional<int> CapabilityFromName(absl::string_view name);
absl::string_view CapabilityName(int cap);  // "" when unknown

// Every kernel berth runs on (>= 3.16) knows capabilities 0..kAlwaysKnownLastCap
// (CAP_AUDIT_READ), so only higher numbers need the kernel asked.
inline constexpr int kAlwaysKnownLastCap = 37;

// The highest capability the running kernel knows: /proc/sys/kernel/cap_last_cap, read once
// and cached (thread-safe). Falls back to CAP_LAST_CAP of the build headers when /proc cannot
// be read.
int KernelLastCap();

// getrlimit(2) resources: "RLIMIT_CPU" -> RLIMIT_CPU, ...
absl::Span<const NamedValue> RlimitNames();
std::optional<int> RlimitFromName(absl::string_view name);

// Namespace types as config.json spells them ("pid", "network", "mount", "ipc", "uts", "user",
// "cgroup", "time"), and the CLONE_NEW* flag of each.
std::optional<NamespaceType> NamespaceTypeFromName(absl::string_view name);
absl::string_view NamespaceTypeName(NamespaceType type);
int NamespaceCloneFlag(NamespaceType type);
inline constexpr NamespaceType kAllNamespaceTypes[] = {
    NamespaceType::kPid, NamespaceType::kNetwork, NamespaceType::kMount,  NamespaceType::kIpc,
    NamespaceType::kUts, NamespaceType::kUser,    NamespaceType::kCgroup, NamespaceType::kTime};

// Propagation names ("private", "rprivate", "slave", "rslave", "shared", "rshared",
// "unbindable", "runbindable") -> MS_* flags (with MS_REC for the r* forms). Used for mount
// options and for linux.rootfsPropagation.
absl::Span<const NamedValue> PropagationNames();
std::optional<unsigned long> PropagationFromName(absl::string_view name);

// process.scheduler.policy ("SCHED_OTHER", ...) and .flags ("SCHED_FLAG_RESET_ON_FORK", ...).
std::optional<int> SchedulerPolicyFromName(absl::string_view name);
std::optional<uint64_t> SchedulerFlagFromName(absl::string_view name);

// process.ioPriority.class: "IOPRIO_CLASS_RT" (1), "IOPRIO_CLASS_BE" (2), "IOPRIO_CLASS_IDLE"
// (3).
std::optional<int> IoPriorityClassFromName(absl::string_view name);

// Seccomp names from the runtime spec (config-linux.md, "Seccomp"). The seccomp package maps
// them to libseccomp values; the parser only checks them.
absl::Span<const absl::string_view> SeccompActions();    // "SCMP_ACT_KILL", ...
absl::Span<const absl::string_view> SeccompOperators();  // "SCMP_CMP_NE", ...
absl::Span<const absl::string_view> SeccompFlags();      // "SECCOMP_FILTER_FLAG_TSYNC", ...
bool IsSeccompAction(absl::string_view name);
bool IsSeccompOperator(absl::string_view name);
bool IsSeccompFlag(absl::string_view name);
// Whether an action takes an errno return code (errnoRet): SCMP_ACT_ERRNO and SCMP_ACT_TRACE.
bool SeccompActionTakesErrno(absl::string_view action);

}  // namespace berth::runc::spec
