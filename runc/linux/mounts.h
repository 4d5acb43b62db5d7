// One config.json mount into the container's rootfs, before pivot_root: the destination is
// resolved (and created) inside the rootfs with openat2(2) RESOLVE_IN_ROOT and every mount(2)
// call targets /proc/self/fd/<fd> of what was resolved, so a symlink in the rootfs can never
// send a mount outside it. Internal to //runc/linux (rootfs.h drives it).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "runc/linux/mount_util.h"
#include "runc/spec/spec.h"

namespace berth::runc::linux {

// Where mounts go and what the process may do.
struct MountTarget {
  int root_fd = -1;    // O_PATH fd of the rootfs mount's root (after its self-bind)
  std::string rootfs;  // the rootfs's host path, for messages and the /proc check
  std::string bundle;  // relative bind-mount sources are taken from here
  bool in_user_namespace = false;
  bool cgroup_namespace = false;  // the process is already in the container's cgroup namespace
};

// Whether `m` is a bind mount: "bind"/"rbind" in its options or type "bind".
bool IsBindMount(const spec::Mount& m);

// Whether `m`'s "ro" waits for FinalizeRootfs (a tmpfs, or any non-bind mount at /dev): the
// set-up still creates mount points and device nodes inside them (runc does the same).
bool DefersReadonly(const spec::Mount& m);

// Mounts `m` inside the rootfs:
//   - bind/rbind: the source (joined to the bundle if relative) is opened on the host, the
//     destination created as a directory or an empty file to match it, then MS_BIND
//     [| MS_REC]; if the options set or clear per-mount flags (ro, nosuid, nodev, noexec,
//     atime, ...), a MS_BIND | MS_REMOUNT call applies them on top of the flags the new mount
//     already has (locked flags inside a user namespace stay set unless explicitly cleared,
//     which the kernel then refuses);
//   - proc, sysfs, mqueue, devpts, tmpfs and any other type: mount(2) with the type, the
//     source (the type if empty), the flags and the data. devpts gets "newinstance" and
//     "ptmxmode=0666" unless the data sets them; tmpfs over an existing directory gets
//     "mode=<its mode>" before the data (runc), and "tmpcopyup" copies the directory's content
//     into the tmpfs. Inside a user namespace, sysfs and mqueue that the kernel refuses
//     (EPERM: no network / IPC namespace of our own) fall back to rbinding the host's /sys and
//     /dev/mqueue (runc);
//   - cgroup: see cgroup_mount.h;
// then recursive attributes (mount_setattr(2) AT_RECURSIVE: "rro", ...) and each
// propagation flag with its own mount(2) call. Mounts on or under /proc are refused except
// procfs itself and the files lxcfs emulates (runc's checkProcMount). Errors are Status
// without the "mounts[i]" label (the caller adds it).
absl::Status MountEntry(const MountTarget& t, const spec::Mount& m);

// The bind-mount part of MountEntry, for cgroup_mount.cc.
absl::Status BindMountEntry(const MountTarget& t, const spec::Mount& m);

// After a mount at `destination` exists: mount_setattr for m's recursive attributes, then
// m's propagation flags, on the (re-resolved) new mount.
absl::Status FinishMount(const MountTarget& t, const std::string& destination,
                         const spec::Mount& m);

}  // namespace berth::runc::linux
