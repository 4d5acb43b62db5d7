// Connection is one accepted TCP connection of http::Server, plain or TLS (Stream is
// beast::tcp_stream or beast::ssl_stream over one): a state machine that, after the TLS
// handshake when there is one, reads a request head, runs the routed handler, moves the request
// body into a BodySink (or discards it), writes the response (streaming a BodySource), and loops
// while keep-alive holds. Internal to //registry/http:server.
//
// Every method except RequestStop/ForceClose runs on the connection's strand, so the state
// below needs no lock. The object keeps itself alive through shared_from_this() captured in
// its pending operations; it dies when the last operation completes without starting another.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/time/time.h"
#include "registry/http/handler.h"
#include "registry/http/router.h"
#include "registry/http/server.h"

namespace berth::registry::http::internal {

// What the server holds of a connection, whatever its stream type.
class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  // Starts serving requests (after the TLS handshake, if any).
  virtual void Start() = 0;
  // Thread-safe. Closes the connection now if it waits for a request; otherwise it closes
  // after the response in progress (which goes out with "Connection: close").
  virtual void RequestStop() = 0;
  // Thread-safe. Closes the socket now, abandoning any request in progress.
  virtual void ForceClose() = 0;
};

// What a connection needs from its server. Everything outlives the connection.
struct ConnectionContext {
  const Router* router = nullptr;
  const ServerOptions* options = nullptr;
  // Set for TLS connections.
  boost::asio::ssl::context* tls = nullptr;
  // Runs in ~Connection, on whichever thread drops the last reference.
  std::function<void(ConnectionBase*)> on_destroy;
};

using PlainStream = boost::beast::tcp_stream;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

template <class Stream>
class Connection : public ConnectionBase, public std::enable_shared_from_this<Connection<Stream>> {
 public:
  Connection(boost::asio::ip::tcp::socket socket, const ConnectionContext& context);
  ~Connection() override;

  void Start() override;
  void RequestStop() override;
  void ForceClose() override;

 private:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  boost::beast::tcp_stream& Tcp() { return boost::beast::get_lowest_layer(stream_); }
  void OnHandshake(boost::beast::error_code ec);
  using Parser = boost::beast::http::request_parser<boost::beast::http::buffer_body>;
  using HttpResponse = boost::beast::http::response<boost::beast::http::buffer_body>;
  using Serializer = boost::beast::http::response_serializer<boost::beast::http::buffer_body>;

  void ReadHeader();
  void OnHeader(boost::beast::error_code ec, size_t bytes);
  void Dispatch();
  void ReadBody();
  void OnBody(boost::beast::error_code ec, size_t bytes);
  // A body of declared length bypasses the parser: read straight from the stream into the
  // chunk buffer, as much as has arrived (up to a chunk), so a large upload costs one read,
  // one handler and one sink Write per chunk instead of per 512-byte parser read.
  void ReadRawBody();
  void OnRawBody(boost::beast::error_code ec, size_t bytes);
  // Counts `data` against the limit and hands it to the sink. False when the request failed
  // (a response is then on its way).
  bool ConsumeBody(const char* data, size_t n);
  // The chunk buffer, allocated on first use (an idle connection holds none).
  char* Chunk();
  void OnBodyDone();
  void FailUpload(const absl::Status& why);
  void SendResponse(Response response);
  void OnHeaderOnlyWritten(boost::beast::error_code ec, size_t bytes);
  void WriteBody();
  void OnBodyWritten(boost::beast::error_code ec, size_t bytes);
  void OnResponseDone();
  // Ends the request in progress for the observer (once) with `status`.
  void Record(int status);
  // After a final response while the client may still be sending: stop sending, then read and
  // drop input for a moment, so closing does not reset the connection before the client has
  // read the response (RFC 9112 section 9.6).
  void LingeringClose();
  void OnLinger(boost::beast::error_code ec, size_t bytes);
  void Close();
  // After a complete response: TLS sends close_notify first (bounded by a short deadline), so
  // a body delimited by the connection's end is not mistaken for a truncation.
  void GracefulClose();
  void SetDeadline(absl::Duration d);

  Stream stream_;
  ConnectionContext context_;
  boost::beast::flat_buffer buffer_;  // bytes read past the current parse position
  // One body chunk, in or out; see Chunk(). Mapped, not malloc'd: malloc would keep freed
  // 1 MiB buffers in its arenas, so RSS after a burst of uploads would never come back down.
  struct Unmap {
    void operator()(char* p) const;
  };
  std::unique_ptr<char, Unmap> chunk_;
  bool idle_ = false;                 // waiting for a request head
  bool stopping_ = false;
  bool closed_ = false;

  // The request in progress.
  std::optional<Parser> parser_;
  Request request_;
  bool request_active_ = false;
  bool keep_alive_ = false;
  absl::Time start_;
  std::string route_label_;
  std::unique_ptr<BodySink> sink_;
  Response pending_;  // the response to send once the body is in (when there is no sink)
  uint64_t body_limit_ = 0;
  uint64_t request_bytes_ = 0;
  // A declared-length body read by ReadRawBody: what is still to come, and whether it all came.
  uint64_t raw_left_ = 0;
  bool raw_done_ = false;
  // The response in progress.
  std::optional<HttpResponse> response_;
  std::optional<Serializer> serializer_;
  Response body_;  // what response_'s body is drawn from
  int status_sent_ = 0;
  uint64_t response_bytes_ = 0;
  uint64_t linger_bytes_ = 0;
};

}  // namespace berth::registry::http::internal
