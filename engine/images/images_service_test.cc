// The registry RPCs of ImagesService over a real unix-socket gRPC server, against a scripted
// Distribution: messages arrive in order (also past the queue's bound), the transfer's status
// reaches the client with its code and message, a client that goes away cancels the transfer,
// events follow success only, and Login/InspectDistribution relay the distribution's answers.
#include "engine/images/images_service.h"

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/grpc/dial.h"
#include "common/grpc/server.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "engine/images/fake_backend.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::engine::images {
namespace {

using ::berth::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Plays a transfer of `messages` progress lines, then one result per reference in `results`,
// then returns `status`. With `block_until_cancelled` it sends one line and waits for the
// cancel flag instead.
class FakeDistribution final : public Distribution {
 public:
  int messages = 3;
  std::vector<std::string> results = {"docker.io/library/busybox:latest"};
  absl::Status status = absl::OkStatus();
  bool block_until_cancelled = false;
  absl::StatusOr<v1::LoginResponse> login = absl::UnauthenticatedError("unset");
  absl::StatusOr<v1::InspectDistributionResponse> inspect = absl::NotFoundError("unset");

  absl::Mutex mu;
  std::vector<v1::PullImageRequest> pulls ABSL_GUARDED_BY(mu);
  std::vector<v1::PushImageRequest> pushes ABSL_GUARDED_BY(mu);
  std::vector<v1::LoginRequest> logins ABSL_GUARDED_BY(mu);
  std::atomic<bool> saw_cancel{false};
  std::atomic<bool> returned{false};

  absl::Status Pull(const v1::PullImageRequest& req, const PullSink& out,
                    const std::atomic<bool>& cancelled) override {
    Record(req, pulls);
    return Play<v1::PullImageResponse>(out, cancelled);
  }
  absl::Status Push(const v1::PushImageRequest& req, const PushSink& out,
                    const std::atomic<bool>& cancelled) override {
    Record(req, pushes);
    return Play<v1::PushImageResponse>(out, cancelled);
  }
  absl::StatusOr<v1::LoginResponse> Login(const v1::LoginRequest& req) override {
    Record(req, logins);
    return login;
  }
  absl::StatusOr<v1::InspectDistributionResponse> InspectDistribution(
      const v1::InspectDistributionRequest&) override {
    return inspect;
  }

 private:
  template <typename Req>
  void Record(const Req& req, std::vector<Req>& calls) {
    absl::MutexLock l(&mu);
    calls.push_back(req);
  }
  // The result message for `ref`: a pull's names a digest, a push's a size.
  static void FillResult(const std::string& ref, v1::PullImageResponse* m) {
    m->mutable_result()->set_reference(ref);
    m->mutable_result()->set_digest("sha256:" + std::string(64, 'a'));
  }
  static void FillResult(const std::string& ref, v1::PushImageResponse* m) {
    m->mutable_result()->set_reference(ref);
    m->mutable_result()->set_size(527);
  }

  template <typename Resp, typename Sink>
  absl::Status Play(const Sink& out, const std::atomic<bool>& cancelled) {
    auto line = [](int i) {
      Resp m;
      m.mutable_progress()->set_id("layer" + std::to_string(i));
      m.mutable_progress()->set_status("Downloading");
      m.mutable_progress()->set_phase(v1::TRANSFER_PHASE_DOWNLOADING);
      m.mutable_progress()->set_current(i);
      return m;
    };
    if (block_until_cancelled) {
      out(line(0));
      absl::Time end = absl::Now() + absl::Seconds(20);
      while (!cancelled.load() && absl::Now() < end) absl::SleepFor(absl::Milliseconds(5));
      saw_cancel = cancelled.load();
      returned = true;
      return absl::CancelledError("pull cancelled");
    }
    for (int i = 0; i < messages; ++i) out(line(i));
    for (const auto& r : results) {
      Resp m;
      FillResult(r, &m);
      out(std::move(m));
    }
    returned = true;
    return status;
  }
};

struct Event {
  std::string action, id;
  std::map<std::string, std::string> attributes;
};

class ImagesServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = berth::testing::TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(std::move(*dir));
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }
  void Serve(Distribution* d) {
    store_ = std::make_unique<ImageStore>(backend_.backend(), ImageStoreOptions());
    service_ = std::make_unique<ImagesService>(
        store_.get(),
        [this](const std::string& action, const std::string& id,
               std::map<std::string, std::string> attributes) {
          absl::MutexLock l(&mu_);
          events_.push_back({action, id, std::move(attributes)});
        },
        d);
    grpc_util::UnixServerOptions o;
    o.address = "unix://" + dir_->Sub("berthd.sock");
    o.drain_timeout = absl::Seconds(1);
    auto server = grpc_util::UnixGrpcServer::Start(o, {service_.get()});
    ASSERT_THAT(server, IsOk());
    server_ = std::move(*server);
    auto ch = grpc_util::DialUnix(o.address);
    ASSERT_THAT(ch, IsOk());
    stub_ = v1::Images::NewStub(*ch);
  }
  std::vector<Event> Events() {
    absl::MutexLock l(&mu_);
    return events_;
  }

  // A whole Pull or Push stream: every message, then the final status.
  template <typename Resp>
  struct Transfer {
    std::vector<Resp> messages;
    ::grpc::Status status;
  };
  template <typename Resp>
  static Transfer<Resp> ReadAll(::grpc::ClientReader<Resp>& reader) {
    Transfer<Resp> t;
    Resp m;
    while (reader.Read(&m)) t.messages.push_back(m);
    t.status = reader.Finish();
    return t;
  }
  Transfer<v1::PullImageResponse> Pull(const v1::PullImageRequest& req) {
    ::grpc::ClientContext ctx;
    return ReadAll(*stub_->Pull(&ctx, req));
  }
  Transfer<v1::PullImageResponse> Pull(const std::string& reference) {
    v1::PullImageRequest req;
    req.set_reference(reference);
    return Pull(req);
  }
  Transfer<v1::PushImageResponse> Push(const std::string& reference) {
    ::grpc::ClientContext ctx;
    v1::PushImageRequest req;
    req.set_reference(reference);
    return ReadAll(*stub_->Push(&ctx, req));
  }

  std::optional<berth::testing::TempDir> dir_;
  FakeBackend backend_;
  std::unique_ptr<ImageStore> store_;
  std::unique_ptr<ImagesService> service_;
  std::unique_ptr<grpc_util::UnixGrpcServer> server_;
  std::unique_ptr<v1::Images::Stub> stub_;
  absl::Mutex mu_;
  std::vector<Event> events_ ABSL_GUARDED_BY(mu_);
};

