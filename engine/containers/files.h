// The files berthd writes for each container and bind-mounts into it (/etc/hostname,
// /etc/hosts, /etc/resolv.conf), Docker's units ("10m") and `top` from /proc.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "berth/engine/v1/containers.pb.h"

namespace berth::engine::containers {

struct ContainerFiles {
  std::string hostname_path;
  std::string hosts_path;
  std::string resolv_conf_path;
};

// Writes hostname, hosts and resolv.conf into `dir`. resolv.conf follows the host's
// (`host_resolv_conf`) with HostConfig's dns/dns_search/dns_options overriding it.
absl::StatusOr<ContainerFiles> WriteContainerFiles(const std::string& dir,
                                                   const std::string& hostname,
                                                   const std::string& domainname,
                                                   const ::berth::engine::v1::HostConfig& host,
                                                   const std::string& host_resolv_conf);

// `docker top`'s default table (UID PID PPID C STIME TTY TIME CMD) for `pids`, read from /proc.
absl::StatusOr<::berth::engine::v1::ContainerTopResponse> TopFromProc(
    const std::vector<int>& pids);

}  // namespace berth::engine::containers
