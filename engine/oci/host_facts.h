// HostFacts: what the OCI spec builder needs to know about the host it builds for (the
// capabilities and rlimits a container may get, the CPU count, the kernel version and the
// architecture for seccomp rules). Detect() reads them from the calling process and the
// kernel; tests fill the struct by hand so that the builder's checks are deterministic.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace berth::engine::oci {

// Hard limit value meaning "unlimited" (RLIM_INFINITY).
inline constexpr uint64_t kRlimitInfinity = ~uint64_t{0};

struct HostFacts {
  // Capability names ("CAP_CHOWN", ...) that a container can be given: the permitted set of
  // this process (berthd runs as root like the runtime that applies the spec). On some hosts
  // root lacks CAP_SYS_RESOURCE; asking the runtime for it would fail with EPERM.
  std::vector<std::string> capabilities;
  // Hard rlimits of this process, keyed by ulimit name ("nofile", "nproc", ...); a container
  // cannot be given more (raising a hard limit needs CAP_SYS_RESOURCE).
  std::map<std::string, uint64_t> hard_rlimits;
  // Online CPUs, the upper bound of `--cpus`.
  int cpus = 1;
  // Kernel version, for the "minKernel" conditions of seccomp profiles.
  int kernel_major = 0;
  int kernel_minor = 0;
  // Go-style architecture name ("amd64", "arm64", ...), as Docker's seccomp profiles use.
  std::string arch;
  // Whether the memory cgroup can limit swap (cgroup v1 memory.memsw.*, or cgroup v2).
  bool swap_limit_supported = true;
  // Where host device nodes live, for privileged containers (all of them are given).
  std::string dev_dir = "/dev";
};

// Reads the facts of the running host and process. Anything it cannot read keeps a safe
// default (no capabilities beyond Docker's defaults are assumed, 1 CPU).
HostFacts DetectHostFacts();

// "amd64", "arm64", ... for the architecture this binary was built for.
std::string NativeArch();

// Ulimit names Docker accepts ("core", "nofile", ...), each with its RLIMIT_* number.
const std::map<std::string, int>& UlimitResources();

}  // namespace berth::engine::oci
