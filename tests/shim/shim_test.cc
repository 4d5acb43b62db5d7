// berth-shim end to end (root only): `start` daemonizes a shim, the Task API
// creates and starts a busybox container that prints two lines and exits 3,
// Wait and the json-file log report it, Delete and Shutdown end it, and
// `berth-shim delete` reports the recorded exit afterwards. Nothing may be
// left: no process, cgroup, mount or socket.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "berth/shim/task/v1/task.grpc.pb.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/grpc/server.h"
#include "common/proc/proc.h"
#include "common/testing/child_process.h"
#include "common/testing/runfiles.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "shim/process/exit_record.h"
#include "shim/task/bootstrap.h"
#include "tests/shim/shim_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::shim {
namespace {

using ::berth::testing::IsOk;
using nlohmann::json;

class ShimTest : public ShimFixture {
protected:
  void SetUp() override {
    ShimFixture::SetUp();
    if (IsSkipped()) return;
    MakeBundle({"sh", "-c", "echo one; echo two >&2; exit 3"});
  }
};

TEST_F(ShimTest, RunsAContainerThroughTheTaskApi) {
  auto params = task::BootstrapParamsFromJson(RunShim("start"));
  ASSERT_THAT(params, IsOk());
  shim_ = proc::ProcessIdentity{static_cast<pid_t>(params->shim_pid()),
                                params->shim_start_time()};
  EXPECT_EQ(params->version(), 1u);
  EXPECT_EQ(params->protocol(), "grpc");
  auto socket_path = task::ShimSocketPath(state_, "test", id_);
  ASSERT_THAT(socket_path, IsOk());
  EXPECT_EQ(params->address(), "unix://" + *socket_path);
  struct stat st;
  ASSERT_EQ(stat(socket_path->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // A retried start finds the running shim.
  auto again = task::BootstrapParamsFromJson(RunShim("start"));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->shim_pid(), params->shim_pid());
  EXPECT_EQ(again->shim_start_time(), params->shim_start_time());

  auto channel = grpc_util::DialUnix(params->address());
  ASSERT_THAT(channel, IsOk());
  auto stub = v1::Task::NewStub(*channel);
  auto ctx = [] {
    auto c = std::make_unique<::grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(30));
    return c;
  };

  {
    v1::ConnectRequest req;
    req.set_container_id(id_);
    v1::ConnectResponse resp;
    ASSERT_TRUE(stub->Connect(ctx().get(), req, &resp).ok());
    EXPECT_EQ(resp.shim_pid(), params->shim_pid());
    EXPECT_EQ(resp.shim_start_time(), params->shim_start_time());
    EXPECT_EQ(resp.namespace_(), "test");
    EXPECT_EQ(resp.bundle(), bundle_);
    EXPECT_EQ(resp.task_pid(), 0u);
    req.set_container_id("other");
    EXPECT_EQ(stub->Connect(ctx().get(), req, &resp).error_code(),
              ::grpc::StatusCode::NOT_FOUND);
  }

  uint32_t pid = 0;
  {
    v1::CreateRequest req;
    req.set_container_id(id_);
    req.set_bundle(bundle_);
    v1::CreateResponse resp;
    auto s = stub->Create(ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    pid = resp.pid();
    EXPECT_GT(pid, 0u);
    EXPECT_EQ(resp.log_path(), absl::StrCat(bundle_, "/", id_, "-json.log"));
    EXPECT_EQ(stub->Create(ctx().get(), req, &resp).error_code(),
              ::grpc::StatusCode::ALREADY_EXISTS);
  }
  {
    v1::StateRequest req;
    req.set_container_id(id_);
    v1::StateResponse resp;
    ASSERT_TRUE(stub->State(ctx().get(), req, &resp).ok());
    EXPECT_EQ(resp.process().status(), types::v1::PROCESS_STATUS_CREATED);
    EXPECT_EQ(resp.process().pid(), pid);
  }
  {
    v1::StartRequest req;
    req.set_container_id(id_);
    v1::StartResponse resp;
    auto s = stub->Start(ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.pid(), pid);
  }
  {
    v1::WaitRequest req;
    req.set_container_id(id_);
    v1::WaitResponse resp;
    auto s = stub->Wait(ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.exit_status(), 3u);
    // After the fact: the same answer.
    v1::WaitResponse again;
    ASSERT_TRUE(stub->Wait(ctx().get(), req, &again).ok());
    EXPECT_EQ(again.exit_status(), 3u);
    EXPECT_EQ(again.exited_at().seconds(), resp.exited_at().seconds());
  }
  {
    auto record = process::ReadExitRecord(bundle_ + "/exit.json");
    ASSERT_THAT(record, IsOk());
    EXPECT_EQ(record->exit_status(), 3u);
    EXPECT_EQ(record->pid(), pid);
  }
  {
    v1::StateRequest req;
    req.set_container_id(id_);
    v1::StateResponse resp;
    ASSERT_TRUE(stub->State(ctx().get(), req, &resp).ok());
    EXPECT_EQ(resp.process().status(), types::v1::PROCESS_STATUS_STOPPED);
    EXPECT_EQ(resp.process().exit_status(), 3u);
    v1::KillRequest kill;
    kill.set_container_id(id_);
    kill.set_signal(SIGKILL);
    v1::KillResponse kill_resp;
    EXPECT_EQ(stub->Kill(ctx().get(), kill, &kill_resp).error_code(),
              ::grpc::StatusCode::FAILED_PRECONDITION);
  }
  {
    v1::DeleteRequest req;
    req.set_container_id(id_);
    v1::DeleteResponse resp;
    auto s = stub->Delete(ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.exit_status(), 3u);
    EXPECT_EQ(resp.pid(), pid);
    EXPECT_EQ(stub->Delete(ctx().get(), req, &resp).error_code(),
              ::grpc::StatusCode::NOT_FOUND);
  }
  // Delete joined the pumps, so the log is complete.
  {
    auto log = fs::ReadFile(absl::StrCat(bundle_, "/", id_, "-json.log"));
    ASSERT_THAT(log, IsOk());
    std::vector<std::string> lines =
        absl::StrSplit(*log, '\n', absl::SkipEmpty());
    ASSERT_EQ(lines.size(), 2u) << *log;
    std::map<std::string, std::string> by_stream;
    for (const auto &l : lines) {
      json e = json::parse(l);
      by_stream[e["stream"].get<std::string>()] = e["log"].get<std::string>();
      EXPECT_TRUE(e.contains("time"));
    }
    EXPECT_EQ(by_stream["stdout"], "one\n");
    EXPECT_EQ(by_stream["stderr"], "two\n");
  }
  {
    v1::ShutdownRequest req;
    req.set_container_id(id_);
    req.set_mode(v1::SHUTDOWN_MODE_IF_IDLE);
    v1::ShutdownResponse resp;
    auto s = stub->Shutdown(ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_TRUE(berth::testing::WaitFor(
      [&] {
        auto alive = shim_->IsAlive();
        return alive.ok() && !*alive;
      },
      absl::Seconds(15)))
      << "shim did not exit";
  EXPECT_NE(stat(socket_path->c_str(), &st), 0) << "socket left behind";

  // What is left of the shim is cleaned up and its recorded exit reported.
  json cleanup = json::parse(RunShim("delete"));
  EXPECT_EQ(cleanup["exitStatus"], 3);
  EXPECT_EQ(cleanup["pid"], pid);
  EXPECT_TRUE(cleanup.contains("exitedAt"));
}

} // namespace
} // namespace berth::shim
