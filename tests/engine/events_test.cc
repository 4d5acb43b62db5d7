// `berth events` end to end: the real CLI against real berth-containerd, berth-shim, berth-runc
// and berthd processes (root). Importing an image and `berth run --rm` must leave the image's
// import event and the container's create, start, die (exitCode 0), destroy in berthd's
// journal, in that order; filters narrow the stream, a live stream sees events as they happen
// and ends at --until, and the journal survives a berthd restart.
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon_harness.h"

namespace berth::tests {
namespace {

using ::berth::testing::ExitCode;
using ::berth::testing::IsOk;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", t, absl::UTCTimeZone());
}

class EventsTest : public EngineTest {
 protected:
  // The import is the first event the tests look for: after t0.
  EngineEnv::Options EnvOptions() const override {
    EngineEnv::Options options;
    options.import_busybox = false;
    return options;
  }
  void SetUp() override {
    EngineTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    t0_ = absl::Now() - absl::Seconds(1);
    auto id = env_.ImportBusybox();
    ASSERT_THAT(id, IsOk());
    image_id_ = *id;
  }

  // The events from t0 up to now (a finished stream), as parsed --format json lines.
  std::vector<json> PastEvents(const std::vector<std::string>& filters = {}) {
    std::vector<std::string> args = {
        "events", "--since", Rfc3339(t0_), "--until", Rfc3339(absl::Now()), "--format", "json"};
    for (const auto& f : filters) args.insert(args.end(), {"--filter", f});
    auto r = Berth(args);
    EXPECT_EQ(ExitCode(r), 0) << r.output;
    return ParseLines(r.output);
  }

  static std::vector<json> ParseLines(const std::string& out) {
    std::vector<json> events;
    for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
      json j = json::parse(line, nullptr, false);
      EXPECT_TRUE(j.is_object()) << "not an event: " << line;
      if (j.is_object()) events.push_back(std::move(j));
    }
    return events;
  }

  // "Type Action" of the events about `actor`.
  static std::vector<std::string> ActionsOf(const std::vector<json>& events,
                                            const std::string& actor) {
    std::vector<std::string> out;
    for (const json& e : events) {
      if (e["Actor"]["ID"] == actor) {
        out.push_back(
            absl::StrCat(e["Type"].get<std::string>(), " ", e["Action"].get<std::string>()));
      }
    }
    return out;
  }

  // Runs `berth run --rm --name NAME busybox ARGS...` and returns the container's id, read
  // from its create event once its destroy event is in the journal.
  std::string RunAndWaitDestroyed(const std::string& name, const std::vector<std::string>& cmd,
                                  int exit_code = 0) {
    std::vector<std::string> args = {"run", "--rm", "--name", name, "busybox"};
    args.insert(args.end(), cmd.begin(), cmd.end());
    auto r = Berth(args);
    EXPECT_EQ(ExitCode(r), exit_code) << r.output;
    std::string id;
    // --rm removes the container in berthd right after the exit; wait for its destroy event.
    EXPECT_TRUE(berth::testing::WaitFor(
        [&] {
          for (const json& e : PastEvents({"container=" + name, "event=destroy"})) {
            id = e["Actor"]["ID"].get<std::string>();
          }
          return !id.empty();
        },
        absl::Seconds(20)))
        << "no destroy event for " << name;
    return id;
  }

  absl::Time t0_;
  std::string image_id_;
};

