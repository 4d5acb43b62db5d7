// Server tests over real loopback connections. Requests are written as raw bytes (so tests
// control framing exactly) and responses are parsed with Beast's client-side parser.
#include "registry/http/server.h"

#include <unistd.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/fs/atomic_file.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "registry/auth/test_keys.h"

namespace berth::registry::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Pair;

using TestResponse = bhttp::response<bhttp::string_body>;

// A blocking HTTP client on its own io_context; every operation has a 10 s deadline so a
// server bug fails the test instead of hanging it.
class Client {
 public:
  explicit Client(int port) : stream_(ioc_) {
    stream_.expires_after(std::chrono::seconds(10));
    Run([&](auto done) {
      stream_.async_connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                            [done](beast::error_code ec) { done(ec, 0); });
    });
  }

  beast::error_code Send(const std::string& raw) {
    return Run([&](auto done) { asio::async_write(stream_, asio::buffer(raw), done); });
  }

  // Reads one response; `head` when it answers a HEAD request (no body follows).
  beast::error_code Read(TestResponse* out, bool head = false) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.skip(head);
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    beast::error_code ec =
        Run([&](auto done) { bhttp::async_read(stream_, buffer_, parser, done); });
    if (!ec) *out = parser.release();
    return ec;
  }

  // True when the server has closed the connection (EOF or reset, not a timeout).
  bool Closed() {
    char byte;
    beast::error_code ec =
        Run([&](auto done) { stream_.async_read_some(asio::buffer(&byte, 1), done); });
    return ec && ec != beast::error::timeout;
  }

 private:
  template <typename Op>
  beast::error_code Run(Op op) {
    beast::error_code result;
    stream_.expires_after(std::chrono::seconds(10));
    op([&result](beast::error_code ec, size_t) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }

  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

class RecordingObserver : public ServerObserver {
 public:
  void ConnectionOpened() override { ++opened; }
  void ConnectionClosed() override { ++closed; }
  void TlsHandshakeFailed() override { ++handshake_failures; }
  void RequestDone(const RequestRecord& r) override {
    absl::MutexLock lock(&mu);
    records.push_back(absl::StrCat(r.method, " ", r.route, " ", r.status,
                                   " in=", r.request_body_bytes, " out=", r.response_body_bytes));
  }
  std::vector<std::string> Records() {
    absl::MutexLock lock(&mu);
    return records;
  }
  std::atomic<int> opened{0};
  std::atomic<int> closed{0};
  std::atomic<int> handshake_failures{0};
  absl::Mutex mu;
  std::vector<std::string> records;
};

// A sink that counts chunks and answers with "<bytes> bytes in <chunks> chunks".
class CountingSink : public BodySink {
 public:
  CountingSink(absl::Notification* first_write, std::atomic<bool>* aborted)
      : first_write_(first_write), aborted_(aborted) {}
  absl::Status Write(absl::string_view chunk) override {
    if (chunk == "FAIL") return absl::InvalidArgumentError("sink refused the body");
    bytes_ += chunk.size();
    ++chunks_;
    if (first_write_ != nullptr && !first_write_->HasBeenNotified()) first_write_->Notify();
    return absl::OkStatus();
  }
  Response Finish() override {
    return Response::Text(201, absl::StrCat(bytes_, " bytes in ", chunks_, " chunks"));
  }
  void Abort(const absl::Status&) override {
    if (aborted_ != nullptr) *aborted_ = true;
  }

 private:
  absl::Notification* first_write_;
  std::atomic<bool>* aborted_;
  uint64_t bytes_ = 0;
  int chunks_ = 0;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(
        router_.Handle("GET", "/hello",
                       [](Request&) -> HandlerResult { return Response::Text(200, "hello"); }),
        IsOk());
    ASSERT_THAT(
        router_.Handle("GET", "/echo/{name...}/x/{id}",
                       [](Request& r) -> HandlerResult {
                         return Response::Text(
                             200, absl::StrCat(r.Param("name"), "|", r.Param("id"), "|", r.query));
                       }),
        IsOk());
    ASSERT_THAT(router_.Handle("GET", "/stream",
                               [](Request& r) -> HandlerResult {
                                 Response resp;
                                 resp.source = StringSource(std::string(200000, 'z'));
                                 if (r.query == "sized") resp.content_length = 200000;
                                 if (r.query == "short")
                                   resp.content_length = 300000;  // the source lies
                                 return resp;
                               }),
                IsOk());
    ASSERT_THAT(router_.Handle("GET", "/fd",
                               [](Request&) -> HandlerResult {
                                 // A pipe stands in for a blob file: FdSource only read()s.
                                 int fds[2];
                                 if (pipe(fds) != 0) return Response::Text(500, "pipe");
                                 const std::string data(10000, 'f');
                                 const bool ok = write(fds[1], data.data(), data.size()) ==
                                                 static_cast<ssize_t>(data.size());
                                 close(fds[1]);
                                 Response resp;
                                 resp.status = ok ? 200 : 500;
                                 resp.source = FdSource(fds[0]);
                                 resp.content_length = data.size();
                                 return resp;
                               }),
                IsOk());
    ASSERT_THAT(router_.Handle("PUT", "/upload",
                               [this](Request&) -> HandlerResult {
                                 return std::make_unique<CountingSink>(&first_write_, &aborted_);
                               }),
                IsOk());
    ASSERT_THAT(router_.Handle("POST", "/echo",
                               [](Request&) -> HandlerResult {
                                 return BufferedSink(16, [](std::string body) {
                                   return Response::Text(200, body);
                                 });
                               }),
                IsOk());
    options_.observer = &observer_;
    options_.max_request_body_bytes = 1000;
    options_.threads = 2;
  }

  std::unique_ptr<Server> StartServer() {
    auto server = Server::Start(options_, router_);
    EXPECT_THAT(server, IsOk());
    return server.ok() ? std::move(*server) : nullptr;
  }

  Router router_;
  ServerOptions options_;
  RecordingObserver observer_;
  absl::Notification first_write_;
  std::atomic<bool> aborted_{false};
};

