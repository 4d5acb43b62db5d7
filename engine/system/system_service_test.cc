// System.Events over a real gRPC server on a unix socket, with an in-memory journal: replay,
// live events, the end at `until`, argument errors, cancellation, and flow control of a replay
// longer than the stream's queue.
#include "engine/system/system_service.h"

#include <google/protobuf/util/time_util.h>

#include <optional>

#include "absl/time/clock.h"
#include "common/grpc/server.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::engine::system {
namespace {

using ::berth::testing::IsOk;
using ::google::protobuf::util::TimeUtil;

google::protobuf::Timestamp Ts(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = berth::testing::TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(std::move(*dir));
    events::JournalOptions jo;
    jo.ring_capacity = 4096;
    auto j = events::EventJournal::Open(jo);
    ASSERT_THAT(j, IsOk());
    journal_ = std::move(*j);
    auto cd = grpc_util::DialUnix("unix://" + dir_->Sub("no-containerd.sock"));
    ASSERT_THAT(cd, IsOk());
    SystemService::Options o;
    o.events = journal_.get();
    service_ = std::make_unique<SystemService>(o, *cd);
    grpc_util::UnixServerOptions so;
    so.address = "unix://" + dir_->Sub("berthd.sock");
    so.drain_timeout = absl::Seconds(1);
    auto server = grpc_util::UnixGrpcServer::Start(so, {service_.get()});
    ASSERT_THAT(server, IsOk());
    server_ = std::move(*server);
    auto ch = grpc_util::DialUnix(so.address);
    ASSERT_THAT(ch, IsOk());
    stub_ = v1::System::NewStub(*ch);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  void Publish(v1::EventType type, const std::string& action, const std::string& id) {
    journal_->Publish(type, action, id, {{"name", id + "-name"}});
  }

  std::optional<berth::testing::TempDir> dir_;
  std::unique_ptr<events::EventJournal> journal_;
  std::unique_ptr<SystemService> service_;
  std::unique_ptr<grpc_util::UnixGrpcServer> server_;
  std::unique_ptr<v1::System::Stub> stub_;
};

TEST_F(EventsTest, ReplaysThenStreamsLiveAndEndsAtUntil) {
  const absl::Time t0 = absl::Now();
  Publish(v1::EVENT_TYPE_IMAGE, "import", "sha256:aa");
  Publish(v1::EVENT_TYPE_CONTAINER, "create", "c1");
  Publish(v1::EVENT_TYPE_CONTAINER, "start", "c1");

  v1::EventsRequest req;
  *req.mutable_since() = Ts(t0 - absl::Seconds(1));
  const absl::Time until = absl::Now() + absl::Milliseconds(700);
  *req.mutable_until() = Ts(until);
  v1::Filter* f = req.add_filters();
  f->set_key("type");
  f->set_value("container");
  ::grpc::ClientContext ctx;
  auto reader = stub_->Events(&ctx, req);
  v1::Event e;
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_EQ(e.action(), "create");
  EXPECT_EQ(e.type(), v1::EVENT_TYPE_CONTAINER);
  EXPECT_EQ(e.actor_id(), "c1");
  EXPECT_EQ(e.attributes().at("name"), "c1-name");
  EXPECT_GE(TimeUtil::TimestampToNanoseconds(e.time()), absl::ToUnixNanos(t0));
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_EQ(e.action(), "start");
  // Live, before until.
  Publish(v1::EVENT_TYPE_IMAGE, "tag", "sha256:aa");
  Publish(v1::EVENT_TYPE_CONTAINER, "die", "c1");
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_EQ(e.action(), "die");
  // Nothing more: the stream ends by itself once until has passed.
  EXPECT_FALSE(reader->Read(&e));
  ::grpc::Status st = reader->Finish();
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_GE(absl::Now(), until);
  EXPECT_LT(absl::Now(), until + absl::Seconds(5));
}

TEST_F(EventsTest, PastUntilReplaysAndEndsAtOnce) {
  Publish(v1::EVENT_TYPE_CONTAINER, "create", "c1");
  absl::SleepFor(absl::Milliseconds(5));
  const absl::Time cut = absl::Now();
  absl::SleepFor(absl::Milliseconds(5));
  Publish(v1::EVENT_TYPE_CONTAINER, "start", "c1");
  v1::EventsRequest req;
  *req.mutable_since() = Ts(cut - absl::Minutes(1));
  *req.mutable_until() = Ts(cut);
  ::grpc::ClientContext ctx;
  auto reader = stub_->Events(&ctx, req);
  v1::Event e;
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_EQ(e.action(), "create");
  EXPECT_FALSE(reader->Read(&e));
  EXPECT_TRUE(reader->Finish().ok());
}

TEST_F(EventsTest, BadArgumentsAreInvalid) {
  v1::EventsRequest req;
  v1::Filter* f = req.add_filters();
  f->set_key("colour");
  f->set_value("red");
  {
    ::grpc::ClientContext ctx;
    auto reader = stub_->Events(&ctx, req);
    v1::Event e;
    EXPECT_FALSE(reader->Read(&e));
    ::grpc::Status st = reader->Finish();
    EXPECT_EQ(st.error_code(), ::grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(st.error_message(), ::testing::HasSubstr("colour"));
  }
  req.clear_filters();
  const absl::Time now = absl::Now();
  *req.mutable_since() = Ts(now);
  *req.mutable_until() = Ts(now - absl::Hours(1));
  ::grpc::ClientContext ctx;
  auto reader = stub_->Events(&ctx, req);
  v1::Event e;
  EXPECT_FALSE(reader->Read(&e));
  EXPECT_EQ(reader->Finish().error_code(), ::grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(EventsTest, CancelUnsubscribes) {
  ::grpc::ClientContext ctx;
  auto reader = stub_->Events(&ctx, v1::EventsRequest());
  // Publish until the subscription is live and the event arrives.
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (journal_->Subscribers() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(journal_->Subscribers(), 1u);
  Publish(v1::EVENT_TYPE_CONTAINER, "start", "c1");
  v1::Event e;
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_EQ(e.action(), "start");
  ctx.TryCancel();
  while (reader->Read(&e)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), ::grpc::StatusCode::CANCELLED);
  deadline = absl::Now() + absl::Seconds(10);
  while (journal_->Subscribers() != 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(journal_->Subscribers(), 0u);
}

TEST_F(EventsTest, LongReplayIsFlowControlledNotDropped) {
  // More events than the stream's queue holds (1024): the replay waits for the client.
  const absl::Time t0 = absl::Now();
  constexpr int kEvents = 3000;
  for (int i = 0; i < kEvents; ++i) Publish(v1::EVENT_TYPE_CONTAINER, "start", std::to_string(i));
  v1::EventsRequest req;
  *req.mutable_since() = Ts(t0 - absl::Seconds(1));
  *req.mutable_until() = Ts(absl::Now());
  ::grpc::ClientContext ctx;
  auto reader = stub_->Events(&ctx, req);
  v1::Event e;
  int n = 0;
  while (reader->Read(&e)) {
    EXPECT_EQ(e.actor_id(), std::to_string(n));
    ++n;
    // A slow client.
    if (n % 500 == 0) absl::SleepFor(absl::Milliseconds(50));
  }
  ::grpc::Status st = reader->Finish();
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(n, kEvents);
}

TEST(EventsWithoutJournalTest, IsUnavailable) {
  auto dir = berth::testing::TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  auto cd = grpc_util::DialUnix("unix://" + dir->Sub("no-containerd.sock"));
  ASSERT_THAT(cd, IsOk());
  SystemService service(SystemService::Options(), *cd);
  grpc_util::UnixServerOptions so;
  so.address = "unix://" + dir->Sub("berthd.sock");
  auto server = grpc_util::UnixGrpcServer::Start(so, {&service});
  ASSERT_THAT(server, IsOk());
  auto ch = grpc_util::DialUnix(so.address);
  ASSERT_THAT(ch, IsOk());
  ::grpc::ClientContext ctx;
  auto reader = v1::System::NewStub(*ch)->Events(&ctx, v1::EventsRequest());
  v1::Event e;
  EXPECT_FALSE(reader->Read(&e));
  EXPECT_EQ(reader->Finish().error_code(), ::grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace berth::engine::system
