// du(1) for a snapshot's directory: the disk space and inodes a tree uses.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "containerd/snapshots/snapshotter.h"

namespace berth::containerd::snapshots {

// Sums allocated space (st_blocks * 512) and counts inodes of `dir` and everything below it, `dir`
// itself included, each hard-linked inode once, as containerd's fs.DiskUsage does. Never follows
// symlinks and never descends into another mount (a different device, or the root of a bind mount),
// so a mounted container rootfs below `dir` is not counted. Entries that vanish during the walk are
// skipped. NotFound if `dir` is missing; FailedPrecondition if it is not a directory; other
// errno-derived codes naming the path.
absl::StatusOr<DiskUsage> DirDiskUsage(const std::string& dir);

}  // namespace berth::containerd::snapshots
