// The cgroup of one container, as berth-runc sees it: create it, put processes in it, write the
// limits of config.json's linux.resources, freeze, signal, read statistics and remove it.
//
// One interface for both kernel APIs, like runc's cgroupfs driver:
//   - cgroup v1 (also "hybrid" hosts, which mount v1 hierarchies plus a cgroup2 tree: those
//     are driven through their v1 hierarchies, as runc does): one directory per mounted
//     hierarchy, each found in /proc/self/mountinfo.
//   - cgroup v2 (unified): one directory in the cgroup2 tree.
// NewManager / LoadManager below return the cgroupfs implementations (v1_manager.h,
// v2_manager.h); a fake for other packages' tests is in fake_manager.h.
//
// berth-runc is a short-lived CLI: `create` resolves the paths once (NewManager), and keeps
// Serialize() in the container's state file, so that later calls (kill, pause, delete, ps,
// update, events) rebuild the manager with LoadManager without reading /proc again.
//
// A Manager is not thread-safe; berth-runc uses each from one thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "runc/spec/spec.h"

namespace berth::runc::cgroups {

// Where a container's cgroup goes.
struct Config {
  // config.json linux.cgroupsPath (OCI runtime spec, config-linux.md "Cgroups Path"):
  //   - "" (not set): berth chooses "/berth-runc/<container_id>" (absolute).
  //   - absolute ("/a/b"): relative to the root of each hierarchy's mount point.
  //   - relative ("a/b"): relative to the cgroup of the calling process, per hierarchy (on a
  //     v1 host the memory cgroup of the caller may differ from its cpu cgroup, so the
  //     directories land in different places per controller), as runc does.
  // ".." components, NUL and newline characters, and paths that name the root or the caller's
  // own cgroup are refused (InvalidArgument naming linux.cgroupsPath).
  std::string cgroups_path;
  // The container id; used only for the default path. Must be a valid single path component
  // when cgroups_path is "".
  std::string container_id;
};

// Statistics for `events --stats` and the shim's metrics. Values missing on a host (a
// controller not mounted, a file the kernel lacks) stay 0.
struct CpuStats {
  uint64_t usage_ns = 0;  // total CPU time
  uint64_t user_ns = 0;   // v1: cpuacct.stat ticks converted to ns
  uint64_t system_ns = 0;
  std::vector<uint64_t> per_cpu_ns;  // v1 only (cpuacct.usage_percpu)
  uint64_t periods = 0;              // CFS bandwidth periods elapsed
  uint64_t throttled_periods = 0;
  uint64_t throttled_ns = 0;
};

struct MemoryStats {
  uint64_t usage = 0;
  uint64_t max_usage = 0;  // v1 max_usage_in_bytes; v2 memory.peak (kernel >= 5.19)
  uint64_t limit = 0;      // kUnlimited when there is no limit
  uint64_t failcnt = 0;    // v1 failcnt; v2 the "max" count of memory.events
  uint64_t cache = 0;      // v1 "cache" of memory.stat; v2 "file"
  uint64_t rss = 0;        // v1 "rss"; v2 "anon"
  // Memory plus swap, as runc reports it on both versions (v1 memsw.*; v2 adds memory.current
  // to memory.swap.current and memory.max to memory.swap.max).
  uint64_t swap_usage = 0;
  uint64_t swap_limit = 0;              // kUnlimited when there is no limit
  uint64_t oom_events = 0;              // v2 "oom" of memory.events; v1 under_oom is a state, so 0
  uint64_t oom_kill_events = 0;         // v1 oom_kill of memory.oom_control; v2 "oom_kill"
  std::map<std::string, uint64_t> raw;  // memory.stat, as the kernel names the entries
};

struct PidsStats {
  uint64_t current = 0;
  uint64_t limit = 0;  // 0 when unlimited ("max"), as runc reports it
};

struct BlkioDeviceStats {
  uint32_t major = 0;
  uint32_t minor = 0;
  uint64_t read_bytes = 0;
  uint64_t write_bytes = 0;
  uint64_t read_ios = 0;
  uint64_t write_ios = 0;
};

struct Stats {
  CpuStats cpu;
  MemoryStats memory;
  PidsStats pids;
  std::vector<BlkioDeviceStats> blkio;  // sorted by (major, minor)
};

inline constexpr uint64_t kUnlimited = ~uint64_t{0};

// One directory of the container's cgroup: one per v1 hierarchy, or the single v2 one.
struct CgroupPath {
  // v1: the hierarchy's controllers, comma-joined and sorted ("cpu,cpuacct", "memory",
  // "name=systemd"). v2: "" (the unified tree).
  std::string controllers;
  std::string mount_point;  // where the hierarchy is mounted ("/sys/fs/cgroup/memory")
  std::string path;         // the container's directory, below mount_point
};

class Manager {
 public:
  virtual ~Manager() = default;

  // Creates the directories (mkdir -p), remembering which ones it made so that Destroy
  // removes exactly those. On v1 it initialises empty cpuset.cpus/cpuset.mems along the path
  // from the parent (a new cpuset cgroup starts empty and accepts no process), like runc; on
  // v2 it enables the available controllers in the ancestors' cgroup.subtree_control.
  // Idempotent. On failure it removes what this call made. Errors: PermissionDenied,
  // FailedPrecondition (e.g. an ancestor's cpuset is empty), errno-derived codes.
  virtual absl::Status Create() = 0;

