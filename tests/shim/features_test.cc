// berth-shim features end to end (root only, real berth-runc and busybox): rootfs overlay
// mounts, Attach with stdin, terminals with resize, exec processes, pause/resume, pids,
// update, stats, events (to a fake Events server on the shim's --address), an OOM kill
// published as /tasks/oom, a shim killed with -9 cleaned up by `berth-shim delete`, and bad
// inputs. TearDown checks nothing is left.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "berth/containerd/events/v1/events.grpc.pb.h"
#include "berth/containerd/events/v1/payloads.pb.h"
#include "glog/logging.h"
#include "shim/process/cgroup_stats.h"
#include "tests/shim/shim_fixture.h"

namespace berth::shim {
namespace {

namespace ev1 = ::berth::containerd::events::v1;
namespace tv1 = ::berth::types::v1;
using ::berth::testing::IsOk;
using ::testing::HasSubstr;

class FakeEvents final : public ev1::Events::CallbackService {
 public:
  ::grpc::ServerUnaryReactor* Forward(::grpc::CallbackServerContext* ctx,
                                      const ev1::ForwardRequest* req,
                                      ev1::ForwardResponse*) override {
    {
      absl::MutexLock lock(&mu_);
      envelopes_.push_back(req->envelope());
    }
    auto* r = ctx->DefaultReactor();
    r->Finish(::grpc::Status::OK);
    return r;
  }
  std::vector<std::string> topics() {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> t;
    for (const auto& e : envelopes_) t.push_back(e.topic());
    return t;
  }
  std::vector<ev1::Envelope> envelopes() {
    absl::MutexLock lock(&mu_);
    return envelopes_;
  }

 private:
  absl::Mutex mu_;
  std::vector<ev1::Envelope> envelopes_;
};

// One Attach stream read on the test's thread.
class AttachClient {
 public:
  AttachClient(v1::Task::Stub* stub, const std::string& id, const std::string& exec_id,
               std::vector<tv1::StdioStream> streams) {
    ctx_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    stream_ = stub->Attach(&ctx_);
    v1::AttachRequest start;
    start.mutable_start()->set_container_id(id);
    start.mutable_start()->set_exec_id(exec_id);
    for (auto s : streams) start.mutable_start()->add_streams(s);
    EXPECT_TRUE(stream_->Write(start));
  }
  // Reads frames until `attached`.
  bool AwaitAttached() {
    v1::AttachResponse r;
    while (stream_->Read(&r)) {
      if (r.has_attached()) return true;
    }
    return false;
  }
  void Send(const std::string& data) {
    v1::AttachRequest r;
    r.set_stdin(data);
    EXPECT_TRUE(stream_->Write(r));
  }
  void CloseStdin() {
    v1::AttachRequest r;
    r.mutable_close_stdin();
    EXPECT_TRUE(stream_->Write(r));
  }
  // Collects output until it contains `want` (or the `exit` frame / end of stream).
  std::string ReadUntil(const std::string& want) {
    v1::AttachResponse r;
    while (!absl::StrContains(output_, want) && stream_->Read(&r)) {
      if (r.has_output()) output_ += r.output().data();
      if (r.has_exit()) exit_ = r.exit();
    }
    return output_;
  }
  // Reads up to the `exit` frame (or the server's end of the stream), then half-closes
  // (half-closing earlier would detach) and returns the final status.
  ::grpc::Status Finish() {
    v1::AttachResponse r;
    bool open = true;
    while (!exit_.has_value() && (open = stream_->Read(&r))) {
      if (r.has_output()) output_ += r.output().data();
      if (r.has_exit()) exit_ = r.exit();
    }
    stream_->WritesDone();
    while (open && stream_->Read(&r)) {
    }
    return stream_->Finish();
  }
  const std::optional<tv1::ProcessExit>& exit() const { return exit_; }
  const std::string& output() const { return output_; }

