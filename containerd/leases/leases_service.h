// gRPC adapter for berth.containerd.leases.v1.Leases (proto/berth/containerd/leases/v1/
// leases.proto) over the metadata store's leases and lease resources. Which calls add to a
// lease through the `berth-lease` header is up to those services (content Write, snapshots);
// this one manages the leases themselves.
#pragma once

#include <functional>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "berth/containerd/leases/v1/leases.grpc.pb.h"
#include "common/executor/blocking_executor.h"
#include "common/id/id.h"
#include "containerd/metadata/store.h"

namespace berth::containerd::leases {

struct LeasesServiceOptions {
  // Ids for Create requests that leave `id` empty. Not owned; null uses random ids.
  id::IdSource* ids = nullptr;
  // "Now" for a `ttl`: expires_at = clock() + ttl. Tests inject one.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Runs one garbage collection to completion; called by Delete with sync=true after the
  // lease is gone. TODO(#4): wired once the collector exists; unset, a sync Delete returns
  // right after the deletion.
  std::function<absl::Status()> collect_garbage;
};

class LeasesService final : public v1::Leases::CallbackService {
 public:
  // `metadata` is not owned and must outlive the service.
  LeasesService(metadata::Store* metadata, LeasesServiceOptions options);

  ::grpc::ServerUnaryReactor* Create(::grpc::CallbackServerContext* ctx,
                                     const v1::CreateRequest* req,
                                     v1::CreateResponse* resp) override;
  ::grpc::ServerUnaryReactor* Delete(::grpc::CallbackServerContext* ctx,
                                     const v1::DeleteRequest* req,
                                     v1::DeleteResponse* resp) override;
  ::grpc::ServerUnaryReactor* List(::grpc::CallbackServerContext* ctx, const v1::ListRequest* req,
                                   v1::ListResponse* resp) override;
  ::grpc::ServerUnaryReactor* AddResource(::grpc::CallbackServerContext* ctx,
                                          const v1::AddResourceRequest* req,
                                          v1::AddResourceResponse* resp) override;
  ::grpc::ServerUnaryReactor* DeleteResource(::grpc::CallbackServerContext* ctx,
                                             const v1::DeleteResourceRequest* req,
                                             v1::DeleteResourceResponse* resp) override;
  ::grpc::ServerUnaryReactor* ListResources(::grpc::CallbackServerContext* ctx,
                                            const v1::ListResourcesRequest* req,
                                            v1::ListResourcesResponse* resp) override;

 private:
  metadata::Store* const metadata_;
  const LeasesServiceOptions options_;
  id::RandomIdSource random_ids_;
  // Runs the handlers that block (server::ReplyOffThread). Last member: destroyed first, it
  // waits for their threads while everything they use still exists.
  executor::BlockingExecutor blocking_;
};

}  // namespace berth::containerd::leases
