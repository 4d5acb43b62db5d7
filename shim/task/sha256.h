// SHA-256 (FIPS 180-4) of a short string, for the shim's socket name (bootstrap.h).
//
// Why not common/digest: that goes through OpenSSL's EVP, which links ~2 MB of libcrypto into
// the static berth-shim and, on first use, loads openssl.cnf and its error strings into every
// shim's heap (~100 KiB per shim; issue #4 counts that 20 times). The socket name needs one
// hash of a few dozen bytes.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace berth::shim::task {

std::array<uint8_t, 32> Sha256(absl::string_view data);

// Lowercase hex of Sha256(data), 64 digits.
std::string Sha256Hex(absl::string_view data);

}  // namespace berth::shim::task
