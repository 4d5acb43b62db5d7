#include "shim/rpc/unix.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>

#include <grpcpp/generic/generic_stub.h>

#include "berth/shim/task/v1/task.grpc.pb.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::shim::rpc {
namespace {

namespace v1 = ::berth::shim::task::v1;
using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

// Answers Connect with a fixed pid; every other RPC is unimplemented.
class FakeTask final : public v1::Task::CallbackService {
 public:
  ::grpc::ServerUnaryReactor* Connect(::grpc::CallbackServerContext* ctx,
                                      const v1::ConnectRequest* req,
                                      v1::ConnectResponse* resp) override {
    resp->set_shim_pid(4242);
    auto* r = ctx->DefaultReactor();
    r->Finish(::grpc::Status::OK);
    return r;
  }
};

::grpc::Status CallConnect(const std::string& address, v1::ConnectResponse* resp) {
  auto channel = DialUnix(address);
  if (!channel.ok()) return ::grpc::Status(::grpc::StatusCode::INTERNAL, "dial");
  auto stub = v1::Task::NewStub(*channel);
  ::grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::ConnectRequest req;
  return stub->Connect(&ctx, req, resp);
}

class UnixServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = ::berth::testing::TempDir::Create();
    ASSERT_THAT(d, IsOk());
    dir_.emplace(std::move(*d));
    path_ = dir_->Sub("task.sock");
  }
  std::optional<::berth::testing::TempDir> dir_;
  std::string path_;
  FakeTask service_;
};

TEST_F(UnixServerTest, ServesTheServiceWithTheSocketMode) {
  auto server = UnixServer::Start(path_, 0600, &service_);
  ASSERT_THAT(server, IsOk());
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  v1::ConnectResponse resp;
  ::grpc::Status s = CallConnect("unix://" + path_, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.shim_pid(), 4242u);

  (*server)->Shutdown(absl::Seconds(1));
  EXPECT_NE(::stat(path_.c_str(), &st), 0) << "socket file left after Shutdown";
  EXPECT_FALSE(CallConnect("unix://" + path_, &resp).ok());
  (*server)->Shutdown(absl::Seconds(1));  // idempotent
}

TEST_F(UnixServerTest, ServesNoHealthOrReflection) {
  auto server = UnixServer::Start(path_, 0600, &service_);
  ASSERT_THAT(server, IsOk());
  auto channel = DialUnix("unix://" + path_);
  ASSERT_THAT(channel, IsOk());
  ::grpc::GenericStub generic(*channel);
  ::grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  ::grpc::ByteBuffer request, response;
  ::grpc::Slice empty("", 0);
  request = ::grpc::ByteBuffer(&empty, 1);
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  ::grpc::Status status;
  generic.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", ::grpc::StubOptions(), &request,
                    &response, [&](::grpc::Status s) {
                      std::lock_guard<std::mutex> l(mu);
                      status = s;
                      done = true;
                      cv.notify_all();
                    });
  std::unique_lock<std::mutex> l(mu);
  cv.wait(l, [&] { return done; });
  EXPECT_EQ(status.error_code(), ::grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(UnixServerTest, RefusesALiveSocketAndANonSocket) {
  auto first = UnixServer::Start(path_, 0600, &service_);
  ASSERT_THAT(first, IsOk());
  FakeTask other;
  EXPECT_THAT(UnixServer::Start(path_, 0600, &other).status(),
              StatusIs(absl::StatusCode::kAlreadyExists));
  // The live server is untouched.
  v1::ConnectResponse resp;
  EXPECT_TRUE(CallConnect("unix://" + path_, &resp).ok());

  const std::string file = dir_->Sub("plain");
  ASSERT_EQ(::close(::open(file.c_str(), O_CREAT | O_WRONLY, 0600)), 0);
  EXPECT_THAT(UnixServer::Start(file, 0600, &other).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  struct stat st;
  EXPECT_EQ(::stat(file.c_str(), &st), 0) << "a non-socket file was removed";
}

TEST_F(UnixServerTest, ReplacesAStaleSocket) {
  // A socket file nobody listens on any more, as a killed shim leaves it.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);

  auto server = UnixServer::Start(path_, 0600, &service_);
  ASSERT_THAT(server, IsOk());
  v1::ConnectResponse resp;
  ::grpc::Status s = CallConnect("unix://" + path_, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.shim_pid(), 4242u);
}

TEST(DialUnixTest, RejectsOtherSchemes) {
  EXPECT_THAT(DialUnix("tcp://127.0.0.1:1").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DialUnix("unix://relative/path").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace berth::shim::rpc
