// Seccomp for berth-runc: turns the OCI linux.seccomp object (runtime spec 1.1, config-linux.md
// "Seccomp") into a classic-BPF program with libseccomp, and installs it.
//
// The fast path, used by berth-runc, splits the work across fork():
//
//   // parent, before fork/clone: all of libseccomp's work, errors reported normally
//   // (CompileCached in bpf_cache.h skips even that for a profile seen before)
//   BERTH_ASSIGN_OR_RETURN(seccomp::Program prog, seccomp::CompileProgram(*linux.seccomp));
//   // child (the container's init), right before execve, after
//   // prctl(PR_SET_NO_NEW_PRIVS) when process.noNewPrivileges is set:
//   BERTH_RETURN_IF_ERROR(seccomp::InstallBpf(prog.bpf, prog.flags));
//
// so the child makes one seccomp(2) call and never runs libseccomp. Filter::Load() does both
// steps in the calling process.
//
// Behaviour, following runc where the spec leaves room:
//  - A syscall name that libseccomp does not know on any architecture is skipped (profiles
//    list syscalls of newer kernels); an empty name is an error.
//  - A rule whose action (errno included) equals the default action is skipped: it changes
//    nothing, and libseccomp rejects it.
//  - Argument conditions on distinct indexes form one rule (libseccomp ANDs them). When two or
//    more conditions share an index, libseccomp 2.5 refuses them in one rule (EINVAL), so each
//    condition becomes its own rule: the action then applies when ANY of them matches.
//  - The native architecture is always in the filter. An architecture of the other byte order
//    (e.g. SCMP_ARCH_S390X on x86_64) is skipped: libseccomp cannot mix byte orders in one
//    filter, and no process on this kernel can use it (runc fails instead).
//  - SCMP_ACT_KILL is SCMP_ACT_KILL_THREAD. SCMP_ACT_ERRNO and SCMP_ACT_TRACE without
//    errnoRet use EPERM (1).
//  - The exported program starts with an "-ENOSYS stub": unless the default action is
//    permissive (ALLOW, LOG, TRACE) or already ERRNO(ENOSYS), a syscall whose number is larger
//    than every syscall the profile names (per architecture) fails with ENOSYS instead of
//    getting the default action, so a libc newer than the profile falls back to older syscalls
//    instead of failing with EPERM. runc prepends the same kind of stub; unlike runc, the
//    native architecture is covered even when linux.seccomp.architectures is empty.
//  - Without "flags" in config.json (has_flags false), SECCOMP_FILTER_FLAG_SPEC_ALLOW is set
//    when the kernel and libseccomp support it, as runc and crun do; "flags": [] sets none.
//  - The filter never sets no_new_privs itself (process.noNewPrivileges decides that), unlike
//    libseccomp's default.
//  - SCMP_ACT_NOTIFY (seccomp user notification to listenerPath) is not implemented yet.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runc/spec/spec.h"

namespace berth::runc::seccomp {

// A compiled seccomp filter: owns a libseccomp filter context (scmp_filter_ctx) plus the
// -ENOSYS stub and seccomp(2) flags derived from the profile. Movable, not copyable; a
// moved-from Filter may only be destroyed or assigned to. Not thread-safe: use one Filter from
// one thread at a time.
class Filter {
 public:
  Filter(Filter&& other) noexcept;
  Filter& operator=(Filter&& other) noexcept;
  Filter(const Filter&) = delete;
  Filter& operator=(const Filter&) = delete;
  ~Filter();

  // Installs the filter into the calling thread (with SECCOMP_FILTER_FLAG_TSYNC, into all its
  // threads); irreversible. It is ExportBpf + InstallBpf rather than seccomp_load(), so that
  // the kernel gets the same program (stub included) on both paths. The caller must have set
  // no_new_privs (prctl(PR_SET_NO_NEW_PRIVS, 1)) or hold CAP_SYS_ADMIN in its user namespace.
  // Call it as late as possible (right before execve): the filter also applies to the
  // runtime's own remaining syscalls. Errors: those of ExportBpf and InstallBpf.
  absl::Status Load() const;

