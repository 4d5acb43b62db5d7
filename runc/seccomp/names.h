// Internal to //runc/seccomp: the OCI seccomp names (actions, architectures, operators, flags) and
// the libseccomp / kernel values they stand for.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace berth::runc::seccomp::internal {

enum class ActionKind { kPlain, kWithData, kNotify };

struct ActionName {
  const char* name;  // "SCMP_ACT_ERRNO"
  uint32_t value;    // SCMP_ACT_* with data 0
  ActionKind kind;   // kWithData: ERRNO and TRACE take errnoRet (default EPERM)
};

struct ArchName {
  const char* name;  // "SCMP_ARCH_X86_64"
  uint32_t token;    // SCMP_ARCH_X86_64
};

struct FlagName {
  const char* name;      // "SECCOMP_FILTER_FLAG_LOG"
  uint32_t kernel_flag;  // SECCOMP_FILTER_FLAG_LOG
  int attr;              // enum scmp_filter_attr to set to 1, or 0 when libseccomp has none
  bool implemented;      // false: recognised but refused as Unimplemented
};

// Lookups by OCI name; nullptr/nullopt when unknown.
const ActionName* FindAction(absl::string_view name);
const ArchName* FindArch(absl::string_view name);
std::optional<int> FindOperator(absl::string_view name);  // enum scmp_compare
const FlagName* FindFlag(absl::string_view name);

// True for architecture names that the OCI spec lists but the linked libseccomp lacks.
bool IsSpecArchitecture(absl::string_view name);

std::vector<std::string> ActionNames();  // without SCMP_ACT_NOTIFY
std::vector<std::string> ArchNames();
std::vector<std::string> OperatorNames();
std::vector<std::string> ImplementedFlagNames();

}  // namespace berth::runc::seccomp::internal
