// MountAll and UnmountAll moved to common/mount (berth-shim mounts a task's rootfs with them too,
// and a daemon must not depend on another daemon's folder). This header only keeps the old names
// for containerd/diff until it includes common/mount/mount.h itself.
// TODO(shim): #4 drop once containerd/diff uses //common/mount directly.
#pragma once

#include "common/mount/mount.h"
#include "containerd/snapshots/snapshotter.h"

namespace berth::containerd::snapshots {

using ::berth::mount_util::MountAll;
using ::berth::mount_util::UnmountAll;

}  // namespace berth::containerd::snapshots
