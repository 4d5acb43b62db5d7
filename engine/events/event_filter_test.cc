#include "engine/events/event_filter.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::engine::events {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

google::protobuf::RepeatedPtrField<v1::Filter> Filters(
    std::vector<std::pair<std::string, std::string>> kvs) {
  google::protobuf::RepeatedPtrField<v1::Filter> out;
  for (auto& [k, v] : kvs) {
    v1::Filter* f = out.Add();
    f->set_key(k);
    f->set_value(v);
  }
  return out;
}

EventFilter MustParse(std::vector<std::pair<std::string, std::string>> kvs) {
  auto f = EventFilter::Parse(Filters(std::move(kvs)));
  EXPECT_THAT(f, IsOk());
  return f.ok() ? *f : EventFilter();
}

Event Container(const std::string& action, const std::string& id, const std::string& name,
                const std::string& image, std::map<std::string, std::string> extra = {}) {
  Event e;
  e.type = v1::EVENT_TYPE_CONTAINER;
  e.action = action;
  e.actor_id = id;
  e.attributes = std::move(extra);
  e.attributes["name"] = name;
  e.attributes["image"] = image;
  return e;
}

Event Image(const std::string& action, const std::string& id, const std::string& name) {
  Event e;
  e.type = v1::EVENT_TYPE_IMAGE;
  e.action = action;
  e.actor_id = id;
  e.attributes["name"] = name;
  return e;
}

const Event kWebStart = Container("start", "3f2a9c", "web", "busybox", {{"tier", "front"}});
const Event kDbDie = Container("die", "77b1e0", "db", "docker.io/library/postgres:16",
                               {{"exitCode", "0"}, {"tier", "back"}});
const Event kTag = Image("tag", "sha256:aaaa", "busybox:1.36");
const Event kDelete = Image("delete", "sha256:bbbb", "sha256:bbbb");

TEST(EventFilterTest, EmptyMatchesEverything) {
  EventFilter f = MustParse({});
  for (const Event& e : {kWebStart, kDbDie, kTag, kDelete}) EXPECT_TRUE(f.Matches(e));
}

