// /dev inside the container: the default device nodes every container gets (runc's list),
// linux.devices, and the standard /dev symlinks. Internal to //runc/linux (rootfs.h calls it).
#pragma once

#include <vector>

#include "absl/status/status.h"
#include "runc/spec/spec.h"

namespace berth::runc::linux {

// /dev/null, zero, full, random, urandom (char 1:3, 1:5, 1:7, 1:8, 1:9) and /dev/tty (5:0),
// mode 0666, owned by 0:0: what runc creates in every container (libcontainer/specconv
// AllowedDevices with a path).
std::vector<spec::Device> DefaultDevices();

// Checks a device entry without touching anything: InvalidArgument for a type other than
// c, u, b or p, a path that is "/" or a negative major/minor.
absl::Status ValidateDevice(const spec::Device& d);

// Creates `d` inside the root `root_fd` (parents made as needed, resolved inside the root):
// mknod with the file mode (default 0666, exactly, whatever the umask) and chown to uid:gid
// (default 0:0). An existing node at the path is left as it is (runc). With `bind_host_node`
// (inside a user namespace, where mknod is refused), or if mknod fails with EPERM, it creates
// an empty file instead and bind-mounts the host's node at the same path over it (runc);
// FIFOs are always made with mknod. Errors name the step ("mknod: Operation not permitted").
absl::Status CreateDevice(int root_fd, const spec::Device& d, bool bind_host_node);

// The links runc makes in /dev: fd -> /proc/self/fd, stdin/stdout/stderr ->
// /proc/self/fd/0..2, core -> /proc/kcore (only if the host has /proc/kcore), ptmx ->
// pts/ptmx (replacing any node there, so the devpts instance's ptmx is used); existing links
// are left alone. Also creates /dev/shm (mode 1777) if it is missing.
absl::Status SetupDevLinks(int root_fd);

}  // namespace berth::runc::linux
