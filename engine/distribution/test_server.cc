#include "engine/distribution/test_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <atomic>
#include <mutex>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace berth::engine::distribution {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

struct TestServer::Impl {
  Handler handler;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread accept_thread;
  std::mutex mu;
  std::vector<std::shared_ptr<tcp::socket>> sockets;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  std::atomic<bool> stopping{false};

  void Serve(std::shared_ptr<tcp::socket> sock) {
    boost::beast::flat_buffer buf;
    while (true) {
      boost::system::error_code ec;
      http::request_parser<http::string_body> parser;
      parser.body_limit(boost::none);
      http::read(*sock, buf, parser, ec);
      if (ec) {
        // Not HTTP (e.g. a TLS hello): close, as a real server would.
        sock->shutdown(tcp::socket::shutdown_both, ec);
        sock->close(ec);
        return;
      }
      const auto& msg = parser.get();
      TestRequest req;
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      for (const auto& f : msg) {
        req.headers[absl::AsciiStrToLower(std::string(f.name_string()))] = std::string(f.value());
      }
      req.body = msg.body();
      TestResponse resp = handler(req);
      std::string head = absl::StrCat("HTTP/1.1 ", resp.status, " X\r\nContent-Length: ",
                                      resp.body.size(), "\r\n");
      for (const auto& [k, v] : resp.headers) absl::StrAppend(&head, k, ": ", v, "\r\n");
      head += "\r\n";
      asio::write(*sock, asio::buffer(head), ec);
      if (ec) return;
      if (req.method == "HEAD") continue;
      size_t limit = resp.cut_after >= 0 ? std::min<size_t>(resp.cut_after, resp.body.size())
                                         : resp.body.size();
      for (size_t at = 0; at < limit;) {
        size_t n = std::min<size_t>(limit - at, 64 << 10);
        asio::write(*sock, asio::buffer(resp.body.data() + at, n), ec);
        if (ec) return;
        at += n;
        if (resp.pace > absl::ZeroDuration()) absl::SleepFor(resp.pace);
      }
      if (resp.cut_after >= 0) {
        sock->shutdown(tcp::socket::shutdown_both, ec);
        sock->close(ec);
        return;
      }
    }
  }
};

TestServer::TestServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

absl::StatusOr<std::unique_ptr<TestServer>> TestServer::Start(Handler handler) {
  auto impl = std::make_unique<Impl>();
  impl->handler = std::move(handler);
  boost::system::error_code ec;
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(64, ec);
  if (ec) return absl::InternalError(absl::StrCat("test server: ", ec.message()));
  impl->port = impl->acceptor.local_endpoint().port();
  Impl* p = impl.get();
  impl->accept_thread = std::thread([p] {
    while (true) {
      auto sock = std::make_shared<tcp::socket>(p->io);
      boost::system::error_code aec;
      p->acceptor.accept(*sock, aec);
      if (aec || p->stopping.load()) return;
      std::lock_guard<std::mutex> l(p->mu);
      p->sockets.push_back(sock);
      p->threads.emplace_back([p, sock] { p->Serve(sock); });
    }
  });
  return std::unique_ptr<TestServer>(new TestServer(std::move(impl)));
}

TestServer::~TestServer() {
  boost::system::error_code ec;
  // Unblock accept() with a last connection, then close everything.
  {
    impl_->stopping = true;
    tcp::socket poke(impl_->io);
    poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), impl_->port), ec);
    impl_->accept_thread.join();
    impl_->acceptor.close(ec);
  }
  std::lock_guard<std::mutex> l(impl_->mu);
  for (auto& s : impl_->sockets) s->shutdown(tcp::socket::shutdown_both, ec);
  for (auto& t : impl_->threads) t.join();
}

std::string TestServer::address() const { return absl::StrCat("127.0.0.1:", impl_->port); }

}  // namespace berth::engine::distribution
