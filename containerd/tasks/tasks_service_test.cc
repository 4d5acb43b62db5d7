// The Tasks service over fake shims (fake_shim_manager.h), through real gRPC
// calls: the task life cycle, every documented error, namespaces, List/Metrics
// filters, Wait and Attach relays, dead and unresponsive shims, and the
// recovery of tasks by a restarted service.
#include "containerd/tasks/tasks_service.h"

#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "berth/shim/task/v1/options.pb.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "containerd/events/fake_publisher.h"
#include "containerd/server/service_test_util.h"
#include "containerd/tasks/bundle.h"
#include "containerd/tasks/fake_shim_manager.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::tasks {
namespace {

namespace shimpb = ::berth::shim::task::v1;
namespace typespb = ::berth::types::v1;
using ::berth::containerd::server::CallContext;
using ::berth::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kSpec[] = R"({"ociVersion":"1.0.2","root":{"path":"rootfs"}})";

bool Exists(const std::string &path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

class TasksServiceTest : public ::testing::Test {
protected:
  void SetUp() override {
    auto env = server::ServiceTestEnv::Create();
    ASSERT_THAT(env, IsOk());
    env_ = std::move(*env);
    state_ = env_->dir().Sub("state");
    bin_ = env_->dir().Sub("bin");
    ASSERT_THAT(fs::MakeDirs(bin_, 0755), IsOk());
    ASSERT_THAT(fs::MakeDirs(env_->dir().Sub("s"), 0700), IsOk());
    // A runtime the service can find by its default name.
    ASSERT_THAT(
        fs::WriteFileAtomically(bin_ + "/berth-runc", "#!/bin/sh\n", 0755),
        IsOk());
    shims_ = std::make_unique<FakeShimManager>(env_->dir().Sub("s"));
    StartService();
  }

  void TearDown() override {
    if (env_)
      env_->StopServing();
    service_.reset();
  }

  TasksServiceOptions Options() {
    TasksServiceOptions o;
    o.state_dir = state_;
    o.shims = shims_.get();
    o.publisher = &events_;
    o.runtime_root_base = env_->dir().Sub("runtime");
    o.runtime_search_dirs = {bin_};
    o.monitor_interval = monitor_interval_;
    o.shim_exit_timeout = absl::Seconds(2);
    return o;
  }

  // (Re)starts the service over the same state dir and shims, as a restarted
  // daemon would.
  void StartService() {
    if (service_)
      env_->StopServing();
    service_.reset();
    auto s = TasksService::Create(&env_->metadata(), Options());
    ASSERT_THAT(s, IsOk());
    service_ = std::move(*s);
    ASSERT_THAT(env_->Serve({service_.get()}), IsOk());
    stub_ = v1::Tasks::NewStub(env_->channel());
  }

  void AddContainer(const std::string &id, const std::string &ns = "default",
                    const std::string &spec = kSpec,
                    const std::string &runtime = "") {
    metadata::Container c;
    c.id = id;
    c.spec = spec;
    c.runtime.name = runtime;
    ASSERT_THAT(
        env_->metadata().WithTransaction(
            [&](metadata::Transaction &tx) -> absl::Status {
              absl::Status s = tx.CreateNamespace({ns, {}, {}, {}}).status();
              if (!s.ok() && s.code() != absl::StatusCode::kAlreadyExists)
                return s;
              return tx.CreateContainer(ns, c).status();
            }),
        IsOk());
  }

  ::grpc::Status Create(const std::string &id,
                        const std::string &ns = "default",
                        v1::CreateResponse *out = nullptr) {
    v1::CreateRequest req;
    req.set_container_id(id);
    v1::CreateResponse resp;
    return stub_->Create(CallContext(ns).get(), req, out ? out : &resp);
  }
  ::grpc::Status Start(const std::string &id,
                       const std::string &ns = "default") {
    v1::StartRequest req;
    req.set_container_id(id);
    v1::StartResponse resp;
    return stub_->Start(CallContext(ns).get(), req, &resp);
  }
  ::grpc::Status Get(const std::string &id, typespb::Process *p,
                     const std::string &ns = "default") {
    v1::GetRequest req;
    req.set_container_id(id);
    v1::GetResponse resp;
    ::grpc::Status s = stub_->Get(CallContext(ns).get(), req, &resp);
    *p = resp.process();
    return s;
  }
  ::grpc::Status Wait(const std::string &id, v1::WaitResponse *resp,
                      absl::Duration timeout = absl::Seconds(20)) {
    v1::WaitRequest req;
    req.set_container_id(id);
    auto ctx = CallContext();
    ctx->set_deadline(std::chrono::system_clock::now() +
                      absl::ToChronoMilliseconds(timeout));
    return stub_->Wait(ctx.get(), req, resp);
  }
  ::grpc::Status Delete(const std::string &id, v1::DeleteResponse *resp,
                        const std::string &ns = "default") {
    v1::DeleteRequest req;
    req.set_container_id(id);
    return stub_->Delete(CallContext(ns).get(), req, resp);
  }
  ::grpc::Status Kill(const std::string &id, uint32_t signal,
                      const std::string &exec_id = "", bool all = false) {
    v1::KillRequest req;
    req.set_container_id(id);
    req.set_signal(signal);
    req.set_exec_id(exec_id);
    req.set_all(all);
    v1::KillResponse resp;
    return stub_->Kill(CallContext().get(), req, &resp);
  }
  std::vector<std::string> ListIds(const std::vector<std::string> &filters,
                                   const std::string &ns = "default") {
    v1::ListRequest req;
    for (const auto &f : filters)
      req.add_filters(f);
    v1::ListResponse resp;
    ::grpc::Status s = stub_->List(CallContext(ns).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> ids;
    for (const auto &p : resp.tasks())
      ids.push_back(p.container_id());
    return ids;
  }
  std::string Bundle(const std::string &id, const std::string &ns = "default") {
    return BundlePath(state_, ns, id);
  }
  bool Published(const std::string &topic, const std::string &id) {
    for (const auto &e : events_.events()) {
      if (e.topic == topic &&
          e.debug.find(absl::StrCat("container_id: \"", id, "\"")) !=
              std::string::npos) {
        return true;
      }
    }
    return false;
  }

  absl::Duration monitor_interval_ = absl::ZeroDuration();
  std::unique_ptr<server::ServiceTestEnv> env_;
  std::string state_, bin_;
  events::FakePublisher events_;
  std::unique_ptr<FakeShimManager> shims_;
  std::unique_ptr<TasksService> service_;
  std::unique_ptr<v1::Tasks::Stub> stub_;
};

TEST_F(TasksServiceTest, CreateStartWaitDelete) {
  AddContainer("c1");
  v1::CreateResponse created;
  ASSERT_TRUE(Create("c1", "default", &created).ok());
  EXPECT_EQ(created.container_id(), "c1");
  EXPECT_GT(created.pid(), 0u);
  EXPECT_EQ(created.log_path(), Bundle("c1") + "/c1-json.log");
  // The bundle holds the spec and the task record; the shim got the bundle and
  // the runtime.
  EXPECT_EQ(*fs::ReadFile(Bundle("c1") + "/config.json"), kSpec);
  auto record = ReadTaskRecord(Bundle("c1"));
  ASSERT_THAT(record, IsOk());
  EXPECT_EQ(record->runtime.binary, bin_ + "/berth-runc");
  EXPECT_EQ(record->runtime.root, env_->dir().Sub("runtime") + "/default");
  ASSERT_EQ(shims_->started().size(), 1u);
  EXPECT_EQ(shims_->started()[0].bundle, Bundle("c1"));
  EXPECT_EQ(shims_->last_create("c1")->bundle(), Bundle("c1"));
  EXPECT_TRUE(service_->HasTask("default", "c1").value());

  typespb::Process p;
  ASSERT_TRUE(Get("c1", &p).ok());
  EXPECT_EQ(p.status(), typespb::PROCESS_STATUS_CREATED);
  ASSERT_TRUE(Start("c1").ok());
  ASSERT_TRUE(Start("c1").ok())
      << "starting a running task returns its pid again";
  ASSERT_TRUE(Get("c1", &p).ok());
  EXPECT_EQ(p.status(), typespb::PROCESS_STATUS_RUNNING);
  EXPECT_EQ(p.pid(), created.pid());

  v1::DeleteResponse deleted;
  EXPECT_EQ(Delete("c1", &deleted).error_code(),
            ::grpc::StatusCode::FAILED_PRECONDITION);

  // Wait blocks until the process exits.
  ::grpc::Status wait_status;
  v1::WaitResponse waited;
  std::thread waiter([&] { wait_status = Wait("c1", &waited); });
  absl::SleepFor(absl::Milliseconds(100));
  shims_->ExitInit("c1", 3);
  waiter.join();
  ASSERT_TRUE(wait_status.ok()) << wait_status.error_message();
  EXPECT_EQ(waited.exit_status(), 3u);
  EXPECT_EQ(Kill("c1", 9).error_code(),
            ::grpc::StatusCode::FAILED_PRECONDITION);

  ASSERT_TRUE(Delete("c1", &deleted).ok());
  EXPECT_EQ(deleted.exit_status(), 3u);
  EXPECT_EQ(deleted.pid(), created.pid());
  EXPECT_FALSE(Exists(Bundle("c1")));
  EXPECT_EQ(shims_->live_shims(), 0) << "the shim was shut down";
  EXPECT_FALSE(service_->HasTask("default", "c1").value());
  EXPECT_EQ(Get("c1", &p).error_code(), ::grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Delete("c1", &deleted).error_code(), ::grpc::StatusCode::NOT_FOUND);
  // The container can get a new task.
  EXPECT_TRUE(Create("c1").ok());
}

TEST_F(TasksServiceTest, CreateErrors) {
  EXPECT_EQ(Create("").error_code(), ::grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Create("nope").error_code(), ::grpc::StatusCode::NOT_FOUND);
  AddContainer("nospec", "default", "");
  EXPECT_EQ(Create("nospec").error_code(),
            ::grpc::StatusCode::INVALID_ARGUMENT);
  AddContainer("noruntime", "default", kSpec, "no-such-runtime");
  EXPECT_EQ(Create("noruntime").error_code(),
            ::grpc::StatusCode::FAILED_PRECONDITION);

  AddContainer("c");
  {
    v1::CreateRequest req;
    req.set_container_id("c");
    req.set_stdout("relative/out");
    v1::CreateResponse resp;
    EXPECT_EQ(stub_->Create(CallContext().get(), req, &resp).error_code(),
              ::grpc::StatusCode::INVALID_ARGUMENT);
    req.clear_stdout();
    req.mutable_options()->PackFrom(shimpb::RuntimeOptions());
    EXPECT_EQ(stub_->Create(CallContext().get(), req, &resp).error_code(),
              ::grpc::StatusCode::INVALID_ARGUMENT);
    req.mutable_options()->PackFrom(shimpb::CreateOptions());
    req.mutable_checkpoint()->set_digest("sha256:00");
    EXPECT_EQ(stub_->Create(CallContext().get(), req, &resp).error_code(),
              ::grpc::StatusCode::UNIMPLEMENTED);
  }
  EXPECT_TRUE(shims_->started().empty()) << "validation comes before any shim";

  // A failing shim start or shim Create leaves nothing behind.
  shims_->FailNextStart(absl::InternalError("berth-shim start: boom"));
  ::grpc::Status s = Create("c");
  EXPECT_EQ(s.error_code(), ::grpc::StatusCode::INTERNAL);
  EXPECT_THAT(s.error_message(), HasSubstr("boom"));
  EXPECT_FALSE(Exists(Bundle("c")));
  shims_->FailNextCreate(
      absl::InternalError("runtime create failed: no such file"));
  s = Create("c");
  EXPECT_EQ(s.error_code(), ::grpc::StatusCode::INTERNAL);
  EXPECT_THAT(s.error_message(), HasSubstr("no such file"));
  EXPECT_FALSE(Exists(Bundle("c")));
  EXPECT_FALSE(Exists(state_ + "/tasks/default"));
  EXPECT_EQ(shims_->live_shims(), 0);
  EXPECT_FALSE(service_->HasTask("default", "c").value());

  ASSERT_TRUE(Create("c").ok());
  EXPECT_EQ(Create("c").error_code(), ::grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(TasksServiceTest, CreatePassesRequestAndRuntimeOptions) {
  metadata::Container c;
  c.id = "opts";
  c.spec = kSpec;
  c.runtime.name = "berth-runc";
  shimpb::RuntimeOptions ro;
  ro.set_root(env_->dir().Sub("myroot"));
  ro.set_systemd_cgroup(true);
  google::protobuf::Any any;
  any.PackFrom(ro);
  c.runtime.options = any.SerializeAsString();
  ASSERT_THAT(env_->metadata().WithTransaction([&](metadata::Transaction &tx)
                                                   -> absl::Status {
    BERTH_RETURN_IF_ERROR(tx.CreateNamespace({"default", {}, {}, {}}).status());
    return tx.CreateContainer("default", c).status();
  }),
              IsOk());
  v1::CreateRequest req;
  req.set_container_id("opts");
  req.set_stdin_mode(typespb::STDIN_MODE_OPEN);
  req.mutable_log_config()->set_max_files(5);
  req.add_rootfs_mounts()->set_type("overlay");
  shimpb::CreateOptions co;
  co.set_no_pivot_root(true);
  req.mutable_options()->PackFrom(co);
  v1::CreateResponse resp;
  ASSERT_TRUE(stub_->Create(CallContext().get(), req, &resp).ok());
  auto got = shims_->last_create("opts");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->stdin_mode(), typespb::STDIN_MODE_OPEN);
  EXPECT_EQ(got->log_config().max_files(), 5u);
  ASSERT_EQ(got->rootfs_mounts_size(), 1);
  EXPECT_EQ(got->rootfs_mounts(0).type(), "overlay");
  EXPECT_TRUE(got->options().no_pivot_root());
  EXPECT_EQ(shims_->started()[0].runtime.root, env_->dir().Sub("myroot"));
  EXPECT_TRUE(shims_->started()[0].runtime.systemd_cgroup);

  // runtime_path overrides the container's runtime for this task only.
  AddContainer("other");
  req.Clear();
  req.set_container_id("other");
  req.set_runtime_path("/bin/sh");
  ASSERT_TRUE(stub_->Create(CallContext().get(), req, &resp).ok());
  EXPECT_EQ(shims_->started()[1].runtime.binary, "/bin/sh");
  EXPECT_THAT(ListIds({"runtime==/bin/sh"}), ElementsAre("other"));
}

TEST_F(TasksServiceTest, ErrorsOfEveryCall) {
  // No task: NotFound everywhere.
  {
    v1::StartRequest r;
    r.set_container_id("none");
    v1::StartResponse o;
    EXPECT_EQ(stub_->Start(CallContext().get(), r, &o).error_code(),
              ::grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_EQ(Kill("none", 9).error_code(), ::grpc::StatusCode::NOT_FOUND);
  {
    v1::PauseRequest r;
    r.set_container_id("none");
    v1::PauseResponse o;
    EXPECT_EQ(stub_->Pause(CallContext().get(), r, &o).error_code(),
              ::grpc::StatusCode::NOT_FOUND);
  }
  {
    v1::WaitResponse o;
    EXPECT_EQ(Wait("none", &o).error_code(), ::grpc::StatusCode::NOT_FOUND);
  }
  typespb::Process p;
  EXPECT_EQ(Get("", &p).error_code(), ::grpc::StatusCode::INVALID_ARGUMENT);

  // Validation before the task is looked at.
  EXPECT_EQ(Kill("none", 0).error_code(), ::grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Kill("none", 65).error_code(),
            ::grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Kill("none", 9, "e1", true).error_code(),
            ::grpc::StatusCode::INVALID_ARGUMENT);

  AddContainer("t");
  ASSERT_TRUE(Create("t").ok());
  ASSERT_TRUE(Start("t").ok());
  auto exec = [&](const std::string &id, const std::string &spec) {
    v1::ExecRequest r;
    r.set_container_id("t");
    r.set_exec_id(id);
    r.set_spec(spec);
    v1::ExecResponse o;
    return stub_->Exec(CallContext().get(), r, &o).error_code();
  };
  EXPECT_EQ(exec("", "{}"), ::grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(exec("-bad", "{}"), ::grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(exec(std::string(77, 'a'), "{}"),
            ::grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(exec("e1", "not json"), ::grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(exec("e1", R"({"args":["true"]})"), ::grpc::StatusCode::OK);
  EXPECT_EQ(exec("e1", R"({"args":["true"]})"),
            ::grpc::StatusCode::ALREADY_EXISTS);
  {
    v1::StartRequest r;
    r.set_container_id("t");
    r.set_exec_id("e1");
    v1::StartResponse o;
    ASSERT_TRUE(stub_->Start(CallContext().get(), r, &o).ok());
    EXPECT_GT(o.pid(), 0u);
    v1::ListPidsRequest lr;
    lr.set_container_id("t");
    v1::ListPidsResponse lo;
    ASSERT_TRUE(stub_->ListPids(CallContext().get(), lr, &lo).ok());
    ASSERT_EQ(lo.processes_size(), 2);
    EXPECT_EQ(lo.processes(1).exec_id(), "e1");
  }
  {
    v1::DeleteProcessRequest r;
    r.set_container_id("t");
    v1::DeleteProcessResponse o;
    EXPECT_EQ(stub_->DeleteProcess(CallContext().get(), r, &o).error_code(),
              ::grpc::StatusCode::INVALID_ARGUMENT);
    r.set_exec_id("e1");
    EXPECT_EQ(stub_->DeleteProcess(CallContext().get(), r, &o).error_code(),
              ::grpc::StatusCode::FAILED_PRECONDITION);
    ASSERT_TRUE(Kill("t", 15, "e1").ok());
    ASSERT_TRUE(stub_->DeleteProcess(CallContext().get(), r, &o).ok());
    EXPECT_EQ(o.exit_status(), 128u + 15);
    EXPECT_EQ(stub_->DeleteProcess(CallContext().get(), r, &o).error_code(),
              ::grpc::StatusCode::NOT_FOUND);
  }
  {
    v1::UpdateRequest r;
    r.set_container_id("t");
    r.set_resources("[]");
    v1::UpdateResponse o;
    EXPECT_EQ(stub_->Update(CallContext().get(), r, &o).error_code(),
              ::grpc::StatusCode::INVALID_ARGUMENT);
    r.set_resources(R"({"pids":{"limit":10}})");
    EXPECT_TRUE(stub_->Update(CallContext().get(), r, &o).ok());
  }
  {
    v1::PauseRequest r;
    r.set_container_id("t");
    v1::PauseResponse o;
    ASSERT_TRUE(stub_->Pause(CallContext().get(), r, &o).ok());
    typespb::Process q;
    ASSERT_TRUE(Get("t", &q).ok());
    EXPECT_EQ(q.status(), typespb::PROCESS_STATUS_PAUSED);
    v1::ResumeRequest rr;
    rr.set_container_id("t");
    v1::ResumeResponse ro;
    ASSERT_TRUE(stub_->Resume(CallContext().get(), rr, &ro).ok());
  }
  {
    v1::CheckpointRequest r;
    r.set_container_id("t");
    r.mutable_options()->PackFrom(shimpb::CreateOptions());
    v1::CheckpointResponse o;
    EXPECT_EQ(stub_->Checkpoint(CallContext().get(), r, &o).error_code(),
              ::grpc::StatusCode::INVALID_ARGUMENT);
    r.clear_options();
    EXPECT_EQ(stub_->Checkpoint(CallContext().get(), r, &o).error_code(),
              ::grpc::StatusCode::UNIMPLEMENTED);
  }
  {
    v1::ResizePtyRequest r;
    r.set_container_id("t");
    v1::ResizePtyResponse o;
    EXPECT_EQ(stub_->ResizePty(CallContext().get(), r, &o).error_code(),
              ::grpc::StatusCode::FAILED_PRECONDITION);
    v1::CloseIORequest c;
    c.set_container_id("t");
    c.set_exec_id("gone");
    v1::CloseIOResponse co;
    EXPECT_EQ(stub_->CloseIO(CallContext().get(), c, &co).error_code(),
              ::grpc::StatusCode::NOT_FOUND);
  }
  {
    // A Wait with a deadline that passes.
    v1::WaitResponse o;
    EXPECT_EQ(Wait("t", &o, absl::Milliseconds(200)).error_code(),
              ::grpc::StatusCode::DEADLINE_EXCEEDED);
  }
}

TEST_F(TasksServiceTest, NamespacesAreIsolated) {
  AddContainer("same", "a");
  AddContainer("same", "b");
  AddContainer("onlya", "a");
  ASSERT_TRUE(Create("same", "a").ok());
  ASSERT_TRUE(Create("onlya", "a").ok());
  typespb::Process p;
  EXPECT_EQ(Get("onlya", &p, "b").error_code(), ::grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Get("same", &p, "b").error_code(), ::grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(ListIds({}, "b").empty());
  ASSERT_TRUE(Create("same", "b").ok());
  EXPECT_EQ(Bundle("same", "b"), state_ + "/tasks/b/same");
  EXPECT_NE(shims_->started()[0].runtime.root,
            shims_->started()[2].runtime.root)
      << "each namespace gets its own runtime root";
  EXPECT_THAT(ListIds({}, "a"), ElementsAre("onlya", "same"));
  EXPECT_THAT(ListIds({}, "b"), ElementsAre("same"));
  v1::DeleteResponse d;
  ASSERT_TRUE(Delete("same", &d, "b").ok());
  EXPECT_TRUE(Get("same", &p, "a").ok());
  EXPECT_EQ(Get("x", &p, "bad/namespace").error_code(),
            ::grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(TasksServiceTest, ListAndMetricsFilter) {
  for (const char *id : {"run", "made", "done"}) {
    AddContainer(id);
    ASSERT_TRUE(Create(id).ok());
  }
  ASSERT_TRUE(Start("run").ok());
  ASSERT_TRUE(Start("done").ok());
  shims_->ExitInit("done", 0);
  EXPECT_THAT(ListIds({}), ElementsAre("done", "made", "run"));
  EXPECT_THAT(ListIds({"status==running"}), ElementsAre("run"));
  EXPECT_THAT(ListIds({"status==created", "status==stopped"}),
              ElementsAre("done", "made"));
  EXPECT_THAT(ListIds({"container_id~=^(run|made)$,status!=running"}),
              ElementsAre("made"));
  EXPECT_THAT(ListIds({"runtime==berth-runc,container_id==run"}),
              ElementsAre("run"));
  EXPECT_TRUE(ListIds({"nosuchfield==x"}).empty());
  {
    v1::ListRequest req;
    req.add_filters("status==\"unterminated");
    v1::ListResponse resp;
    EXPECT_EQ(stub_->List(CallContext().get(), req, &resp).error_code(),
              ::grpc::StatusCode::INVALID_ARGUMENT);
  }
  v1::MetricsRequest req;
  v1::MetricsResponse resp;
  ASSERT_TRUE(stub_->Metrics(CallContext().get(), req, &resp).ok());
  ASSERT_EQ(resp.metrics_size(), 1) << "only running tasks have metrics";
  EXPECT_EQ(resp.metrics(0).container_id(), "run");
  EXPECT_EQ(resp.metrics(0).cpu().usage_total_ns(), 42u);
  req.add_filters("container_id==made");
  ASSERT_TRUE(stub_->Metrics(CallContext().get(), req, &resp).ok());
  EXPECT_EQ(resp.metrics_size(), 0);
}

TEST_F(TasksServiceTest, DeadShimStopsTheTaskWithItsRecoveredExit) {
  AddContainer("d");
  ASSERT_TRUE(Create("d").ok());
  ASSERT_TRUE(Start("d").ok());
  // A Wait in flight when the shim dies gets the recovered exit.
  ::grpc::Status wait_status;
  v1::WaitResponse waited;
  std::thread waiter([&] { wait_status = Wait("d", &waited); });
  absl::SleepFor(absl::Milliseconds(100));
  shims_->KillShim("d");
  waiter.join();
  ASSERT_TRUE(wait_status.ok()) << wait_status.error_message();
  EXPECT_EQ(waited.exit_status(), 255u);

  typespb::Process p;
  ASSERT_TRUE(Get("d", &p).ok());
  EXPECT_EQ(p.status(), typespb::PROCESS_STATUS_STOPPED);
  EXPECT_EQ(p.exit_status(), 255u);
  EXPECT_EQ(p.bundle(), Bundle("d"));
  EXPECT_EQ(shims_->cleanups().size(), 1u) << "berth-shim delete ran once";
  EXPECT_TRUE(Published("/tasks/exit", "d"));
  EXPECT_EQ(Kill("d", 9).error_code(), ::grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Start("d").error_code(), ::grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(ListIds({"status==stopped"}), ElementsAre("d"));
  v1::DeleteResponse d;
  ASSERT_TRUE(Delete("d", &d).ok());
  EXPECT_EQ(d.exit_status(), 255u);
  EXPECT_FALSE(Exists(Bundle("d")));
  EXPECT_TRUE(Published("/tasks/delete", "d"));
}

TEST_F(TasksServiceTest, DeadShimKeepsTheExitItRecorded) {
  AddContainer("x");
  ASSERT_TRUE(Create("x").ok());
  ASSERT_TRUE(Start("x").ok());
  shims_->ExitInit("x", 4);
  shims_->KillShim("x");
  v1::WaitResponse waited;
  ASSERT_TRUE(Wait("x", &waited).ok());
  EXPECT_EQ(waited.exit_status(), 4u);
}

TEST_F(TasksServiceTest, MonitorNoticesADeadShimWithoutAnyCall) {
  monitor_interval_ = absl::Milliseconds(20);
  StartService();
  AddContainer("m");
  ASSERT_TRUE(Create("m").ok());
  ASSERT_TRUE(Start("m").ok());
  shims_->KillShim("m");
  EXPECT_TRUE(berth::testing::WaitFor(
      [&] { return Published("/tasks/exit", "m"); }, absl::Seconds(10)));
  EXPECT_EQ(shims_->cleanups().size(), 1u);
}

TEST_F(TasksServiceTest, UnresponsiveShimIsUnavailableAndListedUnknown) {
  AddContainer("u");
  ASSERT_TRUE(Create("u").ok());
  shims_->SetUnresponsive("u", true);
  typespb::Process p;
  EXPECT_EQ(Get("u", &p).error_code(), ::grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(ListIds({"status==unknown"}), ElementsAre("u"));
  EXPECT_TRUE(shims_->cleanups().empty()) << "an alive shim is not cleaned up";
  shims_->SetUnresponsive("u", false);
  EXPECT_TRUE(Get("u", &p).ok());
}

TEST_F(TasksServiceTest, RestartRecoversTasks) {
  for (const char *id : {"live", "exited", "dies", "orphan", "never"}) {
    AddContainer(id);
    ASSERT_TRUE(Create(id).ok());
  }
  ASSERT_TRUE(Start("live").ok());
  ASSERT_TRUE(Start("exited").ok());
  ASSERT_TRUE(Start("dies").ok());
  // While the "daemon" is down: one task exits, one shim dies, one container
  // record goes, and a bundle whose shim never started appears.
  env_->StopServing();
  service_.reset();
  shims_->ExitInit("exited", 9);
  shims_->KillShim("dies");
  ASSERT_THAT(env_->metadata().WithTransaction([&](metadata::Transaction &tx) {
    return tx.DeleteContainer("default", "orphan");
  }),
              IsOk());
  ASSERT_THAT(fs::MakeDirs(Bundle("half"), 0700), IsOk());
  StartService();

  typespb::Process p;
  ASSERT_TRUE(Get("live", &p).ok());
  EXPECT_EQ(p.status(), typespb::PROCESS_STATUS_RUNNING);
  ASSERT_TRUE(Get("exited", &p).ok());
  EXPECT_EQ(p.status(), typespb::PROCESS_STATUS_STOPPED);
  EXPECT_EQ(p.exit_status(), 9u);
  v1::WaitResponse waited;
  ASSERT_TRUE(Wait("exited", &waited).ok());
  EXPECT_EQ(waited.exit_status(), 9u);
  ASSERT_TRUE(Get("dies", &p).ok());
  EXPECT_EQ(p.status(), typespb::PROCESS_STATUS_STOPPED);
  EXPECT_EQ(p.exit_status(), 255u);
  EXPECT_TRUE(Published("/tasks/exit", "dies"));
  EXPECT_EQ(Get("orphan", &p).error_code(), ::grpc::StatusCode::NOT_FOUND);
  EXPECT_FALSE(Exists(Bundle("orphan")));
  EXPECT_FALSE(Exists(Bundle("half")));
  EXPECT_EQ(shims_->live_shims(), 3)
      << "live, exited and never keep their shims";
  EXPECT_THAT(ListIds({}), ElementsAre("dies", "exited", "live", "never"));
  // Re-adopted tasks keep working.
  ASSERT_TRUE(Kill("live", 15).ok());
  ASSERT_TRUE(Wait("live", &waited).ok());
  EXPECT_EQ(waited.exit_status(), 128u + 15);
  for (const char *id : {"live", "exited", "dies", "never"}) {
    v1::DeleteResponse d;
    EXPECT_TRUE(Delete(id, &d).ok()) << id;
  }
  EXPECT_EQ(shims_->live_shims(), 0);
  EXPECT_FALSE(Exists(state_ + "/tasks/default"));
}

TEST_F(TasksServiceTest, AttachRelaysBothWays) {
  AddContainer("a");
  ASSERT_TRUE(Create("a").ok());
  auto ctx = CallContext();
  auto stream = stub_->Attach(ctx.get());
  v1::AttachRequest req;
  req.mutable_start()->set_container_id("a");
  ASSERT_TRUE(stream->Write(req));
  v1::AttachResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_EQ(resp.frame_case(), v1::AttachResponse::kAttached);
  EXPECT_GT(resp.attached().pid(), 0u);
  for (const char *chunk : {"hello", "world"}) {
    req.Clear();
    req.set_stdin(chunk);
    ASSERT_TRUE(stream->Write(req));
    ASSERT_TRUE(stream->Read(&resp));
    ASSERT_EQ(resp.frame_case(), v1::AttachResponse::kOutput);
    EXPECT_EQ(resp.output().data(), chunk);
  }
  ASSERT_TRUE(stream->WritesDone());
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_EQ(resp.frame_case(), v1::AttachResponse::kExit);
  EXPECT_EQ(resp.exit().exit_status(), 7u);
  EXPECT_FALSE(stream->Read(&resp));
  ::grpc::Status s = stream->Finish();
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(TasksServiceTest, AttachErrorsAndDeadTasks) {
  auto attach = [&](const v1::AttachRequest &first,
                    std::vector<v1::AttachResponse> *out) {
    auto ctx = CallContext();
    auto stream = stub_->Attach(ctx.get());
    stream->Write(first);
    stream->WritesDone();
    v1::AttachResponse r;
    while (stream->Read(&r))
      out->push_back(r);
    return stream->Finish();
  };
  std::vector<v1::AttachResponse> frames;
  v1::AttachRequest req;
  req.set_stdin("x");
  EXPECT_EQ(attach(req, &frames).error_code(),
            ::grpc::StatusCode::INVALID_ARGUMENT);
  req.mutable_start()->set_container_id("none");
  EXPECT_EQ(attach(req, &frames).error_code(), ::grpc::StatusCode::NOT_FOUND);

  AddContainer("gone");
  ASSERT_TRUE(Create("gone").ok());
  shims_->KillShim("gone");
  typespb::Process p;
  ASSERT_TRUE(Get("gone", &p).ok()); // notices the dead shim
  req.mutable_start()->set_container_id("gone");
  frames.clear();
  ASSERT_TRUE(attach(req, &frames).ok());
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].frame_case(), v1::AttachResponse::kAttached);
  EXPECT_EQ(frames[1].frame_case(), v1::AttachResponse::kExit);
  EXPECT_EQ(frames[1].exit().exit_status(), 255u);
}

TEST_F(TasksServiceTest, CancelledAttachAndWaitEndCleanly) {
  AddContainer("c");
  ASSERT_TRUE(Create("c").ok());
  for (int i = 0; i < 5; ++i) {
    auto ctx = CallContext();
    auto stream = stub_->Attach(ctx.get());
    v1::AttachRequest req;
    req.mutable_start()->set_container_id("c");
    ASSERT_TRUE(stream->Write(req));
    v1::AttachResponse resp;
    ASSERT_TRUE(stream->Read(&resp));
    ctx->TryCancel();
    EXPECT_EQ(stream->Finish().error_code(), ::grpc::StatusCode::CANCELLED);
  }
  auto ctx = CallContext();
  v1::WaitRequest req;
  req.set_container_id("c");
  v1::WaitResponse resp;
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(100));
    ctx->TryCancel();
  });
  EXPECT_EQ(stub_->Wait(ctx.get(), req, &resp).error_code(),
            ::grpc::StatusCode::CANCELLED);
  canceller.join();
  typespb::Process p;
  EXPECT_TRUE(Get("c", &p).ok()) << "the shim still serves";
}

} // namespace
} // namespace berth::containerd::tasks
