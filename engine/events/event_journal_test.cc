#include "engine/events/event_journal.h"

#include <sys/stat.h>

#include <atomic>
#include <optional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "common/fs/fs.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::engine::events {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1714564800);

// A clock the test moves by hand.
class FakeClock {
 public:
  absl::Time Now() {
    absl::MutexLock l(&mu_);
    return now_;
  }
  void Set(absl::Time t) {
    absl::MutexLock l(&mu_);
    now_ = t;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock l(&mu_);
    now_ += d;
  }
  std::function<absl::Time()> Fn() {
    return [this] { return Now(); };
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ = kT0;
};

// Collects what a subscription receives.
struct Collector {
  absl::Mutex mu;
  std::vector<Event> replayed ABSL_GUARDED_BY(mu);
  std::vector<Event> live ABSL_GUARDED_BY(mu);
  std::optional<absl::Status> end ABSL_GUARDED_BY(mu);

  EventHandlers Handlers() {
    EventHandlers h;
    h.replay = [this](const Event& e) {
      absl::MutexLock l(&mu);
      replayed.push_back(e);
      return true;
    };
    h.live = [this](const Event& e) {
      absl::MutexLock l(&mu);
      live.push_back(e);
      return true;
    };
    h.end = [this](const absl::Status& s) {
      absl::MutexLock l(&mu);
      end = s;
    };
    return h;
  }
  std::vector<std::string> Actions(bool of_live) {
    absl::MutexLock l(&mu);
    std::vector<std::string> out;
    for (const Event& e : of_live ? live : replayed) out.push_back(e.action + ":" + e.actor_id);
    return out;
  }
  std::optional<absl::Status> End() {
    absl::MutexLock l(&mu);
    return end;
  }
};

class EventJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::Create();
    ASSERT_THAT(d, IsOk());
    dir_.emplace(std::move(*d));
  }

  std::unique_ptr<EventJournal> Open(size_t ring = 1024, size_t file_bytes = 1 << 20,
                                     bool on_disk = true) {
    JournalOptions o;
    if (on_disk) o.path = dir_->Sub("events.log");
    o.ring_capacity = ring;
    o.max_file_bytes = file_bytes;
    o.clock = clock_.Fn();
    auto j = EventJournal::Open(o);
    EXPECT_THAT(j, IsOk());
    return j.ok() ? std::move(*j) : nullptr;
  }

  // Publishes a container event `action` for `id` one second after the previous one.
  void Pub(EventJournal& j, const std::string& action, const std::string& id,
           std::map<std::string, std::string> attrs = {}) {
    clock_.Advance(absl::Seconds(1));
    j.Publish(v1::EVENT_TYPE_CONTAINER, action, id, std::move(attrs));
  }

  static SubscribeOptions Since(absl::Time t) {
    SubscribeOptions o;
    o.since = t;
    return o;
  }

  FakeClock clock_;
  std::optional<TempDir> dir_;
};

std::vector<std::string> Actions(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const Event& e : events) out.push_back(e.action + ":" + e.actor_id);
  return out;
}

TEST_F(EventJournalTest, PublishStampsTimeAndSequence) {
  auto j = Open();
  Pub(*j, "create", "c1", {{"name", "web"}});
  Pub(*j, "start", "c1");
  std::vector<Event> r = j->Recent();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].seq, 1u);
  EXPECT_EQ(r[1].seq, 2u);
  EXPECT_EQ(r[0].time, kT0 + absl::Seconds(1));
  EXPECT_EQ(r[1].time, kT0 + absl::Seconds(2));
  EXPECT_EQ(r[0].type, v1::EVENT_TYPE_CONTAINER);
  EXPECT_EQ(r[0].attributes.at("name"), "web");
}

TEST_F(EventJournalTest, RingKeepsTheLastEvents) {
  auto j = Open(/*ring=*/3, 1 << 20, /*on_disk=*/false);
  for (int i = 1; i <= 5; ++i) Pub(*j, "start", "c" + std::to_string(i));
  EXPECT_THAT(Actions(j->Recent()), ElementsAre("start:c3", "start:c4", "start:c5"));
}

