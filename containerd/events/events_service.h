// gRPC adapter for berth.containerd.events.v1.Events (proto/berth/containerd/events/v1/
// events.proto) over an Exchange (exchange.h): Publish and Forward feed it, and each Subscribe
// stream is one Subscription, written one event at a time as the client reads them. A stream
// whose subscription is evicted for falling behind ends with RESOURCE_EXHAUSTED (exchange.h
// says why the subscriber is dropped rather than single events); a cancelled stream
// unregisters its subscription before its reactor is freed.
//
// Subscribe streams end only when the client cancels (or is evicted): a server Shutdown waits
// for them up to its drain timeout, then cancels them.
#pragma once

#include <atomic>

#include "berth/containerd/events/v1/events.grpc.pb.h"
#include "containerd/events/exchange.h"

namespace berth::containerd::events {

class EventsService final : public v1::Events::CallbackService {
 public:
  // `exchange` is not owned and must outlive the service and every stream it served.
  explicit EventsService(Exchange* exchange) : exchange_(exchange) {}

  ::grpc::ServerUnaryReactor* Publish(::grpc::CallbackServerContext* ctx,
                                      const v1::PublishRequest* req,
                                      v1::PublishResponse* resp) override;
  ::grpc::ServerUnaryReactor* Forward(::grpc::CallbackServerContext* ctx,
                                      const v1::ForwardRequest* req,
                                      v1::ForwardResponse* resp) override;
  ::grpc::ServerWriteReactor<v1::SubscribeResponse>* Subscribe(
      ::grpc::CallbackServerContext* ctx, const v1::SubscribeRequest* req) override;

  // Subscribe reactors not yet freed (for tests: a cancelled stream must not leak one).
  int live_streams() const { return live_streams_.load(); }

 private:
  Exchange* const exchange_;
  std::atomic<int> live_streams_{0};
};

}  // namespace berth::containerd::events
