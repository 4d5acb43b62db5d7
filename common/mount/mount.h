// Mounting a list of mount(8)-style mounts (berth.types.v1.Mount): MountAll assembles them at a
// directory (berth-containerd's snapshotters and diff for snapshots, berth-shim for a container's
// rootfs), UnmountAll takes everything at and under a directory down again. Shared by the daemons
// through common/ because each of them mounts what a snapshotter returned.
//
// Long lowerdir lists. mount(2) copies at most one page (4096 bytes here) of option data, and an
// overlay of a many-layer image does not fit when every layer is an absolute path:
// "<root>/snapshots/overlayfs/snapshots/<id>/fs" is ~55 bytes for a short root, so ~70 layers fill
// the page. Snapshotters still return absolute paths: a Mount is then self-contained
// (berth.types.v1.Mount has no field for anything else, it crosses gRPC to the shim unchanged and
// reads the same in logs). MountAll fixes the length where the limit lives, as containerd's mount
// package does (compactLowerdirOption + mountAt):
//   1. When the overlay data is longer than CompactThreshold(), the longest directory shared by
//      all lowerdirs (for berth's overlay snapshotter: its snapshots dir) becomes the base, and
//      the lowerdir/upperdir/workdir paths under it are rewritten relative to it: "17/fs". That
//      is ~8 bytes a layer, ~500 layers a page, the kernel's own limit (OVL_MAX_STACK).
//   2. mount(2) runs with the base as working directory, on a short-lived helper thread that
//      first calls unshare(CLONE_FS), so the chdir does not move the working directory of any
//      other thread of the daemon (the process cwd is shared), and no fork is needed. The thread
//      inherits the caller's namespaces (a caller that setns'd into a container's mount
//      namespace mounts there).
//   3. If the data still does not fit, InvalidArgument says how long it is and how many layers.
//      (If it cannot be shortened, e.g. relative paths, but fits as is, it is mounted as is.)
// The relative paths are only what the kernel is given; once mounted, overlayfs holds the
// directories themselves, so the working directory does not matter afterwards (/proc/mounts then
// shows the relative lowerdirs, which is why short lists are left absolute).
//
// The namespace is mount_util, not mount (like grpc_util): a namespace berth::mount would hide
// ::mount(2) from every unqualified mount() call in berth code that sees this header.
//
// Thread safety: all functions are thread-safe (they touch no shared state of the process).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/mount/mount_spec.h"

namespace berth::mount_util {

// Performs `mounts` in order at `target` (each at target/<Mount.target>, or target itself when
// empty), as mount(8) would with their options: flags such as "ro", "nosuid", "rbind" become
// mount(2) flags, propagation options ("rprivate", ...) a follow-up mount(2) call, the rest the
// file-system data. A read-only bind mount is a bind plus a read-only remount. Overlay data too
// long for one page is shortened as described above. `target` must be an existing directory;
// Mount.target must be relative and must not contain "..". On error every mount this call made is
// undone (lazy unmount) and the error names the mount: InvalidArgument (bad options or targets,
// overlay data too long), otherwise the mount(2) errno as a status.
absl::Status MountAll(const std::vector<Mount>& mounts, const std::string& target);

// Unmounts every mount at `target` and below it, deepest and most recent first, until nothing is
// mounted there (stacked mounts included), as listed by /proc/thread-self/mountinfo. `flags` go to
// umount2(2) (e.g. MNT_DETACH). A busy mount is retried for about a second, then
// FailedPrecondition. OK when nothing is mounted there or `target` does not exist.
absl::Status UnmountAll(const std::string& target, int flags = 0);

// ---- Exposed for tests ----

// mount(8) options split into mount(2) arguments.
struct MountArgs {
  unsigned long flags = 0;
  // MS_SHARED, MS_PRIVATE, MS_SLAVE or MS_UNBINDABLE, possibly with MS_REC; 0 for none.
  unsigned long propagation = 0;
  // Everything that is not a flag, joined by ','.
  std::string data;
  size_t layers = 0;  // how many lowerdirs
};
MountArgs ParseMountOptions(const std::vector<std::string>& options);

// The largest data mount(2) takes: the page size, less the terminating NUL.
size_t MountDataLimit();
// Overlay data longer than this is shortened (a margin below the limit, as containerd keeps).
size_t CompactThreshold();

// Overlay data rewritten relative to `base` (step 1 above).
struct CompactedData {
  std::string base;  // the working directory to mount from
  std::string data;
  size_t layers = 0;  // how many lowerdirs
};
// InvalidArgument when `data` has no lowerdir, a lowerdir, upperdir or workdir is not absolute,
// or a lowerdir uses overlay's '\' escapes.
absl::StatusOr<CompactedData> CompactOverlayData(const std::string& data);

}  // namespace berth::mount_util
