// berthd, berth-containerd and the berth CLI as real processes: health, reflection, metrics,
// versions end to end, clean shutdown, and clear failures when a peer is missing.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/grpc/probe.h"
#include "common/grpc/server.h"
#include "common/testing/http_get.h"
#include "common/testing/runfiles.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "common/version/version.h"
#include "gtest/gtest.h"
#include "tests/daemon_harness.h"

namespace berth::tests {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::TempDir;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

void ExpectHealthyWithServices(const RunningDaemon& d, const std::vector<std::string>& services) {
  auto ch = grpc_util::DialUnix(d.socket);
  ASSERT_THAT(ch, IsOk());
  auto health = grpc_util::CheckHealth(*ch, "", absl::Seconds(5));
  ASSERT_THAT(health, IsOk());
  EXPECT_EQ(*health, grpc_util::ServingStatus::kServing);
  auto listed = grpc_util::ListServices(*ch, absl::Seconds(5));
  ASSERT_THAT(listed, IsOk());
  EXPECT_THAT(*listed, Contains("grpc.health.v1.Health"));
  for (const auto& s : services) EXPECT_THAT(*listed, Contains(s));
}

void ExpectMetrics(const RunningDaemon& d, const std::string& daemon) {
  EXPECT_THAT(d.metrics_addr, HasSubstr("127.0.0.1:"));
  auto resp = berth::testing::HttpGet(d.metrics_addr, "/metrics");
  ASSERT_THAT(resp, IsOk());
  EXPECT_EQ(resp->status, 200);
  EXPECT_THAT(resp->body, HasSubstr("berth_" + daemon + "_build_info{"));
  EXPECT_THAT(resp->body, HasSubstr("process_resident_memory_bytes"));
  // The health probe above went through the interceptor.
  EXPECT_THAT(resp->body, HasSubstr("berth_" + daemon + "_grpc_requests_total{"));
  EXPECT_THAT(berth::testing::PromtoolCheckMetrics(resp->body), IsOk());
}

void ExpectCleanStop(RunningDaemon& d) {
  auto st = d.Stop();
  ASSERT_THAT(st, IsOk());
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0)
      << "wait status " << *st << "\n" << berth::testing::ReadFileOrEmpty(d.log_path);
  EXPECT_FALSE(Exists(d.socket)) << "socket left behind: " << d.socket;
}

TEST(DaemonsTest, BothDaemonsServeAndCliShowsBothVersions) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  auto cd = StartContainerd(*dir);
  ASSERT_THAT(cd, IsOk());
  auto bd = StartBerthd(*dir, cd->socket);
  ASSERT_THAT(bd, IsOk());

  ExpectHealthyWithServices(*cd, {"berth.containerd.version.v1.Version"});
  ExpectHealthyWithServices(*bd, {"berth.engine.v1.System"});
  ExpectMetrics(*cd, "containerd");
  ExpectMetrics(*bd, "engine");

  struct stat st;
  ASSERT_EQ(stat(bd->socket.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u) << "API socket must be 0660";

  auto version = RunBerth(bd->socket, {"version"});
  ASSERT_THAT(version, IsOk());
  EXPECT_TRUE(version->Succeeded()) << version->output;
  EXPECT_THAT(version->output, HasSubstr("Client:"));
  EXPECT_THAT(version->output, HasSubstr("Server: berth engine"));
  EXPECT_THAT(version->output, HasSubstr("berth-containerd:"));
  EXPECT_THAT(version->output, Not(HasSubstr("Error")));

  auto info = RunBerth(bd->socket, {"info"});
  ASSERT_THAT(info, IsOk());
  EXPECT_TRUE(info->Succeeded()) << info->output;
  EXPECT_THAT(info->output, HasSubstr(std::string("berthd version: ") + kVersion));
  EXPECT_THAT(info->output, HasSubstr(std::string("berth-containerd version: ") + kVersion));
  EXPECT_THAT(info->output, HasSubstr("Berth Root Dir: " + dir->Sub("b-root")));

  auto json = RunBerth(bd->socket, {"info", "--format", "json"});
  ASSERT_THAT(json, IsOk());
  EXPECT_TRUE(json->Succeeded()) << json->output;
  EXPECT_THAT(json->output, HasSubstr("\"liveRestoreEnabled\": true"));

  ExpectCleanStop(*bd);
  ExpectCleanStop(*cd);
}

