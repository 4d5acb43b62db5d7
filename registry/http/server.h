// Server is berth-registry's HTTP/1.1 front end on Boost.Beast: it accepts TCP connections
// (or TLS 1.2+ over them, with OpenSSL through Asio) on an io_context run by a small thread pool,
// parses requests with Beast, dispatches them through a Router and streams bodies both ways (see
// handler.h), with keep-alive, a request body limit, timeouts and a graceful Stop(). No Beast or
// Asio type appears in this header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "registry/http/router.h"

namespace berth::registry::http {

// What the server reports about its traffic; implemented by the daemon's metrics. Methods are
// called concurrently from I/O threads and must be cheap and thread-safe.
class ServerObserver {
 public:
  virtual ~ServerObserver() = default;
  virtual void ConnectionOpened() = 0;
  virtual void ConnectionClosed() = 0;

  struct RequestRecord {
    // An RFC 9110 method name, or "OTHER" for extension methods (keeps label sets bounded).
    absl::string_view method;
    // The route pattern; "unmatched" when no route matched, "invalid" for unparseable requests.
    absl::string_view route;
    // Status sent; 499 when the client went away before a response could be sent.
    int status = 0;
    absl::Duration duration;
    uint64_t request_body_bytes = 0;   // body bytes received (after de-chunking)
    uint64_t response_body_bytes = 0;  // body bytes sent (0 for HEAD)
  };
  // Once per request, after its response was sent or it was abandoned.
  virtual void RequestDone(const RequestRecord& record) = 0;
  // A TLS handshake failed or timed out (plain HTTP to the TLS port, an untrusting client).
  virtual void TlsHandshakeFailed() {}
};

struct ServerOptions {
  // "host:port" with an IP literal host ("[::1]:5000" for IPv6), "localhost:port", or
  // ":port" for all IPv4 interfaces. Port 0 picks a free port (see Server::address()).
  std::string address = "127.0.0.1:0";
  // Threads running the io_context; handlers run on them.
  int threads = 4;
  // Largest request body accepted (413 beyond), unless a BodySink says otherwise.
  uint64_t max_request_body_bytes = 32 << 20;
  // Largest request line plus headers (431 beyond).
  uint32_t max_header_bytes = 16 << 10;
  // How long a keep-alive connection may sit between requests before it is closed.
  absl::Duration idle_timeout = absl::Seconds(60);
  // How long one read or write may make no progress inside a request before it is abandoned.
  absl::Duration io_timeout = absl::Minutes(5);
  // TLS: when both are set, the listener speaks HTTPS only (TLS 1.2 or later). PEM files: the
  // certificate chain (leaf first) and its private key (RSA or EC).
  std::string tls_cert_file;
  std::string tls_key_file;
  // How long a TLS client may take to finish its handshake.
  absl::Duration handshake_timeout = absl::Seconds(10);
  // How long Stop() lets in-flight requests finish before closing their connections.
  absl::Duration drain_timeout = absl::Seconds(10);
  // Optional; not owned, must outlive the server.
  ServerObserver* observer = nullptr;
};

class Server {
 public:
  // Binds `options.address`, starts the I/O threads and begins accepting. `router` is not
  // owned, must outlive the server and must not change once Start is called.
  // InvalidArgument for a malformed address or options, or TLS files that cannot be parsed or
  // do not match each other; NotFound/PermissionDenied for TLS files that cannot be read;
  // Unavailable when it cannot be bound (in use, no such local address, permission).
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                                       const Router& router);

  // Calls Stop().
  ~Server();

  // Stops accepting, closes idle keep-alive connections, lets in-flight requests finish for up
  // to drain_timeout (their connections close after the response), then closes whatever is
  // left and joins the I/O threads. Idempotent and thread-safe; must not be called from a
  // handler.
  void Stop();

  // The bound address, "host:port" (the real port when 0 was asked for).
  const std::string& address() const;
  int port() const;
  // Whether the listener speaks TLS.
  bool tls() const;

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Parses "host:port" as described for ServerOptions::address into a host and port.
// InvalidArgument when malformed.
absl::StatusOr<std::pair<std::string, int>> ParseListenAddress(absl::string_view address);

}  // namespace berth::registry::http
