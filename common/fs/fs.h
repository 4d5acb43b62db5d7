// Small file-system helpers every daemon needs for its state dirs: read a whole file, list a
// directory, create a directory path, remove a tree. All return absl::Status with the path in the
// message; none throws, and none follows a symlink where following one could reach outside the tree
// it was given. Atomic writes are in atomic_file.h.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth::fs {

// The whole content of the file at `path` (symlinks followed, as open(2) does). Reads to end of
// file rather than trusting the size from stat, so /proc and /sys files (size 0) read fully.
// NotFound if missing; FailedPrecondition for a directory; other errno-derived codes.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// The names in the directory open as `dir_fd` (which stays open and whose offset is not
// moved), without "." and "..", sorted. All are read before the caller acts on any: what
// readdir returns after an unlink in the same directory is unspecified.
absl::StatusOr<std::vector<std::string>> ListDirAt(int dir_fd);

// The names in directory `path`, sorted, without "." and "..": what a daemon scans to rebuild
// its state (skipping in-flight writes with IsAtomicTempFileName). NotFound if missing,
// FailedPrecondition if not a directory.
absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path);

// Creates `path` and any missing parents, like `mkdir -p`. Directories it creates get exactly
// `mode` (no umask, as for WriteFileAtomically); existing ones are left as they are. Existing
// components may be symlinks to directories. OK if `path` already is a directory.
// FailedPrecondition ("... exists and is not a directory") if a component is something else;
// InvalidArgument for an empty path or a mode outside 07777; other errno-derived codes.
// Safe against concurrent creators of the same path.
absl::Status MakeDirs(const std::string& path, mode_t mode);

// Removes `path` and, if it is a directory, everything below it, like `rm -rf` with two
// safety rules for an engine that removes container dirs which may still have mounts in them:
//   - Symlinks are removed, never followed (a rootfs full of absolute links would otherwise
//     delete host files). Directories are opened with O_NOFOLLOW and walked by fd, so swapping
//     a directory for a link mid-walk does not redirect the removal either.
//   - It never crosses a mount point: a directory below `path` that is the root of a mount
//     (including a bind mount of the same file system, found with statx's
//     STATX_ATTR_MOUNT_ROOT, or a different device) is left alone with all its content, so a
//     still-mounted overlay or bind-mounted host volume is never emptied. Everything else is
//     still removed; the result is FailedPrecondition naming the mount point. If `path` itself
//     is a mount point, nothing is removed.
// OK if `path` does not exist. InvalidArgument for "" or "/". On other failures (EACCES, EBUSY,
// ...) removal goes on with the rest and returns the first error, naming the entry.
absl::Status RemoveAll(const std::string& path);

}  // namespace berth::fs
