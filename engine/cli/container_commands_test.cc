// The container commands end to end over gRPC against FakeContainersService: what each
// command line sends, what it prints and its exit code.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <future>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/grpc/server.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "engine/cli/commands.h"
#include "engine/cli/fake_server.h"
#include "engine/cli/fake_containers_service.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

namespace v1 = ::berth::engine::v1;
using ::berth::cli::testing::FakeContainersService;
using ::berth::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

using Result = ::berth::cli::testing::CliResult;

class ContainerCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(server_.Start({&fake_}), IsOk());
  }
  void TearDown() override {
    server_.Shutdown();
  }

  Result Run(std::vector<std::string> args) {
    return server_.Run(std::move(args));
  }

  FakeContainersService fake_;
  ::berth::cli::testing::FakeServer server_;
};

const std::string kNewId = FakeContainersService::IdFor("new");
const std::string kWebId = FakeContainersService::IdFor("web");

TEST_F(ContainerCommandsTest, RunAttachesStartsRelaysAndExitsWithTheContainersCode) {
  Result r = Run({"run", "--rm", "--name", "t1", "-e", "A=1", "busybox", "echo", "hi"});
  EXPECT_EQ(r.rc, 3) << r.err;
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_EQ(r.err, "oops\n");
  absl::MutexLock lock(&fake_.mu);
  ASSERT_EQ(fake_.creates.size(), 1u);
  const auto& c = fake_.creates[0];
  EXPECT_EQ(c.name(), "t1");
  EXPECT_EQ(c.config().image(), "busybox");
  EXPECT_THAT(c.config().cmd().values(), ElementsAre("echo", "hi"));
  EXPECT_THAT(c.config().env(), ElementsAre("A=1"));
  EXPECT_TRUE(c.host_config().auto_remove());
  // Wait (REMOVED for --rm) and Attach are in place before Start.
  ASSERT_EQ(fake_.waits.size(), 1u);
  EXPECT_EQ(fake_.waits[0].condition(), v1::WAIT_CONDITION_REMOVED);
  ASSERT_EQ(fake_.attaches.size(), 1u);
  EXPECT_EQ(fake_.attaches[0].id(), kNewId);
  EXPECT_TRUE(fake_.attaches[0].stdout());
  EXPECT_TRUE(fake_.attaches[0].stderr());
  EXPECT_FALSE(fake_.attaches[0].stdin());
  EXPECT_THAT(fake_.starts, ElementsAre(kNewId));
}

TEST_F(ContainerCommandsTest, RunWithoutRmWaitsForNextExit) {
  fake_.exit_code = 0;
  Result r = Run({"run", "busybox"});
  EXPECT_EQ(r.rc, 0) << r.err;
  absl::MutexLock lock(&fake_.mu);
  ASSERT_EQ(fake_.waits.size(), 1u);
  EXPECT_EQ(fake_.waits[0].condition(), v1::WAIT_CONDITION_NEXT_EXIT);
  EXPECT_FALSE(fake_.creates[0].host_config().auto_remove());
}

TEST_F(ContainerCommandsTest, RunDetachedPrintsTheFullId) {
  Result r = Run({"run", "-d", "busybox", "sleep", "100"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, kNewId + "\n");
  absl::MutexLock lock(&fake_.mu);
  EXPECT_TRUE(fake_.attaches.empty());
  EXPECT_TRUE(fake_.waits.empty());
  EXPECT_THAT(fake_.starts, ElementsAre(kNewId));
}

TEST_F(ContainerCommandsTest, RunInteractivePipesStdinWithoutTty) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_EQ(write(p[1], "piped input\n", 12), 12);
  close(p[1]);
  int saved = dup(STDIN_FILENO);
  ASSERT_GE(dup2(p[0], STDIN_FILENO), 0);
  close(p[0]);
  Result r = Run({"run", "-i", "--rm", "busybox", "cat"});
  dup2(saved, STDIN_FILENO);
  close(saved);
  EXPECT_EQ(r.rc, 3) << r.err;
  EXPECT_EQ(r.out, "hello\npiped input\n");
  absl::MutexLock lock(&fake_.mu);
  ASSERT_EQ(fake_.attaches.size(), 1u);
  EXPECT_TRUE(fake_.attaches[0].stdin());
  EXPECT_TRUE(fake_.creates[0].config().open_stdin());
  EXPECT_TRUE(fake_.creates[0].config().stdin_once());
}