TEST_F(EventJournalTest, ReplaysSinceThenStreamsLive) {
  auto j = Open();
  Pub(*j, "create", "old");  // t0+1
  Pub(*j, "create", "c1");   // t0+2
  Pub(*j, "start", "c1");    // t0+3
  Collector c;
  auto sub = j->Subscribe(Since(kT0 + absl::Seconds(2)), c.Handlers());
  ASSERT_THAT(sub, IsOk());
  EXPECT_THAT(c.Actions(false), ElementsAre("create:c1", "start:c1"));
  EXPECT_EQ(j->Subscribers(), 1u);
  Pub(*j, "die", "c1");
  EXPECT_THAT(c.Actions(true), ElementsAre("die:c1"));
  (*sub)->Cancel();
  EXPECT_EQ(j->Subscribers(), 0u);
  Pub(*j, "destroy", "c1");
  EXPECT_THAT(c.Actions(true), ElementsAre("die:c1"));
  EXPECT_FALSE(c.End().has_value());
}

TEST_F(EventJournalTest, WithoutSinceOnlyLiveEvents) {
  auto j = Open();
  Pub(*j, "create", "c1");
  Collector c;
  auto sub = j->Subscribe(SubscribeOptions(), c.Handlers());
  ASSERT_THAT(sub, IsOk());
  EXPECT_TRUE(c.Actions(false).empty());
  Pub(*j, "start", "c1");
  EXPECT_THAT(c.Actions(true), ElementsAre("start:c1"));
}

TEST_F(EventJournalTest, FilterAppliesToReplayAndLive) {
  auto j = Open();
  Pub(*j, "start", "c1");
  Pub(*j, "die", "c1");
  SubscribeOptions o = Since(kT0);
  google::protobuf::RepeatedPtrField<v1::Filter> filters;
  v1::Filter* f = filters.Add();
  f->set_key("event");
  f->set_value("die");
  auto parsed = EventFilter::Parse(filters);
  ASSERT_THAT(parsed, IsOk());
  o.filter = *parsed;
  Collector c;
  auto sub = j->Subscribe(o, c.Handlers());
  ASSERT_THAT(sub, IsOk());
  Pub(*j, "start", "c2");
  Pub(*j, "die", "c2");
  EXPECT_THAT(c.Actions(false), ElementsAre("die:c1"));
  EXPECT_THAT(c.Actions(true), ElementsAre("die:c2"));
}

TEST_F(EventJournalTest, UntilInThePastEndsAfterTheReplay) {
  auto j = Open();
  Pub(*j, "create", "c1");  // t0+1
  Pub(*j, "start", "c1");   // t0+2
  Pub(*j, "die", "c1");     // t0+3
  SubscribeOptions o = Since(kT0);
  o.until = kT0 + absl::Seconds(2);
  Collector c;
  auto sub = j->Subscribe(o, c.Handlers());
  ASSERT_THAT(sub, IsOk());
  EXPECT_THAT(c.Actions(false), ElementsAre("create:c1", "start:c1"));
  ASSERT_TRUE(c.End().has_value());
  EXPECT_THAT(*c.End(), IsOk());
  EXPECT_EQ(j->Subscribers(), 0u);
}

TEST_F(EventJournalTest, UntilInTheFutureEndsWithTheFirstLaterEvent) {
  auto j = Open();
  SubscribeOptions o;
  o.until = kT0 + absl::Seconds(2);
  Collector c;
  auto sub = j->Subscribe(o, c.Handlers());
  ASSERT_THAT(sub, IsOk());
  Pub(*j, "create", "c1");  // t0+1
  Pub(*j, "start", "c1");   // t0+2: still in range
  EXPECT_FALSE(c.End().has_value());
  Pub(*j, "die", "c1");  // t0+3: past until
  EXPECT_THAT(c.Actions(true), ElementsAre("create:c1", "start:c1"));
  ASSERT_TRUE(c.End().has_value());
  EXPECT_THAT(*c.End(), IsOk());
  EXPECT_EQ(j->Subscribers(), 0u);
}

TEST_F(EventJournalTest, SinceAfterUntilIsInvalid) {
  auto j = Open();
  SubscribeOptions o = Since(kT0 + absl::Seconds(5));
  o.until = kT0;
  Collector c;
  EXPECT_THAT(j->Subscribe(o, c.Handlers()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("since")));
}

