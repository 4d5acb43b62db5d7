// MetricsServer serves a daemon's Prometheus registry at http://<address>/metrics, together
// with the standard process_* metrics (RSS, CPU, fds, start time) that every berth daemon
// exports so its footprint can be watched like any other service's.
#pragma once

#include <memory>
#include <string>

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::metrics {

class MetricsServer {
 public:
  // `address` is "host:port"; port 0 picks a free port (see address()). InvalidArgument for a
  // malformed address, Unavailable when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& address, std::shared_ptr<prometheus::Registry> registry);

  // The address actually bound, "host:port".
  const std::string& address() const { return address_; }

 private:
  MetricsServer() = default;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Collectable> process_;
  std::string address_;
};

// Collects process_resident_memory_bytes, process_virtual_memory_bytes,
// process_cpu_seconds_total, process_open_fds, process_start_time_seconds and
// process_threads from /proc/self.
std::shared_ptr<prometheus::Collectable> NewProcessCollector();

// Adds berth_<daemon>_build_info{version=...} = 1 to `registry`. `daemon` is the short name
// used in metric names ("engine", "containerd", "registry", "shim").
void AddBuildInfo(prometheus::Registry& registry, absl::string_view daemon);

}  // namespace berth::metrics
