// berth-shim upgrade in place (root only): SIGUSR2 makes a running shim re-exec its binary
// while its container keeps printing; the shim keeps its pid, the container its pid and state,
// and the json-file log goes on without a lost or torn line.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fs/fs.h"
#include "common/proc/proc.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "tests/shim/shim_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::shim {
namespace {

using ::berth::testing::IsOk;
using nlohmann::json;

class UpgradeTest : public ShimFixture {
 protected:
  // The "log" fields of the json-file log, in order.
  std::vector<std::string> LogLines() {
    std::vector<std::string> out;
    std::string text = berth::testing::ReadFileOrEmpty(log_path_);
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
      out.push_back(j.is_object() ? j.value("log", std::string("<no log>"))
                                  : "<bad entry " + std::string(line) + ">");
    }
    return out;
  }

  // How many of the shim's fds are pipes.
  int PipeFds(pid_t pid) {
    int n = 0;
    const std::string dir = absl::StrCat("/proc/", pid, "/fd");
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return -1;
    while (struct dirent* e = readdir(d)) {
      char target[256];
      const ssize_t len =
          readlink((dir + "/" + e->d_name).c_str(), target, sizeof(target) - 1);
      if (len > 0 && absl::StartsWith(absl::string_view(target, len), "pipe:")) ++n;
    }
    closedir(d);
    return n;
  }

  std::string log_path_;
};

TEST_F(UpgradeTest, SigusrTwoReplacesTheShimWithoutStoppingTheContainer) {
  MakeBundle({"sh", "-c", "i=0; while true; do i=$((i+1)); echo line$i; sleep 0.1; done"});
  StartShim();
  ASSERT_NE(stub_, nullptr);
  log_path_ = absl::StrCat(bundle_, "/", id_, "-json.log");
  const uint32_t pid = CreateAndStart(CreateRequest());
  ASSERT_NE(pid, 0u);
  auto container = proc::ProcessIdentity::Current(static_cast<pid_t>(pid));
  ASSERT_THAT(container, IsOk());
  ASSERT_TRUE(berth::testing::WaitFor([&] { return LogLines().size() >= 5; }, absl::Seconds(10)));
  const int pipes_before = PipeFds(shim_->pid);

  ASSERT_EQ(kill(shim_->pid, SIGUSR2), 0);
  ASSERT_TRUE(berth::testing::WaitFor(
      [&] {
        return absl::StrContains(berth::testing::ReadFileOrEmpty(bundle_ + "/shim.log"),
                                 "shim restored");
      },
      absl::Seconds(10)))
      << berth::testing::ReadFileOrEmpty(bundle_ + "/shim.log");
  const size_t lines_at_upgrade = LogLines().size();

  // Same shim process (pid and start time), same container process.
  auto shim_alive = shim_->IsAlive();
  ASSERT_THAT(shim_alive, IsOk());
  EXPECT_TRUE(*shim_alive);
  auto container_alive = container->IsAlive();
  ASSERT_THAT(container_alive, IsOk());
  EXPECT_TRUE(*container_alive);
  struct stat st;
  EXPECT_NE(stat((bundle_ + "/upgrade.json").c_str(), &st), 0) << "state file left behind";

  // The new image serves on the same socket (the channel reconnects) with the same state.
  v1::StateResponse state;
  ASSERT_TRUE(berth::testing::WaitFor(
      [&] {
        v1::StateRequest req;
        req.set_container_id(id_);
        state.Clear();
        return stub_->State(Ctx().get(), req, &state).ok();
      },
      absl::Seconds(10)));
  EXPECT_EQ(state.process().status(), types::v1::PROCESS_STATUS_RUNNING);
  EXPECT_EQ(state.process().pid(), pid);
  EXPECT_EQ(state.process().pid_start_time(), container->start_time);
  EXPECT_EQ(state.process().log_path(), log_path_);
  EXPECT_TRUE(state.process().has_started_at());
  {
    v1::ConnectRequest req;
    req.set_container_id(id_);
    v1::ConnectResponse resp;
    ASSERT_TRUE(stub_->Connect(Ctx().get(), req, &resp).ok());
    EXPECT_EQ(resp.shim_pid(), static_cast<uint32_t>(shim_->pid));
    EXPECT_EQ(resp.shim_start_time(), shim_->start_time);
    EXPECT_EQ(resp.task_pid(), pid);
  }

  // The log keeps growing, every line whole and in sequence across the upgrade.
  ASSERT_TRUE(berth::testing::WaitFor([&] { return LogLines().size() >= lines_at_upgrade + 10; },
                                      absl::Seconds(10)));
  std::vector<std::string> lines = LogLines();
  for (size_t i = 0; i < lines.size(); ++i) {
    ASSERT_EQ(lines[i], absl::StrCat("line", i + 1, "\n")) << "entry " << i;
  }
  // The output pipes were handed over, not duplicated.
  EXPECT_EQ(PipeFds(shim_->pid), pipes_before);

  // The new image reaps and reports the container's exit.
  EXPECT_EQ(Kill(SIGKILL), ::grpc::StatusCode::OK);
  EXPECT_EQ(Wait().exit_status(), 137u);
  EXPECT_EQ(Status(), types::v1::PROCESS_STATUS_STOPPED);
  EXPECT_EQ(Delete(), ::grpc::StatusCode::OK);
  StopShim();
}

// A terminal is not handed over: the shim refuses, logs it and keeps serving as it was.
TEST_F(UpgradeTest, RefusedWhileATerminalExists) {
  MakeBundle({"sleep", "100"}, /*populate=*/true, /*terminal=*/true);
  StartShim();
  ASSERT_NE(stub_, nullptr);
  v1::CreateRequest req = CreateRequest();
  req.set_terminal(true);
  const uint32_t pid = CreateAndStart(req);
  ASSERT_NE(pid, 0u);

  ASSERT_EQ(kill(shim_->pid, SIGUSR2), 0);
  ASSERT_TRUE(berth::testing::WaitFor(
      [&] {
        return absl::StrContains(berth::testing::ReadFileOrEmpty(bundle_ + "/shim.log"),
                                 "upgrade not done");
      },
      absl::Seconds(10)))
      << berth::testing::ReadFileOrEmpty(bundle_ + "/shim.log");
  const std::string log = berth::testing::ReadFileOrEmpty(bundle_ + "/shim.log");
  EXPECT_TRUE(absl::StrContains(log, "terminal is not handed over")) << log;
  EXPECT_FALSE(absl::StrContains(log, "shim restored")) << log;
  struct stat st;
  EXPECT_NE(stat((bundle_ + "/upgrade.json").c_str(), &st), 0);

  // Same image, same connection, still running.
  auto alive = shim_->IsAlive();
  ASSERT_THAT(alive, IsOk());
  EXPECT_TRUE(*alive);
  EXPECT_EQ(Status(), types::v1::PROCESS_STATUS_RUNNING);
  EXPECT_EQ(Kill(SIGKILL), ::grpc::StatusCode::OK);
  EXPECT_EQ(Wait().exit_status(), 137u);
  EXPECT_EQ(Delete(), ::grpc::StatusCode::OK);
  StopShim();
}

}  // namespace
}  // namespace berth::shim
