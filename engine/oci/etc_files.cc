#include "engine/oci/etc_files.h"

#include <arpa/inet.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace berth::engine::oci {
namespace {

bool IsIp(const std::string& s) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// 127.0.0.0/8 and ::1 (also written in longer forms).
bool IsLocalhost(const std::string& ip) {
  unsigned char v4[4];
  if (::inet_pton(AF_INET, ip.c_str(), v4) == 1) return v4[0] == 127;
  unsigned char v6[16];
  if (::inet_pton(AF_INET6, ip.c_str(), v6) == 1) {
    for (int i = 0; i < 15; ++i) {
      if (v6[i] != 0) return false;
    }
    return v6[15] == 1;
  }
  return false;
}

}  // namespace

std::string GenerateHostnameFile(absl::string_view hostname) {
  return absl::StrCat(hostname, "\n");
}

absl::StatusOr<std::string> GenerateHostsFile(const HostsOptions& options) {
  std::string out =
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "ff00::0\tip6-mcastprefix\n"
      "ff02::1\tip6-allnodes\n"
      "ff02::2\tip6-allrouters\n";
  for (const std::string& entry : options.extra_hosts) {
    const size_t colon = entry.find(':');
    if (colon == std::string::npos || colon == 0) {
      return absl::InvalidArgumentError(absl::StrCat("invalid add-host: \"", entry, "\""));
    }
    const std::string name = entry.substr(0, colon);
    std::string ip = entry.substr(colon + 1);
    // Docker also accepts "[v6addr]".
    if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
    if (ip == "host-gateway") {
      if (options.host_gateway_ip.empty()) {
        return absl::InvalidArgumentError(
            "add-host: host-gateway is not available (no host gateway address configured)");
      }
      ip = options.host_gateway_ip;
    }
    if (!IsIp(ip)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid IP address in add-host: \"", ip, "\""));
    }
    absl::StrAppend(&out, ip, "\t", name, "\n");
  }
  std::string names = options.hostname;
  if (!options.domainname.empty() && !options.hostname.empty()) {
    names = absl::StrCat(options.hostname, ".", options.domainname, " ", options.hostname);
  }
  if (!names.empty()) {
    for (const std::string& ip : options.addresses) absl::StrAppend(&out, ip, "\t", names, "\n");
  }
  return out;
}

absl::StatusOr<std::string> GenerateResolvConf(const ResolvConfOptions& options) {
  for (const std::string& ip : options.dns) {
    if (!IsIp(ip)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid nameserver address \"", ip, "\""));
    }
  }
  std::string out;
  bool have_nameserver = false;
  for (absl::string_view raw : absl::StrSplit(options.host_resolv_conf, '\n')) {
    const absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty()) continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    const absl::string_view key = fields[0];
    if (key == "nameserver") {
      if (!options.dns.empty() || fields.size() < 2) continue;
      // A zone index ("fe80::1%eth0") is kept as written but ignored for the check.
      const std::string ip(fields[1].substr(0, fields[1].find('%')));
      if (!options.host_network && IsLocalhost(ip)) continue;
      have_nameserver = true;
    } else if ((key == "search" || key == "domain") && !options.dns_search.empty()) {
      continue;
    } else if (key == "options" && !options.dns_options.empty()) {
      continue;
    }
    absl::StrAppend(&out, line, "\n");
  }
  for (const std::string& ip : options.dns) {
    absl::StrAppend(&out, "nameserver ", ip, "\n");
    have_nameserver = true;
  }
  if (!options.dns_search.empty()) {
    absl::StrAppend(&out, "search ", absl::StrJoin(options.dns_search, " "), "\n");
  }
  if (!options.dns_options.empty()) {
    absl::StrAppend(&out, "options ", absl::StrJoin(options.dns_options, " "), "\n");
  }
  if (!have_nameserver) {
    // Docker's fallback when the host only has localhost resolvers (e.g. systemd-resolved's
    // 127.0.0.53): Google's public DNS.
    absl::StrAppend(&out, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
  }
  return out;
}

}  // namespace berth::engine::oci
