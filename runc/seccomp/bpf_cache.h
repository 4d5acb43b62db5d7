// A directory of compiled seccomp programs, so berth-runc compiles each distinct profile once
// instead of on every container start. libseccomp is slow on big profiles: Docker's default
// profile for x86_64 (about 350 syscalls on x86_64, x86 and x32) takes 5-14 ms to compile and
// export, most of a container start; reading the cached program takes microseconds. crun keeps
// a cache like this one under its state directory for the same reason.
//
// An entry is looked up by a hash of its key, but the whole key is stored in the entry and
// compared on every hit, so a hash collision only costs a recompile. The key is everything the
// program depends on: the profile (every field), this compiler's format version and berth's
// version, the libseccomp version and API level, and the kernel (uname release, version and
// machine). Entries are written atomically (fs::WriteFileAtomically) with mode 0600.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "runc/seccomp/seccomp.h"
#include "runc/spec/spec.h"

namespace berth::runc::seccomp {

struct BpfCacheOptions {
  // Where entries live, e.g. "<--root>/.cache/seccomp"; created (mode 0700) on the first miss.
  // It must be writable only by this user: an entry is a filter that will be trusted.
  std::string dir;
  // Entries kept; past this, the oldest (by write time) are removed after a miss.
  size_t max_entries = 64;
  // Told about cache trouble (the compile still succeeds); berth-runc logs it as a warning.
  // berth-runc links no logging library, so this package doesn't log by itself.
  std::function<void(const std::string&)> warn;
};

// CompileProgram(s), reusing a cached program when one matches. Errors are those of
// CompileProgram. Trouble with the cache itself (missing or unwritable dir, a corrupt or
// truncated entry, an entry owned by another user or writable by group/others, a full disk)
// is never an error: the profile is compiled, options.warn is told, and the
// entry is rewritten when possible. Safe to run from several processes at once.
absl::StatusOr<Program> CompileCached(const spec::Seccomp& s, const BpfCacheOptions& options);

// The cache key of `s` in this environment (exposed for tests).
std::string BpfCacheKey(const spec::Seccomp& s);

// The entry file name for `key`: 16 hex digits of a 64-bit hash, plus ".bpf".
std::string BpfCacheFileName(const std::string& key);

}  // namespace berth::runc::seccomp
