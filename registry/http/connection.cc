#include "registry/http/connection.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/mman.h>

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "glog/logging.h"

namespace berth::registry::http::internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

// Large enough that a loopback upload is read in a few syscalls per MiB (the kernel hands over
// what the socket buffer holds, often hundreds of KiB), small enough per connection.
constexpr size_t kChunkBytes = 1 << 20;
// What Beast's parser reads at most per read (http::read_some's limit).
constexpr size_t kParserReadBytes = 64 << 10;
// A read buffer grown past this for a chunked body is shrunk back before the next request.
constexpr size_t kIdleBufferBytes = 16 << 10;
// Lingering close: how long and how much to drain before giving up on the client.
constexpr absl::Duration kLingerTime = absl::Seconds(1);
constexpr uint64_t kLingerBytes = 1 << 20;
constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr char kHttpToHttps[] =
    "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
    "Client sent an HTTP request to an HTTPS server.\n";

template <class S>
S MakeStream(asio::ip::tcp::socket socket, const ConnectionContext& context) {
  if constexpr (std::is_same_v<S, TlsStream>) {
    return S(std::move(socket), *context.tls);
  } else {
    return S(std::move(socket));
  }
}

bool IsHttpError(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

// Headers the server owns; a handler's copies are ignored.
bool ServerOwned(absl::string_view name) {
  return absl::EqualsIgnoreCase(name, "Content-Length") ||
         absl::EqualsIgnoreCase(name, "Transfer-Encoding") ||
         absl::EqualsIgnoreCase(name, "Connection");
}

std::string HttpDate() {
  return absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", absl::Now(), absl::UTCTimeZone());
}

}  // namespace

template <class Stream>
Connection<Stream>::Connection(asio::ip::tcp::socket socket, const ConnectionContext& context)
    : stream_(MakeStream<Stream>(std::move(socket), context)),
      context_(context) {}

template <class Stream>
Connection<Stream>::~Connection() {
  if (sink_ != nullptr) sink_->Abort(absl::CancelledError("connection closed"));
  if (request_active_) Record(499);
  if (context_.on_destroy) context_.on_destroy(this);
}

template <class Stream>
void Connection<Stream>::Unmap::operator()(char* p) const {
  munmap(p, kChunkBytes);
}

