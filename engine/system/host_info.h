// Facts about the host berthd runs on, reported by `berth info` and `berth version`.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace berth::engine::system {

struct HostInfo {
  std::string hostname;
  std::string kernel_version;    // uname release, e.g. "6.1.0-18-amd64"
  std::string operating_system;  // PRETTY_NAME from os-release, e.g. "Debian GNU/Linux 12"
  std::string os_type;           // "linux"
  std::string architecture;      // Go-style, e.g. "amd64", like Docker reports it
  int64_t ncpu = 0;
  int64_t mem_total = 0;        // bytes
  std::string cgroup_version;   // "1" (v1 or hybrid) or "2" (unified)
};

// Reads the host's facts from uname(2), sysconf, sysinfo and the files under `root_fs`
// ("/" normally; tests point it at a fake tree for os-release and the cgroup mount).
HostInfo ReadHostInfo(const std::string& root_fs = "/");

// The PRETTY_NAME value of an os-release file's text ("Linux" when absent).
std::string ParseOsReleasePrettyName(absl::string_view os_release);

// Maps a uname machine name to the GOARCH-style names images use (x86_64 -> amd64,
// aarch64 -> arm64, ...).
std::string NormalizeArch(absl::string_view machine);

}  // namespace berth::engine::system
