// linux.sysctl: which keys a container may set and writing them under /proc/sys. Internal to
// //runc/linux (rootfs.h calls it).
//
// Only namespaced sysctls may be set, and only when the container has its own namespace of
// that kind, so a container can never change a host-wide kernel setting (runc's rule,
// libcontainer/configs/validate):
//   - kernel.shm*, kernel.msg*, kernel.sem*, fs.mqueue.*  need an IPC namespace;
//   - net.*                                              need a network namespace;
//   - kernel.hostname, kernel.domainname                 need a UTS namespace;
//   - anything else is refused.
// Keys follow sysctl(8): '.' separates components and a '/' in a key stands for a '.' inside
// a component ("net.ipv4.conf.eth0/100.forwarding" is /proc/sys/net/ipv4/conf/eth0.100/...).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runc/spec/spec.h"

namespace berth::runc::linux {

// The path below /proc/sys for `key` ("net.ipv4.ip_forward" -> "net/ipv4/ip_forward").
// InvalidArgument for an empty key or one with an empty, "." or ".." component.
absl::StatusOr<std::string> SysctlPath(absl::string_view key);

// Checks every linux.sysctl key against the rule above and spec.linux.namespaces (a
// namespace joined by path counts as the container's own; the orchestrator must refuse
// joining the host's). InvalidArgument naming the key:
//   linux.sysctl["kernel.pid_max"]: not a namespaced sysctl; refusing to change the host's
// Touches nothing.
absl::Status ValidateSysctls(const spec::Spec& spec);

// Validates, then writes each value to <proc_sys>/<path>. Errors name the key and the file.
// Runs in the container (after pivot_root), where /proc is the container's.
absl::Status WriteSysctls(const spec::Spec& spec, const std::string& proc_sys = "/proc/sys");

}  // namespace berth::runc::linux
