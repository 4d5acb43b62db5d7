// Pieces of BuildSpec shared by its source files (spec_builder.cc: process and the overall
// object; spec_mounts.cc: namespaces and mounts; spec_linux.cc: resources, devices, sysctls,
// security). Not for use outside this package.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/oci/host_facts.h"
#include "engine/oci/spec_builder.h"
#include "nlohmann/json.hpp"

namespace berth::engine::oci::internal {

using OJson = nlohmann::ordered_json;

// The parts of an OCI image config ("config" object) that shape a container.
struct ImageConfig {
  std::optional<std::vector<std::string>> entrypoint;
  std::optional<std::vector<std::string>> cmd;
  std::vector<std::string> env;
  std::string working_dir;
  std::string user;
  std::map<std::string, std::string> labels;
  std::vector<std::string> volumes;  // keys of "Volumes"
};

absl::StatusOr<ImageConfig> ParseImageConfig(const std::string& json);

// How each namespace is set up, decided from the HostConfig modes.
struct NamespacePlan {
  bool host_network = false;
  bool host_pid = false;
  bool host_ipc = false;
  bool no_ipc_shm = false;  // ipc mode "none": no /dev/shm
  bool host_uts = false;
  bool private_cgroupns = false;
};

// What the parts need besides the input.
struct Context {
  const SpecInput& in;
  const HostFacts& host;
  std::vector<std::string>* warnings;  // never null
  NamespacePlan ns;
  bool privileged = false;
  bool read_only_rootfs = false;
  // From security_opts.
  bool no_new_privileges = false;
  bool seccomp_unconfined = false;
  bool systempaths_unconfined = false;
  std::string seccomp_profile_json;  // a user profile's content, empty for the default
  std::vector<std::string> capabilities;  // the container's, for seccomp conditions
};

// Namespace modes -> plan; InvalidArgument for unknown modes.
absl::StatusOr<NamespacePlan> PlanNamespaces(const SpecInput& in);

// linux.namespaces. InvalidArgument when a "container:<x>" mode has no path.
absl::StatusOr<OJson> BuildNamespaces(const Context& ctx);

// The mounts array: Docker's defaults, the network files and the user's mounts and volumes.
absl::StatusOr<OJson> BuildMounts(const Context& ctx, const ImageConfig& image,
                                  std::string* rootfs_propagation);

// Parses security_opts into ctx (no-new-privileges, seccomp, systempaths; warnings for
// apparmor/label). InvalidArgument for unknown options or an unreadable profile file.
absl::Status ParseSecurityOpts(Context* ctx);

// linux.resources (memory, cpu, pids, blockIO, devices) and linux.devices.
absl::Status BuildResources(const Context& ctx, OJson* linux_obj);

// process.rlimits from the ulimits, checked against the host's hard limits.
absl::StatusOr<OJson> BuildRlimits(const Context& ctx);

// linux.sysctl, checked.
absl::StatusOr<OJson> BuildSysctls(const Context& ctx);

// linux.seccomp, or null for none.
absl::StatusOr<OJson> BuildSeccomp(const Context& ctx);

// "a//b/../c/" -> "/a/c" for an absolute path.
std::string CleanPath(const std::string& path);

}  // namespace berth::engine::oci::internal
