#include "runc/spec/names.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/ioprio.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace berth::runc::spec {
namespace {

// Index == capability number (linux/capability.h).
constexpr NamedValue kCapabilities[] = {
    {"CAP_CHOWN", CAP_CHOWN},
    {"CAP_DAC_OVERRIDE", CAP_DAC_OVERRIDE},
    {"CAP_DAC_READ_SEARCH", CAP_DAC_READ_SEARCH},
    {"CAP_FOWNER", CAP_FOWNER},
    {"CAP_FSETID", CAP_FSETID},
    {"CAP_KILL", CAP_KILL},
    {"CAP_SETGID", CAP_SETGID},
    {"CAP_SETUID", CAP_SETUID},
    {"CAP_SETPCAP", CAP_SETPCAP},
    {"CAP_LINUX_IMMUTABLE", CAP_LINUX_IMMUTABLE},
    {"CAP_NET_BIND_SERVICE", CAP_NET_BIND_SERVICE},
    {"CAP_NET_BROADCAST", CAP_NET_BROADCAST},
    {"CAP_NET_ADMIN", CAP_NET_ADMIN},
    {"CAP_NET_RAW", CAP_NET_RAW},
    {"CAP_IPC_LOCK", CAP_IPC_LOCK},
    {"CAP_IPC_OWNER", CAP_IPC_OWNER},
    {"CAP_SYS_MODULE", CAP_SYS_MODULE},
    {"CAP_SYS_RAWIO", CAP_SYS_RAWIO},
    {"CAP_SYS_CHROOT", CAP_SYS_CHROOT},
    {"CAP_SYS_PTRACE", CAP_SYS_PTRACE},
    {"CAP_SYS_PACCT", CAP_SYS_PACCT},
    {"CAP_SYS_ADMIN", CAP_SYS_ADMIN},
    {"CAP_SYS_BOOT", CAP_SYS_BOOT},
    {"CAP_SYS_NICE", CAP_SYS_NICE},
    {"CAP_SYS_RESOURCE", CAP_SYS_RESOURCE},
    {"CAP_SYS_TIME", CAP_SYS_TIME},
    {"CAP_SYS_TTY_CONFIG", CAP_SYS_TTY_CONFIG},
    {"CAP_MKNOD", CAP_MKNOD},
    {"CAP_LEASE", CAP_LEASE},
    {"CAP_AUDIT_WRITE", CAP_AUDIT_WRITE},
    {"CAP_AUDIT_CONTROL", CAP_AUDIT_CONTROL},
    {"CAP_SETFCAP", CAP_SETFCAP},
    {"CAP_MAC_OVERRIDE", CAP_MAC_OVERRIDE},
    {"CAP_MAC_ADMIN", CAP_MAC_ADMIN},
    {"CAP_SYSLOG", CAP_SYSLOG},
    {"CAP_WAKE_ALARM", CAP_WAKE_ALARM},
    {"CAP_BLOCK_SUSPEND", CAP_BLOCK_SUSPEND},
    {"CAP_AUDIT_READ", CAP_AUDIT_READ},
    {"CAP_PERFMON", CAP_PERFMON},
    {"CAP_BPF", CAP_BPF},
    {"CAP_CHECKPOINT_RESTORE", CAP_CHECKPOINT_RESTORE},
};
static_assert(sizeof(kCapabilities) / sizeof(kCapabilities[0]) == CAP_LAST_CAP + 1,
              "capability table out of date with linux/capability.h");
static_assert(CAP_AUDIT_READ == kAlwaysKnownLastCap);

constexpr NamedValue kRlimits[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

struct NamespaceInfo {
  NamespaceType type;
  absl::string_view name;
  int clone_flag;
};
constexpr NamespaceInfo kNamespaces[] = {
    {NamespaceType::kPid, "pid", CLONE_NEWPID},
    {NamespaceType::kNetwork, "network", CLONE_NEWNET},
    {NamespaceType::kMount, "mount", CLONE_NEWNS},
    {NamespaceType::kIpc, "ipc", CLONE_NEWIPC},
    {NamespaceType::kUts, "uts", CLONE_NEWUTS},
    {NamespaceType::kUser, "user", CLONE_NEWUSER},
    {NamespaceType::kCgroup, "cgroup", CLONE_NEWCGROUP},
    {NamespaceType::kTime, "time", CLONE_NEWTIME},
};

constexpr NamedValue kPropagations[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

// SCHED_ISO is in the runtime spec but not in Linux; 4 is the number reserved for it, so the
// kernel rejects it with EINVAL when it is used.
constexpr NamedValue kSchedulerPolicies[] = {
    {"SCHED_OTHER", SCHED_OTHER},       {"SCHED_FIFO", SCHED_FIFO}, {"SCHED_RR", SCHED_RR},
    {"SCHED_BATCH", SCHED_BATCH},       {"SCHED_ISO", 4},           {"SCHED_IDLE", SCHED_IDLE},
    {"SCHED_DEADLINE", SCHED_DEADLINE},
};

constexpr NamedValue kSchedulerFlags[] = {
    {"SCHED_FLAG_RESET_ON_FORK", SCHED_FLAG_RESET_ON_FORK},
    {"SCHED_FLAG_RECLAIM", SCHED_FLAG_RECLAIM},
    {"SCHED_FLAG_DL_OVERRUN", SCHED_FLAG_DL_OVERRUN},
    {"SCHED_FLAG_KEEP_POLICY", SCHED_FLAG_KEEP_POLICY},
    {"SCHED_FLAG_KEEP_PARAMS", SCHED_FLAG_KEEP_PARAMS},
    {"SCHED_FLAG_UTIL_CLAMP_MIN", SCHED_FLAG_UTIL_CLAMP_MIN},
    {"SCHED_FLAG_UTIL_CLAMP_MAX", SCHED_FLAG_UTIL_CLAMP_MAX},
};

constexpr NamedValue kIoPriorityClasses[] = {
    {"IOPRIO_CLASS_RT", IOPRIO_CLASS_RT},
    {"IOPRIO_CLASS_BE", IOPRIO_CLASS_BE},
    {"IOPRIO_CLASS_IDLE", IOPRIO_CLASS_IDLE},
};

constexpr absl::string_view kSeccompActions[] = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY",
};

constexpr absl::string_view kSeccompOperators[] = {
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",        "SCMP_CMP_EQ",
    "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
};

constexpr absl::string_view kSeccompFlags[] = {
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
};

template <size_t N>
std::optional<uint64_t> Find(const NamedValue (&table)[N], absl::string_view name) {
  for (const NamedValue& e : table) {
    if (e.name == name) return e.value;
  }
  return std::nullopt;
}

template <size_t N>
bool Contains(const absl::string_view (&table)[N], absl::string_view name) {
  for (absl::string_view e : table) {
    if (e == name) return true;
  }
  return false;
}

int ReadKernelLastCap() {
  const int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return CAP_LAST_CAP;
  char buf[16];
  ssize_t n;
  do {
    n = read(fd, buf, sizeof(buf) - 1);
  } while (n < 0 && errno == EINTR);
  close(fd);
  if (n <= 0) return CAP_LAST_CAP;
  int value = 0;
  bool any = false;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) {
    value = value * 10 + (buf[i] - '0');
    any = true;
    if (value > 1000) return CAP_LAST_CAP;  // nonsense
  }
  return any ? value : CAP_LAST_CAP;
}

}  // namespace

