#include "registry/metrics.h"

#include <string>

#include "absl/time/time.h"

namespace berth::registry {
namespace {

// From a cached manifest (~1 ms) to a multi-GiB layer upload (minutes).
const prometheus::Histogram::BucketBoundaries& DurationBuckets() {
  static const auto* const kBuckets = new prometheus::Histogram::BucketBoundaries{
      0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
  return *kBuckets;
}

}  // namespace

RegistryMetrics::RegistryMetrics(prometheus::Registry& registry)
    : http_requests(prometheus::BuildCounter()
                        .Name("berth_registry_http_requests_total")
                        .Help("HTTP requests finished, by method, route pattern and status code "
                              "(499: the client went away first).")
                        .Register(registry)),
      http_request_duration(prometheus::BuildHistogram()
                                .Name("berth_registry_http_request_duration_seconds")
                                .Help("Time from a request's head arriving to its response's "
                                      "last byte being sent.")
                                .Register(registry)),
      http_request_bytes(prometheus::BuildCounter()
                             .Name("berth_registry_http_request_bytes_total")
                             .Help("Request body bytes received (after de-chunking).")
                             .Register(registry)),
      http_response_bytes(prometheus::BuildCounter()
                              .Name("berth_registry_http_response_bytes_total")
                              .Help("Response body bytes sent (headers not counted).")
                              .Register(registry)),
      http_connections_open(prometheus::BuildGauge()
                                .Name("berth_registry_http_connections_open")
                                .Help("HTTP connections currently open.")
                                .Register(registry)
                                .Add({})),
      tls_handshake_failures(prometheus::BuildCounter()
                                 .Name("berth_registry_tls_handshake_failures_total")
                                 .Help("TLS handshakes that failed or timed out (plain HTTP "
                                       "to the TLS port, clients not trusting the certificate).")
                                 .Register(registry)
                                 .Add({})),
      auth_failures(prometheus::BuildCounter()
                        .Name("berth_registry_auth_failures_total")
                        .Help("Requests refused by access control, by reason: no_credentials, "
                              "bad_credentials, denied (403), insufficient_scope, or why a "
                              "bearer token was invalid (expired_token, bad_signature, "
                              "untrusted_key, wrong_audience, wrong_issuer, ...).")
                        .Register(registry)),
      blobs_stored(prometheus::BuildGauge()
                       .Name("berth_registry_blobs_stored")
                       .Help("Blobs in the content store (layers, configs and manifests, each "
                             "counted once however many repositories link it).")
                       .Register(registry)
                       .Add({})),
      uploads_in_progress(prometheus::BuildGauge()
                              .Name("berth_registry_uploads_in_progress")
                              .Help("Blob upload sessions started and not yet finished, "
                                    "cancelled or expired.")
                              .Register(registry)
                              .Add({})) {}

void RegistryMetrics::ConnectionOpened() { http_connections_open.Increment(); }

void RegistryMetrics::ConnectionClosed() { http_connections_open.Decrement(); }

void RegistryMetrics::TlsHandshakeFailed() { tls_handshake_failures.Increment(); }

void RegistryMetrics::AuthFailed(absl::string_view reason) {
  auth_failures.Add({{"reason", std::string(reason)}}).Increment();
}

void RegistryMetrics::BlobsStoredChanged(int64_t delta) {
  blobs_stored.Increment(static_cast<double>(delta));
}

void RegistryMetrics::UploadsOpenChanged(int64_t delta) {
  uploads_in_progress.Increment(static_cast<double>(delta));
}

void RegistryMetrics::RequestDone(const RequestRecord& r) {
  const std::string method(r.method);
  const std::string route(r.route);
  http_requests.Add({{"method", method}, {"route", route}, {"code", std::to_string(r.status)}})
      .Increment();
  http_request_duration.Add({{"method", method}, {"route", route}}, DurationBuckets())
      .Observe(absl::ToDoubleSeconds(r.duration));
  http_request_bytes.Add({{"method", method}, {"route", route}})
      .Increment(static_cast<double>(r.request_body_bytes));
  http_response_bytes.Add({{"method", method}, {"route", route}})
      .Increment(static_cast<double>(r.response_body_bytes));
}

}  // namespace berth::registry
