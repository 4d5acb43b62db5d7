// gRPC adapter for berth.containerd.images.v1.Images (proto/berth/containerd/images/v1/
// images.proto) over the metadata store's image records: name -> target descriptor, labels.
// It stores records only; resolving, pulling and unpacking are berthd's (see the proto).
#pragma once

#include <functional>

#include "absl/status/status.h"
#include "berth/containerd/images/v1/images.grpc.pb.h"
#include "common/executor/blocking_executor.h"
#include "containerd/events/publisher.h"
#include "containerd/metadata/store.h"

namespace berth::containerd::images {

struct ImagesServiceOptions {
  // Receives /images/create, /images/update and /images/delete. Not owned; required.
  events::Publisher* publisher = nullptr;
  // Runs one garbage collection to completion; called by Delete with sync=true after the
  // record is gone. TODO(#4): berth-containerd wires the collector once it exists; until then
  // it is unset and a sync Delete returns right after the deletion, like an async one (nothing
  // is collected in the background yet either, so the two behave alike).
  std::function<absl::Status()> collect_garbage;
};

class ImagesService final : public v1::Images::CallbackService {
 public:
  // `metadata` is not owned and must outlive the service.
  ImagesService(metadata::Store* metadata, ImagesServiceOptions options);

  ::grpc::ServerUnaryReactor* Get(::grpc::CallbackServerContext* ctx, const v1::GetRequest* req,
                                  v1::GetResponse* resp) override;
  ::grpc::ServerUnaryReactor* List(::grpc::CallbackServerContext* ctx, const v1::ListRequest* req,
                                   v1::ListResponse* resp) override;
  ::grpc::ServerUnaryReactor* Create(::grpc::CallbackServerContext* ctx,
                                     const v1::CreateRequest* req,
                                     v1::CreateResponse* resp) override;
  ::grpc::ServerUnaryReactor* Update(::grpc::CallbackServerContext* ctx,
                                     const v1::UpdateRequest* req,
                                     v1::UpdateResponse* resp) override;
  ::grpc::ServerUnaryReactor* Delete(::grpc::CallbackServerContext* ctx,
                                     const v1::DeleteRequest* req,
                                     v1::DeleteResponse* resp) override;

 private:
  void Publish(const std::string& ns, const char* topic, const google::protobuf::Message& event);

  metadata::Store* const metadata_;
  const ImagesServiceOptions options_;
  // Runs the handlers that block (server::ReplyOffThread). Last member: destroyed first, it
  // waits for their threads while everything they use still exists.
  executor::BlockingExecutor blocking_;
};

}  // namespace berth::containerd::images
