#include "common/digest/digest.h"

#include <array>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/status_macros.h"

namespace berth::digest {
namespace {

struct AlgorithmSpec {
  absl::string_view name;
  size_t hex_length;  // the spec fixes the encoding: lowercase hex of the full hash
};

// Image-spec "Registered algorithms". blake3 is registered too (v1.1) but OpenSSL 3.0 cannot
// compute it, so it is unsupported like any unknown algorithm. hasher.cc must know every entry.
constexpr std::array<AlgorithmSpec, 2> kSpecs = {{
    {kSha256, 64},
    {kSha512, 128},
}};
// kSpecs' names, in its order, for SupportedAlgorithms().
constexpr std::array<absl::string_view, 2> kNames = {kSha256, kSha512};
static_assert(kNames.size() == kSpecs.size());

const AlgorithmSpec* FindSpec(absl::string_view algorithm) {
  for (const AlgorithmSpec& spec : kSpecs) {
    if (spec.name == algorithm) return &spec;
  }
  return nullptr;
}

// Digests arrive from registries and users; cap what goes into an error message so a
// megabyte of garbage does not become a megabyte of log line.
constexpr size_t kMaxQuoted = 100;

std::string Quote(absl::string_view s) {
  if (s.size() > kMaxQuoted) {
    return absl::StrCat("\"", absl::CHexEscape(s.substr(0, kMaxQuoted)), "\"...");
  }
  return absl::StrCat("\"", absl::CHexEscape(s), "\"");
}

std::string QuoteChar(char c) {
  return absl::StrCat("'", absl::CHexEscape(absl::string_view(&c, 1)), "'");
}

absl::Status Invalid(absl::string_view digest, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("digest ", Quote(digest), ": ", problem));
}

bool IsSeparator(char c) { return c == '+' || c == '.' || c == '_' || c == '-'; }
bool IsComponentChar(char c) { return absl::ascii_islower(c) || absl::ascii_isdigit(c); }
bool IsEncodedChar(char c) { return absl::ascii_isalnum(c) || c == '=' || c == '_' || c == '-'; }

// algorithm = component *(separator component): no leading, trailing or doubled separator.
absl::Status CheckAlgorithm(absl::string_view digest, absl::string_view algorithm) {
  if (algorithm.empty()) return Invalid(digest, "empty algorithm before ':'");
  bool after_separator = true;  // the start behaves like a separator: a component must follow
  for (size_t i = 0; i < algorithm.size(); ++i) {
    const char c = algorithm[i];
    if (IsComponentChar(c)) {
      after_separator = false;
    } else if (IsSeparator(c)) {
      if (i == 0) {
        return Invalid(digest,
                       absl::StrCat("algorithm must not start with separator ", QuoteChar(c)));
      }
      if (after_separator) {
        return Invalid(digest, absl::StrCat("algorithm has two separators in a row at offset ", i));
      }
      after_separator = true;
    } else if (absl::ascii_isupper(c)) {
      return Invalid(digest, absl::StrCat("algorithm must be lowercase, got ", QuoteChar(c),
                                          " at offset ", i));
    } else {
      return Invalid(digest,
                     absl::StrCat("invalid character ", QuoteChar(c), " in algorithm at offset ", i,
                                  " (allowed: a-z 0-9, separated by one of +._-)"));
    }
  }
  if (after_separator) {
    return Invalid(digest, absl::StrCat("algorithm must not end with separator ",
                                        QuoteChar(algorithm.back())));
  }
  return absl::OkStatus();
}

absl::Status CheckEncoded(absl::string_view digest, size_t offset, absl::string_view encoded) {
  if (encoded.empty()) return Invalid(digest, "empty encoded part after ':'");
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (!IsEncodedChar(encoded[i])) {
      return Invalid(digest, absl::StrCat("invalid character ", QuoteChar(encoded[i]),
                                          " in encoded part at offset ", offset + i,
                                          " (allowed: a-z A-Z 0-9 = _ -)"));
    }
  }
  return absl::OkStatus();
}

// The registered algorithms' extra rule: exactly hex_length lowercase hex characters.
absl::Status CheckHex(absl::string_view digest, size_t offset, const AlgorithmSpec& spec,
                      absl::string_view hex) {
  for (size_t i = 0; i < hex.size(); ++i) {
    const char c = hex[i];
    if (c >= 'A' && c <= 'F') {
      return Invalid(digest,
                     absl::StrCat("uppercase hex not allowed in ", spec.name, " digest, got ",
                                  QuoteChar(c), " at offset ", offset + i));
    }
    if (!absl::ascii_isxdigit(c)) {
      return Invalid(digest, absl::StrCat(spec.name, " hex has non-hex character ", QuoteChar(c),
                                          " at offset ", offset + i));
    }
  }
  if (hex.size() != spec.hex_length) {
    return Invalid(digest, absl::StrCat(spec.name, " hex must be ", spec.hex_length,
                                        " characters, got ", hex.size()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Span<const absl::string_view> SupportedAlgorithms() { return kNames; }

absl::Status CheckAlgorithmSupported(absl::string_view algorithm) {
  if (FindSpec(algorithm) != nullptr) return absl::OkStatus();
  return absl::UnimplementedError(absl::StrCat("unsupported digest algorithm ", Quote(algorithm),
                                               " (berth supports ", absl::StrJoin(kNames, ", "),
                                               ")"));
}

absl::StatusOr<Digest> Digest::Parse(absl::string_view s) {
  if (s.empty()) return absl::InvalidArgumentError("digest is empty");
  const size_t colon = s.find(':');
  if (colon == absl::string_view::npos) {
    return Invalid(s, "missing ':' between algorithm and encoded part");
  }
  const absl::string_view algorithm = s.substr(0, colon);
  const absl::string_view encoded = s.substr(colon + 1);
  // Grammar first, so a malformed digest is InvalidArgument whatever its algorithm; a second
  // ':' fails here as a bad encoded character.
  if (absl::Status st = CheckAlgorithm(s, algorithm); !st.ok()) return st;
  if (absl::Status st = CheckEncoded(s, colon + 1, encoded); !st.ok()) return st;

  const AlgorithmSpec* spec = FindSpec(algorithm);
  if (spec == nullptr) {
    return Annotate(CheckAlgorithmSupported(algorithm), absl::StrCat("digest ", Quote(s)));
  }
  if (absl::Status st = CheckHex(s, colon + 1, *spec, encoded); !st.ok()) return st;
  return Digest(std::string(s), colon);
}

}  // namespace berth::digest
