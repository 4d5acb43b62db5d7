// Device rules (config.json linux.resources.devices) for cgroup v2, which has no devices
// controller: access to device nodes is decided by a BPF_PROG_TYPE_CGROUP_DEVICE program
// attached to the cgroup (Documentation/admin-guide/cgroup-v2.rst, "Device controller").
// berth builds the program itself (a few instructions per rule, no libbpf, no compiler) and
// loads it with bpf(2).
//
// Rule semantics (the same as writing the rules in order to a v1 devices cgroup after denying
// everything, which is what the v1 manager does): the last rule that matches an access
// decides it; nothing matching means deny. A rule matches when the type matches ("a" = every
// device, whatever major, minor and access say, as in v1), major and minor match (unset =
// any), and the access does: an allow rule must grant every requested access bit, a deny rule
// matches when it names any of them.
#pragma once

#include <linux/bpf.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "runc/spec/spec.h"

namespace berth::runc::cgroups {

using BpfProgram = std::vector<struct bpf_insn>;

// Checks each rule: type "", "a", "b" or "c"; access made of 'r', 'w' and 'm' ("" = "rwm").
// InvalidArgument naming linux.resources.devices[i].
absl::Status ValidateDeviceRules(const std::vector<spec::DeviceCgroupRule>& rules);

// The program for valid `rules`. Its context is struct bpf_cgroup_dev_ctx; it returns 1 to
// allow, 0 to deny.
BpfProgram CompileDeviceFilter(const std::vector<spec::DeviceCgroupRule>& rules);

// A v1 devices.allow / devices.deny line for a valid rule: "c 1:3 rwm", "a *:* rwm".
std::string DeviceRuleLine(const spec::DeviceCgroupRule& rule);

// Puts a device program on a cgroup v2 directory.
class DeviceFilterInstaller {
 public:
  virtual ~DeviceFilterInstaller() = default;
  // Loads `program` and attaches it to cgroup directory `dir`, then detaches the device
  // programs attached to `dir` itself before (e.g. by an earlier `update`), so that there is
  // never a moment without a filter. PermissionDenied without CAP_SYS_ADMIN (or CAP_BPF);
  // Unimplemented when the kernel lacks cgroup BPF; Internal if the verifier rejects the
  // program (its log is in the message).
  virtual absl::Status Install(const std::string& dir, const BpfProgram& program) = 0;
};

// bpf(2).
DeviceFilterInstaller& KernelDeviceFilterInstaller();

}  // namespace berth::runc::cgroups
