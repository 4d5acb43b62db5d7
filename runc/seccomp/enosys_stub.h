// Internal to //runc/seccomp: the "-ENOSYS stub", a classic-BPF prefix for a seccomp program that
// makes syscalls newer than a profile fail with ENOSYS instead of the profile's default action
// (runc prepends the same kind of stub to every restrictive filter).
//
// Why: a profile lists the syscalls its author knew. A newer libc in the container tries newer
// syscalls first and falls back only on ENOSYS; a default action of ERRNO(EPERM) or KILL would
// break it. The stub only looks at numbers above the largest one the profile names for that
// architecture, so syscalls in gaps of the table (or added out of order) still get the default
// action, like runc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::runc::seccomp::internal {

// The largest syscall number a profile names on one libseccomp architecture.
struct ArchMax {
  uint32_t scmp_arch;  // SCMP_ARCH_* (not SCMP_ARCH_NATIVE)
  uint32_t max_nr;     // as the kernel sees it (x32 numbers include __X32_SYSCALL_BIT)
};

// Builds the stub as an array of struct sock_filter (host byte order), to be followed directly by
// the real filter: every path through the stub either returns SECCOMP_RET_ERRNO|ENOSYS or falls off
// its end into the real filter. Architectures absent from `arches` fall through untouched. Empty
// input gives an empty stub. Internal if the stub would need a jump longer than 255 instructions
// (it cannot with the architectures that exist) or an architecture appears twice.
absl::StatusOr<std::string> BuildEnosysStub(const std::vector<ArchMax>& arches);

}  // namespace berth::runc::seccomp::internal
