#include "runc/seccomp/names.h"

#include <linux/seccomp.h>
#include <seccomp.h>

#include <algorithm>
#include <iterator>

namespace berth::runc::seccomp::internal {
namespace {

// OCI runtime spec 1.1, config-linux.md "Seccomp": action constants.
constexpr ActionName kActions[] = {
    {"SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD, ActionKind::kPlain},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, ActionKind::kPlain},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, ActionKind::kPlain},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, ActionKind::kPlain},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), ActionKind::kWithData},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), ActionKind::kWithData},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, ActionKind::kPlain},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, ActionKind::kPlain},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, ActionKind::kNotify},
};

// The architectures the linked libseccomp knows. Newer ones are guarded so that a newer libseccomp
// adds them without a code change.
constexpr ArchName kArches[] = {
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
#ifdef SCMP_ARCH_LOONGARCH64
    {"SCMP_ARCH_LOONGARCH64", SCMP_ARCH_LOONGARCH64},
#endif
#ifdef SCMP_ARCH_M68K
    {"SCMP_ARCH_M68K", SCMP_ARCH_M68K},
#endif
#ifdef SCMP_ARCH_SH
    {"SCMP_ARCH_SH", SCMP_ARCH_SH},
#endif
#ifdef SCMP_ARCH_SHEB
    {"SCMP_ARCH_SHEB", SCMP_ARCH_SHEB},
#endif
};

// Every architecture name the spec lists (runtime-spec 1.1 schema/defs-linux.json).
constexpr const char* kSpecArches[] = {
    "SCMP_ARCH_X86",         "SCMP_ARCH_X86_64",      "SCMP_ARCH_X32",     "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",     "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPS64N32",   "SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",         "SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",        "SCMP_ARCH_S390X",       "SCMP_ARCH_SH",      "SCMP_ARCH_SHEB",
    "SCMP_ARCH_PARISC",      "SCMP_ARCH_PARISC64",    "SCMP_ARCH_RISCV64",
};

struct OperatorName {
  const char* name;
  int op;
};

constexpr OperatorName kOperators[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

// libseccomp 2.5 maps TSYNC, LOG and SPEC_ALLOW (its "SSB" attribute) to filter attributes;
// WAIT_KILLABLE_RECV only exists with a notify listener (the kernel refuses it without
// SECCOMP_FILTER_FLAG_NEW_LISTENER), which berth-runc does not create yet.
constexpr FlagName kFlags[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC, SCMP_FLTATR_CTL_TSYNC, true},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG, SCMP_FLTATR_CTL_LOG, true},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW, SCMP_FLTATR_CTL_SSB, true},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, 0, false},
};

template <typename T, size_t N>
const T* FindByName(const T (&table)[N], absl::string_view name) {
  for (const T& e : table) {
    if (name == e.name) return &e;
  }
  return nullptr;
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

const ActionName* FindAction(absl::string_view name) { return FindByName(kActions, name); }
const ArchName* FindArch(absl::string_view name) { return FindByName(kArches, name); }
const FlagName* FindFlag(absl::string_view name) { return FindByName(kFlags, name); }

std::optional<int> FindOperator(absl::string_view name) {
  const OperatorName* o = FindByName(kOperators, name);
  if (o == nullptr) return std::nullopt;
  return o->op;
}

bool IsSpecArchitecture(absl::string_view name) {
  return std::find(std::begin(kSpecArches), std::end(kSpecArches), name) != std::end(kSpecArches);
}

std::vector<std::string> ActionNames() {
  std::vector<std::string> out;
  for (const ActionName& a : kActions) {
    if (a.kind != ActionKind::kNotify) out.emplace_back(a.name);
  }
  return Sorted(std::move(out));
}

std::vector<std::string> ArchNames() {
  std::vector<std::string> out;
  for (const ArchName& a : kArches) out.emplace_back(a.name);
  return Sorted(std::move(out));
}

std::vector<std::string> OperatorNames() {
  std::vector<std::string> out;
  for (const OperatorName& o : kOperators) out.emplace_back(o.name);
  return Sorted(std::move(out));
}

std::vector<std::string> ImplementedFlagNames() {
  std::vector<std::string> out;
  for (const FlagName& f : kFlags) {
    if (f.implemented) out.emplace_back(f.name);
  }
  return Sorted(std::move(out));
}

}  // namespace berth::runc::seccomp::internal
