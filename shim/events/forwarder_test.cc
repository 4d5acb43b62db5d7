// Forwarder against a fake Events server on a temporary unix socket: events arrive in order
// with the shim's namespace and the event's time, are retried until the server comes up, and
// the oldest are dropped beyond the queue limit.
#include "shim/events/forwarder.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "berth/containerd/events/v1/payloads.pb.h"
#include "common/grpc/server.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::shim::events {
namespace {

namespace ev1 = ::berth::containerd::events::v1;
using ::berth::testing::IsOk;
using ::berth::testing::TempDir;

class FakeEvents final : public ev1::Events::CallbackService {
 public:
  ::grpc::ServerUnaryReactor* Forward(::grpc::CallbackServerContext* ctx,
                                      const ev1::ForwardRequest* req,
                                      ev1::ForwardResponse*) override {
    {
      absl::MutexLock lock(&mu_);
      received_.push_back(req->envelope());
    }
    auto* r = ctx->DefaultReactor();
    r->Finish(::grpc::Status::OK);
    return r;
  }
  std::vector<ev1::Envelope> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }

 private:
  absl::Mutex mu_;
  std::vector<ev1::Envelope> received_;
};

std::unique_ptr<grpc_util::UnixGrpcServer> Serve(const std::string& address, FakeEvents* fake) {
  grpc_util::UnixServerOptions o;
  o.address = address;
  o.socket_group = "";
  auto server = grpc_util::UnixGrpcServer::Start(o, {fake});
  EXPECT_THAT(server, IsOk());
  return server.ok() ? std::move(*server) : nullptr;
}

ev1::TaskExit Exit(uint32_t pid) {
  ev1::TaskExit e;
  e.set_container_id("c1");
  e.set_pid(pid);
  return e;
}

TEST(ForwarderTest, DeliversInOrderWithNamespaceAndTime) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  const std::string address = "unix://" + dir->Sub("events.sock");
  FakeEvents fake;
  auto server = Serve(address, &fake);
  ASSERT_NE(server, nullptr);
  ForwarderOptions o;
  o.address = address;
  o.ns = "testns";
  o.clock = [] { return absl::FromUnixSeconds(1700000000); };
  auto f = Forwarder::Create(o);
  ASSERT_THAT(f, IsOk());
  for (uint32_t pid = 1; pid <= 5; ++pid) (*f)->Publish("/tasks/exit", Exit(pid));
  ASSERT_TRUE(berth::testing::WaitFor([&] { return fake.received().size() == 5; },
                                      absl::Seconds(10)));
  auto got = fake.received();
  for (uint32_t i = 0; i < 5; ++i) {
    EXPECT_EQ(got[i].namespace_(), "testns");
    EXPECT_EQ(got[i].topic(), "/tasks/exit");
    EXPECT_EQ(got[i].timestamp().seconds(), 1700000000);
    ev1::TaskExit e;
    ASSERT_TRUE(got[i].event().UnpackTo(&e));
    EXPECT_EQ(e.pid(), i + 1);
    EXPECT_EQ(e.container_id(), "c1");
  }
  (*f)->Stop(absl::Seconds(1));
  EXPECT_EQ((*f)->delivered(), 5u);
  server->Shutdown();
}

TEST(ForwarderTest, RetriesUntilTheServerComesUpAndDropsTheOldestBeyondTheLimit) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  const std::string address = "unix://" + dir->Sub("events.sock");
  ForwarderOptions o;
  o.address = address;
  o.ns = "default";
  o.max_pending = 3;
  o.initial_backoff = absl::Milliseconds(10);
  o.max_backoff = absl::Milliseconds(50);
  auto f = Forwarder::Create(o);
  ASSERT_THAT(f, IsOk());
  for (uint32_t pid = 1; pid <= 5; ++pid) (*f)->Publish("/tasks/exit", Exit(pid));
  // Nobody listens yet: at most 3 are kept (the oldest dropped; the one being sent may be
  // re-sent after it was dropped, delivery is at least once).
  EXPECT_EQ((*f)->dropped(), 2u);
  EXPECT_LE((*f)->pending(), 3u);

  FakeEvents fake;
  auto server = Serve(address, &fake);
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(
      berth::testing::WaitFor([&] { return (*f)->pending() == 0; }, absl::Seconds(20)));
  std::vector<uint32_t> pids;
  for (const auto& e : fake.received()) {
    ev1::TaskExit x;
    ASSERT_TRUE(e.event().UnpackTo(&x));
    pids.push_back(x.pid());
  }
  // The newest three, in order (the first may be an already dropped one that was in flight).
  ASSERT_GE(pids.size(), 3u);
  EXPECT_THAT(std::vector<uint32_t>(pids.end() - 3, pids.end()), ::testing::ElementsAre(3, 4, 5));
  (*f)->Stop(absl::Seconds(1));
  server->Shutdown();
}

TEST(ForwarderTest, StopGivesUpWhenNobodyListens) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  ForwarderOptions o;
  o.address = "unix://" + dir->Sub("nobody.sock");
  o.ns = "default";
  auto f = Forwarder::Create(o);
  ASSERT_THAT(f, IsOk());
  (*f)->Publish("/tasks/exit", Exit(1));
  const absl::Time start = absl::Now();
  (*f)->Stop(absl::Milliseconds(300));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_EQ((*f)->delivered(), 0u);
}

TEST(ForwarderTest, RejectsBadOptions) {
  ForwarderOptions o;
  o.address = "unix:///tmp/x.sock";
  EXPECT_FALSE(Forwarder::Create(o).ok());
  o.ns = "default";
  o.address = "tcp://1.2.3.4:5";
  EXPECT_FALSE(Forwarder::Create(o).ok());
}

}  // namespace
}  // namespace berth::shim::events
