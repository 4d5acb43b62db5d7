#include "runc/linux/sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status/status_macros.h"
#include "runc/linux/mount_util.h"

namespace berth::runc::linux {
namespace {

std::string KeyLabel(absl::string_view key) { return absl::StrCat("linux.sysctl[\"", key, "\"]"); }

// Which namespace a key needs; kNone for keys no namespace covers.
enum class Needs { kIpc, kNet, kUts, kNone };

Needs NamespaceFor(absl::string_view path) {
  if (absl::StartsWith(path, "net/")) return Needs::kNet;
  if (absl::StartsWith(path, "fs/mqueue/")) return Needs::kIpc;
  if (absl::StartsWith(path, "kernel/shm") || absl::StartsWith(path, "kernel/msg") ||
      absl::StartsWith(path, "kernel/sem")) {
    return Needs::kIpc;
  }
  if (path == "kernel/hostname" || path == "kernel/domainname") return Needs::kUts;
  return Needs::kNone;
}

}  // namespace

absl::StatusOr<std::string> SysctlPath(absl::string_view key) {
  std::vector<std::string> comps;
  for (absl::string_view c : absl::StrSplit(key, '.')) {
    std::string comp(c);
    for (char& ch : comp) {
      if (ch == '/') ch = '.';
    }
    if (comp.empty() || comp == "." || comp == "..") {
      return absl::InvalidArgumentError("malformed key");
    }
    comps.push_back(std::move(comp));
  }
  return absl::StrJoin(comps, "/");
}

absl::Status ValidateSysctls(const spec::Spec& spec) {
  using spec::NamespaceType;
  for (const auto& [key, value] : spec.linux.sysctl) {
    BERTH_ASSIGN_OR_RETURN(std::string path, SysctlPath(key), KeyLabel(key));
    switch (NamespaceFor(path)) {
      case Needs::kIpc:
        if (!spec.HasNamespace(NamespaceType::kIpc)) {
          return absl::InvalidArgumentError(absl::StrCat(
              KeyLabel(key), ": needs an ipc namespace; refusing to change the host's"));
        }
        break;
      case Needs::kNet:
        if (!spec.HasNamespace(NamespaceType::kNetwork)) {
          return absl::InvalidArgumentError(absl::StrCat(
              KeyLabel(key), ": needs a network namespace; refusing to change the host's"));
        }
        break;
      case Needs::kUts:
        if (!spec.HasNamespace(NamespaceType::kUts)) {
          return absl::InvalidArgumentError(absl::StrCat(
              KeyLabel(key), ": needs a uts namespace; refusing to change the host's"));
        }
        break;
      case Needs::kNone:
        return absl::InvalidArgumentError(absl::StrCat(
            KeyLabel(key), ": not a namespaced sysctl; refusing to change the host's"));
    }
  }
  return absl::OkStatus();
}

absl::Status WriteSysctls(const spec::Spec& spec, const std::string& proc_sys) {
  BERTH_RETURN_IF_ERROR(ValidateSysctls(spec));
  for (const auto& [key, value] : spec.linux.sysctl) {
    BERTH_ASSIGN_OR_RETURN(std::string rel, SysctlPath(key), KeyLabel(key));
    const std::string file = absl::StrCat(proc_sys, "/", rel);
    UniqueFd fd(open(file.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid()) {
      return absl::ErrnoToStatus(errno, absl::StrCat(KeyLabel(key), ": open ", file));
    }
    // /proc/sys takes the whole value in one write.
    ssize_t n = write(fd.get(), value.data(), value.size());
    if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat(KeyLabel(key), ": write ", file));
    if (static_cast<size_t>(n) != value.size()) {
      return absl::InternalError(absl::StrCat(KeyLabel(key), ": write ", file, ": short write"));
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::runc::linux
