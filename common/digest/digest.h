// OCI content digests: the "<algorithm>:<encoded>" strings that name every blob, manifest and
// config berth stores or pulls (OCI image-spec, descriptor.md, "Digests"). A `Digest` is a
// parsed, validated value: holding one means the string is well formed *and* berth can compute
// its algorithm, so it can always be verified. Hashers and the verifier are in hasher.h.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace berth::digest {

// Algorithm identifiers registered by the image spec that berth implements.
inline constexpr absl::string_view kSha256 = "sha256";
inline constexpr absl::string_view kSha512 = "sha512";

// The algorithms berth can compute (and therefore verify), in a stable order.
absl::Span<const absl::string_view> SupportedAlgorithms();
// OK for one of SupportedAlgorithms(); otherwise Unimplemented
// ("unsupported digest algorithm \"md5\" (berth supports sha256, sha512)").
absl::Status CheckAlgorithmSupported(absl::string_view algorithm);

class Hasher;

class Digest {
 public:
  // Parses and validates `s`.
  //
  // The string must match the image-spec grammar
  //   digest    = algorithm ":" encoded
  //   algorithm = component *(separator component), component = [a-z0-9]+, separator = [+._-]
  //   encoded   = [a-zA-Z0-9=_-]+
  // and, because each registered algorithm fixes its encoding, sha256 needs exactly 64 and
  // sha512 exactly 128 lowercase hex characters (the spec forbids [A-F]). Nothing is trimmed:
  // a digest is an identifier, so " sha256:..." is a different (invalid) string.
  //
  // Errors:
  //   InvalidArgument: not well formed; the message quotes the digest and says what is wrong.
  //   Unimplemented: well formed, but the algorithm is not one berth computes ("md5:...",
  //     "blake3:..."). The spec says implementations SHOULD let such digests pass validation;
  //     berth deliberately does not (as containerd's go-digest doesn't), because every digest
  //     berth holds may have to be verified, and an unverifiable digest must never be trusted
  //     or compared as if it named checked content. A distinct code lets callers that walk an
  //     index skip such entries instead of treating them as corrupt.
  static absl::StatusOr<Digest> Parse(absl::string_view s);

  // The sha256 digest of `data` (sha256 is the algorithm the spec says implementations SHOULD
  // use). Fails only if OpenSSL cannot hash (Internal), e.g. a broken OpenSSL configuration.
  // Defined in hasher.cc.
  static absl::StatusOr<Digest> FromBytes(absl::string_view data);

  Digest(const Digest&) = default;
  Digest(Digest&&) noexcept = default;
  Digest& operator=(const Digest&) = default;
  Digest& operator=(Digest&&) noexcept = default;

  // "sha256" or "sha512".
  absl::string_view algorithm() const { return absl::string_view(value_).substr(0, colon_); }
  // The encoded part: lowercase hex for every algorithm berth supports.
  absl::string_view hex() const { return absl::string_view(value_).substr(colon_ + 1); }
  // "<algorithm>:<hex>", exactly as parsed (parsing never rewrites the string).
  const std::string& ToString() const { return value_; }

  friend bool operator==(const Digest& a, const Digest& b) { return a.value_ == b.value_; }
  friend bool operator!=(const Digest& a, const Digest& b) { return a.value_ != b.value_; }
  // Orders by the full string, so sorted lists of digests are stable across runs and hosts.
  friend bool operator<(const Digest& a, const Digest& b) { return a.value_ < b.value_; }

  template <typename H>
  friend H AbslHashValue(H h, const Digest& d) {
    return H::combine(std::move(h), d.value_);
  }
  friend std::ostream& operator<<(std::ostream& os, const Digest& d) { return os << d.value_; }

 private:
  // Hasher builds digests from hashes it computed itself, which are valid by construction.
  friend class Hasher;
  Digest(std::string value, size_t colon) : value_(std::move(value)), colon_(colon) {}

  std::string value_;
  size_t colon_;  // index of the ':' in value_
};

}  // namespace berth::digest
