// The fixture of the berth-shim root tests: a temp dir with a busybox bundle, the state dir,
// `berth-shim start/delete` and a Task stub, and at TearDown the check that nothing is left (no
// shim, container, mount or cgroup).
#pragma once

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <memory>
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
#include "common/testing/busybox.h"
#include "common/testing/child_process.h"
#include "common/testing/runfiles.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "shim/task/bootstrap.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::shim {

namespace v1 = ::berth::shim::task::v1;

class ShimFixture : public ::testing::Test {
protected:
  using json = nlohmann::json;
  using TempDir = ::berth::testing::TempDir;

  void SetUp() override {
    if (geteuid() != 0)
      GTEST_SKIP() << "shim tests run containers and need root";
    auto d = TempDir::Create();
    ASSERT_THAT(d, ::berth::testing::IsOk());
    dir_.emplace(std::move(*d));
    bundle_ = dir_->Sub("bundle");
    state_ = dir_->Sub("state");
    ASSERT_THAT(fs::MakeDirs(state_, 0700), ::berth::testing::IsOk());
    id_ = absl::StrCat("shimtest", getpid());
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
    for (const char *h : {"", "memory/", "pids/", "cpu,cpuacct/", "freezer/"}) {
      EXPECT_NE(stat(absl::StrCat("/sys/fs/cgroup/", h, id_).c_str(), &st), 0)
          << "cgroup leaked: " << h;
    }
  }

  static std::string Runc() {
    return berth::testing::RunfilePath("runc/berth-runc");
  }
  static std::string Shim() {
    return berth::testing::RunfilePath("shim/berth-shim");
  }

  // A busybox tree at `rootfs` (the bundle's rootfs unless given): the shared test builder,
  // with the applets these tests run.
  void MakeBusybox(const std::string &rootfs) {
    ASSERT_THAT(::berth::testing::MakeBusyboxRootfs(
                    rootfs, {"sh", "echo", "sleep", "cat", "true", "stty", "ls"}),
                ::berth::testing::IsOk());
  }

  // config.json running `args`; the rootfs is filled with busybox unless `populate` is false
  // (a test that mounts its own rootfs).
  void MakeBundle(const std::vector<std::string> &args, bool populate = true,
                  bool terminal = false) {
    if (populate) {
      MakeBusybox(bundle_ + "/rootfs");
    } else {
      ASSERT_THAT(fs::MakeDirs(bundle_ + "/rootfs", 0755), ::berth::testing::IsOk());
    }
    ::unlink((bundle_ + "/config.json").c_str());
    auto r = berth::testing::RunCommand({Runc(), "spec", "--bundle", bundle_});
    ASSERT_TRUE(r.ok() && r->Succeeded())
        << (r.ok() ? r->output : r.status().ToString());
    json spec = json::parse(*fs::ReadFile(bundle_ + "/config.json"));
    spec["process"]["terminal"] = terminal;
    spec["process"]["args"] = args;
    spec["root"]["readonly"] = false;
    spec["linux"]["cgroupsPath"] = "/" + id_;
    ASSERT_THAT(
        fs::WriteFileAtomically(bundle_ + "/config.json", spec.dump(), 0644),
        ::berth::testing::IsOk());
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

  // `berth-shim start`, remembering the shim to check (and kill) at TearDown, and a stub.
  void StartShim() {
    auto params = task::BootstrapParamsFromJson(RunShim("start"));
    ASSERT_THAT(params, ::berth::testing::IsOk());
    params_ = *params;
    shim_ = proc::ProcessIdentity{static_cast<pid_t>(params->shim_pid()),
                                  params->shim_start_time()};
    auto channel = grpc_util::DialUnix(params->address());
    ASSERT_THAT(channel, ::berth::testing::IsOk());
    stub_ = v1::Task::NewStub(*channel);
  }

  static std::unique_ptr<::grpc::ClientContext> Ctx() {
    auto c = std::make_unique<::grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return c;
  }

  v1::CreateRequest CreateRequest() {
    v1::CreateRequest req;
    req.set_container_id(id_);
    req.set_bundle(bundle_);
    return req;
  }

  // Create + Start; returns the init pid (0 on failure, with the test failed).
  uint32_t CreateAndStart(const v1::CreateRequest &req) {
    v1::CreateResponse resp;
    auto s = stub_->Create(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok()) return 0;
    return StartProcess("");
  }

  uint32_t StartProcess(const std::string &exec_id) {
    v1::StartRequest req;
    req.set_container_id(id_);
    req.set_exec_id(exec_id);
    v1::StartResponse resp;
    auto s = stub_->Start(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.pid();
  }

  types::v1::ProcessStatus Status(const std::string &exec_id = "") {
    v1::StateRequest req;
    req.set_container_id(id_);
    req.set_exec_id(exec_id);
    v1::StateResponse resp;
    auto s = stub_->State(Ctx().get(), req, &resp);
    return s.ok() ? resp.process().status() : types::v1::PROCESS_STATUS_UNKNOWN;
  }

  ::grpc::StatusCode Kill(int signal, const std::string &exec_id = "") {
    v1::KillRequest req;
    req.set_container_id(id_);
    req.set_exec_id(exec_id);
    req.set_signal(signal);
    v1::KillResponse resp;
    return stub_->Kill(Ctx().get(), req, &resp).error_code();
  }

  v1::WaitResponse Wait(const std::string &exec_id = "") {
    v1::WaitRequest req;
    req.set_container_id(id_);
    req.set_exec_id(exec_id);
    v1::WaitResponse resp;
    auto s = stub_->Wait(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  ::grpc::StatusCode Delete(const std::string &exec_id = "") {
    v1::DeleteRequest req;
    req.set_container_id(id_);
    req.set_exec_id(exec_id);
    v1::DeleteResponse resp;
    return stub_->Delete(Ctx().get(), req, &resp).error_code();
  }

  // Kills and deletes the task if it still exists, shuts the shim down and waits for it.
  void StopShim() {
    if (!stub_) return;
    v1::ShutdownRequest req;
    req.set_container_id(id_);
    req.set_mode(v1::SHUTDOWN_MODE_NOW);
    v1::ShutdownResponse resp;
    auto s = stub_->Shutdown(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(berth::testing::WaitFor(
        [&] {
          auto alive = shim_->IsAlive();
          return alive.ok() && !*alive;
        },
        absl::Seconds(15)))
        << "shim did not exit";
    stub_.reset();
  }

  std::optional<TempDir> dir_;
  task::BootstrapParams params_;
  std::unique_ptr<v1::Task::Stub> stub_;
  std::string bundle_, state_, id_;
  std::optional<proc::ProcessIdentity> shim_;
};


}  // namespace berth::shim
