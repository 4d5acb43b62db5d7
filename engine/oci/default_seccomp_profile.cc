// Docker's default seccomp profile, written as berth data in Docker's profile model. The
// allowed syscalls and the conditions follow the profile Docker documents in
// docs.docker.com/engine/security/seccomp ("Significant syscalls blocked by the default
// profile"): everything not listed fails with EPERM.
#include <linux/sched.h>

#include "engine/oci/seccomp_profile.h"

namespace berth::engine::oci {
namespace {

constexpr char kAllow[] = "SCMP_ACT_ALLOW";

// Syscalls every container may make, whatever its capabilities.
const char* const kAlwaysAllowed[] = {
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget",
    "capset", "chdir", "chmod", "chown", "chown32", "clock_getres", "clock_getres_time64",
    "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close",
    "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3",
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
    "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve",
    "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64",
    "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown",
    "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
    "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs",
    "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex", "futex_requeue",
    "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "futimesat", "getcpu",
    "getcwd", "getdents", "getdents64", "getegid", "getegid32", "geteuid", "geteuid32",
    "getgid", "getgid32", "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid",
    "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid", "getresgid32",
    "getresuid", "getresuid32", "getrlimit", "get_robust_list", "getrusage", "getsid",
    "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid",
    "getuid32", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1",
    "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents",
    "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit",
    "io_uring_enter", "io_uring_register", "io_uring_setup", "ipc", "kill",
    "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
    "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr", "_llseek",
    "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack",
    "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod",
    "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr",
    "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
    "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd",
    "msync", "munlock", "munlockall", "munmap", "nanosleep", "newfstatat", "_newselect",
    "open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2",
    "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl",
    "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6",
    "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
    "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
    "remap_file_pages", "removexattr", "rename", "renameat", "renameat2", "restart_syscall",
    "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
    "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr", "sched_getparam",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
    "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
    "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp",
    "select", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send",
    "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32",
    "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer",
    "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32",
    "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list",
    "setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32",
    "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd",
    "signalfd4", "sigprocmask", "sigreturn", "socket", "socketcall", "socketpair", "splice",
    "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync",
    "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
    "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
    "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
    "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
    "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat",
    "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
    "writev",
};

// Namespace-creating clone(2) flags: without CAP_SYS_ADMIN, clone is allowed only when none
// of them is set (unshare and setns are not allowed at all then).
constexpr uint64_t kNamespaceCloneFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                                          CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
                                          CLONE_NEWCGROUP;

SeccompRule Allow(std::vector<std::string> names) {
  SeccompRule r;
  r.names = std::move(names);
  r.action = kAllow;
  return r;
}

SeccompRule AllowWithCap(std::vector<std::string> names, const char* cap) {
  SeccompRule r = Allow(std::move(names));
  r.includes.caps = {cap};
  return r;
}

SeccompRule AllowOnArches(std::vector<std::string> names, std::vector<std::string> arches) {
  SeccompRule r = Allow(std::move(names));
  r.includes.arches = std::move(arches);
  return r;
}

SeccompProfile BuildDefault() {
  SeccompProfile p;
  p.default_action = "SCMP_ACT_ERRNO";
  p.default_errno_ret = 1;  // EPERM
  p.arch_map = {
      {"SCMP_ARCH_X86_64", {"SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
      {"SCMP_ARCH_AARCH64", {"SCMP_ARCH_ARM"}},
      {"SCMP_ARCH_MIPS64", {"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"}},
      {"SCMP_ARCH_MIPSEL64", {"SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"}},
      {"SCMP_ARCH_S390X", {"SCMP_ARCH_S390"}},
      {"SCMP_ARCH_RISCV64", {}},
      {"SCMP_ARCH_PPC64LE", {}},
  };
  std::vector<SeccompRule>& s = p.syscalls;
  s.push_back(Allow(std::vector<std::string>(std::begin(kAlwaysAllowed),
                                             std::end(kAlwaysAllowed))));
  // Since Linux 4.8 ptrace can no longer be used to bypass seccomp, so Docker allows it (and
  // process_vm_*) without CAP_SYS_PTRACE there.
  {
    SeccompRule r = Allow({"process_vm_readv", "process_vm_writev", "ptrace"});
    r.includes.min_kernel = "4.8";
    s.push_back(std::move(r));
  }
  // personality(2): only PER_LINUX, UNAME26, PER_LINUX32, UNAME26|PER_LINUX32 and the query
  // 0xffffffff; one rule each (libseccomp ANDs conditions inside one rule).
  for (uint64_t persona : {0x0ULL, 0x0008ULL, 0x20000ULL, 0x20008ULL, 0xffffffffULL}) {
    SeccompRule r = Allow({"personality"});
    r.args = {{0, persona, 0, "SCMP_CMP_EQ"}};
    s.push_back(std::move(r));
  }
  s.push_back(AllowOnArches({"sync_file_range2", "swapcontext"}, {"ppc64le"}));
  s.push_back(AllowOnArches({"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2",
                             "breakpoint", "cacheflush", "set_tls"},
                            {"arm", "arm64"}));
  s.push_back(AllowOnArches({"arch_prctl"}, {"amd64", "x32"}));
  s.push_back(AllowOnArches({"modify_ldt"}, {"amd64", "x32", "x86", "386"}));
  s.push_back(AllowOnArches({"s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"},
                            {"s390", "s390x"}));
  s.push_back(AllowOnArches({"riscv_flush_icache"}, {"riscv64"}));
  s.push_back(AllowWithCap({"open_by_handle_at"}, "CAP_DAC_READ_SEARCH"));
  s.push_back(AllowWithCap({"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount",
                            "fsopen", "fspick", "lookup_dcookie", "mount", "mount_setattr",
                            "move_mount", "name_to_handle_at", "open_tree", "perf_event_open",
                            "pivot_root", "quotactl", "quotactl_fd", "setdomainname",
                            "sethostname", "setns", "syslog", "umount", "umount2", "unshare"},
                           "CAP_SYS_ADMIN"));
  // clone without namespace flags. The flags are argument 0, except on s390 where the first
  // two arguments are swapped.
  {
    SeccompRule r = Allow({"clone"});
    r.args = {{0, kNamespaceCloneFlags, 0, "SCMP_CMP_MASKED_EQ"}};
    r.excludes.caps = {"CAP_SYS_ADMIN"};
    r.excludes.arches = {"s390", "s390x"};
    s.push_back(std::move(r));
  }
  {
    SeccompRule r = Allow({"clone"});
    r.args = {{1, kNamespaceCloneFlags, 0, "SCMP_CMP_MASKED_EQ"}};
    r.includes.arches = {"s390", "s390x"};
    r.excludes.caps = {"CAP_SYS_ADMIN"};
    s.push_back(std::move(r));
  }
  // clone3 passes its flags in memory, out of seccomp's reach: make it fail with ENOSYS so
  // that libc falls back to clone, whose flags the rule above checks.
  {
    SeccompRule r;
    r.names = {"clone3"};
    r.action = "SCMP_ACT_ERRNO";
    r.errno_ret = 38;  // ENOSYS
    r.excludes.caps = {"CAP_SYS_ADMIN"};
    s.push_back(std::move(r));
  }
  s.push_back(AllowWithCap({"reboot"}, "CAP_SYS_BOOT"));
  s.push_back(AllowWithCap({"chroot"}, "CAP_SYS_CHROOT"));
  s.push_back(AllowWithCap({"delete_module", "init_module", "finit_module"}, "CAP_SYS_MODULE"));
  s.push_back(AllowWithCap({"acct"}, "CAP_SYS_PACCT"));
  s.push_back(AllowWithCap({"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv",
                            "process_vm_writev", "ptrace"},
                           "CAP_SYS_PTRACE"));
  s.push_back(AllowWithCap({"iopl", "ioperm"}, "CAP_SYS_RAWIO"));
  s.push_back(AllowWithCap({"settimeofday", "stime", "clock_settime", "clock_settime64",
                            "clock_adjtime", "clock_adjtime64"},
                           "CAP_SYS_TIME"));
  s.push_back(AllowWithCap({"vhangup"}, "CAP_SYS_TTY_CONFIG"));
  s.push_back(AllowWithCap(
      {"get_mempolicy", "mbind", "move_pages", "set_mempolicy", "set_mempolicy_home_node"},
      "CAP_SYS_NICE"));
  s.push_back(AllowWithCap({"syslog"}, "CAP_SYSLOG"));
  s.push_back(AllowWithCap({"bpf"}, "CAP_BPF"));
  s.push_back(AllowWithCap({"perf_event_open"}, "CAP_PERFMON"));
  return p;
}

}  // namespace

const SeccompProfile& DefaultSeccompProfile() {
  static const auto* profile = new SeccompProfile(BuildDefault());
  return *profile;
}

}  // namespace berth::engine::oci
