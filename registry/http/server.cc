#include "registry/http/server.h"

#include <openssl/ssl.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <exception>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"
#include "registry/http/connection.h"

namespace berth::registry::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using internal::Connection;
using internal::ConnectionBase;

// How long Stop() waits for force-closed connections to unwind before abandoning them.
constexpr absl::Duration kForceCloseGrace = absl::Seconds(2);
// Back-off after a failed accept (e.g. EMFILE), so a persistent error does not spin a core.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

}  // namespace

absl::StatusOr<std::pair<std::string, int>> ParseListenAddress(absl::string_view address) {
  const std::string original(address);
  const auto bad = [&original]() {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen address \"", original, "\": want host:port, e.g. 127.0.0.1:5000 or [::1]:5000"));
  };
  std::string host;
  absl::string_view port_text;
  if (absl::ConsumePrefix(&address, "[")) {
    const size_t close = address.find("]:");
    if (close == absl::string_view::npos) return bad();
    host = std::string(address.substr(0, close));
    port_text = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == absl::string_view::npos) return bad();
    host = std::string(address.substr(0, colon));
    if (host.find(':') != std::string::npos) return bad();  // IPv6 needs brackets
    port_text = address.substr(colon + 1);
  }
  int port = 0;
  if (port_text.empty() || !absl::SimpleAtoi(port_text, &port) || port < 0 || port > 65535) {
    return bad();
  }
  return std::make_pair(host, port);
}

// An OpenSSL server context with the certificate chain and key, TLS 1.2 or later.
absl::StatusOr<std::unique_ptr<asio::ssl::context>> MakeTlsContext(const std::string& cert_file,
                                                                   const std::string& key_file) {
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError("tls: a certificate needs a key and a key a certificate");
  }
  BERTH_ASSIGN_OR_RETURN(std::string cert, fs::ReadFile(cert_file), "tls certificate");
  BERTH_ASSIGN_OR_RETURN(std::string key, fs::ReadFile(key_file), "tls key");
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1 | asio::ssl::context::no_compression |
                   asio::ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  ctx->use_certificate_chain(asio::buffer(cert), ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tls certificate ", cert_file, ": not a PEM certificate chain: ", ec.message()));
  }
  ctx->use_private_key(asio::buffer(key), asio::ssl::context::pem, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tls key ", key_file, ": not a PEM private key for the certificate: ", ec.message()));
  }
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls key ", key_file, " does not match certificate ", cert_file));
  }
  return ctx;
}

class Server::Impl {
 public:
  Impl(const ServerOptions& options, const Router& router)
      : options_(options),
        router_(router),
        work_(asio::make_work_guard(ioc_)),
        acceptor_(asio::make_strand(ioc_)),
        accept_retry_(acceptor_.get_executor()) {
    context_.router = &router_;
    context_.options = &options_;
    context_.on_destroy = [this](ConnectionBase* c) { OnConnectionDestroyed(c); };
  }

  absl::Status SetUpTls() {
    if (options_.tls_cert_file.empty() && options_.tls_key_file.empty()) return absl::OkStatus();
    BERTH_ASSIGN_OR_RETURN(tls_, MakeTlsContext(options_.tls_cert_file, options_.tls_key_file));
    context_.tls = tls_.get();
    return absl::OkStatus();
  }

  ~Impl() { Stop(); }

  absl::Status Listen() {
    if (options_.threads < 1)
      return absl::InvalidArgumentError("http server: threads must be >= 1");
    BERTH_ASSIGN_OR_RETURN(auto host_port, ParseListenAddress(options_.address));
    const std::string& host = host_port.first;
    boost::system::error_code ec;
    asio::ip::address ip;
    if (host.empty()) {
      ip = asio::ip::address_v4::any();
    } else if (host == "localhost") {
      ip = asio::ip::address_v4::loopback();
    } else {
      ip = asio::ip::make_address(host, ec);
      if (ec) {
        return absl::InvalidArgumentError(absl::StrCat(
            "listen address \"", options_.address, "\": host must be an IP address or localhost"));
      }
    }
    const tcp::endpoint endpoint(ip, static_cast<unsigned short>(host_port.second));
    const auto fail = [&](absl::string_view what) {
      return absl::UnavailableError(
          absl::StrCat("listen ", options_.address, ": ", what, ": ", ec.message()));
    };
    acceptor_.open(endpoint.protocol(), ec);
    if (ec) return fail("socket");
    // Lets a restarted daemon rebind while old connections sit in TIME_WAIT; Linux still
    // refuses a port another socket is listening on.
    acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (ec) return fail("setsockopt");
    acceptor_.bind(endpoint, ec);
    if (ec) return fail("bind");
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail("listen");
    const tcp::endpoint local = acceptor_.local_endpoint(ec);
    if (ec) return fail("getsockname");
    port_ = local.port();
    address_ = local.address().is_v6() ? absl::StrCat("[", local.address().to_string(), "]:", port_)
                                       : absl::StrCat(local.address().to_string(), ":", port_);
    return absl::OkStatus();
  }

