// What berthd's Images service needs to talk to registries: pull, push, login and
// inspect-distribution, as one interface. engine/distribution implements it over libcurl and
// the images::Backend (berth-containerd's content store, snapshots and image records); the
// service (images_service.h) only relays the stream, so each side is tested on its own.
//
// Requests and responses are the engine API's own messages (proto/berth/engine/v1/images.proto):
// they already are the engine's vocabulary for these operations (references, AuthConfig,
// TransferProgress lines in Docker's order), and a second set of structs would only be copied
// field by field.
#pragma once

#include <atomic>
#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "berth/engine/v1/images.pb.h"

namespace berth::engine::images {

class Distribution {
 public:
  // Receives one stream message (a progress line or a result). Called on the operation's
  // thread, in order; it may block briefly (the service queues for its client).
  using PullSink = std::function<void(v1::PullImageResponse)>;
  using PushSink = std::function<void(v1::PushImageResponse)>;

  virtual ~Distribution() = default;

  // Pulls `req.reference` (any form Docker accepts: "busybox", "host:5000/a/b:tag",
  // "name@sha256:..."), sending progress lines and one result per pulled tag to `out`, then
  // returns OK. Errors: InvalidArgument (bad reference), NotFound (unknown repository or
  // manifest), Unauthenticated (credentials missing or rejected), PermissionDenied (registry
  // refused the scope), Unavailable (registry unreachable), FailedPrecondition (digest
  // mismatch, unsupported media type, no manifest for the platform), Cancelled once
  // `cancelled` is set (checked between chunks). Nothing half-pulled stays visible: the image
  // record appears only after every layer is verified and unpacked; content written before a
  // failure is held by a lease and reused by the next pull.
  virtual absl::Status Pull(const v1::PullImageRequest& req, const PullSink& out,
                            const std::atomic<bool>& cancelled) = 0;

  // Pushes the local image `req.reference` to its registry, same contract as Pull (NotFound
  // when the local image does not exist).
  virtual absl::Status Push(const v1::PushImageRequest& req, const PushSink& out,
                            const std::atomic<bool>& cancelled) = 0;

  // Checks `req.auth` against its registry (`server_address`, empty = Docker Hub): OK with
  // status "Login Succeeded" (and the identity token the registry issued, if any).
  virtual absl::StatusOr<v1::LoginResponse> Login(const v1::LoginRequest& req) = 0;

  // Resolves a reference in its registry without pulling.
  virtual absl::StatusOr<v1::InspectDistributionResponse> InspectDistribution(
      const v1::InspectDistributionRequest& req) = 0;
};

}  // namespace berth::engine::images
