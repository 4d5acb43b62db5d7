// `berth events` against a fake System server: what the command sends (absolute since/until,
// filters) and how it prints events (Docker's line, --format json, templates).
#include "engine/cli/events_command.h"

#include <google/protobuf/util/time_util.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "berth/engine/v1/system.grpc.pb.h"
#include "common/grpc/server.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "engine/cli/fake_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

namespace v1 = ::berth::engine::v1;
using ::berth::testing::IsOk;
using ::google::protobuf::util::TimeUtil;
using ::testing::HasSubstr;

// Streams `events`, then ends with `status`; records the request.
class FakeSystem final : public v1::System::CallbackService {
 public:
  ::grpc::ServerWriteReactor<v1::Event>* Events(::grpc::CallbackServerContext*,
                                                const v1::EventsRequest* req) override {
    absl::MutexLock l(&mu);
    requests.push_back(*req);
    return new Writer(events, status);
  }

  absl::Mutex mu;
  std::vector<v1::EventsRequest> requests;
  std::vector<v1::Event> events;
  ::grpc::Status status;

 private:
  class Writer final : public ::grpc::ServerWriteReactor<v1::Event> {
   public:
    Writer(std::vector<v1::Event> events, ::grpc::Status status)
        : events_(std::move(events)), status_(std::move(status)) {
      Next();
    }
    void OnWriteDone(bool ok) override {
      if (!ok) {
        Finish(::grpc::Status::CANCELLED);
        return;
      }
      Next();
    }
    void OnDone() override { delete this; }

   private:
    void Next() {
      if (next_ == events_.size()) {
        Finish(status_);
        return;
      }
      StartWrite(&events_[next_++]);
    }
    std::vector<v1::Event> events_;
    ::grpc::Status status_;
    size_t next_ = 0;
  };
};

v1::Event Ev(v1::EventType type, const std::string& action, const std::string& id,
             std::map<std::string, std::string> attrs, int64_t nanos) {
  v1::Event e;
  e.set_type(type);
  e.set_action(action);
  e.set_actor_id(id);
  for (auto& [k, v] : attrs) (*e.mutable_attributes())[k] = v;
  *e.mutable_time() = TimeUtil::NanosecondsToTimestamp(nanos);
  return e;
}

const int64_t kT = 1714564800123456789;  // 2024-05-01T12:00:00.123456789Z

using Result = ::berth::cli::testing::CliResult;

class EventsCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(server_.Start({&fake_}), IsOk());
    fake_.events = {
        Ev(v1::EVENT_TYPE_CONTAINER, "start", "3f2a",
           {{"name", "web"}, {"image", "busybox"}, {"a.label", "x"}}, kT),
        Ev(v1::EVENT_TYPE_IMAGE, "delete", "sha256:bb", {}, kT + 1000),
    };
  }
  void TearDown() override {
    server_.Shutdown();
  }

  Result Run(std::vector<std::string> args) {
    return server_.Run(std::move(args));
  }

  FakeSystem fake_;
  ::berth::cli::testing::FakeServer server_;
};

