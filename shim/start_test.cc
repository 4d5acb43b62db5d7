// `berth-shim start`'s readiness handshake with its daemon (see main.cc): start returns once the
// daemon serves (no polling), the daemon drops the readiness pipe once it has answered, and a
// daemon that dies before serving makes start fail at once with the daemon's own error.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "berth/shim/task/v1/task.grpc.pb.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/testing/child_process.h"
#include "common/testing/runfiles.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shim/rpc/unix.h"
#include "shim/task/bootstrap.h"

namespace berth::shim {
namespace {

using ::berth::testing::IsOk;

class StartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = berth::testing::TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(std::move(*dir));
    bundle_ = dir_->Sub("bundle");
    state_ = dir_->Sub("st");
    ASSERT_THAT(fs::MakeDirs(bundle_, 0700), IsOk());
    // start and serve only check that it exists; no container is created here.
    ASSERT_THAT(fs::WriteFileAtomically(bundle_ + "/config.json", "{}", 0600), IsOk());
  }

  void TearDown() override {
    if (daemon_ > 0) {
      ::kill(daemon_, SIGKILL);
      const absl::Time deadline = absl::Now() + absl::Seconds(10);
      while (::kill(daemon_, 0) == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
    }
  }

  std::vector<std::string> StartArgs() {
    return {berth::testing::RunfilePath("shim/berth-shim"),
            "start",
            "--namespace=starttest",
            "--id=c1",
            "--bundle=" + bundle_,
            "--state_dir=" + state_,
            "--address=unix://" + dir_->Sub("containerd.sock"),
            "--start_timeout=20s"};
  }

  // The pids of live berth-shim processes whose command line names our bundle.
  std::vector<pid_t> OurShims() {
    std::vector<pid_t> out;
    auto names = fs::ListDir("/proc");
    if (!names.ok()) return out;
    for (const std::string& n : *names) {
      if (n.find_first_not_of("0123456789") != std::string::npos) continue;
      auto cmdline = fs::ReadFile("/proc/" + n + "/cmdline");
      if (cmdline.ok() && absl::StrContains(*cmdline, "--bundle=" + bundle_)) {
        out.push_back(static_cast<pid_t>(std::stoi(n)));
      }
    }
    return out;
  }

  std::optional<berth::testing::TempDir> dir_;  // removed (with the socket) after the daemon
  std::string bundle_, state_;
  pid_t daemon_ = 0;
};

TEST_F(StartTest, ReturnsOnceTheDaemonServesAndTheDaemonDropsThePipe) {
  auto r = berth::testing::RunCommand(StartArgs());
  ASSERT_THAT(r, IsOk());
  ASSERT_TRUE(r->Succeeded()) << r->output;
  std::string json;
  for (absl::string_view line : absl::StrSplit(r->output, '\n')) {
    if (absl::StartsWith(line, "{")) json = std::string(line);
  }
  auto params = task::BootstrapParamsFromJson(json);
  ASSERT_THAT(params, IsOk()) << r->output;
  daemon_ = static_cast<pid_t>(params->shim_pid());
  EXPECT_THAT(task::ShimIsAlive(*params), ::testing::Truly([](const absl::StatusOr<bool>& a) {
                return a.ok() && *a;
              }));
  EXPECT_THAT(task::ReadBootstrapFile(bundle_), IsOk());

  // It answers on its socket at once: start returned only after it listened.
  auto channel = rpc::DialUnix(params->address());
  ASSERT_THAT(channel, IsOk());
  auto stub = task::v1::Task::NewStub(*channel);
  ::grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  task::v1::ConnectRequest req;
  req.set_container_id("c1");
  task::v1::ConnectResponse resp;
  ASSERT_TRUE(stub->Connect(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.shim_pid(), params->shim_pid());

  // The daemon's argv names the pipe it was given; having answered, it holds it no more (a
  // runtime or container process must never inherit it).
  auto cmdline = fs::ReadFile("/proc/" + std::to_string(daemon_) + "/cmdline");
  ASSERT_THAT(cmdline, IsOk());
  std::string fd;
  for (absl::string_view arg : absl::StrSplit(*cmdline, '\0')) {
    if (absl::ConsumePrefix(&arg, "--ready_fd=")) fd = std::string(arg);
  }
  ASSERT_FALSE(fd.empty()) << *cmdline;
  char target[256] = {};
  const std::string link = "/proc/" + std::to_string(daemon_) + "/fd/" + fd;
  const ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
  EXPECT_FALSE(n > 0 && absl::StartsWith(target, "pipe:")) << link << " -> " << target;
}

TEST_F(StartTest, ADaemonThatFailsBeforeServingFailsStartWithItsError) {
  // A regular file where the daemon's socket goes: serve refuses to replace it and exits.
  auto socket = task::ShimSocketPath(state_, "starttest", "c1");
  ASSERT_THAT(socket, IsOk());
  ASSERT_THAT(fs::MakeDirs(socket->substr(0, socket->rfind('/')), 0755), IsOk());
  ASSERT_THAT(fs::WriteFileAtomically(*socket, "not a socket", 0600), IsOk());

  const absl::Time begin = absl::Now();
  auto r = berth::testing::RunCommand(StartArgs());
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->Succeeded());
  // Learnt from the pipe's EOF, not from --start_timeout (20 s).
  EXPECT_LT(absl::Now() - begin, absl::Seconds(10));
  EXPECT_TRUE(absl::StrContains(r->output, "shim daemon exited")) << r->output;
  EXPECT_TRUE(absl::StrContains(r->output, "is not a socket")) << r->output;
  EXPECT_FALSE(task::ReadBootstrapFile(bundle_).ok());
  EXPECT_TRUE(OurShims().empty());
  // Start left what it did not create alone.
  EXPECT_THAT(fs::ReadFile(*socket), IsOk());
}

}  // namespace
}  // namespace berth::shim
