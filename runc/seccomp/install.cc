// The kernel side: installing an exported program with seccomp(2), and probing flags. No libseccomp
// here, so this is all the container's init runs between fork and execve.
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "runc/seccomp/names.h"
#include "runc/seccomp/seccomp.h"

namespace berth::runc::seccomp {

absl::Status InstallBpf(const std::string& bpf, uint32_t flags) {
  if (bpf.empty() || bpf.size() % sizeof(sock_filter) != 0 ||
      bpf.size() / sizeof(sock_filter) > BPF_MAXINSNS) {
    return absl::InvalidArgumentError(
        absl::StrCat("install seccomp filter: program of ", bpf.size(), " bytes is not 1 to ",
                     BPF_MAXINSNS, " instructions of ", sizeof(sock_filter), " bytes"));
  }
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(bpf.size() / sizeof(sock_filter));
  // The kernel copies the program in; it never writes through this pointer.
  prog.filter = reinterpret_cast<sock_filter*>(const_cast<char*>(bpf.data()));
  const long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (rc < 0) {
    if (errno == EACCES) {
      return absl::PermissionDeniedError(
          "install seccomp filter: no_new_privs is not set and the caller "
          "lacks CAP_SYS_ADMIN");
    }
    return absl::ErrnoToStatus(errno, "install seccomp filter");
  }
  if (rc > 0) {
    // With SECCOMP_FILTER_FLAG_TSYNC: the id of a thread that could not be synchronised.
    return absl::AbortedError(
        absl::StrCat("install seccomp filter: thread ", rc, " could not be synchronised"));
  }
  return absl::OkStatus();
}

std::vector<std::string> SupportedFlags() {
  std::vector<std::string> out;
  for (const std::string& name : KnownFlags()) {
    const internal::FlagName* f = internal::FindFlag(name);
    if (f == nullptr) continue;
    // A NULL program: the kernel checks the flags first (EINVAL when unknown), then fails to copy
    // the program (EFAULT). Nothing is installed either way.
    const long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, f->kernel_flag, nullptr);
    if (rc < 0 && errno == EFAULT) out.push_back(name);
  }
  return out;
}

}  // namespace berth::runc::seccomp
