// ReplyOffThread: handlers that block must not hold gRPC's few callback threads, so calls that
// wait for each other all finish; and the reply carries the handler's status.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "berth/containerd/leases/v1/leases.grpc.pb.h"
#include "common/executor/blocking_executor.h"
#include "containerd/server/request_context.h"
#include "containerd/server/service_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::server {
namespace {

namespace v1 = ::berth::containerd::leases::v1;

constexpr int kCalls = 8;  // more than gRPC's callback threads on any test machine here

// Create blocks until kCalls calls are inside it at once; the lease id says whether it got
// there. With handlers run on gRPC's callback threads the calls past the first few would wait
// for a thread that never frees up.
class RendezvousLeases final : public v1::Leases::CallbackService {
 public:
  ::grpc::ServerUnaryReactor* Create(::grpc::CallbackServerContext* ctx,
                                     const v1::CreateRequest* req,
                                     v1::CreateResponse* resp) override {
    return ReplyOffThread(ctx, "test.Create", blocking_, [this, req, resp]() -> absl::Status {
      if (req->id() == "fail") return absl::NotFoundError("no such thing");
      absl::MutexLock lock(&mu_);
      ++inside_;
      const bool all = mu_.AwaitWithTimeout(
          absl::Condition(
              +[](int* n) { return *n >= kCalls; }, &inside_),
          absl::Seconds(20));
      resp->mutable_lease()->set_id(all ? "met" : "alone");
      return absl::OkStatus();
    });
  }

 private:
  absl::Mutex mu_;
  int inside_ ABSL_GUARDED_BY(mu_) = 0;
  executor::BlockingExecutor blocking_;
};

TEST(ReplyOffThreadTest, BlockingHandlersDoNotHoldCallbackThreads) {
  auto env = ServiceTestEnv::Create();
  ASSERT_TRUE(env.ok()) << env.status();
  RendezvousLeases service;
  ASSERT_TRUE((*env)->Serve({&service}).ok());
  auto stub = v1::Leases::NewStub((*env)->channel());
  std::vector<std::string> ids(kCalls);
  std::vector<::grpc::Status> statuses(kCalls);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCalls; ++i) {
    callers.emplace_back([&, i] {
      auto ctx = CallContext();
      v1::CreateRequest req;
      v1::CreateResponse resp;
      statuses[i] = stub->Create(ctx.get(), req, &resp);
      ids[i] = resp.lease().id();
    });
  }
  for (auto& t : callers) t.join();
  for (int i = 0; i < kCalls; ++i) {
    EXPECT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    EXPECT_EQ(ids[i], "met") << "call " << i << " never saw all calls running at once";
  }
  (*env)->StopServing();
}

TEST(ReplyOffThreadTest, ReplyCarriesTheHandlersStatus) {
  auto env = ServiceTestEnv::Create();
  ASSERT_TRUE(env.ok()) << env.status();
  RendezvousLeases service;
  ASSERT_TRUE((*env)->Serve({&service}).ok());
  auto stub = v1::Leases::NewStub((*env)->channel());
  auto ctx = CallContext();
  v1::CreateRequest req;
  req.set_id("fail");
  v1::CreateResponse resp;
  ::grpc::Status st = stub->Create(ctx.get(), req, &resp);
  EXPECT_EQ(st.error_code(), ::grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(st.error_message(), "no such thing");
  (*env)->StopServing();
}

}  // namespace
}  // namespace berth::containerd::server
