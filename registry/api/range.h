// Parsing the byte-range headers of the blob API: the RFC 9110 `Range` request header on blob
// GETs (section 14.2; one range, as the distribution spec asks for resumable pulls), and the
// distribution spec's `Content-Range: <start>-<end>` on chunked uploads (end-5).
#pragma once

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace berth::registry::api {

struct ByteRange {
  uint64_t first = 0;  // inclusive
  uint64_t last = 0;   // inclusive
  uint64_t length() const { return last - first + 1; }
};

struct RangeRequest {
  enum class Kind {
    // No usable Range: serve the whole blob with 200. RFC 9110 lets a server ignore a Range
    // it does not support (several ranges) and requires ignoring a malformed one.
    kWholeBody,
    kPartial,        // serve `range` with 206
    kUnsatisfiable,  // 416 with "Content-Range: bytes */<size>"
  };
  Kind kind = Kind::kWholeBody;
  ByteRange range;
};

// Interprets a Range header value against a blob of `size` bytes. Never fails: hostile input
// (huge numbers, garbage, many ranges) degrades to kWholeBody or kUnsatisfiable.
RangeRequest ParseRange(absl::string_view header, uint64_t size);

// Parses an upload chunk's Content-Range: "<start>-<end>", inclusive, as the distribution spec
// writes it (a "bytes " prefix and a "/<total>" suffix, as in RFC 9110, are tolerated).
// nullopt when malformed or when end < start.
std::optional<ByteRange> ParseContentRange(absl::string_view header);

}  // namespace berth::registry::api