TEST_F(EventsTest, RunAndImportAreRecordedInOrder) {
  const std::string id = RunAndWaitDestroyed("ev", {"true"});
  ASSERT_FALSE(id.empty());

  // The brief's command line: --until in the future, so the stream also waits for live
  // events and ends by itself at --until.
  const absl::Time start = absl::Now();
  auto r = Berth({"events", "--since", Rfc3339(t0_), "--until",
                  Rfc3339(absl::Now() + absl::Seconds(5)), "--format", "json"});
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_GE(absl::Now() - start, absl::Seconds(4));
  std::vector<json> events = ParseLines(r.output);

  EXPECT_THAT(ActionsOf(events, id), ElementsAre("container create", "container start",
                                                 "container die", "container destroy"));
  for (const json& e : events) {
    if (e["Actor"]["ID"] != id) continue;
    EXPECT_EQ(e["Actor"]["Attributes"]["name"], "ev") << e.dump();
    EXPECT_EQ(e["Actor"]["Attributes"]["image"], "busybox") << e.dump();
    EXPECT_EQ(e["from"], "busybox") << e.dump();
    EXPECT_EQ(e["status"], e["Action"]) << e.dump();
    EXPECT_GE(e["timeNano"].get<int64_t>(), absl::ToUnixNanos(t0_));
    if (e["Action"] == "die") {
      EXPECT_EQ(e["Actor"]["Attributes"]["exitCode"], "0");
    }
  }
  // The import comes first: an image event whose actor and name are the image id.
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0]["Type"], "image");
  EXPECT_EQ(events[0]["Action"], "import");
  EXPECT_EQ(events[0]["Actor"]["ID"], image_id_);
  EXPECT_EQ(events[0]["Actor"]["Attributes"]["name"], image_id_);
  // Times never go backwards.
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_GE(events[i]["timeNano"].get<int64_t>(), events[i - 1]["timeNano"].get<int64_t>());
  }
}

