// Where the cgroup file systems are mounted and where a container's directories go: parsing
// /proc/self/mountinfo and /proc/self/cgroup (proc(5), cgroups(7)), choosing v1 or v2, and the
// OCI runtime spec's rules for linux.cgroupsPath. Pure functions on text, for the factory in
// cgroupfs.cc.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::runc::cgroups {

// One cgroup mount.
struct Hierarchy {
  bool unified = false;     // cgroup2
  std::string controllers;  // v1: sorted, comma-joined ("cpu,cpuacct", "name=systemd"); v2: ""
  std::string mount_point;  // unescaped
  std::string root;         // the cgroup shown at mount_point (mountinfo field 4), e.g. "/"
};

struct Layout {
  bool unified = false;
  // v2: the one cgroup2 mount. v1: one mount per hierarchy, in mountinfo order.
  std::vector<Hierarchy> hierarchies;
};

// The cgroup and cgroup2 mounts in mountinfo text, in order. Lines that do not parse are
// skipped. A v1 mount keeps only the controllers berth drives (cpuset cpu cpuacct memory
// devices freezer net_cls net_prio blkio perf_event hugetlb pids rdma misc, and the
// name=systemd hierarchy, which runc joins too); a v1 mount with none of them is skipped.
std::vector<Hierarchy> ParseCgroupMounts(absl::string_view mountinfo);

// v1 when any v1 hierarchy is mounted (a "hybrid" host's cgroup2 tree is then not used, as in
// runc), else v2 on the first cgroup2 mount. FailedPrecondition when there is neither.
absl::StatusOr<Layout> ChooseLayout(const std::vector<Hierarchy>& mounts);

// /proc/<pid>/cgroup text ("4:memory:/process_api/x", "0::/") as controllers key (sorted like
// Hierarchy::controllers; "" for v2) -> cgroup path.
std::map<std::string, std::string> ParseProcCgroup(absl::string_view text);

// linux.cgroupsPath, cleaned: "/berth-runc/<container_id>" when empty, otherwise the path with
// empty and "." components dropped ("/a/b" stays absolute, "a/b" relative). InvalidArgument
// naming linux.cgroupsPath for "..", NUL or newline characters, or a path naming the root or
// the caller's cgroup ("/", "."); for an invalid container id when the default is used.
absl::StatusOr<std::string> CleanCgroupsPath(absl::string_view cgroups_path,
                                             absl::string_view container_id);

// The directory for cleaned path `inner` in hierarchy `h`, below `root_prefix`:
//   absolute: root_prefix + mount_point + inner
//   relative: root_prefix + mount_point + (own cgroup - h.root) + inner, where own cgroup is
//             the caller's path for h in `own` (ParseProcCgroup).
// FailedPrecondition when `own` has no entry for the hierarchy, or the caller's cgroup lies
// outside the part of the tree that is mounted.
absl::StatusOr<std::string> ResolveDir(const Hierarchy& h, absl::string_view inner,
                                       const std::map<std::string, std::string>& own,
                                       absl::string_view root_prefix);

}  // namespace berth::runc::cgroups
