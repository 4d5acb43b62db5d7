// gRPC adapter for berth.containerd.content.v1.Content (proto/berth/containerd/content/v1/
// content.proto) over a NamespacedStore, with the callback API: unary calls finish inline,
// List and Read are server-streaming write reactors, Write is a bidi reactor that answers each
// request before reading the next (the proto's "one response per request, in order").
//
// The handlers run the store's disk and SQLite work on gRPC's callback threads. That work is
// short per message (a chunk of at most 1 MiB, one transaction), except the fsync at COMMIT;
// if commits of large blobs ever starve other calls, move Write's Commit to an owned pool.
#pragma once

#include "berth/containerd/content/v1/content.grpc.pb.h"
#include "common/executor/blocking_executor.h"
#include "containerd/content/namespaced_store.h"
#include "containerd/events/publisher.h"

namespace berth::containerd::content {

// Largest data chunk of a Read response (the proto promises at most 1 MiB).
inline constexpr int64_t kReadChunkSize = 1 << 20;

class ContentService final : public v1::Content::CallbackService {
 public:
  // Neither is owned; both must outlive the service (and the server running it).
  ContentService(NamespacedStore* store, events::Publisher* publisher)
      : store_(store), publisher_(publisher) {}

  ::grpc::ServerUnaryReactor* Info(::grpc::CallbackServerContext* ctx, const v1::InfoRequest* req,
                                   v1::InfoResponse* resp) override;
  ::grpc::ServerUnaryReactor* Update(::grpc::CallbackServerContext* ctx,
                                     const v1::UpdateRequest* req,
                                     v1::UpdateResponse* resp) override;
  ::grpc::ServerWriteReactor<v1::ListResponse>* List(::grpc::CallbackServerContext* ctx,
                                                     const v1::ListRequest* req) override;
  ::grpc::ServerUnaryReactor* Delete(::grpc::CallbackServerContext* ctx,
                                     const v1::DeleteRequest* req,
                                     v1::DeleteResponse* resp) override;
  ::grpc::ServerWriteReactor<v1::ReadResponse>* Read(::grpc::CallbackServerContext* ctx,
                                                     const v1::ReadRequest* req) override;
  ::grpc::ServerUnaryReactor* Status(::grpc::CallbackServerContext* ctx,
                                     const v1::StatusRequest* req,
                                     v1::StatusResponse* resp) override;
  ::grpc::ServerUnaryReactor* ListStatuses(::grpc::CallbackServerContext* ctx,
                                           const v1::ListStatusesRequest* req,
                                           v1::ListStatusesResponse* resp) override;
  ::grpc::ServerBidiReactor<v1::WriteRequest, v1::WriteResponse>* Write(
      ::grpc::CallbackServerContext* ctx) override;
  ::grpc::ServerUnaryReactor* Abort(::grpc::CallbackServerContext* ctx, const v1::AbortRequest* req,
                                    v1::AbortResponse* resp) override;

 private:
  NamespacedStore* const store_;
  events::Publisher* const publisher_;
  // Runs the handlers that block (server::ReplyOffThread). Last member: destroyed first, it
  // waits for their threads while everything they use still exists.
  executor::BlockingExecutor blocking_;
};

}  // namespace berth::containerd::content
