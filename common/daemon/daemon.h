// The serve loop every berth gRPC daemon shares: a Prometheus registry with build info and
// per-RPC metrics, the metrics endpoint, the unix-socket gRPC server, and an orderly stop on
// SIGTERM/SIGINT (drain in-flight calls, remove the socket, stop the metrics endpoint).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>

#include "absl/status/status.h"
#include "common/grpc/server.h"
#include "common/grpc/server_metrics.h"

namespace berth::daemon {

class GrpcDaemon {
 public:
  // `metrics_name` is the daemon's short name in metric names: berth_<metrics_name>_...
  explicit GrpcDaemon(const std::string& metrics_name);

  // For the daemon's own metric families (see its metrics.h).
  prometheus::Registry& registry() { return *registry_; }

  // Starts /metrics on `metrics_address` and gRPC per `server` (its `metrics` field is set
  // here), then blocks until SIGTERM or SIGINT (berth::InitProcess must have run in daemon
  // mode). Returns OK after a clean stop, or why it could not start.
  absl::Status ServeUntilSignal(const std::string& metrics_address,
                                grpc_util::UnixServerOptions server,
                                const std::vector<::grpc::Service*>& services);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<grpc_util::GrpcServerMetrics> grpc_metrics_;
};

}  // namespace berth::daemon
