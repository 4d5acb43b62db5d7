#include "containerd/events/events_service.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc/status_mapping.h"
#include "common/status/status_macros.h"
#include "containerd/server/request_context.h"
#include "glog/logging.h"

namespace berth::containerd::events {
namespace {

using server::Reply;

// One Subscribe stream. Who may start the next write is decided by the Subscription: either
// Next() hands this reactor an event (from OnSendInitialMetadataDone or OnWriteDone), or
// Next() finds the queue empty and the exchange later calls on_event with one. So at most one
// write is in flight and `response_` is only touched by its owner. `mu_` orders StartWrite
// against Finish, which the exchange may call from a publisher's thread (eviction).
class SubscribeReactor final : public ::grpc::ServerWriteReactor<v1::SubscribeResponse> {
 public:
  SubscribeReactor(Exchange* exchange, const v1::SubscribeRequest& req, std::atomic<int>* live)
      : live_(live) {
    ++*live_;
    SubscriptionCallbacks callbacks;
    callbacks.on_event = [this](std::shared_ptr<const v1::Envelope> event) {
      Write(std::move(event));
    };
    callbacks.on_end = [this](const absl::Status& status) { FinishOnce(status); };
    absl::StatusOr<std::unique_ptr<Subscription>> sub = exchange->Subscribe(
        std::vector<std::string>(req.filters().begin(), req.filters().end()), std::move(callbacks));
    if (!sub.ok()) {
      FinishOnce(sub.status());
      return;
    }
    sub_ = std::move(*sub);
    // The headers tell the client the subscription is registered (events.proto, Subscribe).
    // Under mu_: an eviction right now must not Finish between the check and the start.
    absl::MutexLock lock(&mu_);
    if (!finished_) StartSendInitialMetadata();
  }

  void OnSendInitialMetadataDone(bool ok) override {
    if (!ok) {
      FinishOnce(absl::CancelledError("client went away"));
      return;
    }
    Pump();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      FinishOnce(absl::CancelledError("client went away"));
      return;
    }
    Pump();
  }
  void OnCancel() override { FinishOnce(absl::CancelledError("subscriber cancelled")); }
  void OnDone() override {
    // After Close no exchange callback runs, so nothing touches this object any more.
    if (sub_ != nullptr) sub_->Close();
    --*live_;
    delete this;
  }

 private:
  void Pump() {
    absl::StatusOr<std::shared_ptr<const v1::Envelope>> next = sub_->Next();
    if (!next.ok()) {
      FinishOnce(next.status());
      return;
    }
    if (*next != nullptr) Write(std::move(*next));
    // Else the subscription is armed: on_event will call Write.
  }

  void Write(std::shared_ptr<const v1::Envelope> event) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    *response_.mutable_envelope() = *event;
    StartWrite(&response_);
  }

  void FinishOnce(const absl::Status& status) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
    VLOG(1) << "rpc=events.Subscribe code=" << absl::StatusCodeToString(status.code());
    Finish(grpc_util::ToGrpcStatus(status));
  }

  std::atomic<int>* const live_;
  std::unique_ptr<Subscription> sub_;
  v1::SubscribeResponse response_;
  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

::grpc::ServerUnaryReactor* EventsService::Publish(::grpc::CallbackServerContext* ctx,
                                                   const v1::PublishRequest* req,
                                                   v1::PublishResponse*) {
  return Reply(ctx, "events.Publish", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, server::RequestNamespace(*ctx));
    return exchange_->PublishAny(ns, req->topic(), req->event());
  }());
}

::grpc::ServerUnaryReactor* EventsService::Forward(::grpc::CallbackServerContext* ctx,
                                                   const v1::ForwardRequest* req,
                                                   v1::ForwardResponse*) {
  return Reply(ctx, "events.Forward", [&]() -> absl::Status {
    if (!req->has_envelope()) return absl::InvalidArgumentError("envelope is unset");
    return exchange_->Forward(req->envelope());
  }());
}

::grpc::ServerWriteReactor<v1::SubscribeResponse>* EventsService::Subscribe(
    ::grpc::CallbackServerContext*, const v1::SubscribeRequest* req) {
  return new SubscribeReactor(exchange_, *req, &live_streams_);
}

}  // namespace berth::containerd::events