TEST_F(EventJournalTest, LiveHandlerReturningFalseUnsubscribes) {
  auto j = Open();
  int calls = 0;
  EventHandlers h;
  h.replay = [](const Event&) { return true; };
  h.live = [&calls](const Event&) { return ++calls < 2; };
  auto sub = j->Subscribe(SubscribeOptions(), h);
  ASSERT_THAT(sub, IsOk());
  for (int i = 0; i < 4; ++i) Pub(*j, "start", "c1");
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(j->Subscribers(), 0u);
}

TEST_F(EventJournalTest, SurvivesRestartAndContinuesTheSequence) {
  {
    auto j = Open();
    Pub(*j, "create", "c1", {{"name", "web"}, {"note", "caf\xc3\xa9 \"quoted\"\n"}});
    Pub(*j, "start", "c1");
  }
  struct stat st;
  ASSERT_EQ(stat(dir_->Sub("events.log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto j = Open();
  std::vector<Event> r = j->Recent();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].attributes.at("note"), "caf\xc3\xa9 \"quoted\"\n");
  EXPECT_EQ(r[1].time, kT0 + absl::Seconds(2));
  Pub(*j, "die", "c1");
  EXPECT_EQ(j->Recent().back().seq, 3u);
  Collector c;
  auto sub = j->Subscribe(Since(kT0), c.Handlers());
  ASSERT_THAT(sub, IsOk());
  EXPECT_THAT(c.Actions(false), ElementsAre("create:c1", "start:c1", "die:c1"));
}

TEST_F(EventJournalTest, ReplayReadsOlderEventsFromDisk) {
  auto j = Open(/*ring=*/2);
  for (int i = 1; i <= 6; ++i) Pub(*j, "start", "c" + std::to_string(i));
  EXPECT_EQ(j->Recent().size(), 2u);
  Collector c;
  auto sub = j->Subscribe(Since(kT0 + absl::Seconds(2)), c.Handlers());
  ASSERT_THAT(sub, IsOk());
  EXPECT_THAT(c.Actions(false),
              ElementsAre("start:c2", "start:c3", "start:c4", "start:c5", "start:c6"));
  // The same after a restart, where the ring is refilled with the last two only.
  j.reset();
  j = Open(/*ring=*/2);
  Collector again;
  sub = j->Subscribe(Since(kT0), again.Handlers());
  ASSERT_THAT(sub, IsOk());
  EXPECT_EQ(again.Actions(false).size(), 6u);
}

TEST_F(EventJournalTest, RotationKeepsTwoFilesAndDropsOlderHistory) {
  // Each line is ~100 bytes: a 350-byte file holds three.
  auto j = Open(/*ring=*/1, /*file_bytes=*/350);
  for (int i = 1; i <= 9; ++i) Pub(*j, "start", "c" + std::to_string(i));
  auto cur = fs::ReadFile(dir_->Sub("events.log"));
  auto old = fs::ReadFile(dir_->Sub("events.log.1"));
  ASSERT_THAT(cur, IsOk());
  ASSERT_THAT(old, IsOk());
  EXPECT_LE(cur->size(), 350u);
  EXPECT_LE(old->size(), 350u);
  Collector c;
  auto sub = j->Subscribe(Since(kT0), c.Handlers());
  ASSERT_THAT(sub, IsOk());
  std::vector<std::string> got = c.Actions(false);
  ASSERT_GE(got.size(), 3u);
  ASSERT_LT(got.size(), 9u);  // the oldest were rotated away
  EXPECT_EQ(got.back(), "start:c9");
  // What is left is contiguous: no event in the middle is missing.
  std::vector<uint64_t> seqs;
  {
    absl::MutexLock l(&c.mu);
    for (const Event& e : c.replayed) seqs.push_back(e.seq);
  }
  for (size_t i = 1; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], seqs[i - 1] + 1);
}

TEST_F(EventJournalTest, SkipsUnreadableLines) {
  {
    auto j = Open();
    Pub(*j, "create", "c1");
  }
  auto text = fs::ReadFile(dir_->Sub("events.log"));
  ASSERT_THAT(text, IsOk());
  FILE* f = fopen(dir_->Sub("events.log").c_str(), "a");
  ASSERT_NE(f, nullptr);
  fputs("not json\n{\"seq\":2,\"type\":\"planet\"}\n{\"seq\":3,\"type\":\"cont", f);
  fclose(f);
  auto j = Open();
  EXPECT_THAT(Actions(j->Recent()), ElementsAre("create:c1"));
  Pub(*j, "start", "c1");
  EXPECT_EQ(j->Recent().back().seq, 2u);
}

