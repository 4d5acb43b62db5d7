#include "registry/http/server.h"

#include <exception>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"
#include "registry/http/connection.h"

namespace berth::registry::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using internal::Connection;

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
    context_.on_destroy = [this](Connection* c) { OnConnectionDestroyed(c); };
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
    auto conn = std::make_shared<Connection>(std::move(socket), context_);
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;  // conn dies here and closes the socket
      connections_.emplace(conn.get(), conn);
      if (options_.observer != nullptr) options_.observer->ConnectionOpened();
    }
    conn->Start();
    Accept();
  }

  void OnConnectionDestroyed(Connection* c) {
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

  std::vector<std::shared_ptr<Connection>> LiveConnections() {
    std::vector<std::shared_ptr<Connection>> out;
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
            +[](absl::flat_hash_map<Connection*, std::weak_ptr<Connection>>* m) {
              return m->empty();
            },
            &connections_),
        timeout);
  }

  const ServerOptions options_;
  const Router& router_;
  internal::ConnectionContext context_;

  // Declared before ioc_ so they outlive connections destroyed along with the io_context.
  absl::Mutex mu_;
  absl::flat_hash_map<Connection*, std::weak_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
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

}  // namespace berth::registry::http