template <class Stream>
char* Connection<Stream>::Chunk() {
  if (chunk_ == nullptr) {
    // Pages are only touched (and counted in RSS) as data fills them.
    void* p = mmap(nullptr, kChunkBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    // Out of address space: nothing sensible is left to do for a server.
    CHECK(p != MAP_FAILED) << "http connection: mmap of a " << kChunkBytes << "-byte buffer";
    chunk_.reset(static_cast<char*>(p));
  }
  return chunk_.get();
}

template <class Stream>
void Connection<Stream>::Start() {
  asio::dispatch(Tcp().get_executor(), [self = this->shared_from_this()] {
    if constexpr (kTls) {
      // A client that connects and says nothing must not hold the connection for long.
      self->SetDeadline(self->context_.options->handshake_timeout);
      self->stream_.async_handshake(
          asio::ssl::stream_base::server,
          beast::bind_front_handler(&Connection<Stream>::OnHandshake, self));
    } else {
      self->ReadHeader();
    }
  });
}

template <class Stream>
void Connection<Stream>::OnHandshake(beast::error_code ec) {
  if (!ec) return ReadHeader();
  ServerObserver* observer = context_.options->observer;
  if (observer != nullptr) observer->TlsHandshakeFailed();
  VLOG(1) << "tls handshake failed error=\"" << ec.message() << "\"";
  if (ec.category() == asio::error::get_ssl_category() &&
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_HTTP_REQUEST) {
    // Plain HTTP sent to the TLS port: say so in plain HTTP, as Go's net/http does, instead
    // of leaving the client with a reset it cannot explain.
    SetDeadline(absl::Seconds(1));
    return asio::async_write(
        Tcp(), asio::buffer(kHttpToHttps, sizeof(kHttpToHttps) - 1),
        [self = this->shared_from_this()](beast::error_code, size_t) { self->Close(); });
  }
  Close();
}

template <class Stream>
void Connection<Stream>::RequestStop() {
  asio::post(Tcp().get_executor(), [self = this->shared_from_this()] {
    self->stopping_ = true;
    // The pending head read completes with operation_aborted and closes the connection.
    if (self->idle_) self->Tcp().cancel();
  });
}

template <class Stream>
void Connection<Stream>::ForceClose() {
  asio::post(Tcp().get_executor(), [self = this->shared_from_this()] { self->Close(); });
}

template <class Stream>
void Connection<Stream>::SetDeadline(absl::Duration d) {
  if (d >= absl::Hours(24 * 365)) {
    Tcp().expires_never();
  } else {
    Tcp().expires_after(absl::ToChronoNanoseconds(d));
  }
}

template <class Stream>
void Connection<Stream>::ReadHeader() {
  if (stopping_ || closed_) return Close();
  if (buffer_.capacity() > kIdleBufferBytes && buffer_.size() < kIdleBufferBytes) {
    buffer_.shrink_to_fit();
  }
  parser_.emplace();
  parser_->header_limit(context_.options->max_header_bytes);
  // Enforced per request in Dispatch/OnBody. Not boost::none: Beast 1.74 compares a length
  // against an empty optional as "greater" and rejects every body.
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  idle_ = true;
  SetDeadline(context_.options->idle_timeout);
  bhttp::async_read_header(
      stream_, buffer_, *parser_,
      beast::bind_front_handler(&Connection<Stream>::OnHeader, this->shared_from_this()));
}

template <class Stream>
void Connection<Stream>::OnHeader(beast::error_code ec, size_t) {
  idle_ = false;
  if (ec) {
    // Closed, timed out or cut off mid-head: nobody is waiting for an answer.
    if (!IsHttpError(ec) || ec == bhttp::error::end_of_stream ||
        ec == bhttp::error::partial_message) {
      return Close();
    }
    request_ = Request();
    request_.method = "OTHER";
    request_active_ = true;
    start_ = absl::Now();
    request_bytes_ = 0;
    response_bytes_ = 0;
    route_label_ = "invalid";
    keep_alive_ = false;
    const bool too_big = ec == bhttp::error::header_limit;
    return SendResponse(Response::Text(
        too_big ? 431 : 400, too_big ? "request header too large\n"
                                     : absl::StrCat("bad request: ", ec.message(), "\n")));
  }
  request_active_ = true;
  start_ = absl::Now();
  request_bytes_ = 0;
  response_bytes_ = 0;
  status_sent_ = 0;
  raw_left_ = 0;
  raw_done_ = false;
  const auto& head = parser_->get();
  request_ = Request();
  request_.method = std::string(head.method_string());
  request_.target = std::string(head.target());
  const size_t q = request_.target.find('?');
  request_.path = request_.target.substr(0, q);
  if (q != std::string::npos) request_.query = request_.target.substr(q + 1);
  request_.version = head.version();
  for (const auto& field : head) {
    request_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  request_.chunked = parser_->chunked();
  if (parser_->content_length()) {
    request_.content_length = *parser_->content_length();
  } else if (!request_.chunked) {
    request_.content_length = 0;
  }
  keep_alive_ = head.keep_alive();
  Dispatch();
}

template <class Stream>
void Connection<Stream>::Dispatch() {
  Router::Match match = context_.router->Find(request_.method, request_.path);
  request_.route = match.route;
  request_.params = std::move(match.params);
  request_.allowed_methods = std::move(match.allowed_methods);
  route_label_ = match.route.empty() ? "unmatched" : match.route;

  HandlerResult result = (*match.handler)(request_);
  body_limit_ = context_.options->max_request_body_bytes;
  if (result.has_sink()) {
    sink_ = std::move(result.sink());
    if (sink_ == nullptr) {
      pending_ = Response::Text(500, "handler returned no sink\n");
    } else if (auto max = sink_->MaxBytes()) {
      body_limit_ = *max;
    }
  } else {
    pending_ = std::move(result.response());
  }
  // A handler that refused the request without wanting its body (an upload chunk out of
  // order, an unknown session) gets its own answer out, not a 413, when the body is too large
  // to drain or of unknown length; the connection then closes instead of reading it.
  if (sink_ == nullptr && pending_.status >= 400 && !parser_->is_done() &&
      (request_.chunked || (request_.content_length && *request_.content_length > body_limit_))) {
    keep_alive_ = false;
    return SendResponse(std::move(pending_));
  }
  // A declared length over the limit is refused before a byte of body is read.
  if (request_.content_length && *request_.content_length > body_limit_) {
    return FailUpload(
        absl::ResourceExhaustedError(absl::StrCat("request body of ", *request_.content_length,
                                                  " bytes exceeds the limit of ", body_limit_)));
  }
  if (parser_->is_done()) return OnBodyDone();
  auto expect = request_.Header("Expect");
  if (request_.version >= 11 && expect && absl::EqualsIgnoreCase(*expect, "100-continue")) {
    // The client waits for this before sending the body (RFC 9110 section 10.1.1).
    SetDeadline(context_.options->io_timeout);
    return asio::async_write(stream_, asio::buffer(kContinue, sizeof(kContinue) - 1),
                             [self = this->shared_from_this()](beast::error_code ec, size_t) {
                               if (ec) return self->Close();
                               self->ReadBody();
                             });
  }
  ReadBody();
}

template <class Stream>
void Connection<Stream>::ReadBody() {
  if (!request_.chunked && request_.content_length) {
    raw_left_ = *request_.content_length;
    return ReadRawBody();
  }
  // A chunked body goes through the parser, which reads no more than the read buffer's free
  // capacity (512 bytes after a small head) up to 64 KiB: give it room for the full 64 KiB.
  if (buffer_.capacity() - buffer_.size() < kParserReadBytes) {
    buffer_.reserve(buffer_.size() + kParserReadBytes);
  }
  auto& body = parser_->get().body();
  body.data = Chunk();
  body.size = kChunkBytes;
  SetDeadline(context_.options->io_timeout);
  // read_some, not read: hand each arrival to the sink now instead of waiting for a full chunk.
  bhttp::async_read_some(
      stream_, buffer_, *parser_,
      beast::bind_front_handler(&Connection<Stream>::OnBody, this->shared_from_this()));
}

template <class Stream>
void Connection<Stream>::OnBody(beast::error_code ec, size_t) {
  if (ec == bhttp::error::need_buffer) ec = {};  // the chunk buffer is full: consume it
  const size_t n = kChunkBytes - parser_->get().body().size;
  if (ec) {
    if (IsHttpError(ec) && ec != bhttp::error::partial_message) {
      return FailUpload(
          absl::InvalidArgumentError(absl::StrCat("bad request body: ", ec.message())));
    }
    if (sink_ != nullptr) sink_->Abort(absl::CancelledError("client stopped sending the body"));
    sink_.reset();
    Record(ec == beast::error::timeout ? 408 : 499);
    return Close();
  }
  if (!ConsumeBody(chunk_.get(), n)) return;
  if (parser_->is_done()) return OnBodyDone();
  ReadBody();
}

template <class Stream>
bool Connection<Stream>::ConsumeBody(const char* data, size_t n) {
  request_bytes_ += n;
  if (request_bytes_ > body_limit_) {
    FailUpload(absl::ResourceExhaustedError(
        absl::StrCat("request body exceeds the limit of ", body_limit_, " bytes")));
    return false;
  }
  if (n > 0 && sink_ != nullptr) {
    absl::Status st = sink_->Write(absl::string_view(data, n));
    if (!st.ok()) {
      FailUpload(st);
      return false;
    }
  }
  return true;
}

template <class Stream>
void Connection<Stream>::ReadRawBody() {
  if (raw_left_ == 0) {
    raw_done_ = true;
    return OnBodyDone();
  }
  // Body bytes that came in with the head (or with the previous read) go first, straight
  // from the read buffer; only the body's own bytes are taken, a pipelined request stays.
  if (buffer_.size() > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buffer_.size(), raw_left_));
    if (!ConsumeBody(static_cast<const char*>(buffer_.data().data()), n)) return;
    buffer_.consume(n);
    raw_left_ -= n;
    return ReadRawBody();
  }
  const size_t want = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, raw_left_));
  SetDeadline(context_.options->io_timeout);
  stream_.async_read_some(
      asio::buffer(Chunk(), want),
      beast::bind_front_handler(&Connection<Stream>::OnRawBody, this->shared_from_this()));
}

