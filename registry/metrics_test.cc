#include "registry/metrics.h"

#include <prometheus/text_serializer.h>

#include "common/testing/http_get.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::registry {
namespace {

using ::berth::testing::IsOk;
using ::testing::HasSubstr;

TEST(RegistryMetricsTest, RecordsRequestsAndPassesPromtool) {
  prometheus::Registry registry;
  RegistryMetrics metrics(registry);
  metrics.ConnectionOpened();
  metrics.ConnectionOpened();
  metrics.ConnectionClosed();
  http::ServerObserver::RequestRecord r;
  r.method = "GET";
  r.route = "/v2/";
  r.status = 200;
  r.duration = absl::Milliseconds(3);
  r.response_body_bytes = 2;
  metrics.RequestDone(r);
  r.method = "PUT";
  r.route = "/v2/{name...}/blobs/uploads/{uuid}";
  r.status = 499;
  r.request_body_bytes = 1000;
  r.response_body_bytes = 0;
  metrics.RequestDone(r);

  metrics.BlobsStoredChanged(5);
  metrics.BlobsStoredChanged(-2);
  metrics.UploadsOpenChanged(2);
  metrics.UploadsOpenChanged(-1);
  metrics.AuthFailed("denied");
  metrics.AuthFailed("expired_token");
  metrics.AuthFailed("denied");
  metrics.TlsHandshakeFailed();

  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_THAT(text, HasSubstr("berth_registry_blobs_stored 3"));
  EXPECT_THAT(text, HasSubstr("berth_registry_uploads_in_progress 1"));
  EXPECT_THAT(
      text,
      HasSubstr(R"(berth_registry_http_requests_total{code="200",method="GET",route="/v2/"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(code="499",method="PUT")"));
  EXPECT_THAT(text, HasSubstr("berth_registry_http_connections_open 1"));
  EXPECT_THAT(text, HasSubstr(R"(berth_registry_http_request_bytes_total{method="PUT",)"
                              R"(route="/v2/{name...}/blobs/uploads/{uuid}"} 1000)"));
  EXPECT_THAT(
      text, HasSubstr(R"(berth_registry_http_response_bytes_total{method="GET",route="/v2/"} 2)"));
  EXPECT_THAT(text, HasSubstr("berth_registry_http_request_duration_seconds_bucket{"));
  EXPECT_THAT(text, HasSubstr(R"(berth_registry_auth_failures_total{reason="denied"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(berth_registry_auth_failures_total{reason="expired_token"} 1)"));
  EXPECT_THAT(text, HasSubstr("berth_registry_tls_handshake_failures_total 1"));
  EXPECT_THAT(berth::testing::PromtoolCheckMetrics(text), IsOk());
}

}  // namespace
}  // namespace berth::registry
