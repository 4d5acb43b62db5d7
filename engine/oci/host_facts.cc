#include "engine/oci/host_facts.h"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>


#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/fs/fs.h"
#include "engine/oci/capabilities.h"

namespace berth::engine::oci {
namespace {

// The permitted capability mask of this process, from /proc/self/status ("CapPrm:\t<hex>").
bool ReadPermittedCaps(uint64_t* mask) {
  absl::StatusOr<std::string> status = fs::ReadFile("/proc/self/status");
  if (!status.ok()) return false;
  for (absl::string_view line : absl::StrSplit(*status, '\n')) {
    if (!absl::ConsumePrefix(&line, "CapPrm:")) continue;
    return absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line), mask);
  }
  return false;
}

bool FileExists(const char* path) { return ::access(path, F_OK) == 0; }

}  // namespace

std::string NativeArch() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__i386__)
  return "386";
#elif defined(__arm__)
  return "arm";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "ppc64le";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#else
  return "unknown";
#endif
}

const std::map<std::string, int>& UlimitResources() {
  static const auto* m = new std::map<std::string, int>{
      {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},       {"cpu", RLIMIT_CPU},
      {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},     {"locks", RLIMIT_LOCKS},
      {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
      {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},     {"rss", RLIMIT_RSS},
      {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},   {"sigpending", RLIMIT_SIGPENDING},
      {"stack", RLIMIT_STACK},
  };
  return *m;
}

HostFacts DetectHostFacts() {
  HostFacts f;
  uint64_t mask = 0;
  const std::vector<std::string>& names = AllCapabilityNames();
  if (ReadPermittedCaps(&mask)) {
    for (size_t i = 0; i < names.size() && i < 64; ++i) {
      if (mask & (uint64_t{1} << i)) f.capabilities.push_back(names[i]);
    }
  }
  for (const auto& [name, resource] : UlimitResources()) {
    struct rlimit rl;
    if (::getrlimit(resource, &rl) != 0) continue;
    f.hard_rlimits[name] = rl.rlim_max == RLIM_INFINITY ? kRlimitInfinity : rl.rlim_max;
  }
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  f.cpus = cpus > 0 ? static_cast<int>(cpus) : 1;
  struct utsname u;
  if (::uname(&u) == 0) {
    std::vector<absl::string_view> parts = absl::StrSplit(u.release, absl::ByAnyChar(".-"));
    if (parts.size() >= 2) {
      if (!absl::SimpleAtoi(parts[0], &f.kernel_major)) f.kernel_major = 0;
      if (!absl::SimpleAtoi(parts[1], &f.kernel_minor)) f.kernel_minor = 0;
    }
  }
  f.arch = NativeArch();
  // cgroup v1 limits swap through memory.memsw.* (present only with swap accounting on);
  // cgroup v2 through memory.swap.max.
  const bool v2 = FileExists("/sys/fs/cgroup/cgroup.controllers");
  f.swap_limit_supported =
      v2 || FileExists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
  return f;
}

}  // namespace berth::engine::oci