template <class Stream>
void Connection<Stream>::OnRawBody(beast::error_code ec, size_t bytes) {
  if (ec) {
    // The client went away (or stalled) before sending the declared length.
    if (sink_ != nullptr) sink_->Abort(absl::CancelledError("client stopped sending the body"));
    sink_.reset();
    Record(ec == beast::error::timeout ? 408 : 499);
    return Close();
  }
  if (!ConsumeBody(chunk_.get(), bytes)) return;
  raw_left_ -= std::min<uint64_t>(bytes, raw_left_);
  ReadRawBody();
}

template <class Stream>
void Connection<Stream>::OnBodyDone() {
  if (sink_ != nullptr) {
    pending_ = sink_->Finish();
    sink_.reset();
  }
  SendResponse(std::move(pending_));
}

template <class Stream>
void Connection<Stream>::FailUpload(const absl::Status& why) {
  Response r = Response::Text(HttpStatusFor(why), absl::StrCat(why.message(), "\n"));
  if (sink_ != nullptr) {
    sink_->Abort(why);
    r = sink_->ErrorResponse(why);
    sink_.reset();
  }
  keep_alive_ = false;  // the rest of the body is still on its way
  SendResponse(std::move(r));
}

template <class Stream>
void Connection<Stream>::SendResponse(Response r) {
  if (stopping_) keep_alive_ = false;
  const bool head = request_.method == "HEAD";
  const bool bodiless = r.status / 100 == 1 || r.status == 204 || r.status == 304;
  std::optional<uint64_t> length = r.source ? r.content_length : r.body.size();

  response_.emplace();
  response_->version(request_.version == 10 ? 10 : 11);
  // Beast throws on a status outside 100..999; a handler bug must not escape as an exception.
  if (r.status < 100 || r.status > 999) r.status = 500;
  response_->result(static_cast<unsigned>(r.status));
  response_->set(bhttp::field::date, HttpDate());
  for (const auto& [name, value] : r.headers) {
    if (!ServerOwned(name)) response_->insert(name, value);
  }
  if (r.status == 405 && !request_.allowed_methods.empty() &&
      response_->find(bhttp::field::allow) == response_->end()) {
    response_->set(bhttp::field::allow, absl::StrJoin(request_.allowed_methods, ", "));
  }
  if (bodiless) {
    // No Content-Length and no body, whatever the handler produced.
  } else if (length) {
    response_->content_length(*length);  // for HEAD: the length a GET would have
  } else if (!head && response_->version() == 11) {
    response_->chunked(true);
  } else if (!head) {
    keep_alive_ = false;  // HTTP/1.0 without a length: the body ends when the connection does
  }
  response_->keep_alive(keep_alive_);
  body_ = std::move(r);
  status_sent_ = static_cast<int>(response_->result_int());
  serializer_.emplace(*response_);
  // With a body, the first WriteBody() sends the header along with the first chunk.
  if (!head && !bodiless) return WriteBody();
  SetDeadline(context_.options->io_timeout);
  bhttp::async_write_header(stream_, *serializer_,
                            beast::bind_front_handler(&Connection<Stream>::OnHeaderOnlyWritten,
                                                      this->shared_from_this()));
}

