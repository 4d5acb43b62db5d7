// Takes the kernel's slow first step of a cgroup migration ahead of the runtime.
//
// Why: putting the container's first process into its cgroup (the runtime writes its pid into
// cgroup.procs) takes the kernel's global cgroup_threadgroup_rwsem for writing, and the first
// writer after a quiet spell waits for an RCU grace period before it gets it (rcu_sync): 5 to
// 16 ms here, the largest single cost of a container create. Writers that come while that wait
// is in progress share it, and for about one grace period after the last writer left, new ones
// pass at once. So a write started a few milliseconds before the runtime's takes most of that
// wait off the runtime's path: the shim starts one when Task.Create begins, and the wait
// overlaps the rootfs mount and the runtime's own start-up. (Unless the cgroup hierarchy was
// mounted with favordynmods, where writers never wait; then this costs one cheap write.)
//
// The write moves the shim into the cgroup it is already in: the kernel takes the lock, finds
// nothing to move, and changes nothing.
#pragma once

#include <sys/types.h>

#include "absl/status/status.h"
#include "shim/process/cgroup_stats.h"

namespace berth::shim::process {

// Writes the calling process's pid into the cgroup.procs of its own cgroup (of the pids
// controller, else cpu or memory on v1; the unified one on v2), found under `roots`. Blocks for
// as long as the kernel makes it wait. Errors as FindCgroupDirs; FailedPrecondition when no
// cgroup directory is known; errno-derived ones for the write (EBUSY on a v2 cgroup that has
// children with controllers: the kernel took the lock all the same).
absl::Status RewriteOwnCgroup(const CgroupRoots& roots = {});

// RewriteOwnCgroup on a detached thread of its own; its outcome is only logged (VLOG 1). Best
// effort: a failure costs nothing but the head start.
void PrimeCgroupMigration();

}  // namespace berth::shim::process
