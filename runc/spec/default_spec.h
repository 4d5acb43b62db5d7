// The config.json that `berth-runc spec` writes: a starting point to edit, like `runc spec`
// (runc's libcontainer/specconv Example and ToRootless), with hostname "berth".
#pragma once

#include <string>

namespace berth::runc::spec {

// The ociVersion berth-runc writes (and implements).
inline constexpr char kOciVersion[] = "1.1.0";

// A pretty-printed (2-space indent, trailing newline) config.json: process "sh" on a terminal
// as root in "/", PATH and TERM, the default capabilities (CAP_AUDIT_WRITE, CAP_KILL,
// CAP_NET_BIND_SERVICE in bounding, effective and permitted), RLIMIT_NOFILE 1024, no new
// privileges; root "rootfs" read-only; the standard /proc, /dev, /dev/pts, /dev/shm,
// /dev/mqueue, /sys and /sys/fs/cgroup mounts; pid, network, ipc, uts, mount and cgroup
// namespaces; a deny-all device cgroup rule; runc's masked and read-only paths.
//
// rootless (`spec --rootless`): no network namespace, a user namespace mapping container
// root to the caller's euid/egid (size 1), /sys bind-mounted from the host instead of a new
// sysfs, no uid=/gid= mount options, no cgroup resources.
std::string DefaultSpecJson(bool rootless);

}  // namespace berth::runc::spec
