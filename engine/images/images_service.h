// gRPC adapter for berth.engine.v1.Images (proto/berth/engine/v1/images.proto) over the
// ImageStore (local image RPCs: List, Inspect, History, Tag, Remove, Prune, Save, Load,
// Import) and a Distribution (registry RPCs: Pull, Push, Login, InspectDistribution). Without a
// Distribution the registry RPCs answer UNIMPLEMENTED; Search always does.
//
// Unary calls and Save run their (blocking) berth-containerd calls on gRPC's callback
// threads. Import and Load read the client's stream into a ChunkPipe and run the import on a
// worker thread owned by the call's reactor (joined when the call is done). Pull and Push run
// the transfer on such a worker thread too, relaying its messages through a bounded queue
// (the transfer pauses while the client lags) and cancelling it when the client goes away.
// Login and InspectDistribution talk to a registry, so they run on the service's executor.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "berth/engine/v1/images.grpc.pb.h"
#include "common/executor/blocking_executor.h"
#include "engine/images/distribution.h"
#include "engine/images/image_store.h"

namespace berth::engine::images {

// Receives image events (berthd's event journal) as dockerd's LogImageEvent names them:
// "tag", "untag", "delete", "import", "load", "save", and "prune" (id "", attribute
// "reclaimed" in bytes), with the image id and the attributes "name" (the new reference for
// "tag", the image id otherwise, as in Docker) plus the image's config labels while it still
// exists. "pull" and "push" carry the familiar reference as id and its familiar name as
// "name" ("busybox:latest", "busybox"), as dockerd's do. Called after the operation succeeded, on gRPC or worker threads; must not block.
using ImageEventSink = std::function<void(const std::string& action, const std::string& id,
                                          std::map<std::string, std::string> attributes)>;

class ImagesService final : public v1::Images::CallbackService {
 public:
  // `store` and `distribution` are not owned and must outlive the service. `events` may be
  // empty (no events); `distribution` may be null (registry RPCs answer UNIMPLEMENTED).
  explicit ImagesService(ImageStore* store, ImageEventSink events = nullptr,
                         Distribution* distribution = nullptr)
      : store_(store), events_(std::move(events)), distribution_(distribution) {}

  ::grpc::ServerUnaryReactor* List(::grpc::CallbackServerContext* ctx,
                                   const v1::ListImagesRequest* req,
                                   v1::ListImagesResponse* resp) override;
  ::grpc::ServerUnaryReactor* Inspect(::grpc::CallbackServerContext* ctx,
                                      const v1::InspectImageRequest* req,
                                      v1::InspectImageResponse* resp) override;
  ::grpc::ServerUnaryReactor* History(::grpc::CallbackServerContext* ctx,
                                      const v1::ImageHistoryRequest* req,
                                      v1::ImageHistoryResponse* resp) override;
  ::grpc::ServerUnaryReactor* Tag(::grpc::CallbackServerContext* ctx,
                                  const v1::TagImageRequest* req,
                                  v1::TagImageResponse* resp) override;
  ::grpc::ServerUnaryReactor* Remove(::grpc::CallbackServerContext* ctx,
                                     const v1::RemoveImageRequest* req,
                                     v1::RemoveImageResponse* resp) override;
  ::grpc::ServerUnaryReactor* Prune(::grpc::CallbackServerContext* ctx,
                                    const v1::PruneImagesRequest* req,
                                    v1::PruneImagesResponse* resp) override;
  ::grpc::ServerWriteReactor<v1::SaveImagesResponse>* Save(
      ::grpc::CallbackServerContext* ctx, const v1::SaveImagesRequest* req) override;
  ::grpc::ServerBidiReactor<v1::LoadImagesRequest, v1::LoadImagesResponse>* Load(
      ::grpc::CallbackServerContext* ctx) override;
  ::grpc::ServerReadReactor<v1::ImportImageRequest>* Import(::grpc::CallbackServerContext* ctx,
                                                            v1::ImportImageResponse* resp) override;

  ::grpc::ServerWriteReactor<v1::PullImageResponse>* Pull(::grpc::CallbackServerContext* ctx,
                                                          const v1::PullImageRequest* req) override;
  ::grpc::ServerWriteReactor<v1::PushImageResponse>* Push(::grpc::CallbackServerContext* ctx,
                                                          const v1::PushImageRequest* req) override;
  ::grpc::ServerUnaryReactor* InspectDistribution(::grpc::CallbackServerContext* ctx,
                                                  const v1::InspectDistributionRequest* req,
                                                  v1::InspectDistributionResponse* resp) override;
  ::grpc::ServerUnaryReactor* Search(::grpc::CallbackServerContext* ctx,
                                     const v1::SearchImagesRequest* req,
                                     v1::SearchImagesResponse* resp) override;
  ::grpc::ServerUnaryReactor* Login(::grpc::CallbackServerContext* ctx, const v1::LoginRequest* req,
                                    v1::LoginResponse* resp) override;

 private:
  ImageStore* const store_;
  const ImageEventSink events_;
  Distribution* const distribution_;
  // Login and InspectDistribution; declared last so it is joined before the rest goes.
  executor::BlockingExecutor executor_;
};

}  // namespace berth::engine::images
