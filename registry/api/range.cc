#include "registry/api/range.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"

namespace berth::registry::api {
namespace {

// Parses 1*DIGIT; numbers past uint64 saturate (a position beyond any blob), so "bytes=99999
// 999999999999999999-" is simply unsatisfiable instead of wrapping around.
std::optional<uint64_t> ParseDigits(absl::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (!absl::ascii_isdigit(c)) return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
  }
  return v;
}

}  // namespace

RangeRequest ParseRange(absl::string_view header, uint64_t size) {
  RangeRequest whole;
  absl::string_view spec = absl::StripAsciiWhitespace(header);
  if (spec.size() < 6 || !absl::EqualsIgnoreCase(spec.substr(0, 6), "bytes=")) return whole;
  spec = absl::StripAsciiWhitespace(spec.substr(6));
  if (absl::StrContains(spec, ',')) return whole;  // several ranges: serve it all
  const size_t dash = spec.find('-');
  if (dash == absl::string_view::npos) return whole;
  const absl::string_view first_text = absl::StripAsciiWhitespace(spec.substr(0, dash));
  const absl::string_view last_text = absl::StripAsciiWhitespace(spec.substr(dash + 1));
  RangeRequest out;
  out.kind = RangeRequest::Kind::kPartial;
  if (first_text.empty()) {
    // Suffix range "-N": the last N bytes.
    std::optional<uint64_t> n = ParseDigits(last_text);
    if (!n) return whole;
    if (*n == 0 || size == 0) return RangeRequest{RangeRequest::Kind::kUnsatisfiable, {}};
    out.range.first = *n >= size ? 0 : size - *n;
    out.range.last = size - 1;
    return out;
  }
  std::optional<uint64_t> first = ParseDigits(first_text);
  if (!first) return whole;
  std::optional<uint64_t> last;
  if (!last_text.empty()) {
    last = ParseDigits(last_text);
    if (!last || *last < *first) return whole;  // invalid syntax per RFC 9110: ignored
  }
  if (*first >= size) return RangeRequest{RangeRequest::Kind::kUnsatisfiable, {}};
  out.range.first = *first;
  out.range.last = (!last || *last >= size) ? size - 1 : *last;
  return out;
}

std::optional<ByteRange> ParseContentRange(absl::string_view header) {
  absl::string_view s = absl::StripAsciiWhitespace(header);
  if (s.size() >= 6 && absl::EqualsIgnoreCase(s.substr(0, 6), "bytes ")) s.remove_prefix(6);
  if (s.size() >= 6 && absl::EqualsIgnoreCase(s.substr(0, 6), "bytes=")) s.remove_prefix(6);
  const size_t slash = s.find('/');
  if (slash != absl::string_view::npos) s = s.substr(0, slash);
  const size_t dash = s.find('-');
  if (dash == absl::string_view::npos) return std::nullopt;
  std::optional<uint64_t> first = ParseDigits(s.substr(0, dash));
  std::optional<uint64_t> last = ParseDigits(s.substr(dash + 1));
  if (!first || !last || *last < *first || *last == UINT64_MAX) return std::nullopt;
  return ByteRange{*first, *last};
}

}  // namespace berth::registry::api
