// TriggeringPublisher: every event passes through; deletions and updates ask for a collection.
#include "containerd/gc/triggering_publisher.h"

#include "berth/containerd/events/v1/payloads.pb.h"
#include "common/testing/status_matchers.h"
#include "containerd/events/fake_publisher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::gc {
namespace {

using ::berth::testing::IsOk;
using ::testing::SizeIs;

class CountingTrigger final : public Trigger {
 public:
  void RequestCollection() override { ++requests; }
  int requests = 0;
};

TEST(TriggeringPublisherTest, ForwardsEveryEventAndTriggersOnTopicsThatFreeThings) {
  events::FakePublisher next;
  CountingTrigger trigger;
  TriggeringPublisher publisher(&next, &trigger);
  const events::v1::ImageDelete payload;
  int expected = 0;
  for (const char* topic : {"/images/delete", "/images/update", "/containers/delete",
                            "/containers/update", "/content/delete", "/snapshot/remove"}) {
    ASSERT_THAT(publisher.Publish("default", topic, payload), IsOk());
    EXPECT_EQ(trigger.requests, ++expected) << topic;
  }
  for (const char* topic : {"/images/create", "/containers/create", "/snapshot/prepare",
                            "/snapshot/commit", "/tasks/exit", "/namespaces/delete"}) {
    ASSERT_THAT(publisher.Publish("default", topic, payload), IsOk());
    EXPECT_EQ(trigger.requests, expected) << topic;
  }
  ASSERT_THAT(next.events(), SizeIs(12));
  EXPECT_EQ(next.events()[0].topic, "/images/delete");
  EXPECT_EQ(next.events()[0].type, "berth.containerd.events.v1.ImageDelete");
}

}  // namespace
}  // namespace berth::containerd::gc
