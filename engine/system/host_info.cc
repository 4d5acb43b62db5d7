#include "engine/system/host_info.h"

#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace berth::engine::system {

std::string ParseOsReleasePrettyName(absl::string_view os_release) {
  for (absl::string_view line : absl::StrSplit(os_release, '\n')) {
    if (!absl::ConsumePrefix(&line, "PRETTY_NAME=")) continue;
    line = absl::StripAsciiWhitespace(line);
    if (line.size() >= 2 && (line.front() == '"' || line.front() == '\'') &&
        line.back() == line.front()) {
      line = line.substr(1, line.size() - 2);
    }
    if (!line.empty()) return std::string(line);
  }
  return "Linux";
}

std::string NormalizeArch(absl::string_view machine) {
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64") return "arm64";
  if (machine == "i386" || machine == "i686") return "386";
  if (machine == "armv7l" || machine == "armv6l") return "arm";
  if (machine == "ppc64le") return "ppc64le";
  if (machine == "s390x") return "s390x";
  if (machine == "riscv64") return "riscv64";
  return std::string(machine);
}

HostInfo ReadHostInfo(const std::string& root_fs) {
  HostInfo h;
  h.os_type = "linux";
  utsname u;
  if (uname(&u) == 0) {
    h.hostname = u.nodename;
    h.kernel_version = u.release;
    h.architecture = NormalizeArch(u.machine);
  }
  const std::string prefix = root_fs == "/" ? "" : root_fs;
  for (const char* path : {"/etc/os-release", "/usr/lib/os-release"}) {
    std::ifstream in(prefix + path);
    if (!in) continue;
    std::stringstream ss;
    ss << in.rdbuf();
    h.operating_system = ParseOsReleasePrettyName(ss.str());
    break;
  }
  if (h.operating_system.empty()) h.operating_system = "Linux";
  h.ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  struct sysinfo si;
  if (sysinfo(&si) == 0) h.mem_total = static_cast<int64_t>(si.totalram) * si.mem_unit;
  // A cgroup2 filesystem at /sys/fs/cgroup means the unified hierarchy; anything else
  // (tmpfs holding v1 hierarchies, possibly with a cgroup2 mount at unified/) is v1/hybrid,
  // which berth treats as v1, like runc.
  struct statfs fs;
  h.cgroup_version = "1";
  if (statfs((prefix + "/sys/fs/cgroup").c_str(), &fs) == 0 &&
      fs.f_type == CGROUP2_SUPER_MAGIC) {
    h.cgroup_version = "2";
  }
  return h;
}

}  // namespace berth::engine::system
