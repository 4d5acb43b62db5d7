// The families berth-containerd registers: names, fixed label sets, and an exposition that
// promtool accepts.
#include "containerd/metrics/metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

#include "common/testing/http_get.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::metrics {
namespace {

using ::berth::testing::IsOk;
using ::testing::HasSubstr;

std::string Expose(prometheus::Registry& registry) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry.Collect());
  return out.str();
}

TEST(ContainerdMetricsTest, ExpositionHasEveryFamilyAndPassesPromtool) {
  prometheus::Registry registry;
  ContainerdMetrics m(registry);
  m.events_published.Add({{"topic", "/images/create"}}).Increment();
  m.events_dropped.Add({{"topic", "/tasks/exit"}}).Increment(3);
  m.events_subscribers.Set(2);
  m.gc_runs.Add({{"result", "ok"}}).Increment();
  m.gc_duration.Observe(0.004);
  m.gc_removed.Add({{"type", "blob_file"}}).Increment(5);
  m.content_blobs.Set(7);
  m.content_bytes.Set(1024);

  const std::string text = Expose(registry);
  EXPECT_THAT(text,
              HasSubstr("berth_containerd_events_published_total{topic=\"/images/create\"} 1"));
  EXPECT_THAT(text, HasSubstr("berth_containerd_events_dropped_total{topic=\"/tasks/exit\"} 3"));
  EXPECT_THAT(text, HasSubstr("berth_containerd_events_subscribers 2"));
  EXPECT_THAT(text, HasSubstr("berth_containerd_events_subscribers_evicted_total 0"));
  EXPECT_THAT(text, HasSubstr("berth_containerd_gc_runs_total{result=\"ok\"} 1"));
  EXPECT_THAT(text, HasSubstr("berth_containerd_gc_runs_total{result=\"error\"} 0"));
  EXPECT_THAT(text, HasSubstr("berth_containerd_gc_duration_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr("berth_containerd_gc_removed_objects_total{type=\"blob_file\"} 5"));
  EXPECT_THAT(text, HasSubstr("berth_containerd_gc_removed_objects_total{type=\"lease\"} 0"));
  EXPECT_THAT(text, HasSubstr("berth_containerd_content_blobs 7"));
  EXPECT_THAT(text, HasSubstr("berth_containerd_content_bytes 1024"));
  EXPECT_THAT(berth::testing::PromtoolCheckMetrics(text), IsOk());
}

TEST(ContainerdMetricsTest, UnknownTopicsShareOneLabelValue) {
  EXPECT_EQ(ContainerdMetrics::TopicLabel("/tasks/exit"), "/tasks/exit");
  EXPECT_EQ(ContainerdMetrics::TopicLabel("/snapshot/remove"), "/snapshot/remove");
  EXPECT_EQ(ContainerdMetrics::TopicLabel("/my/own/topic"), "other");
  EXPECT_EQ(ContainerdMetrics::TopicLabel("/tasks/exit/"), "other");
}

}  // namespace
}  // namespace berth::containerd::metrics