TEST_F(EventsCommandTest, PrintsDockersDefaultLines) {
  Result r = Run({"events"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out,
            "2024-05-01T12:00:00.123456789Z container start 3f2a (a.label=x, image=busybox, "
            "name=web)\n"
            "2024-05-01T12:00:00.123457789Z image delete sha256:bb\n");
  absl::MutexLock l(&fake_.mu);
  ASSERT_EQ(fake_.requests.size(), 1u);
  EXPECT_FALSE(fake_.requests[0].has_since());
  EXPECT_FALSE(fake_.requests[0].has_until());
  EXPECT_EQ(fake_.requests[0].filters_size(), 0);
}

TEST_F(EventsCommandTest, SendsAbsoluteTimesAndFilters) {
  const absl::Time before = absl::Now();
  Result r = Run({"events", "--since", "10m", "--until", "2030-01-02T03:04:05Z", "-f",
                  "type=container", "--filter", "event=die"});
  EXPECT_EQ(r.rc, 0) << r.err;
  absl::MutexLock l(&fake_.mu);
  ASSERT_EQ(fake_.requests.size(), 1u);
  const v1::EventsRequest& req = fake_.requests[0];
  ASSERT_TRUE(req.has_since());
  EXPECT_NEAR(req.since().seconds(), absl::ToUnixSeconds(before - absl::Minutes(10)), 5);
  ASSERT_TRUE(req.has_until());
  EXPECT_EQ(req.until().seconds(), 1893553445);
  ASSERT_EQ(req.filters_size(), 2);
  EXPECT_EQ(req.filters(0).key(), "type");
  EXPECT_EQ(req.filters(0).value(), "container");
  EXPECT_EQ(req.filters(1).key(), "event");
  EXPECT_EQ(req.filters(1).value(), "die");
}

TEST_F(EventsCommandTest, UnixSecondsAreAccepted) {
  Result r = Run({"events", "--since", "1714564800", "--until", "1714564860.5"});
  EXPECT_EQ(r.rc, 0) << r.err;
  absl::MutexLock l(&fake_.mu);
  ASSERT_EQ(fake_.requests.size(), 1u);
  EXPECT_EQ(fake_.requests[0].since().seconds(), 1714564800);
  EXPECT_EQ(fake_.requests[0].until().seconds(), 1714564860);
  EXPECT_EQ(fake_.requests[0].until().nanos(), 500000000);
}

TEST_F(EventsCommandTest, FormatJsonIsDockersMessage) {
  Result r = Run({"events", "--format", "json"});
  EXPECT_EQ(r.rc, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  ASSERT_TRUE(std::getline(lines, line));
  nlohmann::json c = nlohmann::json::parse(line);
  EXPECT_EQ(c["status"], "start");
  EXPECT_EQ(c["id"], "3f2a");
  EXPECT_EQ(c["from"], "busybox");
  EXPECT_EQ(c["Type"], "container");
  EXPECT_EQ(c["Action"], "start");
  EXPECT_EQ(c["Actor"]["ID"], "3f2a");
  EXPECT_EQ(c["Actor"]["Attributes"]["name"], "web");
  EXPECT_EQ(c["scope"], "local");
  EXPECT_EQ(c["time"], 1714564800);
  EXPECT_EQ(c["timeNano"], kT);
  ASSERT_TRUE(std::getline(lines, line));
  nlohmann::json i = nlohmann::json::parse(line);
  EXPECT_EQ(i["Type"], "image");
  EXPECT_EQ(i["status"], "delete");
  EXPECT_FALSE(i.contains("from"));
  EXPECT_TRUE(i["Actor"]["Attributes"].is_object());
  EXPECT_FALSE(std::getline(lines, line));
}

TEST_F(EventsCommandTest, TemplatesSeeGoFieldNames) {
  Result r = Run({"events", "--format",
                  "{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}} {{.ID}}"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out,
            "container start 3f2a web 3f2a\n"
            "image delete sha256:bb <no value> sha256:bb\n");
  r = Run({"events", "--format", "{{json .Actor.Attributes}}"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"name\":\"web\""));
}

TEST_F(EventsCommandTest, ErrorsAreOneLineWithExitCodeOne) {
  {
    absl::MutexLock l(&fake_.mu);
    fake_.events.clear();
    fake_.status = ::grpc::Status(::grpc::StatusCode::INVALID_ARGUMENT, "invalid filter 'colour'");
  }
  Result r = Run({"events", "-f", "colour=red"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "Error response from daemon: invalid filter 'colour'\n");

  r = Run({"events", "-f", "nokey"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("bad format of filter"));
  r = Run({"events", "--since", "yesterday-ish"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_FALSE(r.err.empty());
  r = Run({"events", "--format", "{{.Type"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("template"));
  r = Run({"events", "extra"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("accepts no arguments"));
  // None of the bad command lines reached the daemon.
  absl::MutexLock l(&fake_.mu);
  EXPECT_EQ(fake_.requests.size(), 1u);
}

TEST(EventLineTest, NoAttributesNoParentheses) {
  v1::Event e = Ev(v1::EVENT_TYPE_NETWORK, "connect", "n1", {}, 0);
  EXPECT_EQ(EventLine(e), "1970-01-01T00:00:00.000000000Z network connect n1");
}

}  // namespace
}  // namespace berth::cli
