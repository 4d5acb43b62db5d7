// gRPC adapter for berth.containerd.snapshots.v1.Snapshots (proto/berth/containerd/snapshots/v1/
// snapshots.proto) over Snapshotter implementations (snapshotter.h), picked per request by the
// `snapshotter` field ("" means "overlayfs"; an unknown name is InvalidArgument). It converts
// messages, applies the call's namespace and lease, and publishes /snapshot/* events; the
// semantics are the Snapshotter's.
//
// Leases: with `berth-lease` set, the snapshot a Prepare, View or Commit creates is added to
// the lease as ("snapshots/<snapshotter>", key or name) BEFORE the snapshot exists, so a garbage
// collection running in between can never see it unprotected. If the call then fails, the
// resource is taken out again unless the lease held it already.
//
// The handlers run on gRPC's callback threads. Usage of an active snapshot walks its tree (du);
// if that ever starves other calls, move it to an owned pool.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "berth/containerd/snapshots/v1/snapshots.grpc.pb.h"
#include "common/executor/blocking_executor.h"
#include "containerd/events/publisher.h"
#include "containerd/metadata/store.h"
#include "containerd/snapshots/snapshotter.h"

namespace berth::containerd::snapshots {

// The snapshotter a request with an empty `snapshotter` field uses.
inline constexpr char kDefaultSnapshotter[] = "overlayfs";

class SnapshotsService final : public v1::Snapshots::CallbackService {
 public:
  // `snapshotters` are served under their name(); none is owned. `metadata` holds the leases.
  // All must outlive the service (and the server running it).
  SnapshotsService(metadata::Store* metadata, const std::vector<Snapshotter*>& snapshotters,
                   events::Publisher* publisher);

  ::grpc::ServerUnaryReactor* Prepare(::grpc::CallbackServerContext* ctx,
                                      const v1::PrepareRequest* req,
                                      v1::PrepareResponse* resp) override;
  ::grpc::ServerUnaryReactor* View(::grpc::CallbackServerContext* ctx, const v1::ViewRequest* req,
                                   v1::ViewResponse* resp) override;
  ::grpc::ServerUnaryReactor* Mounts(::grpc::CallbackServerContext* ctx,
                                     const v1::MountsRequest* req,
                                     v1::MountsResponse* resp) override;
  ::grpc::ServerUnaryReactor* Commit(::grpc::CallbackServerContext* ctx,
                                     const v1::CommitRequest* req,
                                     v1::CommitResponse* resp) override;
  ::grpc::ServerUnaryReactor* Remove(::grpc::CallbackServerContext* ctx,
                                     const v1::RemoveRequest* req,
                                     v1::RemoveResponse* resp) override;
  ::grpc::ServerUnaryReactor* Stat(::grpc::CallbackServerContext* ctx, const v1::StatRequest* req,
                                   v1::StatResponse* resp) override;
  ::grpc::ServerUnaryReactor* Update(::grpc::CallbackServerContext* ctx,
                                     const v1::UpdateRequest* req,
                                     v1::UpdateResponse* resp) override;
  ::grpc::ServerUnaryReactor* Usage(::grpc::CallbackServerContext* ctx, const v1::UsageRequest* req,
                                    v1::UsageResponse* resp) override;
  ::grpc::ServerWriteReactor<v1::ListResponse>* List(::grpc::CallbackServerContext* ctx,
                                                     const v1::ListRequest* req) override;
  ::grpc::ServerUnaryReactor* Cleanup(::grpc::CallbackServerContext* ctx,
                                      const v1::CleanupRequest* req,
                                      v1::CleanupResponse* resp) override;

 private:
  // The snapshotter named `name` ("" -> kDefaultSnapshotter). InvalidArgument when unknown.
  absl::StatusOr<Snapshotter*> Find(const std::string& name) const;
  // Creates an active (Prepare) or view snapshot under the call's lease, if any.
  absl::StatusOr<std::vector<Mount>> Create(const ::grpc::CallbackServerContext& ctx,
                                            const std::string& ns, Snapshotter* sn, bool active,
                                            const std::string& key, const std::string& parent,
                                            const Labels& labels);
  // Runs `create` with `resource` held by `lease` (when set) from before it starts; a failed
  // `create` takes the resource out again unless the lease held it already. NotFound when the
  // lease does not exist (then `create` does not run).
  absl::Status UnderLease(const std::optional<std::string>& lease, const std::string& ns,
                          const metadata::LeaseResource& resource,
                          absl::FunctionRef<absl::Status()> create);
  void Publish(const std::string& ns, const char* topic, const google::protobuf::Message& event);

  metadata::Store* const metadata_;
  std::map<std::string, Snapshotter*, std::less<>> snapshotters_;
  events::Publisher* const publisher_;
  // Runs the handlers that block (server::ReplyOffThread). Last member: destroyed first, it
  // waits for their threads while everything they use still exists.
  executor::BlockingExecutor blocking_;
};

}  // namespace berth::containerd::snapshots
