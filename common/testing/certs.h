// Throwaway TLS material for tests, made with the openssl CLI: a CA and a server certificate
// it signed for 127.0.0.1, the shape every test of a TLS registry needs.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace berth::testing {

constexpr char kOpensslCli[] = "/usr/bin/openssl";

// Runs `openssl <args>`; an error carries its output when it fails.
absl::Status RunOpenssl(const std::vector<std::string>& args);

// Writes ca.key/ca.crt (an EC P-256 CA named `ca_name`) and server.key/server.crt (EC, SAN
// IP:127.0.0.1, serverAuth, signed by the CA) into `dir`; valid for a day.
absl::Status MakeCaAndServerCert(const std::string& dir, const std::string& ca_name);

}  // namespace berth::testing