TEST_F(ImagesServiceTest, PullRelaysEveryMessageInOrderThenEmitsPull) {
  FakeDistribution d;
  // More lines than the stream queue holds: the transfer must wait for room, not fail.
  d.messages = 3000;
  ASSERT_NO_FATAL_FAILURE(Serve(&d));
  v1::PullImageRequest req;
  req.set_reference("busybox");
  req.mutable_auth()->set_username("alice");
  auto pull = Pull(req);
  int next = 0;
  std::vector<std::string> results;
  for (const v1::PullImageResponse& m : pull.messages) {
    if (m.has_progress()) {
      EXPECT_TRUE(results.empty()) << "progress after a result";
      EXPECT_EQ(m.progress().id(), "layer" + std::to_string(next));
      EXPECT_EQ(m.progress().current(), next);
      ++next;
    } else {
      results.push_back(m.result().reference());
    }
  }
  EXPECT_TRUE(pull.status.ok()) << pull.status.error_message();
  EXPECT_EQ(next, 3000);
  EXPECT_THAT(results, ElementsAre("docker.io/library/busybox:latest"));
  {
    absl::MutexLock l(&d.mu);
    ASSERT_EQ(d.pulls.size(), 1u);
    EXPECT_EQ(d.pulls[0].reference(), "busybox");
    EXPECT_EQ(d.pulls[0].auth().username(), "alice");
  }
  std::vector<Event> ev = Events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].action, "pull");
  EXPECT_EQ(ev[0].id, "busybox:latest");
  EXPECT_EQ(ev[0].attributes["name"], "busybox");
}

TEST_F(ImagesServiceTest, PullAllTagsEmitsOneEventPerTag) {
  FakeDistribution d;
  d.messages = 0;
  d.results = {"127.0.0.1:5000/a/b:1", "127.0.0.1:5000/a/b:2"};
  ASSERT_NO_FATAL_FAILURE(Serve(&d));
  v1::PullImageRequest req;
  req.set_reference("127.0.0.1:5000/a/b");
  req.set_all_tags(true);
  ASSERT_TRUE(Pull(req).status.ok());
  std::vector<Event> ev = Events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].id, "127.0.0.1:5000/a/b:1");
  EXPECT_EQ(ev[1].id, "127.0.0.1:5000/a/b:2");
  EXPECT_EQ(ev[1].attributes["name"], "127.0.0.1:5000/a/b");
}