TEST_F(ContainerCommandsTest, RunProxiesSignalsToTheContainer) {
  fake_.exit_on_kill = true;
  auto done = std::async(std::launch::async, [&] { return Run({"run", "busybox", "sleep", "1000"}); });
  ASSERT_TRUE(berth::testing::WaitFor(
      [&] {
        absl::MutexLock lock(&fake_.mu);
        return !fake_.starts.empty();
      },
      absl::Seconds(10)));
  // The relay's signal pipe is installed before Start; the CLI turns SIGTERM into Kill.
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  Result r = done.get();
  EXPECT_EQ(r.rc, 128 + SIGTERM) << r.err;
  absl::MutexLock lock(&fake_.mu);
  ASSERT_EQ(fake_.kills.size(), 1u);
  EXPECT_EQ(fake_.kills[0].signal(), absl::StrCat(SIGTERM));
  EXPECT_EQ(fake_.kills[0].id(), kNewId);
}

TEST_F(ContainerCommandsTest, RunMissingImageSaysSoAndExits125) {
  Result r = Run({"run", "--pull=never", "missing"});
  EXPECT_EQ(r.rc, 125);
  EXPECT_EQ(r.err, "berth: Error response from daemon: No such image: missing:latest\n");
}

TEST_F(ContainerCommandsTest, RunStartFailuresMapToDockerExitCodes) {
  struct Case {
    std::string message;
    int rc;
  };
  for (const auto& c : std::vector<Case>{
           {"exec: \"nope\": executable file not found in $PATH", 127},
           {"exec /bin/x: no such file or directory", 127},
           {"exec /etc: permission denied", 126},
           {"cgroup: invalid memory limit", 125}}) {
    fake_.start_error = ::grpc::Status(::grpc::StatusCode::INVALID_ARGUMENT, c.message);
    Result r = Run({"run", "--rm", "busybox", "x"});
    EXPECT_EQ(r.rc, c.rc) << c.message;
    EXPECT_EQ(r.err, "berth: Error response from daemon: " + c.message + "\n");
    Result d = Run({"run", "-d", "busybox", "x"});
    EXPECT_EQ(d.rc, c.rc) << c.message;
    EXPECT_EQ(d.out, "");
  }
  absl::MutexLock lock(&fake_.mu);
  // --rm: the container that never started is removed by the CLI.
  ASSERT_EQ(fake_.removes.size(), 4u);
  EXPECT_TRUE(fake_.removes[0].force());
}

TEST_F(ContainerCommandsTest, RunBadFlagsExit125WithoutCallingTheDaemon) {
  auto dir = berth::testing::TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  std::string bad = dir->Sub("bad.env");
  FILE* f = fopen(bad.c_str(), "w");
  fputs("GOOD=1\nBAD KEY=2\n", f);
  fclose(f);
  Result r = Run({"run", "--env-file", bad, "busybox"});
  EXPECT_EQ(r.rc, 125);
  EXPECT_THAT(r.err, HasSubstr("berth: poorly formatted environment: variable 'BAD KEY' "
                               "contains whitespaces"));
  r = Run({"run", "-m", "lots", "busybox"});
  EXPECT_EQ(r.rc, 125);
  EXPECT_THAT(r.err, HasSubstr("invalid argument \"lots\" for \"-m, --memory\" flag"));
  r = Run({"run", "--bogus", "busybox"});
  EXPECT_EQ(r.rc, 125);
  EXPECT_THAT(r.err, HasSubstr("unknown flag: --bogus"));
  r = Run({"run"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("\"berth run\" requires at least 1 argument."));
  absl::MutexLock lock(&fake_.mu);
  EXPECT_TRUE(fake_.creates.empty());
}

TEST_F(ContainerCommandsTest, RunItNeedsATerminal) {
  int devnull = open("/dev/null", O_RDONLY);
  int saved = dup(STDIN_FILENO);
  dup2(devnull, STDIN_FILENO);
  close(devnull);
  Result r = Run({"run", "-it", "busybox", "sh"});
  dup2(saved, STDIN_FILENO);
  close(saved);
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "the input device is not a TTY\n");
}

