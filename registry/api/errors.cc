#include "registry/api/errors.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace berth::registry::api {
namespace {

struct CodeInfo {
  const char* name;
  const char* message;
};

// Indexed by ErrorCode; order and wording from the spec's table.
constexpr CodeInfo kCodes[] = {
    {"BLOB_UNKNOWN", "blob unknown to registry"},
    {"BLOB_UPLOAD_INVALID", "blob upload invalid"},
    {"BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry"},
    {"DIGEST_INVALID", "provided digest did not match uploaded content"},
    {"MANIFEST_BLOB_UNKNOWN", "manifest references a manifest or blob unknown to registry"},
    {"MANIFEST_INVALID", "manifest invalid"},
    {"MANIFEST_UNKNOWN", "manifest unknown to registry"},
    {"NAME_INVALID", "invalid repository name"},
    {"NAME_UNKNOWN", "repository name not known to registry"},
    {"SIZE_INVALID", "provided length did not match content length"},
    {"UNAUTHORIZED", "authentication required"},
    {"DENIED", "requested access to the resource is denied"},
    {"UNSUPPORTED", "the operation is unsupported"},
    {"TOOMANYREQUESTS", "too many requests"},
};
static_assert(sizeof(kCodes) / sizeof(kCodes[0]) ==
              static_cast<size_t>(ErrorCode::kTooManyRequests) + 1);

}  // namespace

absl::string_view ErrorCodeName(ErrorCode code) { return kCodes[static_cast<int>(code)].name; }

absl::string_view DefaultMessage(ErrorCode code) { return kCodes[static_cast<int>(code)].message; }

std::string JsonQuote(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));  // UTF-8 passes through unchanged
        }
    }
  }
  out += "\"";
  return out;
}

std::string ErrorBody(ErrorCode code, absl::string_view message, const ErrorDetail& detail) {
  std::string body =
      absl::StrCat(R"({"errors":[{"code":)", JsonQuote(ErrorCodeName(code)), R"(,"message":)",
                   JsonQuote(message.empty() ? DefaultMessage(code) : message));
  if (!detail.empty()) {
    absl::StrAppend(&body, R"(,"detail":{)");
    for (size_t i = 0; i < detail.size(); ++i) {
      absl::StrAppend(&body, i > 0 ? "," : "", JsonQuote(detail[i].first), ":",
                      JsonQuote(detail[i].second));
    }
    absl::StrAppend(&body, "}");
  }
  absl::StrAppend(&body, "}]}");
  return body;
}

http::Response ErrorResponse(int status, ErrorCode code, absl::string_view message,
                             const ErrorDetail& detail) {
  return http::Response::Text(status, ErrorBody(code, message, detail), "application/json");
}

}  // namespace berth::registry::api