template <class Stream>
void Connection<Stream>::OnHeaderOnlyWritten(beast::error_code ec, size_t) {
  if (ec) {
    Record(499);
    return Close();
  }
  OnResponseDone();
}

template <class Stream>
void Connection<Stream>::WriteBody() {
  auto& out = response_->body();
  if (body_.source == nullptr) {
    out.data = body_.body.data();
    out.size = body_.body.size();
    out.more = false;
    response_bytes_ = body_.body.size();
  } else {
    const std::optional<uint64_t> length = body_.content_length;
    size_t want = kChunkBytes;
    if (length) want = static_cast<size_t>(std::min<uint64_t>(want, *length - response_bytes_));
    absl::StatusOr<size_t> n = want == 0 ? absl::StatusOr<size_t>(0)
                                         : body_.source->Read(absl::MakeSpan(Chunk(), want));
    if (!n.ok() || (*n == 0 && length && response_bytes_ < *length)) {
      // The header is out, so the status cannot change: cut the connection so the client
      // sees a short body instead of a complete-looking wrong one.
      LOG(ERROR) << "http response body failed route=" << route_label_
                 << " sent=" << response_bytes_ << " error="
                 << (n.ok() ? "body shorter than its Content-Length" : n.status().ToString());
      Record(status_sent_);
      return Close();
    }
    out.data = *n > 0 ? chunk_.get() : nullptr;
    out.size = *n;
    out.more = *n > 0;
    response_bytes_ += *n;
  }
  SetDeadline(context_.options->io_timeout);
  bhttp::async_write(
      stream_, *serializer_,
      beast::bind_front_handler(&Connection<Stream>::OnBodyWritten, this->shared_from_this()));
}

