// berthd's container workflow end to end: the real `berth` CLI against real berth-containerd,
// berth-shim, berth-runc and berthd processes (root). A busybox image is imported from Debian's
// busybox-static. Covers run exit codes and output, logs (tail, follow), exec, stop timeout
// escalation, restart policies, name conflicts, inspect fields, rm/prune, bad input, and live
// restore (kill -9 berthd, then berth-containerd, with five containers running).
#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
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
using ::testing::HasSubstr;
using nlohmann::json;

class ContainersTest : public EngineTest {
 protected:
  // Polls `inspect` until `pred` holds (or fails the test after `timeout`).
  json WaitInspect(const std::string& c, const std::function<bool(const json&)>& pred,
                   absl::Duration timeout = absl::Seconds(20)) {
    absl::Time end = absl::Now() + timeout;
    json j;
    while (absl::Now() < end) {
      j = Inspect(c);
      if (pred(j)) return j;
      absl::SleepFor(absl::Milliseconds(100));
    }
    ADD_FAILURE() << "condition not reached for " << c << ": " << j.dump();
    return j;
  }
};

TEST_F(ContainersTest, RunReportsOutputAndExitCodes) {
  auto r = Berth({"run", "--rm", "busybox", "echo", "hello from berth"});
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_EQ(r.output, "hello from berth\n");
  r = Berth({"run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(ExitCode(r), 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr("out\n"));
  EXPECT_THAT(r.output, HasSubstr("err\n"));
  r = Berth({"run", "--rm", "busybox", "/nosuchcmd"});
  EXPECT_EQ(ExitCode(r), 127) << r.output;
  r = Berth({"run", "--rm", "-e", "GREETING=hi", "-w", "/tmp", "-u", "nobody", "busybox", "sh",
             "-c", "echo $GREETING $(pwd) $(id -u)"});
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_EQ(r.output, "hi /tmp 65534\n");
  // --rm left nothing.
  EXPECT_EQ(Berth({"ps", "-a", "-q"}).output, "");

  // `start -a` of an exited container runs it again attached: its output and exit code.
  r = Berth({"run", "--name", "again", "busybox", "sh", "-c",
             "echo run-$(cat /tmp/n 2>/dev/null); echo x >> /tmp/n; exit 4"});
  EXPECT_EQ(ExitCode(r), 4) << r.output;
  EXPECT_EQ(r.output, "run-\n");
  r = Berth({"start", "-a", "again"});
  EXPECT_EQ(ExitCode(r), 4) << r.output;
  EXPECT_EQ(r.output, "run-x\n");
  // `attach` itself still refuses a stopped container, like docker's CLI.
  r = Berth({"attach", "again"});
  EXPECT_EQ(ExitCode(r), 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("You cannot attach to a stopped container"));
  EXPECT_EQ(ExitCode(Berth({"rm", "again"})), 0);
}

TEST_F(ContainersTest, DetachedLogsExecStopAndInspect) {
  // Ignores SIGTERM, so stop must escalate to SIGKILL after the timeout.
  auto r = Berth({"run", "-d", "--name", "web", "-l", "tier=front", "busybox", "sh", "-c",
                  "trap '' TERM; i=0; while true; do echo line$i; i=$((i+1)); sleep 0.2; done"});
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  const std::string id(absl::StripAsciiWhitespace(r.output));
  EXPECT_EQ(id.size(), 64u) << r.output;
  json j = Inspect("web");
  EXPECT_EQ(j["Id"], id);
  EXPECT_EQ(j["Name"], "/web");
  EXPECT_EQ(j["State"]["Status"], "running");
  EXPECT_EQ(j["State"]["Running"], true);
  EXPECT_GT(j["State"]["Pid"].get<int>(), 0);
  EXPECT_EQ(j["Config"]["Labels"]["tier"], "front");
  // A prefix of the id resolves too.
  EXPECT_EQ(Inspect(id.substr(0, 6))["Id"], id);

  absl::SleepFor(absl::Seconds(1));
  r = Berth({"logs", "web"});
  EXPECT_THAT(r.output, HasSubstr("line0\nline1\n"));
  r = Berth({"logs", "--tail", "1", "web"});
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;

  r = Berth({"exec", "web", "sh", "-c", "echo $((6*7))"});
  EXPECT_EQ(ExitCode(r), 0);
  EXPECT_EQ(r.output, "42\n");
  r = Berth({"exec", "web", "sh", "-c", "exit 5"});
  EXPECT_EQ(ExitCode(r), 5);

  r = Berth({"ps", "--filter", "label=tier=front", "--format", "{{.Names}}"});
  EXPECT_EQ(r.output, "web\n");

  absl::Time t0 = absl::Now();
  r = Berth({"stop", "-t", "1", "web"});
  absl::Duration took = absl::Now() - t0;
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_GE(took, absl::Milliseconds(900));
  EXPECT_LT(took, absl::Seconds(8));
  j = Inspect("web");
  EXPECT_EQ(j["State"]["Status"], "exited");
  EXPECT_EQ(j["State"]["ExitCode"], 137);
  // Logs still readable after the exit; follow ends at once for a stopped container.
  r = Berth({"logs", "-f", "web"});
  EXPECT_EQ(ExitCode(r), 0);
  EXPECT_THAT(r.output, HasSubstr("line0\n"));

  r = Berth({"rm", "web"});
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_EQ(ExitCode(Berth({"inspect", "web"})), 1);
}

TEST_F(ContainersTest, NamesAreUniqueAndRunningContainersNeedForce) {
  auto r = Berth({"run", "-d", "--name", "dup", "busybox", "sleep", "60"});
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  r = Berth({"run", "--name", "dup", "busybox", "true"});
  EXPECT_EQ(ExitCode(r), 125) << r.output;
  EXPECT_THAT(r.output, HasSubstr("already in use"));
  r = Berth({"create", "--name", "dup", "busybox", "true"});
  EXPECT_NE(ExitCode(r), 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("already in use"));
  r = Berth({"rm", "dup"});
  EXPECT_EQ(ExitCode(r), 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("running container"));
  r = Berth({"rm", "-f", "dup"});
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_EQ(Berth({"ps", "-a", "-q"}).output, "");
  // Exited containers go with prune.
  ASSERT_EQ(ExitCode(Berth({"run", "--name", "done1", "busybox", "true"})), 0);
  ASSERT_EQ(ExitCode(Berth({"run", "--name", "done2", "busybox", "false"})), 1);
  r = Berth({"container", "prune", "-f"});
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_EQ(Berth({"ps", "-a", "-q"}).output, "");
}

TEST_F(ContainersTest, ForceRemoveOfManyRunningContainersAtOnce) {
  std::vector<std::string> args = {"rm", "-f"};
  for (int i = 0; i < 8; ++i) {
    auto r = Berth({"run", "-d", "busybox", "sleep", "300"});
    ASSERT_EQ(ExitCode(r), 0) << r.output;
    args.push_back(std::string(absl::StripAsciiWhitespace(r.output)));
  }
  auto r = Berth(args);
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_EQ(Berth({"ps", "-a", "-q"}).output, "");
}

TEST_F(ContainersTest, RestartPolicyOnFailureStopsAfterMaxRetries) {
  auto r = Berth({"run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh",
                  "-c", "exit 1"});
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  json j = WaitInspect("flaky", [](const json& j) {
    return j["RestartCount"] == 2 && j["State"]["Status"] == "exited";
  });
  EXPECT_EQ(j["State"]["ExitCode"], 1);
  // And stays there.
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(Inspect("flaky")["RestartCount"], 2);

  // `always` restarts after exit 0, and a user stop ends it.
  r = Berth({"run", "-d", "--name", "loop", "--restart", "always", "busybox", "true"});
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  WaitInspect("loop", [](const json& j) { return j["RestartCount"].get<int>() >= 2; });
  EXPECT_EQ(ExitCode(Berth({"stop", "loop"})), 0);
  j = WaitInspect("loop", [](const json& j) { return j["State"]["Status"] == "exited"; });
  const int count = j["RestartCount"];
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(Inspect("loop")["RestartCount"], count);
}

TEST_F(ContainersTest, BadInputFailsClearlyAndLeavesNothing) {
  auto r = Berth({"run", "--no-such-flag", "busybox", "true"});
  EXPECT_EQ(ExitCode(r), 125) << r.output;
  EXPECT_THAT(r.output, HasSubstr("unknown flag"));
  r = Berth({"run", "BusyBox", "true"});
  EXPECT_EQ(ExitCode(r), 125) << r.output;
  EXPECT_THAT(r.output, HasSubstr("invalid reference format"));
  r = Berth({"run", "nosuchimage", "true"});
  EXPECT_EQ(ExitCode(r), 125) << r.output;
  EXPECT_THAT(r.output, HasSubstr("nosuchimage"));
  const std::string env_file = env_.dir().Sub("bad.env");
  FILE* f = fopen(env_file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("GOOD=1\nBAD VALUE=2\n", f);
  fclose(f);
  r = Berth({"run", "--env-file", env_file, "busybox", "true"});
  EXPECT_EQ(ExitCode(r), 125) << r.output;
  r = Berth({"run", "--restart", "sometimes", "busybox", "true"});
  EXPECT_EQ(ExitCode(r), 125) << r.output;
  r = Berth({"stop", "nosuchcontainer"});
  EXPECT_EQ(ExitCode(r), 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("No such container: nosuchcontainer"));
  EXPECT_EQ(Berth({"ps", "-a", "-q"}).output, "");
}

TEST_F(ContainersTest, LiveRestoreAcrossBerthdAndContainerdKills) {
  // Five containers: a ticker printing a numbered line every 200ms, three sleepers, and one
  // that exits with 7 while berthd is down.
  ASSERT_EQ(ExitCode(Berth({"run", "-d", "--name", "ticker", "busybox", "sh", "-c",
                            "i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.2; done"})),
            0);
  for (const char* n : {"s1", "s2", "s3"}) {
    ASSERT_EQ(ExitCode(Berth({"run", "-d", "--name", n, "busybox", "sleep", "300"})), 0);
  }
  ASSERT_EQ(ExitCode(Berth({"run", "-d", "--name", "quitter", "busybox", "sh", "-c",
                            "sleep 2; exit 7"})),
            0);
  std::map<std::string, int> pids;
  for (const char* n : {"ticker", "s1", "s2", "s3"}) pids[n] = Inspect(n)["State"]["Pid"];

  // kill -9 berthd; the quitter exits meanwhile.
  ASSERT_THAT(env_.berthd()->process->Signal(SIGKILL), IsOk());
  ASSERT_THAT(env_.berthd()->process->Wait(absl::Seconds(10)), IsOk());
  env_.berthd().reset();
  absl::SleepFor(absl::Seconds(3));
  ASSERT_THAT(env_.StartBerthd(), IsOk());
  for (const auto& [n, pid] : pids) {
    json j = Inspect(n);
    EXPECT_EQ(j["State"]["Status"], "running") << n;
    EXPECT_EQ(j["State"]["Pid"], pid) << n;
    EXPECT_EQ(kill(pid, 0), 0) << n;
  }
  json q = WaitInspect("quitter", [](const json& j) { return j["State"]["Status"] == "exited"; });
  EXPECT_EQ(q["State"]["ExitCode"], 7);

  // kill -9 berth-containerd: berthd reconnects, nothing is lost.
  ASSERT_THAT(env_.containerd()->process->Signal(SIGKILL), IsOk());
  ASSERT_THAT(env_.containerd()->process->Wait(absl::Seconds(10)), IsOk());
  env_.containerd().reset();
  absl::SleepFor(absl::Seconds(1));
  ASSERT_THAT(env_.StartContainerd(), IsOk());
  for (const auto& [n, pid] : pids) {
    json j = WaitInspect(n, [](const json& j) { return j["State"]["Status"] == "running"; });
    EXPECT_EQ(j["State"]["Pid"], pid) << n;
  }
  // The ticker's log is continuous: consecutive numbers, no gap, none repeated.
  absl::SleepFor(absl::Seconds(1));
  auto logs = Berth({"logs", "ticker"});
  int expect = 0;
  for (absl::string_view line : absl::StrSplit(logs.output, '\n', absl::SkipEmpty())) {
    int n = -1;
    ASSERT_TRUE(absl::ConsumePrefix(&line, "tick") && absl::SimpleAtoi(line, &n)) << line;
    EXPECT_EQ(n, expect) << "gap or repeat in the ticker's log";
    expect = n + 1;
  }
  EXPECT_GT(expect, 20) << "the ticker kept running across both restarts";
  // Still fully controllable.
  auto stopped = Berth({"stop", "-t", "1", "s1"});
  EXPECT_EQ(ExitCode(stopped), 0) << stopped.output;
  EXPECT_EQ(Inspect("s1")["State"]["Status"], "exited");
}

}  // namespace
}  // namespace berth::tests
