// Every Prometheus metric family berth-registry exports, built once in main() against the
// daemon's registry and passed by reference (no global registries). berth_registry_build_info
// comes from //common/metrics:metrics_server's AddBuildInfo.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "registry/auth/access_controller.h"
#include "registry/http/server.h"
#include "registry/storage/observer.h"

namespace berth::registry {

class RegistryMetrics : public http::ServerObserver,
                        public storage::StorageObserver,
                        public auth::AuthObserver {
 public:
  explicit RegistryMetrics(prometheus::Registry& registry);

  // http::ServerObserver; thread-safe.
  void ConnectionOpened() override;
  void ConnectionClosed() override;
  void RequestDone(const RequestRecord& record) override;
  void TlsHandshakeFailed() override;
  // auth::AuthObserver; thread-safe.
  void AuthFailed(absl::string_view reason) override;
  // storage::StorageObserver; thread-safe.
  void BlobsStoredChanged(int64_t delta) override;
  void UploadsOpenChanged(int64_t delta) override;

  // HTTP API traffic. `route` is the router pattern (bounded), never the raw path.
  prometheus::Family<prometheus::Counter>& http_requests;            // {method, route, code}
  prometheus::Family<prometheus::Histogram>& http_request_duration;  // {method, route}
  prometheus::Family<prometheus::Counter>& http_request_bytes;       // {method, route}
  prometheus::Family<prometheus::Counter>& http_response_bytes;      // {method, route}
  prometheus::Gauge& http_connections_open;
  prometheus::Counter& tls_handshake_failures;
  // Requests refused by access control (API and /token), by a fixed reason label.
  prometheus::Family<prometheus::Counter>& auth_failures;  // {reason}
  // Storage.
  prometheus::Gauge& blobs_stored;
  prometheus::Gauge& uploads_in_progress;
};

}  // namespace berth::registry
