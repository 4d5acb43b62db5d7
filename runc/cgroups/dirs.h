// What the v1 and v2 managers share: the directories of a container's cgroup with how much of
// each path Create made, making and removing them, the state-file text, and signalling every
// process.
//
// Serialized form (Manager::Serialize), one record per line, fields separated by one space,
// paths escaped like mountinfo (space \040, tab \011, newline \012, backslash \134):
//   berth-cgroups v1                    (or v2)
//   <controllers> <created> <mount point> <directory>
// e.g.
//   berth-cgroups v1
//   cpu 2 /sys/fs/cgroup/cpu /sys/fs/cgroup/cpu/berth-runc/c1
//   name=systemd 2 /sys/fs/cgroup/systemd /sys/fs/cgroup/systemd/berth-runc/c1
// v2 has one record whose controllers field is "-". <created> is how many trailing path
// components Create made (and Destroy removes): 0 when the directory existed before.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "runc/cgroups/manager.h"

namespace berth::runc::cgroups {

class CgroupFs;
class DeviceFilterInstaller;

namespace internal {

struct CgroupDir {
  CgroupPath where;
  int created = 0;
};

// The seams and settings of Options, resolved to the real ones where not given.
struct Env {
  CgroupFs* fs = nullptr;
  DeviceFilterInstaller* device_filter_installer = nullptr;
  std::function<void(absl::string_view)> warn;
  absl::Duration freeze_timeout;
  absl::Duration destroy_timeout;

  static Env From(const Options& options);
  void Warn(absl::string_view message) const {
    if (warn) warn(message);
  }
};

// mkdir -p of d->where.path below d->where.mount_point. Raises d->created to the number of
// trailing components this call made; appends the paths it made to *made (top first).
absl::Status MakeDir(CgroupFs& fs, CgroupDir* d, std::vector<std::string>* made);

// Removes the directory and its child cgroups, then the parents Create made while they are
// empty. OK when created == 0 or when already gone.
absl::Status RemoveDir(CgroupFs& fs, const CgroupDir& d, absl::Duration timeout);

std::string SerializeDirs(bool unified, const std::vector<CgroupDir>& dirs);
// InvalidArgument when `text` is not what SerializeDirs writes.
absl::Status ParseDirs(absl::string_view text, bool* unified, std::vector<CgroupDir>* dirs);

// Sends `signal` to every process of `m`: freezes first (when `can_freeze`) so no pid is reused
// while they are read and signalled, then thaws unless the cgroup was frozen before (a paused
// container stays paused; SIGKILL thaws, so the processes die).
absl::Status SignalAll(Manager& m, int signal, bool can_freeze);

}  // namespace internal
}  // namespace berth::runc::cgroups