  // The complete classic-BPF program (an array of struct sock_filter, in host byte order) as
  // the kernel receives it: the -ENOSYS stub followed by libseccomp's program. Internal if
  // libseccomp cannot export it or this Filter was moved from.
  absl::StatusOr<std::string> ExportBpf() const;

  // SECCOMP_FILTER_FLAG_* bits to pass to seccomp(2) with the exported program.
  uint32_t kernel_flags() const { return kernel_flags_; }

 private:
  friend absl::StatusOr<Filter> Compile(const spec::Seccomp& s);
  explicit Filter(void* ctx) : ctx_(ctx) {}

  void* ctx_ = nullptr;  // scmp_filter_ctx, opaque here so this header needs no <seccomp.h>
  uint32_t kernel_flags_ = 0;
  std::string stub_;  // the -ENOSYS prefix (sock_filter array), possibly empty
};

// False when linux.seccomp has neither a defaultAction nor syscalls: runc then installs no
// filter at all, and neither should berth-runc (Compile would say the action is missing).
bool Enabled(const spec::Seccomp& s);

// Compiles linux.seccomp into a Filter. Touches neither the calling process nor the file
// system. Errors:
//  - InvalidArgument naming the field, e.g.
//    `linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"`: a missing or unknown
//    action, an unknown architecture (or one this libseccomp lacks), operator or flag; an
//    errnoRet above 65535; an arg index above 5; an empty names list or an empty name;
//    SCMP_ACT_NOTIFY as the default action or without listenerPath; a flag this kernel or
//    libseccomp refuses; a rule libseccomp refuses.
//  - Unimplemented: SCMP_ACT_NOTIFY with a listenerPath, and
//    SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (which only means something with a listener).
//  - Internal: libseccomp fails to allocate.
absl::StatusOr<Filter> Compile(const spec::Seccomp& s);

// A compiled program with its seccomp(2) flags: what the parent hands to the container's init.
struct Program {
  std::string bpf;     // Filter::ExportBpf()
  uint32_t flags = 0;  // Filter::kernel_flags()
};

// Compile + ExportBpf. Errors: those of both. bpf_cache.h caches the result on disk.
absl::StatusOr<Program> CompileProgram(const spec::Seccomp& s);

// Installs a program from Filter::ExportBpf into the calling thread with
// seccomp(SECCOMP_SET_MODE_FILTER, flags, ...). Meant for the child after fork/clone: it never
// calls libseccomp and allocates nothing on success. Same precondition as Filter::Load
// (no_new_privs or CAP_SYS_ADMIN). Errors: InvalidArgument if `bpf` is empty, not a whole
// number of instructions or longer than BPF_MAXINSNS; PermissionDenied (EACCES) when neither
// no_new_privs nor CAP_SYS_ADMIN holds; other errno-mapped codes from the kernel
// (InvalidArgument for EINVAL, e.g. a flag this kernel lacks); Aborted when TSYNC could not
// synchronise another thread.
absl::Status InstallBpf(const std::string& bpf, uint32_t flags);

// For `berth-runc features` (OCI features.md, linux.seccomp); each sorted.
// Actions this runtime accepts (SCMP_ACT_NOTIFY is left out until it is implemented).
std::vector<std::string> KnownActions();
// Architectures the linked libseccomp knows.
std::vector<std::string> KnownArchitectures();
// Argument comparison operators.
std::vector<std::string> KnownOperators();
// Filter flags this runtime accepts (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is left out: it
// needs a notify listener).
std::vector<std::string> KnownFlags();
// The subset of KnownFlags() that the running kernel accepts, probed with seccomp(2) calls
// that install nothing.
std::vector<std::string> SupportedFlags();

}  // namespace berth::runc::seccomp
