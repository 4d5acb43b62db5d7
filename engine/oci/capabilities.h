// Container capability sets with Docker's rules: the default set of 14 capabilities,
// `--cap-add`/`--cap-drop` with "ALL" and names written with or without the CAP_ prefix in any
// case, and `--privileged` (every capability the host can grant).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::engine::oci {

// Every capability name Linux defines, indexed by capability number ("CAP_CHOWN" is 0).
const std::vector<std::string>& AllCapabilityNames();

// Docker's default set (moby oci/caps/defaults.go), in Docker's order.
const std::vector<std::string>& DefaultCapabilities();

// "net_admin", "CAP_NET_ADMIN", "Net_Admin" -> "CAP_NET_ADMIN"; "all" -> "ALL".
// InvalidArgument (`unknown capability: "CAP_FOO"`) for a name Linux does not define.
absl::StatusOr<std::string> NormalizeCapability(absl::string_view name);

// The container's capability set, sorted as AllCapabilityNames():
//   privileged: every capability in `available` (cap_add/cap_drop are ignored, as in Docker);
//   "ALL" in cap_add: every available capability except those in cap_drop;
//   "ALL" in cap_drop: exactly cap_add;
//   otherwise: the defaults minus cap_drop, plus cap_add.
// `available` is what the host can grant (HostFacts::capabilities). InvalidArgument for an
// unknown name, or for a capability added explicitly that the host cannot grant (the runtime
// would fail with EPERM). Defaults the host lacks are left out silently.
absl::StatusOr<std::vector<std::string>> ContainerCapabilities(
    const std::vector<std::string>& cap_add, const std::vector<std::string>& cap_drop,
    bool privileged, const std::vector<std::string>& available);

}  // namespace berth::engine::oci
