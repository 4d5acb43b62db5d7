#include "engine/oci/capabilities.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace berth::engine::oci {
namespace {

constexpr absl::string_view kAll = "ALL";

int Index(absl::string_view cap) {
  const std::vector<std::string>& all = AllCapabilityNames();
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i] == cap) return static_cast<int>(i);
  }
  return -1;
}

absl::StatusOr<std::set<std::string>> NormalizeAll(const std::vector<std::string>& names) {
  std::set<std::string> out;
  for (const std::string& n : names) {
    absl::StatusOr<std::string> c = NormalizeCapability(n);
    if (!c.ok()) return c.status();
    out.insert(*std::move(c));
  }
  return out;
}

}  // namespace

const std::vector<std::string>& AllCapabilityNames() {
  // linux/capability.h, by number.
  static const auto* names = new std::vector<std::string>{
      "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
      "CAP_FSETID",          "CAP_KILL",           "CAP_SETGID",          "CAP_SETUID",
      "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
      "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
      "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",      "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
      "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",
      "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
      "CAP_LEASE",           "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
      "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",          "CAP_WAKE_ALARM",
      "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
      "CAP_CHECKPOINT_RESTORE",
  };
  return *names;
}

const std::vector<std::string>& DefaultCapabilities() {
  static const auto* caps = new std::vector<std::string>{
      "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
      "CAP_MKNOD",  "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
      "CAP_SETFCAP", "CAP_SETPCAP",     "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
      "CAP_KILL",   "CAP_AUDIT_WRITE",
  };
  return *caps;
}

absl::StatusOr<std::string> NormalizeCapability(absl::string_view name) {
  std::string upper = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(name));
  if (upper == kAll) return upper;
  if (!absl::StartsWith(upper, "CAP_")) upper = absl::StrCat("CAP_", upper);
  if (Index(upper) < 0) {
    return absl::InvalidArgumentError(absl::StrCat("unknown capability: \"", upper, "\""));
  }
  return upper;
}

absl::StatusOr<std::vector<std::string>> ContainerCapabilities(
    const std::vector<std::string>& cap_add, const std::vector<std::string>& cap_drop,
    bool privileged, const std::vector<std::string>& available) {
  const std::set<std::string> host(available.begin(), available.end());
  std::set<std::string> caps;
  if (privileged) {
    caps = host;
  } else {
    absl::StatusOr<std::set<std::string>> add = NormalizeAll(cap_add);
    if (!add.ok()) return add.status();
    absl::StatusOr<std::set<std::string>> drop = NormalizeAll(cap_drop);
    if (!drop.ok()) return drop.status();
    for (const std::string& c : *add) {
      if (c != kAll && host.count(c) == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("capability ", c, " cannot be added: this host does not grant it"));
      }
    }
    if (add->count(std::string(kAll))) {
      for (const std::string& c : host) {
        if (drop->count(c) == 0) caps.insert(c);
      }
    } else if (drop->count(std::string(kAll))) {
      caps = *add;
    } else {
      for (const std::string& c : DefaultCapabilities()) {
        if (drop->count(c) == 0 && host.count(c) != 0) caps.insert(c);
      }
      caps.insert(add->begin(), add->end());
    }
  }
  std::vector<std::string> out(caps.begin(), caps.end());
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return Index(a) < Index(b);
  });
  return out;
}

}  // namespace berth::engine::oci