 private:
  ::grpc::ClientContext ctx_;
  std::unique_ptr<::grpc::ClientReaderWriter<v1::AttachRequest, v1::AttachResponse>> stream_;
  std::string output_;
  std::optional<tv1::ProcessExit> exit_;
};

class ShimFeaturesTest : public ShimFixture {
 protected:
  void SetUp() override {
    ShimFixture::SetUp();
    if (IsSkipped()) return;
    grpc_util::UnixServerOptions o;
    o.address = "unix://" + dir_->Sub("containerd.sock");
    o.socket_group = "";
    auto server = grpc_util::UnixGrpcServer::Start(o, {&events_});
    ASSERT_THAT(server, IsOk());
    events_server_ = std::move(*server);
  }
  void TearDown() override {
    StopShim();
    if (events_server_) events_server_->Shutdown();
    ShimFixture::TearDown();
  }

  std::string ExecSpec(const std::vector<std::string>& args, bool terminal = false) {
    json p = {{"args", args},
              {"cwd", "/"},
              {"env", {"PATH=/bin"}},
              {"user", {{"uid", 0}, {"gid", 0}}},
              {"terminal", terminal}};
    return p.dump();
  }

  ::grpc::Status Exec(const std::string& exec_id, const std::string& spec,
                      tv1::StdinMode mode = tv1::STDIN_MODE_NULL, bool terminal = false,
                      const std::string& stdout_path = "") {
    v1::ExecRequest req;
    req.set_container_id(id_);
    req.set_exec_id(exec_id);
    req.set_spec(spec);
    req.set_stdin_mode(mode);
    req.set_terminal(terminal);
    req.set_stdout(stdout_path);
    v1::ExecResponse resp;
    return stub_->Exec(Ctx().get(), req, &resp);
  }

