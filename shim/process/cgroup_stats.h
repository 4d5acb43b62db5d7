// The container's cgroup statistics, read straight from the cgroup file system (not through the
// runtime's `events --stats`, whose JSON differs between runtimes and which costs a process per
// sample). The container's cgroup is found from its init process's /proc/<pid>/cgroup, so it is
// right for any runtime and any cgroupsPath. Fills berth.types.v1.TaskMetrics (see its fields
// for which file each value comes from); a file the kernel does not provide leaves 0.
#pragma once

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "berth/types/v1/task.pb.h"

namespace berth::shim::process {

struct CgroupRoots {
  std::string proc = "/proc";
  // Where the hierarchies are mounted: the unified tree on a v2 host (cgroup.controllers at
  // the top), else one directory per v1 controller (`<cgroup>/memory`, `<cgroup>/cpuacct`, ...).
  std::string cgroup = "/sys/fs/cgroup";
};

// The directories of `pid`'s cgroup. On v2 all fields are the one unified directory.
struct CgroupDirs {
  int version = 0;
  std::string cpu, cpuacct, memory, pids, blkio;
};

// NotFound when the process is gone; Internal when its cgroup file does not parse.
absl::StatusOr<CgroupDirs> FindCgroupDirs(pid_t pid, const CgroupRoots& roots = {});

// One sample. Errors as FindCgroupDirs; a missing controller is not an error (its fields stay 0).
absl::StatusOr<::berth::types::v1::TaskMetrics> ReadCgroupMetrics(const CgroupDirs& dirs);

// How many processes the OOM killer has killed in the memory cgroup: `oom_kill` of
// memory.oom_control (v1, kernel 4.13+) or memory.events (v2). NotFound when the file is gone
// (the cgroup was removed); FailedPrecondition when there is no memory controller or the kernel
// does not count OOM kills.
absl::StatusOr<uint64_t> ReadOomKills(const CgroupDirs& dirs);

}  // namespace berth::shim::process