TEST_F(EventsTest, FiltersNarrowTheStream) {
  const std::string id = RunAndWaitDestroyed("ev", {"true"});
  ASSERT_FALSE(id.empty());
  const std::string other = RunAndWaitDestroyed("other", {"sh", "-c", "exit 3"}, 3);

  std::vector<json> containers = PastEvents({"type=container"});
  ASSERT_FALSE(containers.empty());
  for (const json& e : containers) EXPECT_EQ(e["Type"], "container") << e.dump();
  EXPECT_EQ(ActionsOf(containers, image_id_).size(), 0u);

  std::vector<json> dies = PastEvents({"type=container", "event=die"});
  ASSERT_EQ(dies.size(), 2u);
  for (const json& e : dies) EXPECT_EQ(e["Action"], "die");

  std::vector<json> ev_die = PastEvents({"event=die", "container=ev"});
  ASSERT_EQ(ev_die.size(), 1u);
  EXPECT_EQ(ev_die[0]["Actor"]["ID"], id);
  EXPECT_EQ(ev_die[0]["Actor"]["Attributes"]["exitCode"], "0");

  // Values of one key are ORed.
  std::vector<json> both = PastEvents({"event=die", "container=ev", "container=other"});
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[1]["Actor"]["ID"], other);
  EXPECT_EQ(both[1]["Actor"]["Attributes"]["exitCode"], "3");

  std::vector<json> images = PastEvents({"type=image"});
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0]["Action"], "import");

  // Docker's default line, attributes sorted.
  auto r = Berth({"events", "--since", Rfc3339(t0_), "--until", Rfc3339(absl::Now()), "-f",
                  "event=die", "-f", "container=" + id.substr(0, 12)});
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(absl::StrCat(" container die ", id,
                                               " (exitCode=0, image=busybox, name=ev)\n")));
  EXPECT_TRUE(r.output.size() > 4 && r.output[4] == '-') << r.output;  // RFC 3339 time first

  // A template over the common fields.
  r = Berth({"events", "--since", Rfc3339(t0_), "--until", Rfc3339(absl::Now()), "-f",
             "container=ev", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"});
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_EQ(r.output,
            "container create ev\ncontainer start ev\ncontainer die ev\ncontainer destroy ev\n");

  // Bad input: one clear line, exit 1.
  r = Berth(
      {"events", "--since", Rfc3339(t0_), "--until", Rfc3339(absl::Now()), "-f", "colour=red"});
  EXPECT_EQ(ExitCode(r), 1);
  EXPECT_EQ(r.output, "Error response from daemon: invalid filter 'colour'\n");
  r = Berth({"events", "--since", "1m", "--until", "1h"});
  EXPECT_EQ(ExitCode(r), 1);
  EXPECT_THAT(r.output, HasSubstr("since must not be after until"));
}

TEST_F(EventsTest, LiveStreamSeesEventsAsTheyHappen) {
  // A stream with no --since: only what happens from now on, until --until.
  const std::string out = env_.dir().Sub("live.out");
  std::vector<std::string> argv =
      env_.BerthArgv({"events", "--format", "json", "--filter", "container=live", "--until",
                      Rfc3339(absl::Now() + absl::Seconds(8))});
  auto child = berth::testing::ChildProcess::Start(argv, out, env_.CliEnv());
  ASSERT_THAT(child, IsOk());
  // Let it subscribe before the container starts (the stream has no replay).
  absl::SleepFor(absl::Seconds(1));
  const std::string id = RunAndWaitDestroyed("live", {"true"});
  ASSERT_FALSE(id.empty());
  // Seen while the stream is still open, well before --until.
  EXPECT_TRUE(berth::testing::WaitFor(
      [&] { return ActionsOf(ParseLines(berth::testing::ReadFileOrEmpty(out)), id).size() == 4; },
      absl::Seconds(5)))
      << berth::testing::ReadFileOrEmpty(out);
  EXPECT_TRUE(child->running());
  auto status = child->Wait(absl::Seconds(20));
  ASSERT_THAT(status, IsOk());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  std::vector<json> events = ParseLines(berth::testing::ReadFileOrEmpty(out));
  EXPECT_THAT(ActionsOf(events, id), ElementsAre("container create", "container start",
                                                 "container die", "container destroy"));
  EXPECT_EQ(ActionsOf(events, image_id_).size(), 0u);  // the import was before the stream
}

TEST_F(EventsTest, JournalSurvivesBerthdRestart) {
  const std::string id = RunAndWaitDestroyed("ev", {"true"});
  ASSERT_FALSE(id.empty());
  auto stopped = env_.berthd()->Stop();
  ASSERT_THAT(stopped, IsOk());
  env_.berthd().reset();
  ASSERT_THAT(env_.StartBerthd(), IsOk());
  std::vector<json> events = PastEvents();
  EXPECT_THAT(ActionsOf(events, id), ElementsAre("container create", "container start",
                                                 "container die", "container destroy"));
  EXPECT_THAT(ActionsOf(events, image_id_), ElementsAre("image import"));
  // New events continue the journal.
  auto r = Berth({"tag", "busybox", "busybox:v2"});
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  std::vector<json> tags = PastEvents({"event=tag"});
  ASSERT_EQ(tags.size(), 1u);
  EXPECT_EQ(tags[0]["Actor"]["ID"], image_id_);
  EXPECT_EQ(tags[0]["Actor"]["Attributes"]["name"], "busybox:v2");
  r = Berth({"rmi", "busybox:v2"});
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  std::vector<json> untags = PastEvents({"type=image", "event=untag"});
  ASSERT_EQ(untags.size(), 1u);
  EXPECT_EQ(untags[0]["Actor"]["ID"], image_id_);
}

TEST_F(EventsTest, ImageOperationsPublishDockersImageEvents) {
  auto r = Berth({"save", "-o", env_.dir().Sub("busybox-saved.tar"), "busybox"});
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  r = Berth({"rmi", "busybox"});
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  r = Berth({"load", "-i", env_.dir().Sub("busybox-saved.tar")});
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  r = Berth({"tag", "busybox", "mirror.example:5000/tools/busybox:1"});
  ASSERT_EQ(ExitCode(r), 0) << r.output;

  std::vector<json> images = PastEvents({"type=image"});
  std::vector<std::string> actions;
  for (const json& e : images) {
    actions.push_back(e["Action"].get<std::string>());
    EXPECT_EQ(e["Actor"]["ID"], image_id_) << e.dump();
    EXPECT_EQ(e["status"], e["Action"]) << e.dump();
    // "name" is the image id, except for tag where it is the new reference.
    EXPECT_EQ(e["Actor"]["Attributes"]["name"],
              e["Action"] == "tag" ? "mirror.example:5000/tools/busybox:1" : image_id_)
        << e.dump();
  }
  EXPECT_THAT(actions, ElementsAre("import", "save", "untag", "delete", "load", "tag"));
  // The image filter matches image events by reference, with or without the tag.
  EXPECT_EQ(PastEvents({"image=mirror.example:5000/tools/busybox"}).size(), 1u);
  EXPECT_EQ(PastEvents({"image=" + image_id_}).size(), 6u);
}

}  // namespace
}  // namespace berth::tests
