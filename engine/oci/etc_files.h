// The per-container /etc/hostname, /etc/hosts and /etc/resolv.conf that berthd writes and
// bind-mounts into the container, with Docker's content.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::engine::oci {

// "<hostname>\n".
std::string GenerateHostnameFile(absl::string_view hostname);

struct HostsOptions {
  std::string hostname;
  std::string domainname;
  // The container's own addresses (none without a network); each gets a line naming the
  // container, "<ip>\t<hostname>.<domainname> <hostname>" (or just the hostname).
  std::vector<std::string> addresses;
  // `--add-host` entries, "name:ip" (the IP may be IPv6, so the split is at the first ':').
  std::vector<std::string> extra_hosts;
  // What "host-gateway" in extra_hosts stands for; empty makes such an entry an error.
  std::string host_gateway_ip;
};

// Docker's /etc/hosts: the loopback and IPv6 multicast lines, then the extra hosts, then the
// container's own addresses. InvalidArgument for an extra host without ':' or with an
// invalid IP ("invalid IP address in add-host: ...").
absl::StatusOr<std::string> GenerateHostsFile(const HostsOptions& options);

struct ResolvConfOptions {
  // Content of the host's /etc/resolv.conf.
  std::string host_resolv_conf;
  // `--dns`, `--dns-search`, `--dns-option`: when set they replace the host's nameserver,
  // search/domain and options lines respectively.
  std::vector<std::string> dns;
  std::vector<std::string> dns_search;
  std::vector<std::string> dns_options;
  // The container shares the host's network namespace: localhost resolvers stay reachable,
  // so the host file is used unfiltered (as Docker does for --network host).
  bool host_network = false;
};

// Docker's container resolv.conf: the host's file with localhost nameservers (127.0.0.0/8,
// ::1) removed, since they are unreachable from the container's network namespace. If no
// nameserver remains, Docker's fallback public resolvers 8.8.8.8 and 8.8.4.4 (Google DNS) are
// used, as dockerd does (libnetwork resolvconf: defaultIPv4Dns); on an offline host these
// will not answer, but an empty resolv.conf would make libc try localhost, which is no
// better. Other lines (search, domain, options, comments) are kept. InvalidArgument for an
// invalid --dns address.
absl::StatusOr<std::string> GenerateResolvConf(const ResolvConfOptions& options);

}  // namespace berth::engine::oci
