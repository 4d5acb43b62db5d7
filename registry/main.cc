// berth-registry: an OCI distribution registry daemon. This skeleton serves the API version
// check (GET /v2/), answers the rest of /v2/ as an empty registry, exports Prometheus metrics
// and drains on SIGTERM; storage and the push/pull API come next.
#include <memory>
#include <string>
#include <vector>

#include <prometheus/registry.h>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "common/fs/fs.h"
#include "common/init/init.h"
#include "common/metrics/metrics_server.h"
#include "common/status/status_macros.h"
#include "common/version/version.h"
#include "glog/logging.h"
#include "registry/api/routes.h"
#include "registry/http/router.h"
#include "registry/http/server.h"
#include "registry/metrics.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:5000",
          "host:port for the registry HTTP API; port 0 picks a free port");
ABSL_FLAG(std::string, root, "/var/lib/berth-registry",
          "directory holding the registry's content (created with mode 0700 if missing)");
ABSL_FLAG(std::string, metrics_addr, "127.0.0.1:5001", "host:port serving /metrics");
ABSL_FLAG(std::string, config, "",
          "path of a configuration file; it must be readable, but no setting is read from it "
          "yet (flags are the only configuration for now)");

namespace berth::registry {
namespace {

constexpr char kUsage[] =
    "berth-registry [--listen=host:port] [--root=dir] [--metrics-addr=host:port] "
    "[--config=file]\n\nServes the OCI distribution API.";

absl::Status Run() {
  const std::string config = absl::GetFlag(FLAGS_config);
  if (!config.empty()) {
    // Optional, and nothing is read from it yet; but naming a file that cannot be read is a
    // mistake worth failing on now rather than when settings start coming from it.
    BERTH_RETURN_IF_ERROR(fs::ReadFile(config).status(), "--config");
  }
  const std::string root = absl::GetFlag(FLAGS_root);
  // 0700: registry content and upload state are private to the daemon.
  BERTH_RETURN_IF_ERROR(fs::MakeDirs(root, 0700), "create --root");

  auto prometheus_registry = std::make_shared<prometheus::Registry>();
  RegistryMetrics metrics(*prometheus_registry);
  metrics::AddBuildInfo(*prometheus_registry, "registry");

  http::Router router;
  BERTH_RETURN_IF_ERROR(api::RegisterRoutes(router));
  http::ServerOptions options;
  options.address = absl::GetFlag(FLAGS_listen);
  options.observer = &metrics;
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<http::Server> server,
                         http::Server::Start(options, router));
  LOG(INFO) << "registry listening address=" << server->address();
  BERTH_ASSIGN_OR_RETURN(
      auto metrics_server,
      metrics::MetricsServer::Start(absl::GetFlag(FLAGS_metrics_addr), prometheus_registry));
  LOG(INFO) << "registry started version=" << kVersion << " root=" << root;

  WaitForTerminationSignal();
  server->Stop();
  LOG(INFO) << "registry stopped";
  return absl::OkStatus();
}

}  // namespace
}  // namespace berth::registry

int main(int argc, char** argv) {
  const std::vector<char*> positional = berth::InitProcess(argc, argv, berth::registry::kUsage);
  if (positional.size() > 1) {
    LOG(ERROR) << "berth-registry: unexpected argument \"" << positional[1]
               << "\" (all settings are --flags)";
    return 2;
  }
  absl::Status s = berth::registry::Run();
  if (!s.ok()) {
    LOG(ERROR) << "berth-registry: " << s.message();
    return 1;
  }
  return 0;
}
