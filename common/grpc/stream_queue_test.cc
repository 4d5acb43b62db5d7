// The queue logic of stream_queue.h without a server: StreamState with recorded writes, and
// OnWriteDone driven by the test as gRPC would.
#include "common/grpc/stream_queue.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace berth::grpc_util {
namespace {

struct Recorder {
  std::vector<std::string> writes;
  std::vector<::grpc::StatusCode> finishes;
};

std::shared_ptr<internal::StreamState<std::string>> NewState(Recorder* r, size_t limit = 1024) {
  auto s = std::make_shared<internal::StreamState<std::string>>();
  s->limit = limit;
  s->start_write = [r](const std::string* m) { r->writes.push_back(*m); };
  s->do_finish = [r](const ::grpc::Status& st) { r->finishes.push_back(st.error_code()); };
  return s;
}

TEST(StreamQueueTest, OneWriteInFlightThenInOrderAndFinishAfterLast) {
  Recorder r;
  auto s = NewState(&r);
  Outlet<std::string> out(s);
  EXPECT_TRUE(out.Send("a"));
  EXPECT_TRUE(out.Send("b"));
  EXPECT_TRUE(out.Send("c"));
  EXPECT_EQ(r.writes, std::vector<std::string>({"a"}));  // one outstanding write
  out.Close(absl::OkStatus());
  EXPECT_FALSE(out.Send("late"));
  EXPECT_TRUE(r.finishes.empty());  // queued messages first
  s->OnWriteDone(true);
  s->OnWriteDone(true);
  EXPECT_EQ(r.writes, std::vector<std::string>({"a", "b", "c"}));
  EXPECT_TRUE(r.finishes.empty());
  s->OnWriteDone(true);
  ASSERT_EQ(r.finishes.size(), 1u);
  EXPECT_EQ(r.finishes[0], ::grpc::StatusCode::OK);
}

TEST(StreamQueueTest, FailedWriteFinishesCancelledAndDropsTheRest) {
  Recorder r;
  auto s = NewState(&r);
  Outlet<std::string> out(s);
  out.Send("a");
  out.Send("b");
  s->OnWriteDone(false);
  ASSERT_EQ(r.finishes.size(), 1u);
  EXPECT_EQ(r.finishes[0], ::grpc::StatusCode::CANCELLED);
  EXPECT_EQ(r.writes.size(), 1u);
  EXPECT_FALSE(out.Send("c"));
  EXPECT_FALSE(out.alive());
}

TEST(StreamQueueTest, OverflowEndsWithResourceExhausted) {
  Recorder r;
  auto s = NewState(&r, /*limit=*/2);
  Outlet<std::string> out(s);
  EXPECT_TRUE(out.Send("a"));
  EXPECT_TRUE(out.Send("b"));
  EXPECT_FALSE(out.Send("c"));
  s->OnWriteDone(true);
  s->OnWriteDone(true);
  ASSERT_EQ(r.finishes.size(), 1u);
  EXPECT_EQ(r.finishes[0], ::grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST(StreamQueueTest, SendWaitBlocksUntilThereIsRoom) {
  Recorder r;
  auto s = NewState(&r, /*limit=*/1);
  Outlet<std::string> out(s);
  EXPECT_TRUE(out.SendWait("a"));
  std::atomic<bool> sent{false};
  std::thread producer([&] {
    EXPECT_TRUE(out.SendWait("b"));
    sent = true;
  });
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(sent.load());
  s->OnWriteDone(true);  // "a" written: room for "b"
  producer.join();
  EXPECT_TRUE(sent.load());
  EXPECT_EQ(r.writes, std::vector<std::string>({"a", "b"}));
  std::thread blocked([&] { EXPECT_FALSE(out.SendWait("c")); });
  absl::SleepFor(absl::Milliseconds(20));
  out.Close(absl::CancelledError("gone"));  // wakes the blocked producer
  blocked.join();
}

TEST(StreamQueueTest, OutletOutlivesTheCall) {
  Recorder r;
  Outlet<std::string> out;
  {
    auto s = NewState(&r);
    out = Outlet<std::string>(s);
    absl::MutexLock lock(&s->mu);
    s->done = true;  // what OnDone does
  }
  EXPECT_FALSE(out.Send("x"));
  out.Close(absl::OkStatus());
  EXPECT_TRUE(r.writes.empty());
  EXPECT_TRUE(r.finishes.empty());
  EXPECT_FALSE(Outlet<std::string>().Send("y"));
}

}  // namespace
}  // namespace berth::grpc_util