TEST_F(EventJournalTest, NoEventLostOrRepeatedBetweenReplayAndLive) {
  // A replay that is slow (a client reading slowly) while a publisher keeps going: every
  // event must arrive exactly once, in order.
  auto j = Open(/*ring=*/4096, 1 << 20, /*on_disk=*/false);
  for (int i = 0; i < 200; ++i) Pub(*j, "start", "before");
  std::atomic<bool> stop{false};
  absl::Notification replay_started;
  std::thread publisher([&] {
    replay_started.WaitForNotification();
    for (int i = 0; i < 500 && !stop.load(); ++i) {
      j->Publish(v1::EVENT_TYPE_CONTAINER, "start", "during", {});
      if (i % 50 == 0) absl::SleepFor(absl::Milliseconds(1));
    }
  });
  absl::Mutex mu;
  std::vector<uint64_t> seqs;
  EventHandlers h;
  h.replay = [&](const Event& e) {
    if (!replay_started.HasBeenNotified()) replay_started.Notify();
    if (e.seq % 20 == 0) absl::SleepFor(absl::Milliseconds(1));
    absl::MutexLock l(&mu);
    seqs.push_back(e.seq);
    return true;
  };
  h.live = [&](const Event& e) {
    absl::MutexLock l(&mu);
    seqs.push_back(e.seq);
    return true;
  };
  auto sub = j->Subscribe(Since(absl::InfinitePast()), h);
  ASSERT_THAT(sub, IsOk());
  publisher.join();
  for (int i = 0; i < 10; ++i) j->Publish(v1::EVENT_TYPE_CONTAINER, "start", "after", {});
  absl::MutexLock l(&mu);
  ASSERT_EQ(seqs.size(), 710u);
  for (size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], i + 1) << "at " << i;
}

TEST_F(EventJournalTest, SubscriberFallingTooFarBehindIsEnded) {
  JournalOptions o;
  o.max_pending = 2;
  o.clock = clock_.Fn();
  auto j = EventJournal::Open(o);
  ASSERT_THAT(j, IsOk());
  Pub(**j, "create", "c1");
  Collector c;
  EventHandlers h = c.Handlers();
  // The replay of the one stored event lets five more be published meanwhile.
  bool first = true;
  h.replay = [&](const Event& e) {
    for (int i = 0; first && i < 5; ++i) {
      (*j)->Publish(v1::EVENT_TYPE_CONTAINER, "start", "c1", {});
    }
    first = false;
    absl::MutexLock l(&c.mu);
    c.replayed.push_back(e);
    return true;
  };
  auto sub = (*j)->Subscribe(Since(kT0), h);
  ASSERT_THAT(sub, IsOk());
  ASSERT_TRUE(c.End().has_value());
  EXPECT_THAT(*c.End(), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ((*j)->Subscribers(), 0u);
}

TEST_F(EventJournalTest, ReplayHandlerReturningFalseStops) {
  auto j = Open();
  for (int i = 0; i < 5; ++i) Pub(*j, "start", "c1");
  int calls = 0;
  EventHandlers h;
  h.replay = [&calls](const Event&) { return ++calls < 2; };
  h.live = [](const Event&) {
    ADD_FAILURE() << "no live event expected";
    return true;
  };
  auto sub = j->Subscribe(Since(kT0), h);
  ASSERT_THAT(sub, IsOk());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(j->Subscribers(), 0u);
  Pub(*j, "die", "c1");
}

TEST_F(EventJournalTest, DestroyingTheJournalEndsLiveSubscriptions) {
  auto j = Open();
  Collector c;
  auto sub = j->Subscribe(SubscribeOptions(), c.Handlers());
  ASSERT_THAT(sub, IsOk());
  // The journal must outlive its subscriptions: this one is leaked, never cancelled.
  EventJournal::Subscription* leaked = sub->release();
  (void)leaked;
  j.reset();
  ASSERT_TRUE(c.End().has_value());
  EXPECT_THAT(*c.End(), StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace berth::engine::events