  // Moves process `pid` (and its threads) into the cgroup: cgroup.procs of every directory.
  // NotFound if the process is gone; FailedPrecondition when the kernel refuses (e.g. v2's
  // "no internal processes" rule, an empty cpuset).
  virtual absl::Status AddProcess(pid_t pid) = 0;

  // Writes the limits of `r` (config.json linux.resources). Also what `update` uses. Only the
  // fields that are set are written (runc's rules for 0 values); an empty devices list leaves
  // the device rules alone. Fields the host cannot honour are refused before anything is
  // written: Unimplemented naming the field (e.g. "linux.resources.hugepageLimits: ... no
  // hugetlb hierarchy"). Values the kernel rejects: InvalidArgument naming the field and the
  // file ("linux.resources.memory.limit: write \"...\" to .../memory.limit_in_bytes: ...").
  // Not atomic: on error some limits may already be written (the caller destroys the cgroup
  // of a container it was creating).
  virtual absl::Status Apply(const spec::Resources& r) = 0;

  // Freezes every process of the cgroup and waits until the kernel reports it FROZEN (v1
  // freezer.state; v2 cgroup.events "frozen 1"). Unimplemented without a freezer;
  // DeadlineExceeded (after thawing again) if it does not freeze in time.
  virtual absl::Status Freeze() = 0;
  // The reverse; OK when not frozen.
  virtual absl::Status Thaw() = 0;
  // Whether the cgroup is frozen now (false when the host has no freezer).
  virtual absl::StatusOr<bool> IsFrozen() = 0;

  // Every process in the cgroup and the cgroups below it (cgroup.procs, recursively), in no
  // particular order. An empty list if the directory is gone.
  virtual absl::StatusOr<std::vector<pid_t>> Pids() = 0;

  virtual absl::StatusOr<Stats> GetStats() = 0;

  // Sends `signal` to every process of the cgroup (kill --all, delete --force). The cgroup is
  // frozen while the pids are read and signalled, so none can be reused in between; on v2,
  // SIGKILL uses cgroup.kill when the kernel has it. OK if there are no processes.
  virtual absl::Status Kill(int signal) = 0;

  // Removes every directory Create made (children cgroups made inside the container first),
  // retrying briefly while the kernel still counts exiting processes (EBUSY). Directories
  // that existed before Create are left alone, except for the default path, which berth owns
  // (/berth-runc/<id>, and /berth-runc itself once empty). OK when already gone: safe to call any
  // number of times, also after a failed Create or Apply. FailedPrecondition if processes remain.
  virtual absl::Status Destroy() = 0;

  // The resolved directories, for state files (see LoadManager in cgroupfs.h), the cgroup
  // mounts of the container's /sys/fs/cgroup, and `state`. Call after Create: the text also
  // records which directories Create made.
  virtual std::string Serialize() const = 0;
  virtual std::vector<CgroupPath> Paths() const = 0;
  virtual bool IsUnified() const = 0;  // cgroup v2
};

class CgroupFs;               // fs_ops.h
class DeviceFilterInstaller;  // device_filter.h

// How NewManager finds the cgroup mounts, and the seams tests use. The defaults are what
// berth-runc uses.
struct Options {
  // Text of /proc/self/mountinfo and /proc/self/cgroup. Empty: read from /proc, and only when
  // needed: mountinfo is skipped when /sys/fs/cgroup is a cgroup2 mount (statfs) and the path
  // is absolute; /proc/self/cgroup is read only for relative paths.
  std::string mountinfo;
  std::string proc_self_cgroup;
  // Prefixed to every mount point found in `mountinfo` (a fake tree in a temp dir).
  std::string root_prefix;
  // File-system calls; nullptr: the real ones. Not owned; must outlive the manager.
  CgroupFs* fs = nullptr;
  // Loads and attaches v2 device programs; nullptr: bpf(2). Not owned.
  DeviceFilterInstaller* device_filter_installer = nullptr;
  // Told about settings that are ignored on this host (e.g. memory.swappiness on cgroup v2).
  std::function<void(absl::string_view)> warn;
  absl::Duration freeze_timeout = absl::Seconds(5);
  absl::Duration destroy_timeout = absl::Seconds(2);
};

// A manager for `config` on this host: cgroup v2 when the host is unified, else v1 (hybrid
// hosts included). Resolves the directories but creates nothing. InvalidArgument for a bad
// cgroups path; FailedPrecondition when no cgroup file system is mounted, or the caller's own
// cgroup cannot be found for a relative path.
absl::StatusOr<std::unique_ptr<Manager>> NewManager(const Config& config,
                                                    const Options& options = Options());

// Rebuilds a manager from Manager::Serialize() text, without looking at /proc.
// InvalidArgument if the text does not parse. `options.fs` and the other seams apply;
// mountinfo / proc_self_cgroup / root_prefix are not used.
absl::StatusOr<std::unique_ptr<Manager>> LoadManager(absl::string_view serialized,
                                                     const Options& options = Options());

}  // namespace berth::runc::cgroups
