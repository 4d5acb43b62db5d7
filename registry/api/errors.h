// Error responses in the shape the OCI distribution spec requires for JSON 4xx bodies
// (spec.md "Error Codes"): {"errors":[{"code":"...","message":"...","detail":...}]}.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "registry/http/handler.h"

namespace berth::registry::api {

// The spec's code-1 .. code-14; "The code field MUST be one of" these.
enum class ErrorCode {
  kBlobUnknown,
  kBlobUploadInvalid,
  kBlobUploadUnknown,
  kDigestInvalid,
  kManifestBlobUnknown,
  kManifestInvalid,
  kManifestUnknown,
  kNameInvalid,
  kNameUnknown,
  kSizeInvalid,
  kUnauthorized,
  kDenied,
  kUnsupported,
  kTooManyRequests,
};

// "BLOB_UNKNOWN", ...
absl::string_view ErrorCodeName(ErrorCode code);
// The spec's description, e.g. "blob unknown to registry".
absl::string_view DefaultMessage(ErrorCode code);

// Flat string key/value pairs rendered as the JSON object in "detail".
using ErrorDetail = std::vector<std::pair<std::string, std::string>>;

// The JSON error body; an empty `message` uses DefaultMessage(code); "detail" is left out
// when `detail` is empty.
std::string ErrorBody(ErrorCode code, absl::string_view message = {},
                      const ErrorDetail& detail = {});

// A response with `status`, Content-Type application/json and ErrorBody(...).
http::Response ErrorResponse(int status, ErrorCode code, absl::string_view message = {},
                             const ErrorDetail& detail = {});

// `s` as a JSON string literal, quotes included.
std::string JsonQuote(absl::string_view s);

}  // namespace berth::registry::api