TEST_F(ImagesServiceTest, FailedPullEndsWithTheMappedStatusAfterItsLinesAndNoEvent) {
  FakeDistribution d;
  d.results.clear();
  d.status = absl::UnauthenticatedError("pull 127.0.0.1:5000/a: authentication required");
  ASSERT_NO_FATAL_FAILURE(Serve(&d));
  auto pull = Pull("127.0.0.1:5000/a");
  const ::grpc::Status& st = pull.status;
  EXPECT_EQ(pull.messages.size(), 3u);
  EXPECT_EQ(st.error_code(), ::grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(st.error_message(), "pull 127.0.0.1:5000/a: authentication required");
  EXPECT_THAT(Events(), IsEmpty());
}

TEST_F(ImagesServiceTest, NotFoundAndPermissionDeniedKeepTheirCodes) {
  FakeDistribution d;
  ASSERT_NO_FATAL_FAILURE(Serve(&d));
  for (const absl::Status& s :
       {absl::NotFoundError("manifest unknown"), absl::PermissionDeniedError("denied")}) {
    d.status = s;
    ::grpc::Status st = Push("127.0.0.1:5000/a:1").status;
    EXPECT_EQ(static_cast<int>(st.error_code()), static_cast<int>(s.code()));
    EXPECT_EQ(st.error_message(), s.message());
  }
  EXPECT_THAT(Events(), IsEmpty());
}

TEST_F(ImagesServiceTest, ClientGoingAwayCancelsTheTransfer) {
  FakeDistribution d;
  d.block_until_cancelled = true;
  ASSERT_NO_FATAL_FAILURE(Serve(&d));
  ::grpc::ClientContext ctx;
  v1::PullImageRequest req;
  req.set_reference("busybox");
  auto reader = stub_->Pull(&ctx, req);
  v1::PullImageResponse m;
  ASSERT_TRUE(reader->Read(&m));
  EXPECT_FALSE(d.returned.load());
  ctx.TryCancel();
  while (reader->Read(&m)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), ::grpc::StatusCode::CANCELLED);
  absl::Time end = absl::Now() + absl::Seconds(10);
  while (!d.returned.load() && absl::Now() < end) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_TRUE(d.returned.load());
  EXPECT_TRUE(d.saw_cancel.load());
  EXPECT_THAT(Events(), IsEmpty());
}

TEST_F(ImagesServiceTest, PushRelaysResultAndEmitsPush) {
  FakeDistribution d;
  d.results = {"127.0.0.1:5000/e2e/busybox:1"};
  ASSERT_NO_FATAL_FAILURE(Serve(&d));
  auto push = Push("127.0.0.1:5000/e2e/busybox:1");
  int progress = 0;
  int64_t size = 0;
  for (const v1::PushImageResponse& m : push.messages) {
    if (m.has_progress()) ++progress;
    if (m.has_result()) size = m.result().size();
  }
  ASSERT_TRUE(push.status.ok());
  EXPECT_EQ(progress, 3);
  EXPECT_EQ(size, 527);
  std::vector<Event> ev = Events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].action, "push");
  EXPECT_EQ(ev[0].id, "127.0.0.1:5000/e2e/busybox:1");
  EXPECT_EQ(ev[0].attributes["name"], "127.0.0.1:5000/e2e/busybox");
}

TEST_F(ImagesServiceTest, LoginRelaysTheAnswerAndTheRejection) {
  FakeDistribution d;
  v1::LoginResponse ok;
  ok.set_status("Login Succeeded");
  ok.set_identity_token("tok");
  d.login = ok;
  ASSERT_NO_FATAL_FAILURE(Serve(&d));
  {
    ::grpc::ClientContext ctx;
    v1::LoginRequest req;
    req.mutable_auth()->set_username("alice");
    req.mutable_auth()->set_password("pw");
    req.mutable_auth()->set_server_address("127.0.0.1:5000");
    v1::LoginResponse resp;
    ASSERT_TRUE(stub_->Login(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.status(), "Login Succeeded");
    EXPECT_EQ(resp.identity_token(), "tok");
    absl::MutexLock l(&d.mu);
    ASSERT_EQ(d.logins.size(), 1u);
    EXPECT_EQ(d.logins[0].auth().password(), "pw");
  }
  d.login = absl::UnauthenticatedError("unauthorized: incorrect username or password");
  ::grpc::ClientContext ctx;
  v1::LoginRequest req;
  v1::LoginResponse resp;
  ::grpc::Status st = stub_->Login(&ctx, req, &resp);
  EXPECT_EQ(st.error_code(), ::grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(st.error_message(), "unauthorized: incorrect username or password");
}

TEST_F(ImagesServiceTest, InspectDistributionRelaysTheDescriptor) {
  FakeDistribution d;
  v1::InspectDistributionResponse r;
  r.mutable_target()->set_digest("sha256:" + std::string(64, 'b'));
  r.add_platforms()->set_architecture("amd64");
  d.inspect = r;
  ASSERT_NO_FATAL_FAILURE(Serve(&d));
  ::grpc::ClientContext ctx;
  v1::InspectDistributionRequest req;
  req.set_reference("busybox");
  v1::InspectDistributionResponse resp;
  ASSERT_TRUE(stub_->InspectDistribution(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.target().digest(), "sha256:" + std::string(64, 'b'));
  ASSERT_EQ(resp.platforms_size(), 1);
  EXPECT_EQ(resp.platforms(0).architecture(), "amd64");
}

TEST_F(ImagesServiceTest, WithoutDistributionRegistryCallsAreUnimplemented) {
  ASSERT_NO_FATAL_FAILURE(Serve(nullptr));
  auto pull = Pull("busybox");
  EXPECT_THAT(pull.messages, IsEmpty());
  EXPECT_EQ(pull.status.error_code(), ::grpc::StatusCode::UNIMPLEMENTED);
  ::grpc::ClientContext ctx;
  v1::LoginRequest req;
  v1::LoginResponse resp;
  EXPECT_EQ(stub_->Login(&ctx, req, &resp).error_code(), ::grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace berth::engine::images