TEST(DaemonsTest, EngineIdSurvivesRestart) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  std::string ids[2];
  for (auto& id : ids) {
    auto bd = StartBerthd(*dir, dir->Sub("absent/containerd.sock"));
    ASSERT_THAT(bd, IsOk());
    auto info = RunBerth(bd->socket, {"info"});
    ASSERT_THAT(info, IsOk());
    size_t at = info->output.find(" ID: ");
    ASSERT_NE(at, std::string::npos) << info->output;
    id = info->output.substr(at + 5, 64);
    ExpectCleanStop(*bd);
  }
  EXPECT_EQ(ids[0], ids[1]);
}

TEST(DaemonsTest, BerthdReportsMissingContainerdButKeepsServing) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  auto bd = StartBerthd(*dir, dir->Sub("absent/containerd.sock"));
  ASSERT_THAT(bd, IsOk());
  auto version = RunBerth(bd->socket, {"version"});
  ASSERT_THAT(version, IsOk());
  EXPECT_TRUE(version->Succeeded()) << version->output;
  EXPECT_THAT(version->output, HasSubstr("cannot reach berth-containerd"));
  auto info = RunBerth(bd->socket, {"info"});
  ASSERT_THAT(info, IsOk());
  EXPECT_THAT(info->output, HasSubstr("berth-containerd version: unavailable"));
  EXPECT_THAT(info->output, HasSubstr("WARNING: cannot reach berth-containerd"));
  ExpectCleanStop(*bd);
}

TEST(DaemonsTest, CliFailsClearlyWithoutDaemon) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  for (const char* cmd : {"version", "info"}) {
    auto r = RunBerth(dir->Sub("none.sock"), {cmd});
    ASSERT_THAT(r, IsOk());
    EXPECT_TRUE(WIFEXITED(r->wait_status));
    EXPECT_EQ(WEXITSTATUS(r->wait_status), 1) << r->output;
    EXPECT_THAT(r->output, HasSubstr("Cannot connect to the berth daemon at unix://" +
                                     dir->Sub("none.sock") + ". Is berthd running?"));
  }
}

TEST(DaemonsTest, SecondDaemonOnSameSocketRefusesAndLeavesFirstAlone) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  auto first = StartContainerd(*dir);
  ASSERT_THAT(first, IsOk());
  auto second = berth::testing::RunCommand(
      {berth::testing::RunfilePath("containerd/berth-containerd"), "--root=" + dir->Sub("r2"),
       "--state=" + dir->Sub("s2"), "--address=unix://" + first->socket,
       "--metrics-addr=127.0.0.1:0"});
  ASSERT_THAT(second, IsOk());
  EXPECT_FALSE(second->Succeeded());
  EXPECT_THAT(second->output, HasSubstr("another process is serving on " + first->socket));
  ExpectHealthyWithServices(*first, {});
  ExpectCleanStop(*first);
}

TEST(DaemonsTest, BadFlagsFailWithClearErrors) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  const std::string berthd = berth::testing::RunfilePath("engine/berthd");
  auto r = berth::testing::RunCommand({berthd, "--host=tcp://0.0.0.0:2375",
                                       "--root=" + dir->Sub("r"), "--exec-root=" + dir->Sub("e"),
                                       "--metrics-addr=127.0.0.1:0"});
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->Succeeded());
  EXPECT_THAT(r->output, HasSubstr("only unix:// sockets are supported"));

  r = berth::testing::RunCommand({berthd, "--metrics-addr=nonsense", "--root=" + dir->Sub("r"),
                                  "--exec-root=" + dir->Sub("e"),
                                  "--host=unix://" + dir->Sub("x.sock")});
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->Succeeded());
  EXPECT_THAT(r->output, HasSubstr("want host:port"));
  EXPECT_FALSE(Exists(dir->Sub("x.sock")));

  r = berth::testing::RunCommand({berthd, "--no-such-flag"});
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->Succeeded());
  EXPECT_THAT(r->output, HasSubstr("no_such_flag"));
}

}  // namespace
}  // namespace berth::tests