absl::Span<const NamedValue> CapabilityNames() { return kCapabilities; }

std::optional<int> CapabilityFromName(absl::string_view name) {
  // Every name starts with "CAP_"; skip the shared prefix in the comparisons.
  if (name.size() < 5 || name.substr(0, 4) != "CAP_") return std::nullopt;
  const absl::string_view rest = name.substr(4);
  for (const NamedValue& e : kCapabilities) {
    if (e.name.substr(4) == rest) return static_cast<int>(e.value);
  }
  return std::nullopt;
}

absl::string_view CapabilityName(int cap) {
  if (cap < 0 || cap > CAP_LAST_CAP) return "";
  return kCapabilities[cap].name;
}

int KernelLastCap() {
  static std::atomic<int> cached{-1};
  int v = cached.load(std::memory_order_relaxed);
  if (v < 0) {
    v = ReadKernelLastCap();
    cached.store(v, std::memory_order_relaxed);
  }
  return v;
}

absl::Span<const NamedValue> RlimitNames() { return kRlimits; }

std::optional<int> RlimitFromName(absl::string_view name) {
  auto v = Find(kRlimits, name);
  if (!v) return std::nullopt;
  return static_cast<int>(*v);
}

std::optional<NamespaceType> NamespaceTypeFromName(absl::string_view name) {
  for (const NamespaceInfo& e : kNamespaces) {
    if (e.name == name) return e.type;
  }
  return std::nullopt;
}

absl::string_view NamespaceTypeName(NamespaceType type) {
  for (const NamespaceInfo& e : kNamespaces) {
    if (e.type == type) return e.name;
  }
  return "";
}

int NamespaceCloneFlag(NamespaceType type) {
  for (const NamespaceInfo& e : kNamespaces) {
    if (e.type == type) return e.clone_flag;
  }
  return 0;
}

absl::Span<const NamedValue> PropagationNames() { return kPropagations; }

std::optional<unsigned long> PropagationFromName(absl::string_view name) {
  auto v = Find(kPropagations, name);
  if (!v) return std::nullopt;
  return static_cast<unsigned long>(*v);
}

std::optional<int> SchedulerPolicyFromName(absl::string_view name) {
  auto v = Find(kSchedulerPolicies, name);
  if (!v) return std::nullopt;
  return static_cast<int>(*v);
}

std::optional<uint64_t> SchedulerFlagFromName(absl::string_view name) {
  return Find(kSchedulerFlags, name);
}

std::optional<int> IoPriorityClassFromName(absl::string_view name) {
  auto v = Find(kIoPriorityClasses, name);
  if (!v) return std::nullopt;
  return static_cast<int>(*v);
}

absl::Span<const absl::string_view> SeccompActions() { return kSeccompActions; }
absl::Span<const absl::string_view> SeccompOperators() { return kSeccompOperators; }
absl::Span<const absl::string_view> SeccompFlags() { return kSeccompFlags; }
bool IsSeccompAction(absl::string_view name) { return Contains(kSeccompActions, name); }
bool IsSeccompOperator(absl::string_view name) { return Contains(kSeccompOperators, name); }
bool IsSeccompFlag(absl::string_view name) { return Contains(kSeccompFlags, name); }

bool SeccompActionTakesErrno(absl::string_view action) {
  return action == "SCMP_ACT_ERRNO" || action == "SCMP_ACT_TRACE";
}

}  // namespace berth::runc::spec
