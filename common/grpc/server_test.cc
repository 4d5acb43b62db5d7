#include "common/grpc/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "berth/containerd/version/v1/version.grpc.pb.h"
#include "common/grpc/probe.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace berth::grpc_util {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::Contains;
namespace versionpb = ::berth::containerd::version::v1;

class FakeVersion final : public versionpb::Version::CallbackService {
  ::grpc::ServerUnaryReactor* Version(::grpc::CallbackServerContext* ctx,
                                      const versionpb::VersionRequest*,
                                      versionpb::VersionResponse* resp) override {
    resp->set_version("test");
    auto* r = ctx->DefaultReactor();
    r->Finish(::grpc::Status::OK);
    return r;
  }
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = berth::testing::TempDir::Create();
    ASSERT_THAT(d, IsOk());
    dir_.emplace(std::move(*d));
    socket_ = dir_->Sub("run/test.sock");
  }
  std::optional<berth::testing::TempDir> dir_;
  std::string socket_;
};

TEST_F(ServerTest, ServesHealthReflectionAndServicesThenRemovesSocket) {
  FakeVersion svc;
  UnixServerOptions opts;
  opts.address = "unix://" + socket_;
  opts.socket_group = "";
  auto server = UnixGrpcServer::Start(opts, {&svc});
  ASSERT_THAT(server, IsOk());

  struct stat st;
  ASSERT_EQ(stat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  auto ch = DialUnix(socket_);
  ASSERT_THAT(ch, IsOk());
  auto health = CheckHealth(*ch, "", absl::Seconds(5));
  ASSERT_THAT(health, IsOk());
  EXPECT_EQ(*health, ServingStatus::kServing);

  auto services = ListServices(*ch, absl::Seconds(5));
  ASSERT_THAT(services, IsOk());
  EXPECT_THAT(*services, Contains("berth.containerd.version.v1.Version"));
  EXPECT_THAT(*services, Contains("grpc.health.v1.Health"));

  auto stub = versionpb::Version::NewStub(*ch);
  ::grpc::ClientContext ctx;
  versionpb::VersionResponse resp;
  ASSERT_TRUE(stub->Version(&ctx, versionpb::VersionRequest(), &resp).ok());
  EXPECT_EQ(resp.version(), "test");

  (*server)->Shutdown();
  EXPECT_NE(access(socket_.c_str(), F_OK), 0) << "socket left behind";
}

TEST_F(ServerTest, ReplacesStaleSocket) {
  // A socket file nobody listens on, as a crashed daemon leaves behind.
  ASSERT_EQ(mkdir(dir_->Sub("run").c_str(), 0755), 0);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);

  UnixServerOptions opts;
  opts.address = socket_;
  auto server = UnixGrpcServer::Start(opts, {});
  ASSERT_THAT(server, IsOk());
  auto ch = DialUnix(socket_);
  ASSERT_THAT(ch, IsOk());
  EXPECT_THAT(CheckHealth(*ch, "", absl::Seconds(5)), IsOk());
}

TEST_F(ServerTest, RefusesToStealLiveSocket) {
  UnixServerOptions opts;
  opts.address = socket_;
  auto first = UnixGrpcServer::Start(opts, {});
  ASSERT_THAT(first, IsOk());
  EXPECT_THAT(UnixGrpcServer::Start(opts, {}),
              StatusIs(absl::StatusCode::kAlreadyExists, ::testing::HasSubstr("already")));
  // The first server still answers.
  auto ch = DialUnix(socket_);
  ASSERT_THAT(ch, IsOk());
  EXPECT_THAT(CheckHealth(*ch, "", absl::Seconds(5)), IsOk());
}

TEST_F(ServerTest, RefusesToDeleteNonSocket) {
  ASSERT_EQ(mkdir(dir_->Sub("run").c_str(), 0755), 0);
  std::ofstream(socket_) << "precious";
  UnixServerOptions opts;
  opts.address = socket_;
  EXPECT_THAT(UnixGrpcServer::Start(opts, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::HasSubstr("not a socket")));
  std::ifstream in(socket_);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST_F(ServerTest, ProbeOfAbsentDaemonIsUnavailable) {
  auto ch = DialUnix(socket_);
  ASSERT_THAT(ch, IsOk());
  auto health = CheckHealth(*ch, "", absl::Milliseconds(500));
  ASSERT_FALSE(health.ok());
  EXPECT_TRUE(absl::IsUnavailable(health.status()) || absl::IsDeadlineExceeded(health.status()))
      << health.status();
}

}  // namespace
}  // namespace berth::grpc_util
