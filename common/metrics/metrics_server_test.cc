#include "common/metrics/metrics_server.h"

#include <prometheus/counter.h>

#include "common/testing/http_get.h"
#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace berth::metrics {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

TEST(MetricsServerTest, ServesRegistryAndProcessMetricsThatPromtoolAccepts) {
  auto registry = std::make_shared<prometheus::Registry>();
  AddBuildInfo(*registry, "test");
  prometheus::BuildCounter()
      .Name("berth_test_things_total")
      .Help("Things done.")
      .Register(*registry)
      .Add({{"kind", "a"}})
      .Increment(3);
  auto server = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_THAT(server, IsOk());
  EXPECT_NE((*server)->address(), "127.0.0.1:0") << "port 0 must resolve to the bound port";

  auto resp = berth::testing::HttpGet((*server)->address(), "/metrics");
  ASSERT_THAT(resp, IsOk());
  EXPECT_EQ(resp->status, 200);
  EXPECT_THAT(resp->body, HasSubstr("berth_test_things_total{kind=\"a\"} 3"));
  EXPECT_THAT(resp->body, HasSubstr("berth_test_build_info{"));
  EXPECT_THAT(resp->body, HasSubstr("process_resident_memory_bytes "));
  EXPECT_THAT(resp->body, HasSubstr("process_open_fds "));
  EXPECT_THAT(berth::testing::PromtoolCheckMetrics(resp->body), IsOk());
}

TEST(MetricsServerTest, RejectsMalformedAddress) {
  auto registry = std::make_shared<prometheus::Registry>();
  EXPECT_THAT(MetricsServer::Start("localhost", registry),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("host:port")));
  EXPECT_THAT(MetricsServer::Start("127.0.0.1:99999", registry),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(MetricsServerTest, BusyPortIsUnavailable) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto first = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_THAT(first, IsOk());
  EXPECT_THAT(MetricsServer::Start((*first)->address(), registry),
              StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace berth::metrics
