// The "cgroup" mount type: making the container's cgroups visible at the destination
// (normally /sys/fs/cgroup), like runc. Internal to //runc/linux (mounts.h calls it).
//
// cgroup v2 host (/sys/fs/cgroup is cgroup2): mount cgroup2 there; if the kernel refuses
// (EPERM/EBUSY: a user namespace without its own cgroup namespace), bind-mount the host's
// /sys/fs/cgroup instead, or the process's own cgroup directory when the container asked for
// a cgroup namespace (runc's mountCgroupV2).
//
// cgroup v1 host (also "hybrid" hosts with a cgroup2 mount at /sys/fs/cgroup/unified, which
// runc treats as v1 and whose unified hierarchy it does not show): a tmpfs (mode 755, nosuid,
// nodev, noexec) at the destination, then, for every v1 hierarchy the process belongs to, a
// directory named like its host mount point ("memory", "cpu,cpuacct", "systemd") holding
//   - in a cgroup namespace: a fresh cgroup mount of that hierarchy (it shows the
//     namespace's root);
//   - otherwise: an rbind of the process's own cgroup directory in that hierarchy (skipped
//     if no mount of the hierarchy contains it);
// with symlinks for co-mounted controllers ("cpu" -> "cpu,cpuacct"). The mount's flags apply
// to each hierarchy; with "ro" the tmpfs is finally remounted read-only too (runc's
// mountCgroupV1).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "runc/linux/mount_util.h"
#include "runc/linux/mounts.h"
#include "runc/spec/spec.h"

namespace berth::runc::linux {

// One v1 hierarchy the process belongs to.
struct CgroupV1Hierarchy {
  std::string name;         // last component of the host mount point: "cpu,cpuacct", "memory"
  std::string source;       // host directory of the process's cgroup in this hierarchy, or
                            // "" if this mount of it does not contain that cgroup
  std::string controllers;  // mount data for a fresh mount: "cpu,cpuacct", "name=systemd"
};

// The v1 hierarchies of a process, from mountinfo and its /proc/<pid>/cgroup text, in
// mountinfo order, one per mount-point name. In a cgroup namespace, /proc shows paths
// relative to the namespace's root, so `source` may be "" there; only `name` and
// `controllers` are needed then.
std::vector<CgroupV1Hierarchy> CgroupV1Hierarchies(const std::vector<MountInfo>& mounts,
                                                   absl::string_view proc_cgroup);

// The host directory of the process's cgroup v2 ("0::/path" line), or "" if there is no
// such line or no cgroup2 mount containing it.
std::string CgroupV2Dir(const std::vector<MountInfo>& mounts, absl::string_view proc_cgroup);

// Mounts `m` (type "cgroup") as described above. Reads the host's /sys/fs/cgroup,
// /proc/self/mountinfo and /proc/self/cgroup, so it runs before pivot_root.
absl::Status MountCgroup(const MountTarget& t, const spec::Mount& m);

}  // namespace berth::runc::linux
