// The OCI runtime spec 1.1 (config.json) as plain C++ values: what berth-runc reads from a
// bundle, after validation. Only the parts a Linux runtime uses are modelled; fields are named
// as in the spec (camelCase in JSON, snake_case here). The parser (parser.h) fills these and
// rejects bad input with an error naming the JSON field; the rest of berth-runc never sees
// JSON.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::runc::spec {

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::optional<uint32_t> umask;
  std::vector<uint32_t> additional_gids;
};

struct Rlimit {
  int resource = 0;  // RLIMIT_* number, resolved from "RLIMIT_NOFILE" etc. by the parser
  std::string type;  // as written, for error messages
  uint64_t soft = 0;
  uint64_t hard = 0;
};

struct Capabilities {
  // Capability numbers (CAP_*), resolved and validated by the parser.
  std::vector<int> bounding, effective, inheritable, permitted, ambient;
};

struct ConsoleSize {
  uint32_t height = 0;
  uint32_t width = 0;
};

// process.scheduler (sched_setattr(2)); names resolved by the parser.
struct Scheduler {
  std::string policy_name;  // "SCHED_OTHER", ... as written
  int policy = 0;           // SCHED_* number (SCHED_ISO, which Linux lacks, is 4)
  int32_t nice = 0;
  int32_t priority = 0;
  std::vector<std::string> flag_names;  // "SCHED_FLAG_RESET_ON_FORK", ... as written
  uint64_t flags = 0;                   // SCHED_FLAG_* bits
  uint64_t runtime = 0;                 // nanoseconds (SCHED_DEADLINE)
  uint64_t deadline = 0;
  uint64_t period = 0;
};

// process.ioPriority (ioprio_set(2)).
struct IoPriority {
  std::string class_name;  // "IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE" or "IOPRIO_CLASS_IDLE"
  int io_class = 0;        // IOPRIO_CLASS_* number (1, 2, 3)
  int priority = 0;        // 0 (highest) .. 7
};

struct Process {
  bool terminal = false;
  std::optional<ConsoleSize> console_size;
  User user;
  std::vector<std::string> args;
  std::vector<std::string> env;  // "KEY=value"
  std::string cwd = "/";
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::optional<int> oom_score_adj;
  std::string apparmor_profile;  // refused when set: no AppArmor on berth's hosts
  std::string selinux_label;     // refused when set
  std::optional<Scheduler> scheduler;
  std::optional<IoPriority> io_priority;
};

struct Root {
  std::string path;  // absolute after parsing (relative paths are joined to the bundle)
  bool readonly = false;
};

struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
};

struct Mount {
  std::string destination;  // absolute path inside the container
  std::string type;         // "bind", "proc", "tmpfs", ...; empty for bind mounts
  std::string source;
  std::vector<std::string> options;  // as written
  // Parsed from options: MS_* flags to set, propagation flags (MS_SHARED, ...) applied by a
  // second mount(2) call, recursive read-only etc., and the remaining data string.
  // "bind" puts MS_BIND in flags (and sets bind), "rbind" MS_BIND | MS_REC (and sets bind and
  // recursive), as runc does. See mount_options.h.
  unsigned long flags = 0;
  unsigned long clear_flags = 0;       // e.g. "rw" after "ro", "suid" clears MS_NOSUID
  std::vector<unsigned long> propagation;
  bool bind = false;      // bind or rbind
  bool recursive = false; // rbind
  std::string data;       // comma-joined filesystem options ("mode=755,size=65536k")
  // Recursive mount attributes for mount_setattr(2) with AT_RECURSIVE ("rro", "rnosuid", ...,
  // runtime spec 1.1): MOUNT_ATTR_* bits to set and to clear. rec_attr_set & MOUNT_ATTR_RDONLY
  // is "rro". An atime option ("rnoatime", ...) also puts MOUNT_ATTR__ATIME in rec_attr_clr,
  // as mount_setattr(2) requires.
  uint64_t rec_attr_set = 0;
  uint64_t rec_attr_clr = 0;
  bool tmpcopyup = false;        // "tmpcopyup": copy the underlying content into the new tmpfs
  bool idmap = false;            // "idmap" or "ridmap": an id-mapped mount (MOUNT_ATTR_IDMAP)
  bool idmap_recursive = false;  // "ridmap"
  std::vector<IdMapping> uid_mappings;  // mounts[].uidMappings / gidMappings (id-mapped mounts)
  std::vector<IdMapping> gid_mappings;
};

enum class NamespaceType { kPid, kNetwork, kMount, kIpc, kUts, kUser, kCgroup, kTime };

struct Namespace {
  NamespaceType type;
  std::string path;  // empty: create a new one; else join the namespace at this path
};

struct Device {
  std::string path;  // inside the container, e.g. "/dev/fuse"
  char type = 'c';   // 'c', 'b', 'u' or 'p'
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint32_t> file_mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
};

struct DeviceCgroupRule {
  bool allow = false;
  std::string type;  // "a", "c", "b" (empty = "a")
  std::optional<int64_t> major;  // unset = wildcard
  std::optional<int64_t> minor;
  std::string access;  // subset of "rwm"
};