TEST(EventFilterTest, RejectsUnknownKeysTypesAndEmptyLabels) {
  EXPECT_THAT(EventFilter::Parse(Filters({{"status", "running"}})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid filter 'status'")));
  EXPECT_THAT(EventFilter::Parse(Filters({{"type", "planet"}})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("type=planet")));
  EXPECT_THAT(EventFilter::Parse(Filters({{"label", ""}})),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(EventFilter::Parse(Filters({{"label", "=v"}})),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(EventFilterTest, TypeValuesAreOred) {
  EventFilter f = MustParse({{"type", "container"}});
  EXPECT_TRUE(f.Matches(kWebStart));
  EXPECT_FALSE(f.Matches(kTag));
  f = MustParse({{"type", "image"}, {"type", "container"}});
  EXPECT_TRUE(f.Matches(kWebStart));
  EXPECT_TRUE(f.Matches(kTag));
  f = MustParse({{"type", "volume"}});
  EXPECT_FALSE(f.Matches(kWebStart));
}

TEST(EventFilterTest, EventIsTheActionExactlyOrExecPrefix) {
  EventFilter f = MustParse({{"event", "die"}, {"event", "tag"}});
  EXPECT_FALSE(f.Matches(kWebStart));
  EXPECT_TRUE(f.Matches(kDbDie));
  EXPECT_TRUE(f.Matches(kTag));
  EXPECT_FALSE(MustParse({{"event", "sta"}}).Matches(kWebStart));
  Event exec = Container("exec_start: sh -c true", "3f2a9c", "web", "busybox");
  EXPECT_TRUE(MustParse({{"event", "exec_start"}}).Matches(exec));
}

TEST(EventFilterTest, ContainerByIdPrefixOrNameAndExcludesOtherObjects) {
  EXPECT_TRUE(MustParse({{"container", "3f2"}}).Matches(kWebStart));
  EXPECT_TRUE(MustParse({{"container", "web"}}).Matches(kWebStart));
  EXPECT_FALSE(MustParse({{"container", "db"}}).Matches(kWebStart));
  EventFilter either = MustParse({{"container", "db"}, {"container", "web"}});
  EXPECT_TRUE(either.Matches(kWebStart));
  EXPECT_TRUE(either.Matches(kDbDie));
  // As in Docker, a container filter lets no image event through.
  EXPECT_FALSE(either.Matches(kTag));
}

TEST(EventFilterTest, ImageMatchesIdNameAndTheirFamiliarForms) {
  // Image events: id or "name".
  EXPECT_TRUE(MustParse({{"image", "sha256:aaaa"}}).Matches(kTag));
  EXPECT_TRUE(MustParse({{"image", "busybox:1.36"}}).Matches(kTag));
  EXPECT_TRUE(MustParse({{"image", "busybox"}}).Matches(kTag));
  EXPECT_FALSE(MustParse({{"image", "busybox:1.35"}}).Matches(kTag));
  // Container events: their "image" attribute.
  EXPECT_TRUE(MustParse({{"image", "busybox"}}).Matches(kWebStart));
  EXPECT_TRUE(MustParse({{"image", "busybox:latest"}}).Matches(kWebStart));
  EXPECT_TRUE(MustParse({{"image", "postgres"}}).Matches(kDbDie));
  EXPECT_TRUE(MustParse({{"image", "postgres:16"}}).Matches(kDbDie));
  EXPECT_FALSE(MustParse({{"image", "postgres:15"}}).Matches(kDbDie));
  EXPECT_FALSE(MustParse({{"image", "busybox"}}).Matches(kDbDie));
}

TEST(EventFilterTest, LabelKeyOrKeyValueOred) {
  EXPECT_TRUE(MustParse({{"label", "tier"}}).Matches(kWebStart));
  EXPECT_TRUE(MustParse({{"label", "tier=front"}}).Matches(kWebStart));
  EXPECT_FALSE(MustParse({{"label", "tier=back"}}).Matches(kWebStart));
  EXPECT_FALSE(MustParse({{"label", "owner"}}).Matches(kWebStart));
  EventFilter f = MustParse({{"label", "tier=back"}, {"label", "tier=front"}});
  EXPECT_TRUE(f.Matches(kWebStart));
  EXPECT_TRUE(f.Matches(kDbDie));
  EXPECT_FALSE(f.Matches(kTag));
}

TEST(EventFilterTest, DifferentKeysAreAnded) {
  EventFilter f = MustParse({{"type", "container"}, {"event", "die"}});
  EXPECT_TRUE(f.Matches(kDbDie));
  EXPECT_FALSE(f.Matches(kWebStart));
  f = MustParse({{"event", "die"}, {"container", "web"}});
  EXPECT_FALSE(f.Matches(kDbDie));
  EXPECT_FALSE(f.Matches(kWebStart));
}

TEST(EventFilterTest, VolumeNetworkDaemonMatchTheirActor) {
  Event vol;
  vol.type = v1::EVENT_TYPE_VOLUME;
  vol.action = "create";
  vol.actor_id = "data";
  Event daemon;
  daemon.type = v1::EVENT_TYPE_DAEMON;
  daemon.action = "reload";
  daemon.actor_id = "ENGINEID";
  daemon.attributes["name"] = "host1";
  EXPECT_TRUE(MustParse({{"volume", "data"}}).Matches(vol));
  EXPECT_FALSE(MustParse({{"volume", "logs"}}).Matches(vol));
  EXPECT_FALSE(MustParse({{"network", "data"}}).Matches(kWebStart));
  EXPECT_TRUE(MustParse({{"daemon", "host1"}}).Matches(daemon));
  EXPECT_TRUE(MustParse({{"daemon", "ENGINE"}}).Matches(daemon));
  EXPECT_FALSE(MustParse({{"daemon", "host2"}}).Matches(daemon));
}

TEST(EventTest, TypeNamesRoundTrip) {
  for (v1::EventType t : {v1::EVENT_TYPE_CONTAINER, v1::EVENT_TYPE_IMAGE, v1::EVENT_TYPE_VOLUME,
                          v1::EVENT_TYPE_NETWORK, v1::EVENT_TYPE_DAEMON, v1::EVENT_TYPE_BUILDER}) {
    v1::EventType back = v1::EVENT_TYPE_UNSPECIFIED;
    ASSERT_TRUE(ParseTypeName(TypeName(t), &back)) << TypeName(t);
    EXPECT_EQ(back, t);
  }
  v1::EventType t;
  EXPECT_FALSE(ParseTypeName("", &t));
  EXPECT_EQ(TypeName(v1::EVENT_TYPE_UNSPECIFIED), "");
}

TEST(EventTest, ToProtoCarriesEveryField) {
  Event e = kDbDie;
  e.time = absl::FromUnixNanos(1714564800123456789);
  v1::Event p = ToProto(e);
  EXPECT_EQ(p.type(), v1::EVENT_TYPE_CONTAINER);
  EXPECT_EQ(p.action(), "die");
  EXPECT_EQ(p.actor_id(), "77b1e0");
  EXPECT_EQ(p.attributes().at("exitCode"), "0");
  EXPECT_EQ(p.attributes().at("name"), "db");
  EXPECT_EQ(p.time().seconds(), 1714564800);
  EXPECT_EQ(p.time().nanos(), 123456789);
}

}  // namespace
}  // namespace berth::engine::events