TEST_F(ServerTest, BindsPortZeroAndReportsTheRealPort) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  EXPECT_GT(server->port(), 0);
  EXPECT_EQ(server->address(), absl::StrCat("127.0.0.1:", server->port()));
}

TEST_F(ServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  auto server = StartServer();
  Client client(server->port());
  TestResponse r1, r2;
  ASSERT_FALSE(client.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_FALSE(client.Read(&r1));
  ASSERT_FALSE(client.Send("GET /echo/a/b/x/7?q=1 HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_FALSE(client.Read(&r2));
  EXPECT_EQ(r1.result_int(), 200);
  EXPECT_EQ(r1.body(), "hello");
  EXPECT_TRUE(r1.keep_alive());
  EXPECT_EQ(r2.body(), "a/b|7|q=1");
  EXPECT_EQ(observer_.opened.load(), 1);
  // Requests are recorded after their last byte is sent, so the client may be faster.
  EXPECT_TRUE(
      berth::testing::WaitFor([&] { return observer_.Records().size() == 2; }, absl::Seconds(5)));
  EXPECT_THAT(observer_.Records(),
              ::testing::ElementsAre("GET /hello 200 in=0 out=5",
                                     "GET /echo/{name...}/x/{id} 200 in=0 out=9"));
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  auto server = StartServer();
  Client client(server->port());
  ASSERT_FALSE(
      client.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                  "GET /echo/n/x/1 HTTP/1.1\r\nHost: x\r\n\r\n"));
  TestResponse r1, r2;
  ASSERT_FALSE(client.Read(&r1));
  ASSERT_FALSE(client.Read(&r2));
  EXPECT_EQ(r1.body(), "hello");
  EXPECT_EQ(r2.body(), "n|1|");
}

TEST_F(ServerTest, HeadGetsLengthButNoBody) {
  auto server = StartServer();
  Client client(server->port());
  TestResponse head, get;
  ASSERT_FALSE(client.Send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_FALSE(client.Read(&head, /*head=*/true));
  // Had the server sent a body after the HEAD response, this read would see it instead.
  ASSERT_FALSE(client.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_FALSE(client.Read(&get));
  EXPECT_EQ(head.result_int(), 200);
  EXPECT_EQ(head[bhttp::field::content_length], "5");
  EXPECT_EQ(get.body(), "hello");
}

TEST_F(ServerTest, NotFoundAndMethodNotAllowed) {
  auto server = StartServer();
  Client client(server->port());
  TestResponse r;
  ASSERT_FALSE(client.Send("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_FALSE(client.Read(&r));
  EXPECT_EQ(r.result_int(), 404);
  ASSERT_FALSE(client.Send("DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_FALSE(client.Read(&r));
  EXPECT_EQ(r.result_int(), 405);
  EXPECT_EQ(r[bhttp::field::allow], "GET, HEAD");
  EXPECT_TRUE(r.keep_alive());
}

TEST_F(ServerTest, StreamsChunkedAndSizedBodies) {
  auto server = StartServer();
  Client client(server->port());
  TestResponse chunked, sized;
  ASSERT_FALSE(client.Send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_FALSE(client.Read(&chunked));
  EXPECT_TRUE(chunked.chunked());
  EXPECT_EQ(chunked.body(), std::string(200000, 'z'));
  ASSERT_FALSE(client.Send("GET /stream?sized HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_FALSE(client.Read(&sized));
  EXPECT_FALSE(sized.chunked());
  EXPECT_EQ(sized[bhttp::field::content_length], "200000");
  EXPECT_EQ(sized.body().size(), 200000u);
}

TEST_F(ServerTest, StreamsFromAFileDescriptor) {
  auto server = StartServer();
  Client client(server->port());
  TestResponse r;
  ASSERT_FALSE(client.Send("GET /fd HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_FALSE(client.Read(&r));
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), std::string(10000, 'f'));
}

TEST_F(ServerTest, SourceShorterThanItsLengthCutsTheConnection) {
  auto server = StartServer();
  Client client(server->port());
  TestResponse r;
  ASSERT_FALSE(client.Send("GET /stream?short HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(client.Read(&r)) << "a truncated body must not parse as complete";
}

TEST_F(ServerTest, HttpOneZeroStreamEndsAtClose) {
  auto server = StartServer();
  Client client(server->port());
  TestResponse r;
  ASSERT_FALSE(client.Send("GET /stream HTTP/1.0\r\n\r\n"));
  ASSERT_FALSE(client.Read(&r));
  EXPECT_EQ(r.body().size(), 200000u);
  EXPECT_FALSE(r.keep_alive());
}

TEST_F(ServerTest, SinkReceivesTheBodyIncrementally) {
  options_.max_request_body_bytes = 1 << 20;
  auto server = StartServer();
  Client client(server->port());
  // 300 KiB chunked, in three pieces: more than one 64 KiB server chunk.
  std::string raw = "PUT /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) absl::StrAppend(&raw, "19000\r\n", std::string(0x19000, 'a'), "\r\n");
  absl::StrAppend(&raw, "0\r\n\r\n");
  ASSERT_FALSE(client.Send(raw));
  TestResponse r;
  ASSERT_FALSE(client.Read(&r));
  EXPECT_EQ(r.result_int(), 201);
  EXPECT_THAT(r.body(), HasSubstr(absl::StrCat(3 * 0x19000, " bytes in ")));
  EXPECT_THAT(r.body(), ::testing::Not(HasSubstr(" in 1 chunks")));
  EXPECT_TRUE(r.keep_alive());
}

TEST_F(ServerTest, SizedBodyIsReadInLargeChunksAndLeavesPipelinedRequests) {
  options_.max_request_body_bytes = 8 << 20;
  auto server = StartServer();
  Client client(server->port());
  // 4 MiB with a declared length, sent at once, then a second request in the same write: the
  // body is read past the parser in big reads (a handful of sink writes, not thousands), and
  // not a byte beyond its length, so the next request is served as sent.
  const size_t size = 4 << 20;
  ASSERT_FALSE(client.Send(absl::StrCat("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ",
                                        size, "\r\n\r\n", std::string(size, 'b'),
                                        "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")));
  TestResponse r1, r2;
  ASSERT_FALSE(client.Read(&r1));
  ASSERT_FALSE(client.Read(&r2));
  EXPECT_EQ(r1.result_int(), 201);
  EXPECT_THAT(r1.body(), HasSubstr(absl::StrCat(size, " bytes in ")));
  int chunks = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      absl::StripSuffix(r1.body().substr(r1.body().find(" in ") + 4), " chunks"), &chunks));
  EXPECT_LT(chunks, 512) << r1.body();  // 64 KiB reads would take 64; 512-byte ones 8192
  EXPECT_TRUE(r1.keep_alive());
  EXPECT_EQ(r2.body(), "hello");
}

TEST_F(ServerTest, SizedBodyCutShortIsAbortedAndRecorded) {
  auto server = StartServer();
  {
    Client client(server->port());
    ASSERT_FALSE(client.Send("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n123"));
    ASSERT_TRUE(berth::testing::WaitFor([&] { return first_write_.HasBeenNotified(); },
                                        absl::Seconds(5)));
  }  // the client goes away with 7 bytes missing
  EXPECT_TRUE(berth::testing::WaitFor([&] { return aborted_.load(); }, absl::Seconds(5)));
  EXPECT_TRUE(
      berth::testing::WaitFor([&] { return observer_.Records().size() == 1; }, absl::Seconds(5)));
  EXPECT_THAT(observer_.Records(), ::testing::ElementsAre("PUT /upload 499 in=3 out=0"));
}

TEST_F(ServerTest, SinkErrorBecomesTheResponseAndClosesTheConnection) {
  auto server = StartServer();
  Client client(server->port());
  ASSERT_FALSE(client.Send("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nFAIL"));
  TestResponse r;
  ASSERT_FALSE(client.Read(&r));
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_THAT(r.body(), HasSubstr("sink refused the body"));
  EXPECT_FALSE(r.keep_alive());
  EXPECT_TRUE(aborted_.load());
  EXPECT_TRUE(client.Closed());
}

TEST_F(ServerTest, DeclaredBodyOverTheLimitIs413) {
  auto server = StartServer();
  Client client(server->port());
  // The client sends the whole body at once; the lingering close must still let it read 413.
  ASSERT_FALSE(client.Send(absl::StrCat("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5000",
                                        "\r\n\r\n", std::string(5000, 'b'))));
  TestResponse r;
  ASSERT_FALSE(client.Read(&r));
  EXPECT_EQ(r.result_int(), 413);
  EXPECT_FALSE(r.keep_alive());
  EXPECT_TRUE(client.Closed());
  EXPECT_TRUE(aborted_.load());
}

TEST_F(ServerTest, ChunkedBodyOverTheLimitIs413) {
  auto server = StartServer();
  Client client(server->port());
  std::string raw = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  absl::StrAppend(&raw, "20\r\n", std::string(32, 'c'), "\r\n0\r\n\r\n");  // BufferedSink(16)
  ASSERT_FALSE(client.Send(raw));
  TestResponse r;
  ASSERT_FALSE(client.Read(&r));
  EXPECT_EQ(r.result_int(), 413);
}

TEST_F(ServerTest, BufferedSinkGetsTheWholeBody) {
  auto server = StartServer();
  Client client(server->port());
  ASSERT_FALSE(client.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde"));
  TestResponse r;
  ASSERT_FALSE(client.Read(&r));
  EXPECT_EQ(r.body(), "abcde");
}

TEST_F(ServerTest, UnwantedBodyIsDiscardedAndKeepAliveHolds) {
  auto server = StartServer();
  Client client(server->port());
  TestResponse r1, r2;
  ASSERT_FALSE(client.Send("DELETE /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz"));
  ASSERT_FALSE(client.Read(&r1));
  ASSERT_FALSE(client.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_FALSE(client.Read(&r2));
  EXPECT_EQ(r1.result_int(), 405);
  EXPECT_EQ(r2.body(), "hello");
}

TEST_F(ServerTest, RefusalWithALargeBodyKeepsItsStatusAndCloses) {
  auto server = StartServer();
  Client client(server->port());
  // Over the 1000-byte limit, but the handler already refused (405): that answer wins over
  // 413, and the connection closes instead of draining the body.
  ASSERT_FALSE(client.Send(absl::StrCat("DELETE /hello HTTP/1.1\r\nHost: x\r\n",
                                        "Content-Length: 5000\r\n\r\n", std::string(5000, 'z'))));
  TestResponse r;
  ASSERT_FALSE(client.Read(&r));
  EXPECT_EQ(r.result_int(), 405);
  EXPECT_FALSE(r.keep_alive());
  EXPECT_TRUE(client.Closed());
}

TEST_F(ServerTest, ExpectContinueGets100First) {
  auto server = StartServer();
  Client client(server->port());
  ASSERT_FALSE(client.Send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"));
  TestResponse interim, final_response;
  ASSERT_FALSE(client.Read(&interim, /*head=*/true));
  EXPECT_EQ(interim.result_int(), 100);
  ASSERT_FALSE(client.Send("hi"));
  ASSERT_FALSE(client.Read(&final_response));
  EXPECT_EQ(final_response.body(), "hi");
}

TEST_F(ServerTest, MalformedRequestIs400) {
  auto server = StartServer();
  Client client(server->port());
  ASSERT_FALSE(client.Send("GET /hello HTTP/1.1\r\nBad Header\r\n\r\n"));
  TestResponse r;
  ASSERT_FALSE(client.Read(&r));
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_TRUE(client.Closed());
}

TEST_F(ServerTest, OversizedHeaderIs431) {
  options_.max_header_bytes = 1024;
  auto server = StartServer();
  Client client(server->port());
  ASSERT_FALSE(client.Send(
      absl::StrCat("GET /hello HTTP/1.1\r\nX-Big: ", std::string(4000, 'h'), "\r\n\r\n")));
  TestResponse r;
  ASSERT_FALSE(client.Read(&r));
  EXPECT_EQ(r.result_int(), 431);
}

TEST_F(ServerTest, StopClosesAnIdleConnectionPromptly) {
  auto server = StartServer();
  Client client(server->port());
  TestResponse r;
  ASSERT_FALSE(client.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_FALSE(client.Read(&r));
  const absl::Time start = absl::Now();
  server->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_TRUE(client.Closed());
  EXPECT_EQ(observer_.closed.load(), observer_.opened.load());
  server->Stop();  // idempotent
}

TEST_F(ServerTest, StopLetsAnInFlightRequestFinish) {
  options_.max_request_body_bytes = 1 << 20;
  auto server = StartServer();
  const int port = server->port();
  Client client(port);
  ASSERT_FALSE(client.Send("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345"));
  first_write_.WaitForNotification();
  std::thread stopper([&] { server->Stop(); });
  // Once new connections are refused, Stop() is past closing the acceptor.
  EXPECT_TRUE(berth::testing::WaitFor(
      [&] {
        asio::io_context ioc;
        asio::ip::tcp::socket s(ioc);
        beast::error_code ec;
        s.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
        return static_cast<bool>(ec);
      },
      absl::Seconds(5)));
  ASSERT_FALSE(client.Send("67890"));
  TestResponse r;
  ASSERT_FALSE(client.Read(&r));
  EXPECT_EQ(r.result_int(), 201);
  EXPECT_EQ(r.body(), "10 bytes in 2 chunks");
  EXPECT_FALSE(r.keep_alive()) << "a stopping server closes after the response";
  stopper.join();
  EXPECT_FALSE(aborted_.load());
}

TEST_F(ServerTest, StopAbandonsAStalledRequestAfterTheDrainTimeout) {
  options_.drain_timeout = absl::Milliseconds(300);
  auto server = StartServer();
  Client client(server->port());
  ASSERT_FALSE(client.Send("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345"));
  first_write_.WaitForNotification();
  const absl::Time start = absl::Now();
  server->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_TRUE(aborted_.load());
  EXPECT_TRUE(client.Closed());
  EXPECT_THAT(observer_.Records(), ::testing::ElementsAre("PUT /upload 499 in=5 out=0"));
}

TEST_F(ServerTest, BadAddressesAreRejected) {
  options_.address = "nonsense";
  EXPECT_THAT(Server::Start(options_, router_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("host:port")));
  options_.address = "example.com:80";
  EXPECT_THAT(Server::Start(options_, router_), StatusIs(absl::StatusCode::kInvalidArgument));
  options_.address = "127.0.0.1:0";
  auto first = Server::Start(options_, router_);
  ASSERT_THAT(first, IsOk());
  options_.address = (*first)->address();
  EXPECT_THAT(Server::Start(options_, router_),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("in use")));
}

// One TLS request with Asio's client (trusting `ca_file`); the response text, and the error
// that ended reading it (eof after a proper close_notify, stream_truncated without one).
struct TlsResult {
  beast::error_code handshake;
  std::string response;
  beast::error_code end;
};
TlsResult TlsGet(int port, const std::string& ca_file,
                 asio::ssl::context::method method = asio::ssl::context::tls_client) {
  asio::io_context ioc;
  asio::ssl::context ctx(method);
  ctx.load_verify_file(ca_file);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  TlsResult out;
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
  beast::get_lowest_layer(stream).connect(
      asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  stream.handshake(asio::ssl::stream_base::client, out.handshake);
  if (out.handshake) return out;
  const std::string req = "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  asio::write(stream, asio::buffer(req));
  char buf[4096];
  while (true) {
    beast::error_code ec;
    const size_t n = stream.read_some(asio::buffer(buf), ec);
    out.response.append(buf, n);
    if (ec) {
      out.end = ec;
      break;
    }
  }
  return out;
}

TEST_F(ServerTest, TlsServesHttpsAndBoundsHandshakes) {
  auto dir = berth::testing::TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  const std::string key = registry::auth::testkeys::NewKeyPem("P-256");
  const std::string cert = registry::auth::testkeys::CertPem(key, "127.0.0.1");
  ASSERT_THAT(fs::WriteFileAtomically(dir->Sub("key.pem"), key, 0600), IsOk());
  ASSERT_THAT(fs::WriteFileAtomically(dir->Sub("cert.pem"), cert, 0600), IsOk());
  options_.tls_cert_file = dir->Sub("cert.pem");
  options_.tls_key_file = dir->Sub("key.pem");
  options_.handshake_timeout = absl::Milliseconds(300);
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(server->tls());

  // A client that starts a handshake and goes quiet is dropped after the handshake timeout,
  // and does not hold up a real one meanwhile.
  Client silent(server->port());
  ASSERT_FALSE(silent.Send("\x16\x03\x01"));
  TlsResult ok = TlsGet(server->port(), dir->Sub("cert.pem"));
  ASSERT_FALSE(ok.handshake) << ok.handshake.message();
  EXPECT_THAT(ok.response, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(ok.response, HasSubstr("hello"));
  // The server said close_notify before closing.
  EXPECT_EQ(ok.end, asio::error::eof) << ok.end.message();
  const absl::Time start = absl::Now();
  EXPECT_TRUE(silent.Closed());
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));

  // TLS 1.1 is refused; so is plain HTTP, with a plain-text 400.
  TlsResult old = TlsGet(server->port(), dir->Sub("cert.pem"), asio::ssl::context::tlsv11_client);
  EXPECT_TRUE(old.handshake);
  Client plain(server->port());
  ASSERT_FALSE(plain.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  TestResponse r;
  ASSERT_FALSE(plain.Read(&r));
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_THAT(r.body(), HasSubstr("HTTP request to an HTTPS server"));
  EXPECT_TRUE(
      berth::testing::WaitFor([&] { return observer_.handshake_failures >= 3; }, absl::Seconds(5)));
  EXPECT_EQ(
      TlsGet(server->port(), dir->Sub("cert.pem")).response.find("hello") != std::string::npos,
      true);
}

TEST_F(ServerTest, BadTlsFilesAreRejected) {
  auto dir = berth::testing::TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  const std::string key = registry::auth::testkeys::NewKeyPem("rsa");
  const std::string other = registry::auth::testkeys::NewKeyPem("P-256");
  ASSERT_THAT(fs::WriteFileAtomically(dir->Sub("key.pem"), key, 0600), IsOk());
  ASSERT_THAT(fs::WriteFileAtomically(dir->Sub("other.pem"), other, 0600), IsOk());
  ASSERT_THAT(fs::WriteFileAtomically(dir->Sub("cert.pem"),
                                      registry::auth::testkeys::CertPem(key, "x"), 0600),
              IsOk());
  const auto start = [&](const std::string& cert, const std::string& key_file) {
    ServerOptions o = options_;
    o.tls_cert_file = cert.empty() ? "" : dir->Sub(cert);
    o.tls_key_file = key_file.empty() ? "" : dir->Sub(key_file);
    return Server::Start(o, router_).status();
  };
  EXPECT_THAT(start("cert.pem", "key.pem"), IsOk());  // RSA works too
  EXPECT_THAT(start("missing.pem", "key.pem"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(start("cert.pem", "other.pem"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tls key")));
  EXPECT_THAT(start("key.pem", "key.pem"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(start("cert.pem", ""), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseListenAddressTest, Forms) {
  EXPECT_THAT(ParseListenAddress("127.0.0.1:5000"), IsOk());
  EXPECT_EQ(*ParseListenAddress("127.0.0.1:5000"), std::make_pair(std::string("127.0.0.1"), 5000));
  EXPECT_EQ(*ParseListenAddress("[::1]:0"), std::make_pair(std::string("::1"), 0));
  EXPECT_EQ(*ParseListenAddress(":5000"), std::make_pair(std::string(""), 5000));
  for (const char* bad : {"nonsense", "::1:5000", "127.0.0.1:", "127.0.0.1:65536", "[::1]5000",
                          "1.2.3.4:-1", "1.2.3.4:x"}) {
    EXPECT_THAT(ParseListenAddress(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

}  // namespace
}  // namespace berth::registry::http