  FakeEvents events_;
  std::unique_ptr<grpc_util::UnixGrpcServer> events_server_;
};

TEST_F(ShimFeaturesTest, MountsAnOverlayRootfsFromTwoLowersAndAnUpper) {
  const std::string lower1 = dir_->Sub("lower1"), lower2 = dir_->Sub("lower2");
  const std::string upper = dir_->Sub("upper"), work = dir_->Sub("work");
  MakeBusybox(lower1);
  ASSERT_THAT(fs::MakeDirs(lower2 + "/etc", 0755), IsOk());
  ASSERT_THAT(fs::WriteFileAtomically(lower2 + "/etc/greeting", "from lower2\n", 0644), IsOk());
  ASSERT_THAT(fs::MakeDirs(upper, 0755), IsOk());
  ASSERT_THAT(fs::MakeDirs(work, 0755), IsOk());
  MakeBundle({"sh", "-c", "cat /etc/greeting; echo made > /made-here"}, /*populate=*/false);
  StartShim();
  v1::CreateRequest req = CreateRequest();
  tv1::Mount* m = req.add_rootfs_mounts();
  m->set_type("overlay");
  m->set_source("overlay");
  m->add_options(absl::StrCat("lowerdir=", lower2, ":", lower1));
  m->add_options("upperdir=" + upper);
  m->add_options("workdir=" + work);
  ASSERT_GT(CreateAndStart(req), 0u);
  EXPECT_THAT(berth::testing::ReadFileOrEmpty("/proc/self/mountinfo"),
              HasSubstr(bundle_ + "/rootfs"));
  EXPECT_EQ(Wait().exit_status(), 0u);
  EXPECT_EQ(Delete(), ::grpc::StatusCode::OK);
  EXPECT_THAT(berth::testing::ReadFileOrEmpty(absl::StrCat(bundle_, "/", id_, "-json.log")),
              HasSubstr("from lower2"));
  EXPECT_EQ(berth::testing::ReadFileOrEmpty(upper + "/made-here"), "made\n");
  EXPECT_FALSE(absl::StrContains(berth::testing::ReadFileOrEmpty("/proc/self/mountinfo"),
                                 bundle_ + "/rootfs"));
  EXPECT_EQ(Delete(), ::grpc::StatusCode::NOT_FOUND);
}

TEST_F(ShimFeaturesTest, AttachRoundTripsStdinAndEndsWithTheExit) {
  MakeBundle({"cat"});
  StartShim();
  v1::CreateRequest req = CreateRequest();
  req.set_stdin_mode(tv1::STDIN_MODE_OPEN);
  v1::CreateResponse resp;
  ASSERT_TRUE(stub_->Create(Ctx().get(), req, &resp).ok());
  AttachClient a(stub_.get(), id_, "", {tv1::STDIO_STREAM_STDIN, tv1::STDIO_STREAM_STDOUT});
  ASSERT_TRUE(a.AwaitAttached());
  AttachClient watcher(stub_.get(), id_, "", {tv1::STDIO_STREAM_STDOUT});
  ASSERT_TRUE(watcher.AwaitAttached());
  ASSERT_GT(StartProcess(""), 0u);
  a.Send("ping\n");
  EXPECT_THAT(a.ReadUntil("ping\n"), HasSubstr("ping\n"));
  EXPECT_THAT(watcher.ReadUntil("ping\n"), HasSubstr("ping\n"));
  a.Send("pong\n");
  a.CloseStdin();
  ::grpc::Status s = a.Finish();
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(a.output(), "ping\npong\n");
  ASSERT_TRUE(a.exit().has_value());
  EXPECT_EQ(a.exit()->exit_status(), 0u);
  EXPECT_TRUE(watcher.Finish().ok());
  ASSERT_TRUE(watcher.exit().has_value());
  EXPECT_EQ(Wait().exit_status(), 0u);
  EXPECT_EQ(Delete(), ::grpc::StatusCode::OK);
}

TEST_F(ShimFeaturesTest, TerminalProcessIsResized) {
  MakeBundle({"sh", "-c", "read line; stty size"}, /*populate=*/true, /*terminal=*/true);
  StartShim();
  v1::CreateRequest req = CreateRequest();
  req.set_terminal(true);
  req.set_stdin_mode(tv1::STDIN_MODE_OPEN);
  v1::CreateResponse resp;
  auto s = stub_->Create(Ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  AttachClient a(stub_.get(), id_, "", {});
  ASSERT_TRUE(a.AwaitAttached());
  ASSERT_GT(StartProcess(""), 0u);
  v1::ResizePtyRequest resize;
  resize.set_container_id(id_);
  resize.set_width(123);
  resize.set_height(45);
  v1::ResizePtyResponse rr;
  s = stub_->ResizePty(Ctx().get(), resize, &rr);
  ASSERT_TRUE(s.ok()) << s.error_message();
  a.Send("\n");
  EXPECT_THAT(a.ReadUntil("45 123"), HasSubstr("45 123"));
  EXPECT_TRUE(a.Finish().ok());
  EXPECT_EQ(Wait().exit_status(), 0u);
  EXPECT_EQ(Delete(), ::grpc::StatusCode::OK);
}

TEST_F(ShimFeaturesTest, ExecPauseResumePidsUpdateStatsAndEvents) {
  MakeBundle({"sleep", "1000"});
  StartShim();
  // Exec before the task runs.
  {
    v1::CreateResponse resp;
    ASSERT_TRUE(stub_->Create(Ctx().get(), CreateRequest(), &resp).ok());
    EXPECT_EQ(Exec("early", ExecSpec({"true"})).error_code(),
              ::grpc::StatusCode::FAILED_PRECONDITION);
  }
  const uint32_t init_pid = StartProcess("");
  ASSERT_GT(init_pid, 0u);

  // An exec with output and an exit code, attached before it starts.
  ASSERT_TRUE(Exec("e1", ExecSpec({"sh", "-c", "echo execout; exit 7"})).ok());
  EXPECT_EQ(Status("e1"), tv1::PROCESS_STATUS_CREATED);
  AttachClient a(stub_.get(), id_, "e1", {tv1::STDIO_STREAM_STDOUT});
  ASSERT_TRUE(a.AwaitAttached());
  const uint32_t exec_pid = StartProcess("e1");
  EXPECT_GT(exec_pid, 0u);
  EXPECT_EQ(Wait("e1").exit_status(), 7u);
  EXPECT_TRUE(a.Finish().ok());
  EXPECT_EQ(a.output(), "execout\n");
  ASSERT_TRUE(a.exit().has_value());
  EXPECT_EQ(a.exit()->exit_status(), 7u);
  EXPECT_EQ(Delete("e1"), ::grpc::StatusCode::OK);
  EXPECT_EQ(Delete("e1"), ::grpc::StatusCode::NOT_FOUND);

  // A long-running exec shows up in Pids with its id.
  ASSERT_TRUE(Exec("e2", ExecSpec({"sleep", "1000"})).ok());
  const uint32_t e2_pid = StartProcess("e2");
  {
    v1::PidsRequest req;
    req.set_container_id(id_);
    v1::PidsResponse resp;
    auto s = stub_->Pids(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    std::map<uint32_t, std::string> seen;
    for (const auto& p : resp.processes()) seen[p.pid()] = p.exec_id();
    ASSERT_EQ(seen.count(init_pid), 1u);
    EXPECT_EQ(seen[init_pid], "");
    ASSERT_EQ(seen.count(e2_pid), 1u);
    EXPECT_EQ(seen[e2_pid], "e2");
  }
  EXPECT_EQ(Delete("e2"), ::grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Delete(), ::grpc::StatusCode::FAILED_PRECONDITION);

  // Pause / resume.
  {
    v1::PauseRequest req;
    req.set_container_id(id_);
    v1::PauseResponse resp;
    auto s = stub_->Pause(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(Status(), tv1::PROCESS_STATUS_PAUSED);
    EXPECT_TRUE(stub_->Pause(Ctx().get(), req, &resp).ok());
    auto st = proc::ProcessState(static_cast<pid_t>(init_pid));
    ASSERT_THAT(st, IsOk());
    EXPECT_EQ(*st, 'D') << "a frozen process sleeps uninterruptibly";
    v1::ResumeRequest rreq;
    rreq.set_container_id(id_);
    v1::ResumeResponse rresp;
    s = stub_->Resume(Ctx().get(), rreq, &rresp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(Status(), tv1::PROCESS_STATUS_RUNNING);
    EXPECT_TRUE(stub_->Resume(Ctx().get(), rreq, &rresp).ok());
  }

  // Update, read back from the container's memory cgroup.
  {
    v1::UpdateRequest req;
    req.set_container_id(id_);
    req.set_resources(R"({"memory":{"limit":67108864}})");
    v1::UpdateResponse resp;
    auto s = stub_->Update(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    auto dirs = process::FindCgroupDirs(static_cast<pid_t>(init_pid));
    ASSERT_THAT(dirs, IsOk());
    const std::string file = dirs->version == 2 ? dirs->memory + "/memory.max"
                                                : dirs->memory + "/memory.limit_in_bytes";
    EXPECT_EQ(berth::testing::ReadFileOrEmpty(file), "67108864\n");
    req.set_resources("[1,2]");
    EXPECT_EQ(stub_->Update(Ctx().get(), req, &resp).error_code(),
              ::grpc::StatusCode::INVALID_ARGUMENT);
  }

  // Stats.
  {
    v1::StatsRequest req;
    req.set_container_id(id_);
    v1::StatsResponse resp;
    auto s = stub_->Stats(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.metrics().container_id(), id_);
    EXPECT_GT(resp.metrics().memory().usage_bytes(), 0u);
    EXPECT_EQ(resp.metrics().memory().limit_bytes(), 67108864u);
    EXPECT_GE(resp.metrics().pids().current(), 2u);
    EXPECT_GT(resp.metrics().cpu().usage_total_ns(), 0u);
  }

  // Checkpoint without criu is Unimplemented (this machine has none); with criu it may work.
  if (access("/usr/sbin/criu", X_OK) != 0 && access("/usr/bin/criu", X_OK) != 0) {
    v1::CheckpointRequest req;
    req.set_container_id(id_);
    req.set_path(dir_->Sub("ckpt"));
    v1::CheckpointResponse resp;
    auto s = stub_->Checkpoint(Ctx().get(), req, &resp);
    EXPECT_EQ(s.error_code(), ::grpc::StatusCode::UNIMPLEMENTED);
    EXPECT_THAT(s.error_message(), HasSubstr("criu"));
  }

  EXPECT_EQ(Kill(SIGKILL), ::grpc::StatusCode::OK);
  EXPECT_EQ(Wait().exit_status(), 137u);
  EXPECT_EQ(Wait("e2").exit_status(), 137u);
  EXPECT_EQ(Delete("e2"), ::grpc::StatusCode::OK);
  EXPECT_EQ(Delete(), ::grpc::StatusCode::OK);

  // Events reached the fake berth-containerd, with our namespace, in order.
  const std::vector<std::string> want = {"/tasks/create",       "/tasks/start",
                                         "/tasks/exec-added",   "/tasks/exec-started",
                                         "/tasks/paused",       "/tasks/resumed",
                                         "/tasks/delete"};
  ASSERT_TRUE(berth::testing::WaitFor(
      [&] {
        auto t = events_.topics();
        return !t.empty() && t.back() == "/tasks/delete" &&
               std::count(t.begin(), t.end(), "/tasks/exit") >= 3;
      },
      absl::Seconds(10)));
  std::vector<std::string> topics = events_.topics();
  size_t at = 0;
  for (const std::string& t : topics) {
    if (at < want.size() && t == want[at]) ++at;
  }
  EXPECT_EQ(at, want.size()) << absl::StrJoin(topics, " ");
  for (const auto& e : events_.envelopes()) {
    EXPECT_EQ(e.namespace_(), "test");
    EXPECT_GT(e.timestamp().seconds(), 0);
  }
}

// A container over its 8 MiB memory limit is killed by the kernel's OOM killer: the shim
// sees the kill in the memory cgroup (v1 eventfd on memory.oom_control here) and publishes
// /tasks/oom once, and the process exits with 128 + SIGKILL.
TEST_F(ShimFeaturesTest, OomKillIsPublishedAsTaskOom) {
  MakeBundle({"sh", "-c", "x=a; while true; do x=$x$x; done"});
  {
    json spec = json::parse(*fs::ReadFile(bundle_ + "/config.json"));
    spec["linux"]["resources"]["memory"]["limit"] = 8 * 1024 * 1024;
    ASSERT_THAT(fs::WriteFileAtomically(bundle_ + "/config.json", spec.dump(), 0644), IsOk());
  }
  StartShim();
  ASSERT_GT(CreateAndStart(CreateRequest()), 0u);
  EXPECT_EQ(Wait().exit_status(), 137u);
  ASSERT_TRUE(berth::testing::WaitFor(
      [&] {
        auto t = events_.topics();
        return std::count(t.begin(), t.end(), "/tasks/oom") > 0;
      },
      absl::Seconds(10)))
      << absl::StrJoin(events_.topics(), " ") << "\nshim log:\n"
      << berth::testing::ReadFileOrEmpty(bundle_ + "/shim.log");
  int ooms = 0;
  for (const auto& e : events_.envelopes()) {
    if (e.topic() != "/tasks/oom") continue;
    ++ooms;
    ev1::TaskOOM oom;
    ASSERT_TRUE(e.event().UnpackTo(&oom));
    EXPECT_EQ(oom.container_id(), id_);
  }
  // One process, one kill: one event (the cgroup's removal at Delete must not add another).
  EXPECT_EQ(Delete(), ::grpc::StatusCode::OK);
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(ooms, 1);
  auto t = events_.topics();
  EXPECT_EQ(std::count(t.begin(), t.end(), "/tasks/oom"), 1) << absl::StrJoin(t, " ");
}

TEST_F(ShimFeaturesTest, BadInputsGetTheDocumentedCodesAndLeaveNothing) {
  MakeBundle({"sleep", "1000"});
  StartShim();
  {
    v1::CreateRequest req = CreateRequest();
    req.set_stdout("relative/out");
    v1::CreateResponse resp;
    EXPECT_EQ(stub_->Create(Ctx().get(), req, &resp).error_code(),
              ::grpc::StatusCode::INVALID_ARGUMENT);
    req = CreateRequest();
    req.mutable_log_config()->set_path(dir_->Sub("no-such-dir/log.json"));
    EXPECT_EQ(stub_->Create(Ctx().get(), req, &resp).error_code(),
              ::grpc::StatusCode::INVALID_ARGUMENT);
    req = CreateRequest();
    tv1::Mount* m = req.add_rootfs_mounts();
    m->set_type("overlay");
    m->set_source("overlay");
    m->add_options("lowerdir=" + dir_->Sub("missing"));
    EXPECT_EQ(stub_->Create(Ctx().get(), req, &resp).error_code(),
              ::grpc::StatusCode::INTERNAL);
    EXPECT_FALSE(absl::StrContains(berth::testing::ReadFileOrEmpty("/proc/self/mountinfo"),
                                   bundle_ + "/rootfs"));
    EXPECT_EQ(Status(), tv1::PROCESS_STATUS_UNKNOWN) << "nothing was created";
  }
  ASSERT_GT(CreateAndStart(CreateRequest()), 0u);
  EXPECT_EQ(Exec("bad id!", ExecSpec({"true"})).error_code(),
            ::grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Exec("", ExecSpec({"true"})).error_code(), ::grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Exec("e1", "[]").error_code(), ::grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Exec("e1", ExecSpec({"true"}), tv1::STDIN_MODE_NULL, false, "rel/out").error_code(),
            ::grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(Exec("e1", ExecSpec({"true"})).ok());
  EXPECT_EQ(Exec("e1", ExecSpec({"true"})).error_code(), ::grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Status("nope"), tv1::PROCESS_STATUS_UNKNOWN);
  EXPECT_EQ(Kill(SIGTERM, "nope"), ::grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Kill(0), ::grpc::StatusCode::INVALID_ARGUMENT);
  {
    v1::ResizePtyRequest req;
    req.set_container_id(id_);
    req.set_width(80);
    req.set_height(24);
    v1::ResizePtyResponse resp;
    EXPECT_EQ(stub_->ResizePty(Ctx().get(), req, &resp).error_code(),
              ::grpc::StatusCode::FAILED_PRECONDITION);
    req.set_container_id("someone-else");
    EXPECT_EQ(stub_->ResizePty(Ctx().get(), req, &resp).error_code(),
              ::grpc::StatusCode::NOT_FOUND);
  }
  {
    // Attach: first frame not `start`, and stdin on a NULL stdin.
    ::grpc::ClientContext ctx;
    auto stream = stub_->Attach(&ctx);
    v1::AttachRequest r;
    r.set_stdin("x");
    stream->Write(r);
    stream->WritesDone();
    v1::AttachResponse resp;
    while (stream->Read(&resp)) {
    }
    EXPECT_EQ(stream->Finish().error_code(), ::grpc::StatusCode::INVALID_ARGUMENT);
    AttachClient a(stub_.get(), id_, "", {tv1::STDIO_STREAM_STDIN});
    EXPECT_EQ(a.Finish().error_code(), ::grpc::StatusCode::FAILED_PRECONDITION);
  }
  EXPECT_EQ(Delete("e1"), ::grpc::StatusCode::OK);
  EXPECT_FALSE(fs::ReadFile(bundle_ + "/execs/e1.json").ok()) << "exec spec left behind";
}

TEST_F(ShimFeaturesTest, ShimKilledWithSigkillIsCleanedUpByDelete) {
  const std::string lower = dir_->Sub("lower"), upper = dir_->Sub("upper"),
                    work = dir_->Sub("work");
  MakeBusybox(lower);
  ASSERT_THAT(fs::MakeDirs(upper, 0755), IsOk());
  ASSERT_THAT(fs::MakeDirs(work, 0755), IsOk());
  MakeBundle({"sleep", "1000"}, /*populate=*/false);
  StartShim();
  v1::CreateRequest req = CreateRequest();
  tv1::Mount* m = req.add_rootfs_mounts();
  m->set_type("overlay");
  m->set_source("overlay");
  m->add_options("lowerdir=" + lower);
  m->add_options("upperdir=" + upper);
  m->add_options("workdir=" + work);
  const uint32_t pid = CreateAndStart(req);
  ASSERT_GT(pid, 0u);
  auto container = proc::ProcessIdentity::Current(static_cast<pid_t>(pid));
  ASSERT_THAT(container, IsOk());

  ASSERT_EQ(::kill(shim_->pid, SIGKILL), 0);
  ASSERT_TRUE(berth::testing::WaitFor(
      [&] {
        auto alive = shim_->IsAlive();
        return alive.ok() && !*alive;
      },
      absl::Seconds(10)));
  stub_.reset();  // nothing to shut down any more
  auto still = container->IsAlive();
  ASSERT_THAT(still, IsOk());
  EXPECT_TRUE(*still) << "the container outlives its shim";

  for (int round = 0; round < 2; ++round) {
    json cleanup = json::parse(RunShim("delete"));
    EXPECT_EQ(cleanup["exitStatus"], 255) << "no exit was recorded";
    EXPECT_EQ(cleanup["pid"], pid);
  }
  auto alive = container->IsAlive();  // a zombie of an unreaping pid 1 counts as gone
  ASSERT_THAT(alive, IsOk());
  EXPECT_FALSE(*alive) << "container process left";
  EXPECT_FALSE(absl::StrContains(berth::testing::ReadFileOrEmpty("/proc/self/mountinfo"),
                                 bundle_ + "/rootfs"));
  auto socket_path = task::ShimSocketPath(state_, "test", id_);
  ASSERT_THAT(socket_path, IsOk());
  struct stat st;
  EXPECT_NE(stat(socket_path->c_str(), &st), 0) << "socket left";
}

}  // namespace
}  // namespace berth::shim

namespace berth::shim {
namespace {

// Not a benchmark (bench/ has those): records the resident size, PSS and thread count of one
// idle shim with a running container, so a regression shows in the test log, and keeps the
// thread count bounded (no thread per process, pipe or stream).
TEST_F(ShimFeaturesTest, IdleShimFootprint) {
  MakeBundle({"sleep", "1000"});
  StartShim();
  v1::CreateRequest req = CreateRequest();
  req.set_stdin_mode(tv1::STDIN_MODE_OPEN);
  ASSERT_GT(CreateAndStart(req), 0u);
  AttachClient a(stub_.get(), id_, "", {});
  ASSERT_TRUE(a.AwaitAttached());
  absl::SleepFor(absl::Milliseconds(500));
  const std::string status =
      berth::testing::ReadFileOrEmpty(absl::StrCat("/proc/", shim_->pid, "/status"));
  const std::string rollup =
      berth::testing::ReadFileOrEmpty(absl::StrCat("/proc/", shim_->pid, "/smaps_rollup"));
  auto field = [](const std::string& text, absl::string_view key) -> int64_t {
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (!absl::StartsWith(line, key)) continue;
      std::vector<absl::string_view> f =
          absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipWhitespace());
      int64_t v = 0;
      if (f.size() >= 2 && absl::SimpleAtoi(f[1], &v)) return v;
    }
    return -1;
  };
  const int64_t threads = field(status, "Threads:");
  LOG(INFO) << "idle shim footprint rss_kb=" << field(rollup, "Rss:")
            << " pss_kb=" << field(rollup, "Pss:") << " pss_anon_kb=" << field(rollup, "Pss_Anon:")
            << " pss_file_kb=" << field(rollup, "Pss_File:") << " threads=" << threads;
  EXPECT_GT(threads, 0);
  EXPECT_LE(threads, 16);
  EXPECT_EQ(Kill(SIGKILL), ::grpc::StatusCode::OK);
  EXPECT_TRUE(a.Finish().ok());
  EXPECT_EQ(Wait().exit_status(), 137u);
  EXPECT_EQ(Delete(), ::grpc::StatusCode::OK);
}

}  // namespace
}  // namespace berth::shim
