// berth-containerd's Tasks service end to end (root only): a busybox layer goes
// through Content and Diff into an overlay snapshot, a container record points
// at it, and tasks run on the real berth-shim and berth-runc (and runc when
// installed): output in the json-file log, exit codes, Delete, exec with
// Attach, pause/resume, pids and metrics; then the restart scenarios of issue
// #4: kill -9 berth-containerd with three running tasks (all survive and are
// re-adopted), a task that exits while berth-containerd is down (its exit code
// is reported after the restart), and kill -9 of a shim (the task is reported
// STOPPED with status 255, the container is gone). After each test: no process,
// mount, cgroup or bundle is left.
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "berth/containerd/containers/v1/containers.grpc.pb.h"
#include "berth/containerd/content/v1/content.grpc.pb.h"
#include "berth/containerd/diff/v1/diff.grpc.pb.h"
#include "berth/containerd/snapshots/v1/snapshots.grpc.pb.h"
#include "berth/containerd/tasks/v1/tasks.grpc.pb.h"
#include "berth/shim/task/v1/options.pb.h"
#include "common/digest/digest.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/grpc/server.h"
#include "common/proc/proc.h"
#include "common/testing/busybox.h"
#include "common/testing/child_process.h"
#include "common/testing/runfiles.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "tests/daemon_harness.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::tests {
namespace {

namespace containerspb = ::berth::containerd::containers::v1;
namespace contentpb = ::berth::containerd::content::v1;
namespace diffpb = ::berth::containerd::diff::v1;
namespace snapshotspb = ::berth::containerd::snapshots::v1;
namespace taskspb = ::berth::containerd::tasks::v1;
namespace typespb = ::berth::types::v1;
using ::berth::testing::IsOk;
using ::berth::testing::ReadFileOrEmpty;
using ::berth::testing::RunfilePath;
using ::berth::testing::TempDir;
using ::berth::testing::WaitFor;
using nlohmann::json;

constexpr char kLayerMediaType[] = "application/vnd.oci.image.layer.v1.tar";
constexpr char kBase[] = "busybox-base";

std::unique_ptr<::grpc::ClientContext>
Ctx(absl::Duration timeout = absl::Seconds(60)) {
  auto c = std::make_unique<::grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() +
                  absl::ToChronoMilliseconds(timeout));
  return c;
}

bool Alive(const proc::ProcessIdentity &p) {
  auto alive = p.IsAlive();
  return alive.ok() && *alive;
}

bool CgroupLeft(const std::string &name) {
  for (const char *c : {"memory", "pids", "cpu", "freezer", "devices", "cpuset",
                        "blkio", "unified", "systemd"}) {
    struct stat st;
    if (stat(absl::StrCat("/sys/fs/cgroup/", c, "/", name).c_str(), &st) == 0)
      return true;
  }
  return false;
}

class TasksTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (geteuid() != 0)
      GTEST_SKIP() << "tasks run containers and need root";
    auto d = TempDir::Create();
    ASSERT_THAT(d, IsOk());
    dir_.emplace(std::move(*d));
    ASSERT_NO_FATAL_FAILURE(StartContainerd());
    ASSERT_NO_FATAL_FAILURE(MakeBaseSnapshot());
  }

  void TearDown() override {
    if (!dir_)
      return;
    if (cd_ && cd_->process && cd_->process->running())
      (void)cd_->Stop();
    // Whatever a failed test left: the shims we know of, their containers,
    // their mounts.
    for (const auto &shim : shims_) {
      if (Alive(shim)) {
        ADD_FAILURE() << "shim left running: " << shim.ToString();
        ::kill(shim.pid, SIGKILL);
      }
    }
    for (const auto &[id, runtime] : containers_) {
      (void)berth::testing::RunCommand(
          {runtime, "--root", RuntimeRoot(), "delete", "--force", id});
    }
    const std::string mounts = ReadFileOrEmpty("/proc/self/mountinfo");
    for (absl::string_view line : absl::StrSplit(mounts, '\n')) {
      if (!absl::StrContains(line, dir_->Sub("cd/tasks")))
        continue;
      ADD_FAILURE() << "mount left: " << line;
      std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
      if (fields.size() > 4)
        (void)::umount2(std::string(fields[4]).c_str(), MNT_DETACH);
    }
    for (const auto &cg : cgroups_)
      EXPECT_FALSE(CgroupLeft(cg)) << "cgroup left: " << cg;
    // Active snapshots (container rootfs) may still be mounted by nothing;
    // overlay work dirs are plain directories, so the temp dir goes.
    if (HasFailure()) {
      for (const auto &log : logs_)
        std::cerr << "---- " << log << "\n" << ReadFileOrEmpty(log);
    }
  }

  std::string RuntimeRoot() { return dir_->Sub("rt"); }
  std::string State() { return dir_->Sub("cd"); }
  std::string Bundle(const std::string &id) {
    return State() + "/tasks/default/" + id;
  }

  void StartContainerd() {
    const std::string socket = dir_->Sub("cd/containerd.sock");
    auto d =
        StartDaemon("containerd/berth-containerd",
                    {"--root=" + dir_->Sub("cd-root"), "--state=" + State(),
                     "--address=unix://" + socket, "--metrics-addr=127.0.0.1:0",
                     "--shim=" + RunfilePath("shim/berth-shim")},
                    dir_->path(), "containerd", socket);
    ASSERT_THAT(d, IsOk());
    cd_.emplace(std::move(*d));
    logs_.push_back(cd_->log_path);
    auto ch = grpc_util::DialUnix(cd_->socket);
    ASSERT_THAT(ch, IsOk());
    channel_ = *ch;
    tasks_ = taskspb::Tasks::NewStub(channel_);
  }

  void KillContainerd() {
    ASSERT_THAT(cd_->process->Signal(SIGKILL), IsOk());
    ASSERT_THAT(cd_->process->Wait(absl::Seconds(10)), IsOk());
    cd_.reset();
    tasks_.reset();
  }

  // A busybox layer through Content.Write and Diff.Apply into the committed
  // snapshot kBase.
  void MakeBaseSnapshot() {
    const std::string tree = dir_->Sub("layer");
    // A few applets only: a small layer keeps Apply short.
    ASSERT_THAT(berth::testing::MakeBusyboxRootfs(
                    tree, {"sh", "echo", "sleep", "cat", "true", "ls"}),
                IsOk());
    const std::string tar_path = dir_->Sub("layer.tar");
    ASSERT_THAT(berth::testing::TarDirectory(tree, tar_path), IsOk());
    auto layer = fs::ReadFile(tar_path);
    ASSERT_THAT(layer, IsOk());
    auto digest = digest::Digest::FromBytes(*layer);
    ASSERT_THAT(digest, IsOk());

    auto content = contentpb::Content::NewStub(channel_);
    {
      auto ctx = Ctx();
      auto stream = content->Write(ctx.get());
      contentpb::WriteRequest req;
      req.set_action(contentpb::WRITE_ACTION_COMMIT);
      req.set_ref("tasks-test-layer");
      req.set_total(static_cast<int64_t>(layer->size()));
      req.set_expected(digest->ToString());
      req.set_data(*layer);
      (*req.mutable_labels())["berth.io/gc.root"] = "tasks-test";
      ASSERT_TRUE(stream->Write(req));
      contentpb::WriteResponse resp;
      ASSERT_TRUE(stream->Read(&resp));
      EXPECT_EQ(resp.digest(), digest->ToString());
      stream->WritesDone();
      auto s = stream->Finish();
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    auto snapshots = snapshotspb::Snapshots::NewStub(channel_);
    snapshotspb::PrepareRequest prep;
    prep.set_key("extract");
    // A GC root while it is unpacked: without it (or a lease) berth-containerd's garbage
    // collector may remove the active snapshot in the middle of Apply, as containerd's would.
    (*prep.mutable_labels())["berth.io/gc.root"] = "tasks-test";
    snapshotspb::PrepareResponse prepared;
    auto s = snapshots->Prepare(Ctx().get(), prep, &prepared);
    ASSERT_TRUE(s.ok()) << s.error_message();
    diffpb::ApplyRequest apply;
    apply.mutable_diff()->set_media_type(kLayerMediaType);
    apply.mutable_diff()->set_digest(digest->ToString());
    apply.mutable_diff()->set_size(static_cast<int64_t>(layer->size()));
    *apply.mutable_mounts() = prepared.mounts();
    diffpb::ApplyResponse applied;
    s = diffpb::Diff::NewStub(channel_)->Apply(Ctx().get(), apply, &applied);
    ASSERT_TRUE(s.ok()) << s.error_message();
    snapshotspb::CommitRequest commit;
    commit.set_key("extract");
    commit.set_name(kBase);
    (*commit.mutable_labels())["berth.io/gc.root"] = "tasks-test";
    snapshotspb::CommitResponse committed;
    s = snapshots->Commit(Ctx().get(), commit, &committed);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // A container record running `args` from its own snapshot of kBase; returns
  // its rootfs mounts.
  std::vector<typespb::Mount>
  MakeContainer(const std::string &id, const std::vector<std::string> &args,
                const std::string &runtime) {
    auto snapshots = snapshotspb::Snapshots::NewStub(channel_);
    snapshotspb::PrepareRequest prep;
    prep.set_key(id);
    prep.set_parent(kBase);
    (*prep.mutable_labels())["berth.io/gc.root"] = "tasks-test";
    snapshotspb::PrepareResponse prepared;
    auto s = snapshots->Prepare(Ctx().get(), prep, &prepared);
    EXPECT_TRUE(s.ok()) << s.error_message();

    const std::string tmp = dir_->Sub("spec-" + id);
    EXPECT_THAT(fs::MakeDirs(tmp, 0700), IsOk());
    auto r = berth::testing::RunCommand(
        {RunfilePath("runc/berth-runc"), "spec", "--bundle", tmp});
    EXPECT_TRUE(r.ok() && r->Succeeded());
    json spec = json::parse(ReadFileOrEmpty(tmp + "/config.json"));
    spec["process"]["terminal"] = false;
    spec["process"]["args"] = args;
    spec["root"]["path"] = "rootfs";
    spec["root"]["readonly"] = false;
    spec["hostname"] = id;
    const std::string cgroup =
        absl::StrCat("berth-tasks-test-", getpid(), "-", id);
    spec["linux"]["cgroupsPath"] = "/" + cgroup;
    cgroups_.push_back(cgroup);

    containerspb::CreateRequest create;
    containerspb::Container *c = create.mutable_container();
    c->set_id(id);
    c->set_spec(spec.dump());
    c->set_snapshotter("overlayfs");
    c->set_snapshot_key(id);
    c->mutable_runtime()->set_name(runtime);
    ::berth::shim::task::v1::RuntimeOptions ro;
    ro.set_root(RuntimeRoot());
    c->mutable_runtime()->mutable_options()->PackFrom(ro);
    containerspb::CreateResponse created;
    s = containerspb::Containers::NewStub(channel_)->Create(Ctx().get(), create,
                                                            &created);
    EXPECT_TRUE(s.ok()) << s.error_message();
    containers_.push_back({id, runtime});
    return {prepared.mounts().begin(), prepared.mounts().end()};
  }

  // Creates and starts the task; returns the init pid (0 on failure).
  uint32_t Run(const std::string &id, const std::vector<std::string> &args,
               const std::string &runtime, std::string *log_path = nullptr) {
    std::vector<typespb::Mount> mounts = MakeContainer(id, args, runtime);
    taskspb::CreateRequest req;
    req.set_container_id(id);
    for (const auto &m : mounts)
      *req.add_rootfs_mounts() = m;
    taskspb::CreateResponse created;
    auto s = tasks_->Create(Ctx().get(), req, &created);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok())
      return 0;
    RememberShim(id);
    if (log_path != nullptr)
      *log_path = created.log_path();
    taskspb::StartRequest start;
    start.set_container_id(id);
    taskspb::StartResponse started;
    s = tasks_->Start(Ctx().get(), start, &started);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(started.pid(), created.pid());
    return started.pid();
  }

  void RememberShim(const std::string &id) {
    json boot = json::parse(ReadFileOrEmpty(Bundle(id) + "/bootstrap.json"),
                            nullptr, false);
    ASSERT_TRUE(boot.is_object()) << "no bootstrap.json for " << id;
    shims_.push_back({boot["shimPid"].get<pid_t>(),
                      std::stoull(boot["shimStartTime"].get<std::string>())});
  }

  typespb::Process Get(const std::string &id) {
    taskspb::GetRequest req;
    req.set_container_id(id);
    taskspb::GetResponse resp;
    auto s = tasks_->Get(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.process();
  }

  uint32_t Wait(const std::string &id) {
    taskspb::WaitRequest req;
    req.set_container_id(id);
    taskspb::WaitResponse resp;
    auto s = tasks_->Wait(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.exit_status();
  }

  void Kill(const std::string &id, int sig) {
    taskspb::KillRequest req;
    req.set_container_id(id);
    req.set_signal(sig);
    taskspb::KillResponse resp;
    auto s = tasks_->Kill(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }

  // Deletes the task and checks nothing of it is left.
  void DeleteAndCheckClean(const std::string &id, uint32_t want_status) {
    taskspb::DeleteRequest req;
    req.set_container_id(id);
    taskspb::DeleteResponse resp;
    auto s = tasks_->Delete(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.exit_status(), want_status);
    struct stat st;
    EXPECT_NE(stat(Bundle(id).c_str(), &st), 0) << "bundle left: " << id;
    EXPECT_FALSE(
        absl::StrContains(ReadFileOrEmpty("/proc/self/mountinfo"), Bundle(id)));
    EXPECT_NE(stat((RuntimeRoot() + "/" + id).c_str(), &st), 0)
        << "runtime state left";
    EXPECT_EQ(tasks_->Delete(Ctx().get(), req, &resp).error_code(),
              ::grpc::StatusCode::NOT_FOUND);
  }

  void ExpectShimsGone() {
    for (const auto &shim : shims_) {
      EXPECT_TRUE(WaitFor([&] { return !Alive(shim); }, absl::Seconds(15)))
          << "shim still running: " << shim.ToString();
    }
  }

  void RunsAContainer(const std::string &runtime) {
    std::string log_path;
    const uint32_t pid =
        Run("hello",
            {"sh", "-c",
             "echo hello from $(cat /etc/hostname 2>/dev/null || hostname);"
             " echo oops >&2; exit 3"},
            runtime, &log_path);
    ASSERT_GT(pid, 0u);
    EXPECT_EQ(log_path, Bundle("hello") + "/hello-json.log");
    EXPECT_EQ(Wait("hello"), 3u);
    typespb::Process p = Get("hello");
    EXPECT_EQ(p.status(), typespb::PROCESS_STATUS_STOPPED);
    EXPECT_EQ(p.exit_status(), 3u);
    EXPECT_EQ(p.pid(), pid);
    // The json-file log has both streams (the shim may still be flushing:
    // poll).
    std::string log;
    EXPECT_TRUE(WaitFor(
        [&] {
          log = ReadFileOrEmpty(log_path);
          return absl::StrContains(log, "oops") &&
                 absl::StrContains(log, "hello from");
        },
        absl::Seconds(10)))
        << log;
    bool saw_stdout = false, saw_stderr = false;
    for (absl::string_view line :
         absl::StrSplit(log, '\n', absl::SkipEmpty())) {
      json e = json::parse(line, nullptr, false);
      ASSERT_TRUE(e.is_object()) << line;
      if (e["stream"] == "stdout" && e["log"] == "hello from hello\n")
        saw_stdout = true;
      if (e["stream"] == "stderr" && e["log"] == "oops\n")
        saw_stderr = true;
      EXPECT_TRUE(e.contains("time"));
    }
    EXPECT_TRUE(saw_stdout && saw_stderr) << log;
    DeleteAndCheckClean("hello", 3);
    ExpectShimsGone();
  }

  std::optional<TempDir> dir_;
  std::optional<RunningDaemon> cd_;
  std::shared_ptr<::grpc::Channel> channel_;
  std::unique_ptr<taskspb::Tasks::Stub> tasks_;
  std::vector<proc::ProcessIdentity> shims_;
  std::vector<std::pair<std::string, std::string>>
      containers_; // id, runtime binary
  std::vector<std::string> cgroups_;
  std::vector<std::string> logs_;
};

TEST_F(TasksTest, RunsABusyboxTaskFromAnUnpackedLayer) {
  RunsAContainer(RunfilePath("runc/berth-runc"));
}

TEST_F(TasksTest, RunsWithRunc) {
  struct stat st;
  if (stat("/usr/sbin/runc", &st) != 0)
    GTEST_SKIP() << "runc is not installed";
  RunsAContainer("/usr/sbin/runc");
}

TEST_F(TasksTest, RunningTasksSurviveKill9OfContainerd) {
  const std::string runtime = RunfilePath("runc/berth-runc");
  std::map<std::string, proc::ProcessIdentity> pids;
  for (const char *id : {"one", "two", "three"}) {
    const uint32_t pid = Run(id, {"sleep", "1000"}, runtime);
    ASSERT_GT(pid, 0u);
    auto who = proc::ProcessIdentity::Current(static_cast<pid_t>(pid));
    ASSERT_THAT(who, IsOk());
    pids[id] = *who;
  }
  ASSERT_NO_FATAL_FAILURE(KillContainerd());
  for (const auto &[id, p] : pids)
    EXPECT_TRUE(Alive(p)) << id << " died with containerd";
  ASSERT_NO_FATAL_FAILURE(StartContainerd());

  taskspb::ListRequest list;
  taskspb::ListResponse listed;
  auto s = tasks_->List(Ctx().get(), list, &listed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(listed.tasks_size(), 3);
  for (const auto &t : listed.tasks()) {
    EXPECT_EQ(t.status(), typespb::PROCESS_STATUS_RUNNING) << t.container_id();
    EXPECT_EQ(t.pid(), static_cast<uint32_t>(pids[t.container_id()].pid));
  }
  for (const auto &[id, p] : pids) {
    typespb::Process got = Get(id);
    EXPECT_EQ(got.status(), typespb::PROCESS_STATUS_RUNNING);
    EXPECT_EQ(got.pid(), static_cast<uint32_t>(p.pid));
    EXPECT_EQ(got.pid_start_time(), p.start_time);
  }
  // Re-adopted tasks are fully controllable.
  for (const auto &[id, p] : pids) {
    Kill(id, SIGKILL);
    EXPECT_EQ(Wait(id), 128u + SIGKILL);
    EXPECT_FALSE(Alive(p));
    DeleteAndCheckClean(id, 128 + SIGKILL);
  }
  ExpectShimsGone();
}

TEST_F(TasksTest, ExitWhileContainerdIsDownIsReportedAfterRestart) {
  const uint32_t pid = Run("brief", {"sh", "-c", "sleep 1; exit 5"},
                           RunfilePath("runc/berth-runc"));
  ASSERT_GT(pid, 0u);
  ASSERT_NO_FATAL_FAILURE(KillContainerd());
  // The shim records the exit durably while nobody is listening.
  ASSERT_TRUE(WaitFor(
      [&] { return !ReadFileOrEmpty(Bundle("brief") + "/exit.json").empty(); },
      absl::Seconds(20)));
  ASSERT_NO_FATAL_FAILURE(StartContainerd());
  typespb::Process p = Get("brief");
  EXPECT_EQ(p.status(), typespb::PROCESS_STATUS_STOPPED);
  EXPECT_EQ(p.exit_status(), 5u);
  EXPECT_TRUE(p.has_exited_at());
  EXPECT_EQ(Wait("brief"), 5u);
  DeleteAndCheckClean("brief", 5);
  ExpectShimsGone();
}

TEST_F(TasksTest, KilledShimStopsTheTaskAndLeavesNothing) {
  const uint32_t pid =
      Run("orphan", {"sleep", "1000"}, RunfilePath("runc/berth-runc"));
  ASSERT_GT(pid, 0u);
  auto container = proc::ProcessIdentity::Current(static_cast<pid_t>(pid));
  ASSERT_THAT(container, IsOk());
  ASSERT_EQ(shims_.size(), 1u);
  ASSERT_EQ(::kill(shims_[0].pid, SIGKILL), 0);
  // berth-containerd notices without being asked (its monitor), cleans up with
  // `berth-shim delete` (which kills the container) and reports the task
  // STOPPED with 255.
  typespb::Process p;
  EXPECT_TRUE(WaitFor(
      [&] {
        taskspb::GetRequest req;
        req.set_container_id("orphan");
        taskspb::GetResponse resp;
        if (!tasks_->Get(Ctx().get(), req, &resp).ok())
          return false;
        p = resp.process();
        return p.status() == typespb::PROCESS_STATUS_STOPPED;
      },
      absl::Seconds(20)));
  EXPECT_EQ(p.exit_status(), 255u);
  EXPECT_TRUE(WaitFor([&] { return !Alive(*container); }, absl::Seconds(10)))
      << "the container outlived its cleanup";
  EXPECT_EQ(Wait("orphan"), 255u);
  {
    taskspb::KillRequest req;
    req.set_container_id("orphan");
    req.set_signal(SIGTERM);
    taskspb::KillResponse resp;
    EXPECT_EQ(tasks_->Kill(Ctx().get(), req, &resp).error_code(),
              ::grpc::StatusCode::FAILED_PRECONDITION);
  }
  // The STOPPED state survives a restart too.
  ASSERT_NO_FATAL_FAILURE(KillContainerd());
  ASSERT_NO_FATAL_FAILURE(StartContainerd());
  EXPECT_EQ(Get("orphan").exit_status(), 255u);
  DeleteAndCheckClean("orphan", 255);
}

TEST_F(TasksTest, ShimKilledWhileContainerdIsDownIsCleanedUpAtRestart) {
  const uint32_t pid =
      Run("lost", {"sleep", "1000"}, RunfilePath("runc/berth-runc"));
  ASSERT_GT(pid, 0u);
  auto container = proc::ProcessIdentity::Current(static_cast<pid_t>(pid));
  ASSERT_THAT(container, IsOk());
  ASSERT_NO_FATAL_FAILURE(KillContainerd());
  ASSERT_EQ(::kill(shims_[0].pid, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] { return !Alive(shims_[0]); }, absl::Seconds(10)));
  ASSERT_NO_FATAL_FAILURE(StartContainerd());
  typespb::Process p = Get("lost");
  EXPECT_EQ(p.status(), typespb::PROCESS_STATUS_STOPPED);
  EXPECT_EQ(p.exit_status(), 255u);
  EXPECT_FALSE(Alive(*container));
  DeleteAndCheckClean("lost", 255);
}

TEST_F(TasksTest, ExecAttachPauseAndMetricsThroughTheShim) {
  const uint32_t pid =
      Run("svc", {"sleep", "1000"}, RunfilePath("runc/berth-runc"));
  ASSERT_GT(pid, 0u);
  json process =
      json::parse(ReadFileOrEmpty(Bundle("svc") + "/config.json"))["process"];
  process["args"] = {"sh", "-c", "echo exec-out; exit 4"};
  {
    taskspb::ExecRequest req;
    req.set_container_id("svc");
    req.set_exec_id("e1");
    req.set_spec(process.dump());
    taskspb::ExecResponse resp;
    auto s = tasks_->Exec(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // Attach before Start so no output is missed, then collect until `exit`.
  auto attach_ctx = Ctx();
  auto stream = tasks_->Attach(attach_ctx.get());
  {
    taskspb::AttachRequest req;
    req.mutable_start()->set_container_id("svc");
    req.mutable_start()->set_exec_id("e1");
    ASSERT_TRUE(stream->Write(req));
    taskspb::AttachResponse resp;
    ASSERT_TRUE(stream->Read(&resp));
    ASSERT_EQ(resp.frame_case(), taskspb::AttachResponse::kAttached);
  }
  {
    taskspb::StartRequest req;
    req.set_container_id("svc");
    req.set_exec_id("e1");
    taskspb::StartResponse resp;
    auto s = tasks_->Start(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_GT(resp.pid(), 0u);
  }
  std::string out;
  std::optional<uint32_t> exit_status;
  taskspb::AttachResponse frame;
  while (stream->Read(&frame)) {
    if (frame.has_output())
      out += frame.output().data();
    if (frame.has_exit())
      exit_status = frame.exit().exit_status();
  }
  stream->WritesDone();
  auto s = stream->Finish();
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out, "exec-out\n");
  EXPECT_EQ(exit_status, 4u);
  {
    taskspb::WaitRequest req;
    req.set_container_id("svc");
    req.set_exec_id("e1");
    taskspb::WaitResponse resp;
    ASSERT_TRUE(tasks_->Wait(Ctx().get(), req, &resp).ok());
    EXPECT_EQ(resp.exit_status(), 4u);
    taskspb::DeleteProcessRequest del;
    del.set_container_id("svc");
    del.set_exec_id("e1");
    taskspb::DeleteProcessResponse deleted;
    s = tasks_->DeleteProcess(Ctx().get(), del, &deleted);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(deleted.exit_status(), 4u);
  }
  {
    taskspb::PauseRequest req;
    req.set_container_id("svc");
    taskspb::PauseResponse resp;
    s = tasks_->Pause(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(Get("svc").status(), typespb::PROCESS_STATUS_PAUSED);
    taskspb::ResumeRequest rreq;
    rreq.set_container_id("svc");
    taskspb::ResumeResponse rresp;
    s = tasks_->Resume(Ctx().get(), rreq, &rresp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(Get("svc").status(), typespb::PROCESS_STATUS_RUNNING);
  }
  {
    taskspb::ListPidsRequest req;
    req.set_container_id("svc");
    taskspb::ListPidsResponse resp;
    s = tasks_->ListPids(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    bool found = false;
    for (const auto &p : resp.processes())
      found |= p.pid() == pid;
    EXPECT_TRUE(found);
  }
  {
    taskspb::MetricsRequest req;
    req.add_filters("container_id==svc");
    taskspb::MetricsResponse resp;
    s = tasks_->Metrics(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(resp.metrics_size(), 1);
    EXPECT_EQ(resp.metrics(0).container_id(), "svc");
    EXPECT_GT(resp.metrics(0).memory().usage_bytes(), 0u);
  }
  Kill("svc", SIGKILL);
  EXPECT_EQ(Wait("svc"), 128u + SIGKILL);
  DeleteAndCheckClean("svc", 128 + SIGKILL);
  ExpectShimsGone();
}

} // namespace
} // namespace berth::tests
