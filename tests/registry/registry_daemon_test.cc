// berth-registry as a process: flags, start-up log lines, the /v2/ API, /metrics, SIGTERM.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/testing/child_process.h"
#include "common/testing/http_get.h"
#include "common/testing/runfiles.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon_harness.h"

namespace berth {
namespace {

using ::berth::testing::ChildProcess;
using ::berth::testing::HttpGet;
using ::berth::testing::IsOk;
using ::berth::testing::ReadFileOrEmpty;
using ::berth::testing::TempDir;
using ::berth::testing::WaitFor;
using ::testing::HasSubstr;

constexpr absl::Duration kStartTimeout = absl::Seconds(10);

class RegistryDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(std::move(*dir));
    log_ = dir_->Sub("registry.log");
  }

  absl::StatusOr<ChildProcess> StartRegistry(const std::vector<std::string>& flags) {
    std::vector<std::string> argv = {berth::testing::RunfilePath("registry/berth-registry")};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return ChildProcess::Start(argv, log_);
  }

  std::vector<std::string> DefaultFlags() const {
    return {"--listen=127.0.0.1:0", "--metrics-addr=127.0.0.1:0",
            absl::StrCat("--root=", dir_->Sub("root"))};
  }

  // Waits for the child to exit and returns its exit code (-1 if it did not exit normally).
  int ExitCode(ChildProcess& child) {
    auto status = child.Wait(absl::Seconds(10));
    EXPECT_THAT(status, IsOk());
    if (!status.ok() || !WIFEXITED(*status)) return -1;
    return WEXITSTATUS(*status);
  }

  std::string Log() const { return ReadFileOrEmpty(log_); }

  std::optional<TempDir> dir_;
  std::string log_;
};

TEST_F(RegistryDaemonTest, ServesApiAndMetricsThenStopsOnSigterm) {
  auto child = StartRegistry(DefaultFlags());
  ASSERT_THAT(child, IsOk());
  auto api_or = berth::tests::WaitForLogValue(log_, "registry listening address", kStartTimeout);
  ASSERT_THAT(api_or, IsOk());
  auto metrics_or =
      berth::tests::WaitForLogValue(log_, "metrics listening address", kStartTimeout);
  ASSERT_THAT(metrics_or, IsOk());
  const std::string api = *api_or, metrics = *metrics_or;

  auto base = HttpGet(api, "/v2/");
  ASSERT_THAT(base, IsOk());
  EXPECT_EQ(base->status, 200);
  EXPECT_THAT(base->headers, HasSubstr("Docker-Distribution-API-Version: registry/2.0"));
  EXPECT_THAT(base->headers, HasSubstr("Content-Type: application/json"));
  EXPECT_EQ(base->body, "{}");

  auto unknown = HttpGet(api, "/v2/library/alpine/manifests/latest");
  ASSERT_THAT(unknown, IsOk());
  EXPECT_EQ(unknown->status, 404);
  EXPECT_THAT(unknown->body, HasSubstr(R"({"errors":[{"code":"NAME_UNKNOWN")"));

  struct stat st;
  ASSERT_EQ(stat(dir_->Sub("root").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0700u);

  // The GET above is counted once its response is out; poll rather than assume.
  const std::string counted =
      R"(berth_registry_http_requests_total{code="200",method="GET",route="/v2/"} 1)";
  std::string exposition;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = HttpGet(metrics, "/metrics");
        exposition = r.ok() ? r->body : "";
        return absl::StrContains(exposition, counted);
      },
      absl::Seconds(5)))
      << exposition;
  EXPECT_THAT(exposition, HasSubstr("berth_registry_build_info{"));
  EXPECT_THAT(exposition, HasSubstr("berth_registry_http_request_duration_seconds_bucket{"));
  EXPECT_THAT(exposition, HasSubstr("berth_registry_http_connections_open "));
  EXPECT_THAT(berth::testing::PromtoolCheckMetrics(exposition), IsOk());

  ASSERT_THAT(child->Signal(SIGTERM), IsOk());
  EXPECT_EQ(ExitCode(*child), 0) << Log();
  EXPECT_THAT(Log(), HasSubstr("registry stopped"));
}

TEST_F(RegistryDaemonTest, MalformedListenAddressExitsNonZero) {
  std::vector<std::string> flags = DefaultFlags();
  flags[0] = "--listen=nonsense";
  auto child = StartRegistry(flags);
  ASSERT_THAT(child, IsOk());
  EXPECT_NE(ExitCode(*child), 0);
  EXPECT_THAT(Log(), HasSubstr("listen address \"nonsense\": want host:port"));
}

TEST_F(RegistryDaemonTest, BusyListenPortExitsNonZero) {
  // Hold a listening socket on a free port for the duration of the test.
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string busy = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));

  std::vector<std::string> flags = DefaultFlags();
  flags[0] = "--listen=" + busy;
  auto child = StartRegistry(flags);
  ASSERT_THAT(child, IsOk());
  EXPECT_NE(ExitCode(*child), 0);
  EXPECT_THAT(Log(), HasSubstr(absl::StrCat("listen ", busy, ": bind: Address already in use")));
  close(fd);
}

TEST_F(RegistryDaemonTest, UnreadableConfigExitsNonZero) {
  std::vector<std::string> flags = DefaultFlags();
  const std::string missing = dir_->Sub("no-such-config.json");
  flags.push_back("--config=" + missing);
  auto child = StartRegistry(flags);
  ASSERT_THAT(child, IsOk());
  EXPECT_NE(ExitCode(*child), 0);
  EXPECT_THAT(Log(), HasSubstr(absl::StrCat("berth-registry: --config: read ", missing)));
}

}  // namespace
}  // namespace berth
