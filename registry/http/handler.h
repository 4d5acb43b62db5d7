// The types a route handler sees: the request head (Request), the answer (Response), and the
// two streaming hooks that keep large bodies out of memory — a BodySource the server pulls a
// response body from (a blob GET streams a file) and a BodySink the server pushes a request
// body into as it arrives (a blob PUT/PATCH writes chunks to disk).
//
// Handlers run on one of the server's I/O threads, serialized per connection. They may do
// short blocking work (local file I/O) but must never wait on the network or on another
// request: that would stall every connection sharing the thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace berth::registry::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The head of one HTTP request. The body is not here: a handler that wants it returns a
// BodySink (see HandlerResult).
struct Request {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // raw request-target, e.g. "/v2/library/alpine/tags/list?n=10"
  std::string path;    // target up to '?', not percent-decoded
  std::string query;   // target after '?', raw ("" when absent)
  int version = 11;    // 10 or 11
  HeaderList headers;  // in arrival order, names as sent
  // Declared body length; nullopt for a chunked body. 0 when there is no body.
  std::optional<uint64_t> content_length;
  bool chunked = false;
  // Values of the route pattern's {placeholders}, raw (not percent-decoded: the distribution
  // spec grammar for names, tags and digests has no '%', so handlers validate and reject).
  absl::flat_hash_map<std::string, std::string> params;
  // Pattern of the matched route ("/v2/{name...}/blobs/{digest}"); "" when nothing matched.
  std::string route;
  // For a 405 handler: the methods the path does allow, e.g. {"GET", "HEAD"}.
  std::vector<std::string> allowed_methods;

  // First header named `name` (case-insensitive), or nullopt.
  std::optional<absl::string_view> Header(absl::string_view name) const;
  // Percent-decoded (and '+' -> ' ') query parameters in order; repeated keys repeat, as in
  // the spec's "?tag=a&tag=b". Malformed escapes are kept verbatim.
  std::vector<std::pair<std::string, std::string>> QueryParams() const;
  // Value of a path placeholder ("" when absent).
  const std::string& Param(absl::string_view name) const;
};

// Produces a response body incrementally. Read() is called on an I/O thread each time the
// previous chunk has been sent, so a slow client never makes the server buffer a whole blob.
class BodySource {
 public:
  virtual ~BodySource() = default;
  // Copies up to `buffer.size()` bytes into `buffer`; returns the count, 0 at the end. An error
  // after the header has gone out can only abort the connection (the client sees a truncated
  // body), so sources should fail early, e.g. open their file before the handler returns.
  virtual absl::StatusOr<size_t> Read(absl::Span<char> buffer) = 0;
};

struct Response {
  int status = 200;
  HeaderList headers;  // Content-Length, Transfer-Encoding and Connection are set by the server
  // The body, when `source` is null.
  std::string body;
  // A streamed body. With `content_length` set the server sends Content-Length and expects
  // exactly that many bytes; without it the body is sent chunked (HTTP/1.1) or delimited by
  // closing the connection (HTTP/1.0).
  std::unique_ptr<BodySource> source;
  std::optional<uint64_t> content_length;

  // A response whose body is `body`, with Content-Type `content_type`.
  static Response Text(int status, std::string body,
                       absl::string_view content_type = "text/plain; charset=utf-8");
  Response& SetHeader(absl::string_view name, absl::string_view value);
};

// Receives a request body chunk by chunk, then produces the response. All calls happen on one
// I/O thread at a time, in order: Write()*, then exactly one of Finish() or Abort().
class BodySink {
 public:
  virtual ~BodySink() = default;
  // Largest body this sink accepts, replacing ServerOptions::max_request_body_bytes for this
  // request (a blob upload wants gigabytes, a manifest a few MiB). nullopt: the server default.
  virtual std::optional<uint64_t> MaxBytes() const { return std::nullopt; }
  // Consumes the next chunk. A non-OK status stops the upload: the server calls Abort() with
  // it, sends ErrorResponse(status) and closes the connection.
  virtual absl::Status Write(absl::string_view chunk) = 0;
  // The body ended; returns the response to send.
  virtual Response Finish() = 0;
  // The body will not complete (client went away, body too large, server stopping, or Write
  // failed); undo partial work. The default does nothing.
  virtual void Abort(const absl::Status& why) {}
  // The response sent after Abort() when one can still be sent: a failed Write, or a body over
  // MaxBytes() (ResourceExhausted). The default is plain text with HttpStatusFor(why).
  virtual Response ErrorResponse(const absl::Status& why);
};

// What a handler returns after seeing the request head: a response now (any request body is
// read and discarded first), or a sink that takes the body and produces the response.
class HandlerResult {
 public:
  HandlerResult(Response response) : value_(std::move(response)) {}  // NOLINT: implicit
  template <typename Sink, typename = std::enable_if_t<std::is_base_of_v<BodySink, Sink>>>
  HandlerResult(std::unique_ptr<Sink> sink)
      : value_(std::unique_ptr<BodySink>(std::move(sink))) {}  // NOLINT
  bool has_sink() const { return std::holds_alternative<std::unique_ptr<BodySink>>(value_); }
  Response& response() { return std::get<Response>(value_); }
  std::unique_ptr<BodySink>& sink() { return std::get<std::unique_ptr<BodySink>>(value_); }

 private:
  std::variant<Response, std::unique_ptr<BodySink>> value_;
};

// Percent-decoded ('+' -> ' ') pairs of an application/x-www-form-urlencoded text (a query
// string or a form body), in order; malformed escapes are kept verbatim.
std::vector<std::pair<std::string, std::string>> ParseFormUrlEncoded(absl::string_view text);

// Called once per request, when its head has arrived. Must be thread-safe: different
// connections call the same handler concurrently.
using Handler = std::function<HandlerResult(Request& request)>;

// Maps an error status to an HTTP status code: InvalidArgument 400, NotFound 404,
// AlreadyExists 409, FailedPrecondition 409, PermissionDenied 403, Unauthenticated 401,
// ResourceExhausted 413 (body too large), Unimplemented 501, Unavailable 503,
// DeadlineExceeded 504, everything else 500.
int HttpStatusFor(const absl::Status& status);

// A BodySource over bytes already in memory (mostly for tests and small generated bodies).
std::unique_ptr<BodySource> StringSource(std::string data);

// A BodySource streaming an open file descriptor from its current offset, closing it when
// done. Reads block the I/O thread briefly; that is acceptable for local disks.
std::unique_ptr<BodySource> FdSource(int fd);

// A sink that buffers the body in memory (at most `max_bytes`) and then calls `done` with it:
// for small bodies such as manifests, where streaming buys nothing.
std::unique_ptr<BodySink> BufferedSink(uint64_t max_bytes,
                                       std::function<Response(std::string body)> done);

}  // namespace berth::registry::http
