// Everything the container's init does to its file system, in three steps so the orchestrator
// can run the OCI createContainer hooks between the first two (runtime spec 1.1,
// config.md "createContainer Hooks": after the mounts, before pivot_root):
//
//   PrepareRootfs   mounts, /dev                       (host paths still visible)
//   [createContainer hooks]
//   EnterRootfs     pivot_root (or MS_MOVE + chroot)   ("/" is now the rootfs)
//   FinalizeRootfs  sysctls, read-only and masked paths, deferred "ro", root.readonly
//
// All three run in the container's init process, which must already be in the container's
// mount namespace (and user and cgroup namespaces, if the spec asks for them): every mount
// they make lives and dies with that namespace, so a failure needs no undo. What they may
// leave in the rootfs directory on disk, as runc does: mount-point directories and files
// they created, and device nodes and /dev links when /dev is not a mount of its own. The
// process must be single-threaded (they change the cwd, root and, briefly, nothing else).
//
// Errors name the config.json field they come from:
//   mounts[3] (/proc -> /tmp/x/rootfs/proc): mount proc: Permission denied
//   linux.devices[0] (/dev/fuse): mknod: Operation not permitted
//   linux.sysctl["kernel.pid_max"]: not a namespaced sysctl; refusing to change the host's
//   linux.maskedPaths[2] (/proc/kcore): mount /dev/null over it: ...
// Codes: InvalidArgument for configs that cannot work (an unknown rootfsPropagation, a
// non-namespaced sysctl, a mount inside /proc), Unimplemented for what berth does not do
// (idmap mounts), otherwise errno-derived codes.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runc/spec/spec.h"

namespace berth::runc::linux {

struct RootfsOptions {
  // The bundle directory: a relative root.path or bind-mount source is taken from here.
  std::string bundle;
  // runc --no-pivot: move the rootfs onto "/" and chroot instead of pivot_root (for ramdisk
  // roots, where pivot_root fails). Host procfs and sysfs mounts outside the rootfs are
  // detached first, so the container cannot reach them.
  bool no_pivot = false;
  // The init is in a user namespace (a new one or joined): mknod is impossible, so device
  // nodes are bind-mounted from the host, and sysfs/mqueue fall back to binds of the host's.
  bool in_user_namespace = false;
};

// Before pivot_root, with the host's paths still visible:
//  1. checks what can be checked without side effects (linux.sysctl keys,
//     linux.rootfsPropagation, linux.devices types), so a bad config fails before any mount;
//  2. sets the propagation of every mount in the namespace: linux.rootfsPropagation
//     ("private", "rslave", "shared", ...; default "rslave", so nothing the container mounts
//     reaches the host and host mounts still reach the container; "unbindable" and
//     "runbindable" use the default here, since an unbindable "/" cannot be bind-mounted, and
//     are applied to the new "/" by EnterRootfs), makes the mount holding
//     the rootfs private if it is shared (pivot_root requires it) and bind-mounts the rootfs
//     onto itself (MS_BIND | MS_REC) so it is a mount point. If the spec has no mount
//     namespace, the propagation steps are skipped (they would change the host's mounts)
//     but the mounts are still made, in the caller's namespace, as runc does;
//  3. performs `spec.mounts` in order, inside the rootfs (see mounts.h and cgroup_mount.h);
//     "ro" on a tmpfs or a /dev mount is applied by FinalizeRootfs;
//  4. unless a bind mount covers /dev: creates the default devices and linux.devices (see
//     devices.h), and the /dev links (fd, stdin, stdout, stderr, core, ptmx -> pts/ptmx, shm).
absl::Status PrepareRootfs(const spec::Spec& spec, const RootfsOptions& opts);

// Makes the rootfs the process's "/" and cwd: pivot_root(".", ".") from inside the rootfs,
// then the old root (now stacked under the new one) is made rslave and detached
// (umount2 MNT_DETACH), so it is gone from the container's view. With opts.no_pivot: MS_MOVE
// of the rootfs onto "/" and chroot. Without a mount namespace in the spec: chroot only
// (runc). Then re-applies a shared/slave/unbindable linux.rootfsPropagation to the new "/"
// (runc: doing it before pivot_root would make pivot_root fail), and, when /dev was set up,
// points stdin/stdout/stderr that are /dev/null at the container's /dev/null.
absl::Status EnterRootfs(const spec::Spec& spec, const RootfsOptions& opts);

// After EnterRootfs, inside the container:
//  1. linux.sysctl: each key written under /proc/sys (see sysctl.h for which are allowed);
//  2. linux.readonlyPaths: bind-mounted onto themselves (MS_REC) and remounted read-only,
//     keeping their other flags; missing paths are skipped;
//  3. linux.maskedPaths: /dev/null bind-mounted over files, a read-only empty tmpfs over
//     directories; missing paths are skipped;
//  4. "ro" of tmpfs and /dev mounts (deferred by PrepareRootfs): remounted read-only;
//  5. root.readonly: "/" remounted MS_BIND | MS_REMOUNT | MS_RDONLY, keeping its other flags.
// hostname and domainname are not set here (the orchestrator does it).
absl::Status FinalizeRootfs(const spec::Spec& spec, const RootfsOptions& opts);

// Optional, for process.terminal, after EnterRootfs: bind-mounts the pty slave `pts_path`
// (e.g. "/dev/pts/0", a path inside the container) over /dev/console, creating an empty
// /dev/console file if needed (runc's mountConsole).
absl::Status MountConsole(const std::string& pts_path);

// The mount(2) propagation flags for linux.rootfsPropagation ("" -> MS_SLAVE | MS_REC, the
// default). InvalidArgument for an unknown value.
absl::StatusOr<unsigned long> RootPropagationFlags(const std::string& value);

// Whether the container's /dev is prepared by PrepareRootfs (no bind mount at /dev).
bool SetsUpDev(const spec::Spec& spec);

}  // namespace berth::runc::linux
