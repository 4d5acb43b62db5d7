// TestServer (testonly): a tiny HTTP/1.1 server on 127.0.0.1:<random port> (Boost.Beast for
// parsing requests) whose answers come from a handler, for registry behaviour a real
// registry will not show: tampered blobs, a connection cut in the middle of a body, slow
// bodies, a token endpoint.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::engine::distribution {

struct TestRequest {
  std::string method;
  std::string target;                          // path and query
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

struct TestResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // >= 0: announce the whole body but send only this many bytes, then close the connection.
  int64_t cut_after = -1;
  // Pause between 64 KiB pieces of the body.
  absl::Duration pace = absl::ZeroDuration();
};

class TestServer {
 public:
  using Handler = std::function<TestResponse(const TestRequest&)>;
  static absl::StatusOr<std::unique_ptr<TestServer>> Start(Handler handler);
  ~TestServer();
  // "127.0.0.1:<port>"
  std::string address() const;

  struct Impl;

 private:
  explicit TestServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::engine::distribution