TEST_F(ContainerCommandsTest, CreatePrintsTheId) {
  Result r = Run({"create", "--name", "c1", "-t", "busybox"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, kNewId + "\n");
  absl::MutexLock lock(&fake_.mu);
  EXPECT_TRUE(fake_.starts.empty());
  ASSERT_EQ(fake_.creates.size(), 1u);
  EXPECT_TRUE(fake_.creates[0].config().tty());
}

TEST_F(ContainerCommandsTest, StopEachReferencePrintsItAndReportsFailures) {
  Result r = Run({"stop", "-t", "5", "-s", "SIGINT", "web", "ghost", "db"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, "web\ndb\n");
  EXPECT_EQ(r.err, "Error response from daemon: No such container: ghost\n");
  absl::MutexLock lock(&fake_.mu);
  ASSERT_EQ(fake_.stops.size(), 2u);
  EXPECT_EQ(fake_.stops[0].timeout().seconds(), 5);
  EXPECT_EQ(fake_.stops[0].signal(), "SIGINT");
  EXPECT_EQ(fake_.stops[1].id(), "db");
}

TEST_F(ContainerCommandsTest, StopWithoutTimeUsesTheContainersDefault) {
  Result r = Run({"stop", "web"});
  EXPECT_EQ(r.rc, 0);
  absl::MutexLock lock(&fake_.mu);
  ASSERT_EQ(fake_.stops.size(), 1u);
  EXPECT_FALSE(fake_.stops[0].has_timeout());
}

TEST_F(ContainerCommandsTest, LifecycleCommands) {
  EXPECT_EQ(Run({"start", "web", "db"}).out, "web\ndb\n");
  EXPECT_EQ(Run({"restart", "web"}).out, "web\n");
  EXPECT_EQ(Run({"kill", "-s", "HUP", "web"}).out, "web\n");
  EXPECT_EQ(Run({"rm", "-f", "-v", "db"}).out, "db\n");
  EXPECT_EQ(Run({"pause", "web"}).out, "web\n");
  EXPECT_EQ(Run({"unpause", "web"}).out, "web\n");
  Result r = Run({"rename", "web", "db"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "Error response from daemon: Conflict. The container name \"db\" is already "
                   "in use\n");
  EXPECT_EQ(Run({"rename", "web", "www"}).rc, 0);
  r = Run({"rename", "web"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("\"berth rename\" requires exactly 2 arguments."));
  absl::MutexLock lock(&fake_.mu);
  ASSERT_EQ(fake_.kills.size(), 1u);
  EXPECT_EQ(fake_.kills[0].signal(), "HUP");
  ASSERT_EQ(fake_.removes.size(), 1u);
  EXPECT_TRUE(fake_.removes[0].force());
  EXPECT_TRUE(fake_.removes[0].remove_volumes());
  EXPECT_THAT(fake_.pauses, ElementsAre("pause:web", "unpause:web"));
  EXPECT_THAT(fake_.stops.back().id(), "restart:web");
}

TEST_F(ContainerCommandsTest, UpdateSendsOnlyTheGivenLimits) {
  Result r = Run({"update", "-m", "1g", "--cpus", "0.5", "--pids-limit", "50", "--restart",
                  "on-failure:2", "web"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "web\n");
  r = Run({"update", "web"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("you must provide one or more flags"));
  absl::MutexLock lock(&fake_.mu);
  ASSERT_EQ(fake_.updates.size(), 1u);
  const auto& u = fake_.updates[0];
  EXPECT_EQ(u.resources().memory(), int64_t{1} << 30);
  EXPECT_EQ(u.resources().nano_cpus(), 500000000);
  EXPECT_EQ(u.resources().pids_limit(), 50);
  EXPECT_EQ(u.resources().cpu_shares(), 0);
  EXPECT_EQ(u.restart_policy().name(), v1::RESTART_POLICY_NAME_ON_FAILURE);
  EXPECT_EQ(u.restart_policy().maximum_retry_count(), 2);
}

TEST_F(ContainerCommandsTest, WaitPrintsExitCodes) {
  Result r = Run({"wait", "db"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "7\n");
  r = Run({"wait", "ghost"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "Error response from daemon: No such container: ghost\n");
}

TEST_F(ContainerCommandsTest, PsTableQuietFormatsAndFilters) {
  Result r = Run({"ps"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("CONTAINER ID   IMAGE     COMMAND      CREATED             STATUS"));
  EXPECT_THAT(r.out, HasSubstr(kWebId.substr(0, 12) + "   busybox   \"httpd -f\"   About an hour ago"));
  EXPECT_THAT(r.out, Not(HasSubstr("db")));

  r = Run({"ps", "-a", "-q"});
  EXPECT_EQ(r.out, kWebId.substr(0, 12) + "\n" + FakeContainersService::IdFor("db").substr(0, 12) +
                       "\n");
  r = Run({"ps", "-aq", "--no-trunc"});
  EXPECT_EQ(r.out, kWebId + "\n" + FakeContainersService::IdFor("db") + "\n");
  r = Run({"ps", "-a", "--format", "{{.Names}}: {{.Status}}"});
  EXPECT_EQ(r.out, "web: Up About an hour\ndb: Exited (7) 2 hours ago\n");
  r = Run({"ps", "--format", "json"});
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["Names"], "web");
  EXPECT_EQ(j["State"], "running");
  r = Run({"ps", "--format", "table {{.Names}}\t{{.Image}}"});
  EXPECT_EQ(r.out, "NAMES     IMAGE\nweb       busybox\n");
  r = Run({"container", "ls", "-f", "status=exited", "--filter", "label=a=b", "-n", "3"});
  EXPECT_EQ(r.rc, 0) << r.err;
  r = Run({"ps", "--format", "{{.Nope"});
  EXPECT_EQ(r.rc, 125);
  EXPECT_THAT(r.err, HasSubstr("template parsing error"));
  absl::MutexLock lock(&fake_.mu);
  const auto& last = fake_.lists.back();
  ASSERT_EQ(last.filters_size(), 2);
  EXPECT_EQ(last.filters(0).key(), "status");
  EXPECT_EQ(last.filters(0).value(), "exited");
  EXPECT_EQ(last.filters(1).value(), "a=b");
  EXPECT_TRUE(last.all());
  EXPECT_EQ(last.limit(), 3);
}

TEST_F(ContainerCommandsTest, InspectJsonAndTemplates) {
  Result r = Run({"inspect", "web"});
  EXPECT_EQ(r.rc, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["Id"], kWebId);
  EXPECT_EQ(j[0]["Name"], "/web");
  EXPECT_EQ(j[0]["State"]["Status"], "running");
  EXPECT_EQ(j[0]["State"]["Pid"], 4242);
  EXPECT_THAT(r.out, HasSubstr("\n    {\n        \"Id\": "));  // docker's 4-space indent

  r = Run({"inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.Name}}", "web", "db"});
  EXPECT_EQ(r.out, "running 0 /web\nexited 7 /db\n");
  r = Run({"container", "inspect", "--format", "{{json .Config.Image}}", "web"});
  EXPECT_EQ(r.out, "\"busybox\"\n");

  r = Run({"container", "inspect", "ghost"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, "[]\n");
  EXPECT_EQ(r.err, "Error: No such container: ghost\n");
  // Plain `inspect` would have taken an image too: docker's wording then.
  r = Run({"inspect", "ghost"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "Error: No such object: ghost\n");
}

TEST_F(ContainerCommandsTest, LogsFormatsEntriesAndResolvesTimes) {
  Result r = Run({"logs", "web"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "line one\nlong line\n");
  EXPECT_EQ(r.err, "warn\n");
  r = Run({"logs", "-t", "--details", "--tail", "2", "--since", "10m", "--until",
           "2030-01-01T00:00:00Z", "web"});
  EXPECT_EQ(r.out,
            "2023-11-14T22:13:20.000000000Z tag=x line one\n"
            "2023-11-14T22:13:22.000000000Z tag=x long line\n");
  absl::MutexLock lock(&fake_.mu);
  ASSERT_EQ(fake_.logs.size(), 2u);
  EXPECT_FALSE(fake_.logs[0].has_tail());
  EXPECT_FALSE(fake_.logs[0].has_since());
  const auto& l = fake_.logs[1];
  EXPECT_EQ(l.tail(), 2);
  EXPECT_TRUE(l.details());
  EXPECT_NEAR(l.since().seconds(), absl::ToUnixSeconds(absl::Now() - absl::Minutes(10)), 30);
  EXPECT_EQ(l.until().seconds(), 1893456000);
}

TEST_F(ContainerCommandsTest, ExecRunsAndReturnsTheExitCode) {
  Result r = Run({"exec", "-e", "X=1", "-u", "nobody", "-w", "/tmp", "web", "sh", "-c", "exit 3"});
  EXPECT_EQ(r.rc, 3) << r.err;
  EXPECT_EQ(r.out, "exec output\n");
  r = Run({"exec", "-d", "web", "sleep", "10"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, "");
  r = Run({"exec", "db", "ls"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "Error response from daemon: container db is not running\n");
  r = Run({"exec", "web", "nope"});
  EXPECT_EQ(r.rc, 127);
  absl::MutexLock lock(&fake_.mu);
  ASSERT_EQ(fake_.execs.size(), 2u);
  EXPECT_THAT(fake_.execs[0].cmd(), ElementsAre("sh", "-c", "exit 3"));
  EXPECT_THAT(fake_.execs[0].env(), ElementsAre("X=1"));
  EXPECT_EQ(fake_.execs[0].user(), "nobody");
  EXPECT_EQ(fake_.execs[0].working_dir(), "/tmp");
  EXPECT_FALSE(fake_.execs[0].stdin());
  EXPECT_TRUE(fake_.execs[1].detach());
}

TEST_F(ContainerCommandsTest, TopStatsAndPrune) {
  Result r = Run({"top", "web", "aux"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "PID       CMD\n4242      args=aux\n");
  r = Run({"stats", "--no-stream", "web"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT"));
  EXPECT_THAT(r.out, HasSubstr(kWebId.substr(0, 12) + "   web       10.00%    1MiB / 1GiB"));
  r = Run({"stats", "--no-stream", "--format", "{{.Container}} {{.CPUPerc}} {{.PIDs}}", "web"});
  EXPECT_EQ(r.out, "web 10.00% 2\n");
  r = Run({"stats", "--no-stream", "ghost"});
  EXPECT_EQ(r.rc, 1);
  r = Run({"container", "prune", "-f"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "Deleted Containers:\n" + FakeContainersService::IdFor("db") +
                       "\n\nTotal reclaimed space: 12kB\n");
}

TEST_F(ContainerCommandsTest, ContainerGroupAliases) {
  EXPECT_EQ(Run({"container", "ps", "-q"}).out, kWebId.substr(0, 12) + "\n");
  EXPECT_EQ(Run({"container", "list", "-q"}).out, kWebId.substr(0, 12) + "\n");
  EXPECT_EQ(Run({"container", "remove", "db"}).out, "db\n");
  EXPECT_EQ(Run({"container", "stop", "web"}).out, "web\n");
  Result r = Run({"container", "frob"});
  EXPECT_EQ(r.rc, 125);
  EXPECT_THAT(r.err, HasSubstr("'frob' is not a berth container command"));
  r = Run({"container", "run", "--help"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_THAT(r.out, HasSubstr("--restart"));
}

TEST_F(ContainerCommandsTest, StartAttachRelaysAndExitsWithTheCode) {
  Result r = Run({"start", "-a", "web"});
  EXPECT_EQ(r.rc, 3) << r.err;
  EXPECT_EQ(r.out, "hello\n");
  r = Run({"start", "-a", "web", "db"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("you cannot start and attach multiple containers at once"));
}

TEST_F(ContainerCommandsTest, AttachRefusesStoppedContainers) {
  Result r = Run({"attach", "db"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "You cannot attach to a stopped container, start it first\n");
  r = Run({"attach", "--detach-keys", "ctrl-1", "web"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "Unknown character: 'ctrl-1'\n");
}

TEST(ContainerCommandsNoDaemonTest, RunWithoutDaemonExits125) {
  std::ostringstream out, err;
  int rc = RunCli({"-H", "unix:///tmp/berth-no-such-dir/berthd.sock", "run", "busybox"}, out, err);
  EXPECT_EQ(rc, 125);
  EXPECT_THAT(err.str(), HasSubstr("berth: Cannot connect to the berth daemon at"));
}

}  // namespace
}  // namespace berth::cli
