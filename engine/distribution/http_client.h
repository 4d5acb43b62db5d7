// HttpClient: the HTTP transport of the registry client, over libcurl. One request at a time
// per call, bodies streamed both ways (a layer is never held in memory whole), TLS verified
// against the system roots plus a registry's extra CA certificates (Docker's certs.d), and
// cancellation between chunks. Connections are reused across calls (a small pool of curl
// handles), which matters for the many small requests of a push.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace berth::engine::distribution {

// TLS settings of one registry host.
struct TlsConfig {
  // PEM CA certificates trusted in addition to the system roots.
  std::string extra_ca_pem;
  // Client certificate and key files (PEM); both or neither.
  std::string client_cert_file;
  std::string client_key_file;
};

struct HttpResponse;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  // "Name: value" lines.
  std::vector<std::string> headers;
  // Request body: `body` when `body_source` is unset. A method other than GET/HEAD always
  // sends a body (possibly empty) with Content-Length.
  std::string body;
  // Streamed body of `body_size` bytes: fills `buf` with up to `max` bytes, returns how many
  // (0 at the end). An error aborts the request with that status. A negative `body_size`
  // means not known in advance: the body goes out chunked (Transfer-Encoding) until 0.
  std::function<absl::StatusOr<size_t>(char* buf, size_t max)> body_source;
  int64_t body_size = 0;
  // When set, the body of a 2xx response is handed to it chunk by chunk instead of being
  // collected (error bodies are always collected). An error aborts the transfer and is
  // returned.
  std::function<absl::Status(absl::string_view)> body_sink;
  // Called once with the status and headers of a 2xx response before its first body byte
  // goes to body_sink; an error aborts the transfer and is returned (e.g. a 200 where a 206
  // to a Range request was needed).
  std::function<absl::Status(const HttpResponse&)> on_success_headers;
  // Largest body collected in HttpResponse::body; more is an error.
  size_t max_body = 8 << 20;
  bool follow_redirects = true;
  const std::atomic<bool>* cancelled = nullptr;
  TlsConfig tls;
  absl::Duration connect_timeout = absl::Seconds(15);
  // A transfer below 1 byte/s for this long is given up (Unavailable).
  absl::Duration stall_timeout = absl::Seconds(60);
};

struct HttpResponse {
  int status = 0;
  // Headers of the final response (after redirects), names as sent.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Bytes handed to body_sink.
  int64_t sunk = 0;

  // First header named `name` (case-insensitive); "" when absent.
  std::string Header(absl::string_view name) const;
  std::vector<std::string> Headers(absl::string_view name) const;
};

class HttpClient {
 public:
  HttpClient(std::string user_agent);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Performs `req`. Any HTTP status is a response; errors are for transfers that did not
  // complete: Unavailable (cannot connect, TLS failure, connection dropped: the response's
  // bytes so far went to body_sink, see `partial`), Cancelled (`req.cancelled` set), or the
  // status a body callback returned. On Unavailable after a partial 2xx body, `*partial`
  // (when given) receives the bytes sunk and the response status/headers.
  absl::StatusOr<HttpResponse> Do(const HttpRequest& req, HttpResponse* partial = nullptr);

 private:
  void* Take();
  void Give(void* handle);

  const std::string user_agent_;
  absl::Mutex mu_;
  std::vector<void*> idle_ ABSL_GUARDED_BY(mu_);
};

// Whether `s` is a transfer failure worth retrying (Unavailable).
bool IsRetryable(const absl::Status& s);

}  // namespace berth::engine::distribution
