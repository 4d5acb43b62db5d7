// CRC-32 as gzip computes it (RFC 1952), for checking a gzip layer's trailer. Internal to
// //containerd/diff.
//
// Every byte of a gzip layer goes through it, so it must be fast: libdeflate's crc32 folds with
// carry-less multiplication (PCLMULQDQ/AVX) where the CPU has it, several times the speed of
// zlib's table-driven crc32 (Debian's zlib 1.2.13 has no vectorized one).
#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"

namespace berth::containerd::diff::internal {

// The CRC-32 of `data` continuing `crc` (Crc32(0, data) starts a new one), so
// Crc32(Crc32(0, a), b) == Crc32(0, a + b). Thread-safe.
uint32_t Crc32(uint32_t crc, absl::string_view data);

}  // namespace berth::containerd::diff::internal