struct MemoryResources {
  std::optional<int64_t> limit, reservation, swap, kernel, kernel_tcp;
  std::optional<uint64_t> swappiness;
  std::optional<bool> disable_oom_killer;
  std::optional<bool> use_hierarchy;
  std::optional<bool> check_before_update;
};

struct CpuResources {
  std::optional<uint64_t> shares;
  std::optional<int64_t> quota;
  std::optional<uint64_t> period;
  std::optional<int64_t> realtime_runtime;
  std::optional<uint64_t> realtime_period;
  std::string cpus;  // cpuset, e.g. "0-1"
  std::string mems;
  std::optional<int64_t> idle;
  std::optional<uint64_t> burst;
};

struct BlockIoDevice {
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint16_t> weight;       // weightDevice only
  std::optional<uint16_t> leaf_weight;  // weightDevice only
  uint64_t rate = 0;                    // throttle* only
};

struct BlockIoResources {
  std::optional<uint16_t> weight;
  std::optional<uint16_t> leaf_weight;
  std::vector<BlockIoDevice> weight_devices;
  std::vector<BlockIoDevice> throttle_read_bps, throttle_write_bps;
  std::vector<BlockIoDevice> throttle_read_iops, throttle_write_iops;
};

struct HugepageLimit {
  std::string page_size;  // "2MB", "1GB"
  uint64_t limit = 0;
};

struct RdmaLimit {
  std::optional<uint32_t> hca_handles;
  std::optional<uint32_t> hca_objects;
};

struct Resources {
  std::vector<DeviceCgroupRule> devices;
  std::optional<MemoryResources> memory;
  std::optional<CpuResources> cpu;
  std::optional<int64_t> pids_limit;
  std::optional<BlockIoResources> block_io;
  std::vector<HugepageLimit> hugepage_limits;
  std::map<std::string, std::string> unified;  // cgroup v2 files, e.g. "memory.high"
  bool has_network = false;                    // linux.resources.network was set (v1 only)
  std::optional<uint32_t> net_class_id;
  std::vector<std::pair<std::string, uint32_t>> net_priorities;
  std::map<std::string, RdmaLimit> rdma;  // linux.resources.rdma: device name -> limits
};

// linux.seccomp. Names stay strings here; the seccomp package resolves them with libseccomp,
// which knows the syscall table of each architecture.
struct SeccompArg {
  uint32_t index = 0;
  uint64_t value = 0;
  uint64_t value_two = 0;
  std::string op;  // "SCMP_CMP_EQ", ...
};

struct SeccompSyscall {
  std::vector<std::string> names;
  std::string action;  // "SCMP_ACT_ERRNO", ...
  std::optional<uint32_t> errno_ret;
  std::vector<SeccompArg> args;
};

struct Seccomp {
  std::string default_action;
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;  // "SCMP_ARCH_X86_64", ...
  std::vector<std::string> flags;          // "SECCOMP_FILTER_FLAG_LOG", ...
  // Whether "flags" was in config.json at all (even empty): runc adds
  // SECCOMP_FILTER_FLAG_SPEC_ALLOW only when it is absent.
  bool has_flags = false;
  std::string listener_path;               // seccomp notify: refused for now
  std::string listener_metadata;
  std::vector<SeccompSyscall> syscalls;
};

struct Personality {
  std::string domain;  // "LINUX" or "LINUX32"
  std::vector<std::string> flags;
};

struct Hook {
  std::string path;  // absolute
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout;  // seconds, > 0
};

struct Hooks {
  std::vector<Hook> prestart;  // deprecated in 1.1 but still run, after createRuntime
  std::vector<Hook> create_runtime;
  std::vector<Hook> create_container;
  std::vector<Hook> start_container;
  std::vector<Hook> poststart;
  std::vector<Hook> poststop;
};

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;
  std::vector<Device> devices;
  std::string cgroups_path;
  std::optional<Resources> resources;
  std::map<std::string, std::string> sysctl;
  std::optional<Seccomp> seccomp;
  std::string rootfs_propagation;  // "", "private", "rprivate", "slave", "rslave", "shared", ...
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::string mount_label;  // SELinux: refused when set
  std::optional<Personality> personality;
  // linux.timeOffsets for the time namespace: clock name ("monotonic"/"boottime") ->
  // {secs, nanosecs}.
  std::map<std::string, std::pair<int64_t, uint32_t>> time_offsets;
  bool has_intel_rdt = false;  // linux.intelRdt: refused, no resctrl on berth's hosts
};

struct Spec {
  std::string oci_version;
  std::optional<Process> process;  // optional in the spec; required by create
  Root root;
  std::string hostname;
  std::string domainname;
  std::vector<Mount> mounts;
  std::optional<Hooks> hooks;
  std::map<std::string, std::string> annotations;
  Linux linux;

  bool HasNamespace(NamespaceType t) const;
  const Namespace* FindNamespace(NamespaceType t) const;
};

}  // namespace berth::runc::spec
