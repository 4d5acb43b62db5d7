// gRPC adapter for berth.containerd.containers.v1.Containers (proto/berth/containerd/containers/
// v1/containers.proto) over the metadata store's container records: what a container is made of
// (spec, runtime, image, rootfs snapshot key, labels, extensions). Records only: creating one
// starts nothing and deleting one stops nothing (tasks do that).
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "berth/containerd/containers/v1/containers.grpc.pb.h"
#include "common/executor/blocking_executor.h"
#include "containerd/events/publisher.h"
#include "containerd/metadata/store.h"

namespace berth::containerd::containers {

// The runtime a container gets when its runtime.name is empty.
inline constexpr char kDefaultRuntime[] = "berth-runc";

struct ContainersServiceOptions {
  // Receives /containers/create, /containers/update and /containers/delete. Not owned;
  // required.
  events::Publisher* publisher = nullptr;
  // Whether container `id` of namespace `ns` has a task; Delete refuses such a container with
  // FailedPrecondition. TODO(#4): the Tasks service provides it; unset means no container has
  // a task.
  std::function<absl::StatusOr<bool>(absl::string_view ns, absl::string_view id)> has_task;
};

class ContainersService final : public v1::Containers::CallbackService {
 public:
  // `metadata` is not owned and must outlive the service.
  ContainersService(metadata::Store* metadata, ContainersServiceOptions options);

  ::grpc::ServerUnaryReactor* Get(::grpc::CallbackServerContext* ctx, const v1::GetRequest* req,
                                  v1::GetResponse* resp) override;
  ::grpc::ServerUnaryReactor* List(::grpc::CallbackServerContext* ctx, const v1::ListRequest* req,
                                   v1::ListResponse* resp) override;
  ::grpc::ServerWriteReactor<v1::ListStreamResponse>* ListStream(
      ::grpc::CallbackServerContext* ctx, const v1::ListStreamRequest* req) override;
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
  // The namespace's containers matching `filters`, ordered by id.
  absl::StatusOr<std::vector<metadata::Container>> ListMatching(
      const ::grpc::CallbackServerContext& ctx,
      const google::protobuf::RepeatedPtrField<std::string>& filters);
  void Publish(const std::string& ns, const char* topic, const google::protobuf::Message& event);

  metadata::Store* const metadata_;
  const ContainersServiceOptions options_;
  // Runs the handlers that block (server::ReplyOffThread). Last member: destroyed first, it
  // waits for their threads while everything they use still exists.
  executor::BlockingExecutor blocking_;
};

}  // namespace berth::containerd::containers
