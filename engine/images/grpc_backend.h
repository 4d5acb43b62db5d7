// The Backend interfaces (backend.h) over berth-containerd's gRPC APIs: content, images,
// snapshots (overlayfs), diff, leases and containers. Each call carries the namespace
// (`berth-namespace`) and, where given, the lease (`berth-lease`) as metadata, and a deadline.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "engine/images/backend.h"

namespace berth::engine::images {

// The berth-containerd namespace berthd keeps its images and containers in (dockerd uses
// "moby" the same way).
inline constexpr char kEngineNamespace[] = "berth";

struct GrpcBackendOptions {
  std::string namespace_name = kEngineNamespace;
  // Deadline of short calls (metadata, small blobs).
  absl::Duration call_timeout = absl::Seconds(30);
  // Deadline of calls that move layer data (Diff.Apply, streaming reads and writes).
  absl::Duration data_timeout = absl::Minutes(30);
};

// Owns one client per service; backend() hands out the interfaces.
class GrpcBackend {
 public:
  GrpcBackend(std::shared_ptr<::grpc::Channel> channel, GrpcBackendOptions options = {});
  ~GrpcBackend();

  Backend backend();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::engine::images
