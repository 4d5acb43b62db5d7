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
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::shim {
namespace {

namespace v1 = ::berth::shim::task::v1;
using ::berth::testing::IsOk;
using ::berth::testing::TempDir;
using nlohmann::json;

class ShimTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (geteuid() != 0)
      GTEST_SKIP() << "shim tests run containers and need root";
    auto d = TempDir::Create();
    ASSERT_THAT(d, IsOk());
    dir_.emplace(std::move(*d));
    bundle_ = dir_->Sub("bundle");
    state_ = dir_->Sub("state");
    ASSERT_THAT(fs::MakeDirs(state_, 0700), IsOk());
    id_ = absl::StrCat("shimtest", getpid());
    MakeBundle({"sh", "-c", "echo one; echo two >&2; exit 3"});
  }

  void TearDown() override {
    if (!dir_)
      return;
    // Only the shim this test started (pid + start time), if it is still there.
    if (shim_) {
      auto alive = shim_->IsAlive();
      if (alive.ok() && *alive) {
        ADD_FAILURE() << "shim still running; killing " << shim_->ToString();
        ::kill(shim_->pid, SIGKILL);
      }
    }
    (void)berth::testing::RunCommand(
        {Runc(), "--root", dir_->Sub("root"), "delete", "--force", id_});
    std::string mounts =
        berth::testing::ReadFileOrEmpty("/proc/self/mountinfo");
    EXPECT_FALSE(absl::StrContains(mounts, bundle_)) << "mount leaked";
    struct stat st;
    EXPECT_NE(stat(("/sys/fs/cgroup/" + id_).c_str(), &st), 0)
        << "cgroup leaked";
  }

  static std::string Runc() {
    return berth::testing::RunfilePath("runc/berth-runc");
  }
  static std::string Shim() {
    return berth::testing::RunfilePath("shim/berth-shim");
  }

  void MakeBundle(const std::vector<std::string> &args) {
    const std::string rootfs = bundle_ + "/rootfs";
    for (const char *sub : {"/bin", "/etc", "/tmp", "/proc", "/sys", "/dev"}) {
      ASSERT_THAT(fs::MakeDirs(rootfs + sub, 0755), IsOk());
    }
    auto busybox = fs::ReadFile("/bin/busybox");
    ASSERT_THAT(busybox, IsOk());
    ASSERT_THAT(
        fs::WriteFileAtomically(rootfs + "/bin/busybox", *busybox, 0755),
        IsOk());
    for (const char *applet : {"sh", "echo", "sleep", "cat", "true"}) {
      ASSERT_EQ(symlink("busybox", (rootfs + "/bin/" + applet).c_str()), 0);
    }
    auto r = berth::testing::RunCommand({Runc(), "spec", "--bundle", bundle_});
    ASSERT_TRUE(r.ok() && r->Succeeded())
        << (r.ok() ? r->output : r.status().ToString());
    json spec = json::parse(*fs::ReadFile(bundle_ + "/config.json"));
    spec["process"]["terminal"] = false;
    spec["process"]["args"] = args;
    spec["root"]["readonly"] = false;
    spec["linux"]["cgroupsPath"] = "/" + id_;
    ASSERT_THAT(
        fs::WriteFileAtomically(bundle_ + "/config.json", spec.dump(), 0644),
        IsOk());
  }

  std::vector<std::string> ShimArgs(const std::string &command) {
    return {Shim(),
            command,
            "--namespace=test",
            "--id=" + id_,
            "--bundle=" + bundle_,
            "--state_dir=" + state_,
            "--address=unix://" + dir_->Sub("containerd.sock"),
            "--runtime=" + Runc(),
            "--runtime_root=" + dir_->Sub("root")};
  }

  // Runs `berth-shim <command>` and returns the JSON line it printed.
  std::string RunShim(const std::string &command) {
    auto r = berth::testing::RunCommand(ShimArgs(command));
    EXPECT_TRUE(r.ok() && r->Succeeded())
        << (r.ok() ? r->output : r.status().ToString());
    if (!r.ok())
      return "";
    for (absl::string_view line : absl::StrSplit(r->output, '\n')) {
      if (absl::StartsWith(line, "{"))
        return std::string(line);
    }
    ADD_FAILURE() << "no JSON line in: " << r->output;
    return "";
  }

  std::optional<TempDir> dir_;
  std::string bundle_, state_, id_;
  std::optional<proc::ProcessIdentity> shim_;
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