template <class Stream>
void Connection<Stream>::OnBodyWritten(beast::error_code ec, size_t) {
  if (ec == bhttp::error::need_buffer) ec = {};  // chunk sent; the serializer wants the next
  if (ec) {
    Record(status_sent_);
    return Close();
  }
  if (serializer_->is_done()) return OnResponseDone();
  WriteBody();
}

template <class Stream>
void Connection<Stream>::OnResponseDone() {
  Record(status_sent_);
  serializer_.reset();
  response_.reset();
  body_ = Response();
  pending_ = Response();
  if (keep_alive_ && !stopping_) return ReadHeader();
  // Closing with unread input makes the kernel reset the connection, which can destroy the
  // response before the client reads it; linger only when such input exists or may follow.
  beast::error_code ec;
  const bool body_unread = !parser_ || !(parser_->is_done() || raw_done_);
  if (body_unread || Tcp().socket().available(ec) > 0) return LingeringClose();
  GracefulClose();
}

template <class Stream>
void Connection<Stream>::Record(int status) {
  if (!request_active_) return;
  request_active_ = false;
  const absl::Duration elapsed = absl::Now() - start_;
  VLOG(1) << "http request method=" << request_.method << " path=" << request_.path
          << " status=" << status << " duration=" << elapsed;
  ServerObserver* observer = context_.options->observer;
  if (observer == nullptr) return;
  ServerObserver::RequestRecord record;
  const bhttp::verb verb = bhttp::string_to_verb(request_.method);
  // Both arms string_view: a std::string arm would make the result a dangling temporary.
  record.method = verb == bhttp::verb::unknown ? absl::string_view("OTHER")
                                               : absl::string_view(request_.method);
  record.route = route_label_;
  record.status = status;
  record.duration = elapsed;
  record.request_body_bytes = request_bytes_;
  record.response_body_bytes = response_bytes_;
  observer->RequestDone(record);
}

template <class Stream>
void Connection<Stream>::LingeringClose() {
  if constexpr (!kTls) {
    // TLS cannot half-close the TCP stream under it; it just drains.
    beast::error_code ec;
    Tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  }
  linger_bytes_ = 0;
  SetDeadline(kLingerTime);
  stream_.async_read_some(
      asio::buffer(Chunk(), kChunkBytes),
      beast::bind_front_handler(&Connection<Stream>::OnLinger, this->shared_from_this()));
}

template <class Stream>
void Connection<Stream>::OnLinger(beast::error_code ec, size_t bytes) {
  linger_bytes_ += bytes;
  if (ec || linger_bytes_ > kLingerBytes || stopping_) return Close();
  stream_.async_read_some(
      asio::buffer(chunk_.get(), kChunkBytes),
      beast::bind_front_handler(&Connection<Stream>::OnLinger, this->shared_from_this()));
}

template <class Stream>
void Connection<Stream>::Close() {
  if (closed_) return;
  closed_ = true;
  beast::error_code ec;
  Tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  Tcp().close();
}

template <class Stream>
void Connection<Stream>::GracefulClose() {
  if constexpr (kTls) {
    if (closed_) return;
    closed_ = true;
    SetDeadline(absl::Seconds(1));
    stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
      beast::error_code ec;
      self->Tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
      self->Tcp().close();
    });
  } else {
    Close();
  }
}

template class Connection<PlainStream>;
template class Connection<TlsStream>;

}  // namespace berth::registry::http::internal
