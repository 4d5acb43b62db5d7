#include "common/daemon/daemon.h"

#include "common/init/init.h"
#include "common/metrics/metrics_server.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"

namespace berth::daemon {

GrpcDaemon::GrpcDaemon(const std::string& metrics_name)
    : registry_(std::make_shared<prometheus::Registry>()) {
  metrics::AddBuildInfo(*registry_, metrics_name);
  grpc_metrics_ = grpc_util::GrpcServerMetrics::Register(*registry_, metrics_name);
}

absl::Status GrpcDaemon::ServeUntilSignal(const std::string& metrics_address,
                                          grpc_util::UnixServerOptions server,
                                          const std::vector<::grpc::Service*>& services) {
  BERTH_ASSIGN_OR_RETURN(auto metrics, metrics::MetricsServer::Start(metrics_address, registry_));
  server.metrics = grpc_metrics_.get();
  BERTH_ASSIGN_OR_RETURN(auto grpc_server, grpc_util::UnixGrpcServer::Start(server, services));
  LOG(INFO) << "ready socket=" << grpc_server->socket_path()
            << " metrics=" << metrics->address();
  WaitForTerminationSignal();
  grpc_server->Shutdown();
  return absl::OkStatus();
}

}  // namespace berth::daemon