  absl::Status Run() {
    Accept();
    try {
      for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { RunLoop(); });
    } catch (const std::system_error& e) {
      return absl::ResourceExhaustedError(absl::StrCat("http server: start thread: ", e.what()));
    }
    return absl::OkStatus();
  }

  void Stop() {
    absl::MutexLock stop_lock(&stop_mu_);  // a second caller waits for the first to finish
    if (stopped_) return;
    stopped_ = true;
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    if (!threads_.empty()) {
      // The acceptor is only ever touched on its strand.
      absl::Notification closed;
      asio::post(acceptor_.get_executor(), [this, &closed] {
        boost::system::error_code ec;
        acceptor_.close(ec);
        accept_retry_.cancel();
        closed.Notify();
      });
      closed.WaitForNotification();
    }
    for (const auto& c : LiveConnections()) c->RequestStop();
    if (!WaitForNoConnections(options_.drain_timeout)) {
      LOG(WARNING) << "http server drain timed out; closing connections open=" << ConnectionCount();
      for (const auto& c : LiveConnections()) c->ForceClose();
      WaitForNoConnections(kForceCloseGrace);
    }
    work_.reset();
    if (ConnectionCount() > 0) {
      LOG(ERROR) << "http server: connections stuck in handlers; stopping the io_context";
      ioc_.stop();
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  const std::string& address() const { return address_; }
  int port() const { return port_; }
  bool tls() const { return tls_ != nullptr; }

 private:
  void Accept() {
    acceptor_.async_accept(asio::make_strand(ioc_),
                           [this](boost::system::error_code ec, tcp::socket socket) {
                             OnAccept(ec, std::move(socket));
                           });
  }

  void OnAccept(boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;  // Stop() closed the acceptor
    if (ec) {
      LOG(WARNING) << "http accept failed error=\"" << ec.message() << "\"";
      accept_retry_.expires_after(kAcceptRetry);
      accept_retry_.async_wait([this](boost::system::error_code wait_ec) {
        if (!wait_ec) Accept();
      });
      return;
    }
    // A response may take two writes (header+chunk, then the last chunk); without this, Nagle
    // holds back the second until the client's delayed ACK, ~40 ms on Linux.
    boost::system::error_code ignored;  // without it the connection is merely slower
    socket.set_option(tcp::no_delay(true), ignored);
    std::shared_ptr<ConnectionBase> conn;
    if (tls_ != nullptr) {
      conn = std::make_shared<Connection<internal::TlsStream>>(std::move(socket), context_);
    } else {
      conn = std::make_shared<Connection<internal::PlainStream>>(std::move(socket), context_);
    }
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;  // conn dies here and closes the socket
      connections_.emplace(conn.get(), conn);
      if (options_.observer != nullptr) options_.observer->ConnectionOpened();
    }
    conn->Start();
    Accept();
  }

  void OnConnectionDestroyed(ConnectionBase* c) {
    // Under the lock, so Stop() never sees the set empty before the observer heard of it.
    absl::MutexLock lock(&mu_);
    if (connections_.erase(c) > 0 && options_.observer != nullptr) {
      options_.observer->ConnectionClosed();
    }
  }

  // Handlers are berth code and throw nothing, but Asio and Beast may (allocation, a field
  // Beast refuses); an exception must not leave the thread, so log it and keep serving.
  void RunLoop() {
    while (true) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception& e) {
        LOG(ERROR) << "http server: exception in I/O thread error=\"" << e.what() << "\"";
      }
    }
  }

  std::vector<std::shared_ptr<ConnectionBase>> LiveConnections() {
    std::vector<std::shared_ptr<ConnectionBase>> out;
    absl::MutexLock lock(&mu_);
    for (const auto& [ptr, weak] : connections_) {
      if (auto c = weak.lock()) out.push_back(std::move(c));
    }
    return out;
  }

  size_t ConnectionCount() {
    absl::MutexLock lock(&mu_);
    return connections_.size();
  }

  bool WaitForNoConnections(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(
        absl::Condition(
            +[](absl::flat_hash_map<ConnectionBase*, std::weak_ptr<ConnectionBase>>* m) {
              return m->empty();
            },
            &connections_),
        timeout);
  }

  const ServerOptions options_;
  const Router& router_;
  std::unique_ptr<asio::ssl::context> tls_;  // null for plain HTTP
  internal::ConnectionContext context_;

  // Declared before ioc_ so they outlive connections destroyed along with the io_context.
  absl::Mutex mu_;
  absl::flat_hash_map<ConnectionBase*, std::weak_ptr<ConnectionBase>> connections_
      ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex stop_mu_;
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;

  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  std::vector<std::thread> threads_;
  std::string address_;
  int port_ = 0;
};

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                                      const Router& router) {
  auto impl = std::make_unique<Impl>(options, router);
  BERTH_RETURN_IF_ERROR(impl->SetUpTls());
  BERTH_RETURN_IF_ERROR(impl->Listen());
  BERTH_RETURN_IF_ERROR(impl->Run());
  VLOG(1) << "http server started address=" << impl->address();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { Stop(); }
void Server::Stop() { impl_->Stop(); }
const std::string& Server::address() const { return impl_->address(); }
int Server::port() const { return impl_->port(); }
bool Server::tls() const { return impl_->tls(); }

}  // namespace berth::registry::http
