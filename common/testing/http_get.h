// A minimal HTTP/1.0 GET for tests that scrape /metrics or probe /v2/ on loopback.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::testing {

struct HttpResponse {
  int status = 0;
  std::string headers;  // raw header block, lower-cased names not guaranteed
  std::string body;
};

// GETs http://<host_port><path>. Unavailable when nothing listens.
absl::StatusOr<HttpResponse> HttpGet(const std::string& host_port, const std::string& path,
                                     absl::Duration timeout = absl::Seconds(10));

// Runs `promtool check metrics` on `exposition`; returns its output, or an error holding it
// when promtool rejects the text.
absl::StatusOr<std::string> PromtoolCheckMetrics(const std::string& exposition);

}  // namespace berth::testing
