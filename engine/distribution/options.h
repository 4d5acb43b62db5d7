// Options of the registry client (see registry_distribution.h, which berthd includes).
#pragma once

#include <string>
#include <vector>

namespace berth::engine::distribution {

struct Options {
  // "host[:port]" registries where plain HTTP is allowed (after HTTPS fails, like Docker).
  // Loopback registries (localhost, 127.0.0.0/8, ::1) are always allowed plain HTTP, like
  // Docker.
  std::vector<std::string> insecure_registries;
  // Docker's certs.d layout: <certs_dir>/<host[:port]>/*.crt are extra CA roots, *.cert+*.key
  // a client cert pair.
  std::string certs_dir = "/etc/berth/certs.d";
  int max_concurrent_downloads = 3;
  int max_concurrent_uploads = 5;
  std::string user_agent = "berth";
};

}  // namespace berth::engine::distribution
