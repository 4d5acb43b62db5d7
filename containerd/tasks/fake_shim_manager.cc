#include "containerd/tasks/fake_shim_manager.h"

#include <signal.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc/status_mapping.h"
#include "common/status/status_macros.h"
#include "google/protobuf/util/time_util.h"

namespace berth::containerd::tasks {

namespace shimpb = ::berth::shim::task::v1;
namespace typespb = ::berth::types::v1;
using ::google::protobuf::util::TimeUtil;

#define BERTH_FAKE_CHECK(cid)                                                  \
  if (gone_ || unresponsive_ || shut_down_) {                                  \
    return absl::UnavailableError("fake shim does not answer");                \
  }                                                                            \
  if ((cid) != spec_.id)                                                       \
  return absl::NotFoundError("container not served here")
#define BERTH_FAKE_CHECK_INIT()                                                \
  if (init_.phase == Phase::kNone || init_.phase == Phase::kDeleted) {         \
    return absl::NotFoundError("task not created");                            \
  }

// One fake shim: an init process and exec processes as states in memory.
class FakeShim final : public shimpb::Task::CallbackService {
public:
  FakeShim(ShimSpec spec, uint32_t shim_pid, uint32_t init_pid,
           std::optional<absl::Status> fail_create)
      : spec_(std::move(spec)), shim_pid_(shim_pid), init_pid_(init_pid),
        fail_create_(std::move(fail_create)) {}

  enum class Phase { kNone, kCreated, kRunning, kPaused, kStopped, kDeleted };
  struct Proc {
    Phase phase = Phase::kCreated;
    uint32_t pid = 0;
    uint32_t exit_status = 0;
    absl::Time exited_at;
    std::vector<::grpc::ServerUnaryReactor *> waiters;
    std::vector<shimpb::WaitResponse *> responses;
  };

  // Test controls.
  void ExitInit(uint32_t status) {
    absl::MutexLock lock(&mu_);
    ExitLocked(init_, status);
  }
  void Kill() {
    absl::MutexLock lock(&mu_);
    gone_ = true;
    FailWaitersLocked(init_);
    for (auto &[id, p] : execs_)
      FailWaitersLocked(p);
  }
  void SetUnresponsive(bool v) {
    absl::MutexLock lock(&mu_);
    unresponsive_ = v;
  }
  bool shut_down() {
    absl::MutexLock lock(&mu_);
    return shut_down_;
  }
  std::optional<TaskExit> recorded_exit() {
    absl::MutexLock lock(&mu_);
    if (init_.phase != Phase::kStopped && init_.phase != Phase::kDeleted)
      return std::nullopt;
    if (!init_exited_)
      return std::nullopt;
    return TaskExit{init_.pid, init_.exit_status, init_.exited_at};
  }
  std::optional<shimpb::CreateRequest> last_create() {
    absl::MutexLock lock(&mu_);
    return last_create_;
  }

  // ---- the API ----

  ::grpc::ServerUnaryReactor *State(::grpc::CallbackServerContext *ctx,
                                    const shimpb::StateRequest *req,
                                    shimpb::StateResponse *resp) override {
    absl::MutexLock lock(&mu_);
    absl::Status s = [&]() -> absl::Status {
      BERTH_FAKE_CHECK(req->container_id());
      Proc *p = FindLocked(req->exec_id());
      if (p == nullptr)
        return absl::NotFoundError("no such process");
      typespb::Process *out = resp->mutable_process();
      out->set_container_id(spec_.id);
      out->set_exec_id(req->exec_id());
      out->set_pid(p->pid);
      out->set_status(StatusOf(p->phase));
      out->set_bundle(spec_.bundle);
      out->set_log_path(req->exec_id().empty() ? log_path_ : "");
      if (p->phase == Phase::kStopped) {
        out->set_exit_status(p->exit_status);
        *out->mutable_exited_at() =
            TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(p->exited_at));
      }
      return absl::OkStatus();
    }();
    return Done(ctx, s);
  }

  ::grpc::ServerUnaryReactor *Create(::grpc::CallbackServerContext *ctx,
                                     const shimpb::CreateRequest *req,
                                     shimpb::CreateResponse *resp) override {
    absl::MutexLock lock(&mu_);
    absl::Status s = [&]() -> absl::Status {
      BERTH_FAKE_CHECK(req->container_id());
      if (req->bundle() != spec_.bundle)
        return absl::InvalidArgumentError("not my bundle");
      if (init_.phase != Phase::kNone)
        return absl::AlreadyExistsError("created already");
      if (fail_create_.has_value())
        return *fail_create_;
      last_create_ = *req;
      init_.phase = Phase::kCreated;
      init_.pid = init_pid_;
      log_path_ = req->log_config().driver() == typespb::LOG_DRIVER_NONE ? ""
                  : req->log_config().path().empty()
                      ? absl::StrCat(spec_.bundle, "/", spec_.id, "-json.log")
                      : req->log_config().path();
      resp->set_pid(init_.pid);
      resp->set_pid_start_time(77);
      resp->set_log_path(log_path_);
      return absl::OkStatus();
    }();
    return Done(ctx, s);
  }

  ::grpc::ServerUnaryReactor *Start(::grpc::CallbackServerContext *ctx,
                                    const shimpb::StartRequest *req,
                                    shimpb::StartResponse *resp) override {
    absl::MutexLock lock(&mu_);
    absl::Status s = [&]() -> absl::Status {
      BERTH_FAKE_CHECK(req->container_id());
      Proc *p = FindLocked(req->exec_id());
      if (p == nullptr)
        return absl::NotFoundError("no such process");
      if (p->phase == Phase::kStopped)
        return absl::FailedPreconditionError("stopped");
      if (!req->exec_id().empty() && init_.phase != Phase::kRunning) {
        return absl::FailedPreconditionError("init not running");
      }
      if (p->phase == Phase::kCreated)
        p->phase = Phase::kRunning;
      resp->set_pid(p->pid);
      return absl::OkStatus();
    }();
    return Done(ctx, s);
  }

  ::grpc::ServerUnaryReactor *Delete(::grpc::CallbackServerContext *ctx,
                                     const shimpb::DeleteRequest *req,
                                     shimpb::DeleteResponse *resp) override {
    absl::MutexLock lock(&mu_);
    absl::Status s = [&]() -> absl::Status {
      BERTH_FAKE_CHECK(req->container_id());
      Proc *p = FindLocked(req->exec_id());
      if (p == nullptr)
        return absl::NotFoundError("no such process");
      if (p->phase == Phase::kRunning || p->phase == Phase::kPaused) {
        return absl::FailedPreconditionError("process is running");
      }
      if (p->phase == Phase::kCreated)
        ExitLocked(*p, 128 + SIGKILL);
      resp->set_pid(p->pid);
      resp->set_exit_status(p->exit_status);
      *resp->mutable_exited_at() =
          TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(p->exited_at));
      if (req->exec_id().empty()) {
        p->phase = Phase::kDeleted;
      } else {
        execs_.erase(req->exec_id());
      }
      return absl::OkStatus();
    }();
    return Done(ctx, s);
  }

  ::grpc::ServerUnaryReactor *Pids(::grpc::CallbackServerContext *ctx,
                                   const shimpb::PidsRequest *req,
                                   shimpb::PidsResponse *resp) override {
    absl::MutexLock lock(&mu_);
    absl::Status s = [&]() -> absl::Status {
      BERTH_FAKE_CHECK(req->container_id());
      BERTH_FAKE_CHECK_INIT();
      if (init_.phase == Phase::kStopped)
        return absl::FailedPreconditionError("stopped");
      resp->add_processes()->set_pid(init_.pid);
      for (auto &[id, p] : execs_) {
        if (p.phase != Phase::kRunning)
          continue;
        auto *info = resp->add_processes();
        info->set_pid(p.pid);
        info->set_exec_id(id);
      }
      return absl::OkStatus();
    }();
    return Done(ctx, s);
  }

  ::grpc::ServerUnaryReactor *Pause(::grpc::CallbackServerContext *ctx,
                                    const shimpb::PauseRequest *req,
                                    shimpb::PauseResponse *) override {
    absl::MutexLock lock(&mu_);
    absl::Status s = [&]() -> absl::Status {
      BERTH_FAKE_CHECK(req->container_id());
      BERTH_FAKE_CHECK_INIT();
      if (init_.phase != Phase::kRunning && init_.phase != Phase::kPaused) {
        return absl::FailedPreconditionError("not running");
      }
      init_.phase = Phase::kPaused;
      return absl::OkStatus();
    }();
    return Done(ctx, s);
  }

  ::grpc::ServerUnaryReactor *Resume(::grpc::CallbackServerContext *ctx,
                                     const shimpb::ResumeRequest *req,
                                     shimpb::ResumeResponse *) override {
    absl::MutexLock lock(&mu_);
    absl::Status s = [&]() -> absl::Status {
      BERTH_FAKE_CHECK(req->container_id());
      BERTH_FAKE_CHECK_INIT();
      if (init_.phase != Phase::kRunning && init_.phase != Phase::kPaused) {
        return absl::FailedPreconditionError("not running or paused");
      }
      init_.phase = Phase::kRunning;
      return absl::OkStatus();
    }();
    return Done(ctx, s);
  }

  ::grpc::ServerUnaryReactor *Kill(::grpc::CallbackServerContext *ctx,
                                   const shimpb::KillRequest *req,
                                   shimpb::KillResponse *) override {
    absl::MutexLock lock(&mu_);
    absl::Status s = [&]() -> absl::Status {
      BERTH_FAKE_CHECK(req->container_id());
      if (req->signal() == 0 || req->signal() > 64)
        return absl::InvalidArgumentError("signal");
      Proc *p = FindLocked(req->exec_id());
      if (p == nullptr)
        return absl::NotFoundError("no such process");
      if (p->phase == Phase::kStopped)
        return absl::FailedPreconditionError("stopped");
      ExitLocked(*p, 128 + req->signal());
      return absl::OkStatus();
    }();
    return Done(ctx, s);
  }

  ::grpc::ServerUnaryReactor *Exec(::grpc::CallbackServerContext *ctx,
                                   const shimpb::ExecRequest *req,
                                   shimpb::ExecResponse *) override {
    absl::MutexLock lock(&mu_);
    absl::Status s = [&]() -> absl::Status {
      BERTH_FAKE_CHECK(req->container_id());
      BERTH_FAKE_CHECK_INIT();
      if (init_.phase != Phase::kRunning)
        return absl::FailedPreconditionError("not running");
      if (execs_.count(req->exec_id()) > 0)
        return absl::AlreadyExistsError("exec id in use");
      Proc &p = execs_[req->exec_id()];
      p.pid = init_pid_ + 1 + static_cast<uint32_t>(execs_.size());
      return absl::OkStatus();
    }();
    return Done(ctx, s);
  }

  ::grpc::ServerUnaryReactor *ResizePty(::grpc::CallbackServerContext *ctx,
                                        const shimpb::ResizePtyRequest *req,
                                        shimpb::ResizePtyResponse *) override {
    absl::MutexLock lock(&mu_);
    absl::Status s = [&]() -> absl::Status {
      BERTH_FAKE_CHECK(req->container_id());
      Proc *p = FindLocked(req->exec_id());
      if (p == nullptr)
        return absl::NotFoundError("no such process");
      return absl::FailedPreconditionError("no terminal");
    }();
    return Done(ctx, s);
  }

  ::grpc::ServerUnaryReactor *CloseIO(::grpc::CallbackServerContext *ctx,
                                      const shimpb::CloseIORequest *req,
                                      shimpb::CloseIOResponse *) override {
    absl::MutexLock lock(&mu_);
    absl::Status s = [&]() -> absl::Status {
      BERTH_FAKE_CHECK(req->container_id());
      if (FindLocked(req->exec_id()) == nullptr)
        return absl::NotFoundError("no such process");
      return absl::OkStatus();
    }();
    return Done(ctx, s);
  }

  ::grpc::ServerUnaryReactor *Update(::grpc::CallbackServerContext *ctx,
                                     const shimpb::UpdateRequest *req,
                                     shimpb::UpdateResponse *) override {
    absl::MutexLock lock(&mu_);
    absl::Status s = [&]() -> absl::Status {
      BERTH_FAKE_CHECK(req->container_id());
      BERTH_FAKE_CHECK_INIT();
      if (init_.phase == Phase::kStopped)
        return absl::FailedPreconditionError("stopped");
      return absl::OkStatus();
    }();
    return Done(ctx, s);
  }

  ::grpc::ServerUnaryReactor *Stats(::grpc::CallbackServerContext *ctx,
                                    const shimpb::StatsRequest *req,
                                    shimpb::StatsResponse *resp) override {
    absl::MutexLock lock(&mu_);
    absl::Status s = [&]() -> absl::Status {
      BERTH_FAKE_CHECK(req->container_id());
      BERTH_FAKE_CHECK_INIT();
      if (init_.phase == Phase::kStopped || init_.phase == Phase::kCreated) {
        return absl::FailedPreconditionError("not running");
      }
      resp->mutable_metrics()->set_container_id(spec_.id);
      resp->mutable_metrics()->set_cgroup_version(1);
      resp->mutable_metrics()->mutable_cpu()->set_usage_total_ns(42);
      return absl::OkStatus();
    }();
    return Done(ctx, s);
  }

  ::grpc::ServerUnaryReactor *Wait(::grpc::CallbackServerContext *ctx,
                                   const shimpb::WaitRequest *req,
                                   shimpb::WaitResponse *resp) override {
    absl::MutexLock lock(&mu_);
    ::grpc::ServerUnaryReactor *reactor = ctx->DefaultReactor();
    absl::Status s = [&]() -> absl::Status {
      BERTH_FAKE_CHECK(req->container_id());
      Proc *p = FindLocked(req->exec_id());
      if (p == nullptr)
        return absl::NotFoundError("no such process");
      if (p->phase == Phase::kStopped) {
        resp->set_exit_status(p->exit_status);
        *resp->mutable_exited_at() =
            TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(p->exited_at));
        return absl::OkStatus();
      }
      p->waiters.push_back(reactor);
      p->responses.push_back(resp);
      return absl::AbortedError("pending");
    }();
    if (s.code() != absl::StatusCode::kAborted)
      reactor->Finish(grpc_util::ToGrpcStatus(s));
    return reactor; // a pending Wait is finished by ExitLocked or
                    // FailWaitersLocked
  }

  ::grpc::ServerUnaryReactor *Connect(::grpc::CallbackServerContext *ctx,
                                      const shimpb::ConnectRequest *req,
                                      shimpb::ConnectResponse *resp) override {
    absl::MutexLock lock(&mu_);
    absl::Status s = [&]() -> absl::Status {
      if (gone_ || unresponsive_)
        return absl::UnavailableError("fake shim does not answer");
      if (req->container_id() != spec_.id)
        return absl::NotFoundError("not my container");
      resp->set_shim_pid(shim_pid_);
      resp->set_shim_start_time(1000 + shim_pid_);
      resp->set_task_pid(init_.pid);
      resp->set_namespace_(spec_.ns);
      resp->set_bundle(spec_.bundle);
      resp->set_version("fake");
      return absl::OkStatus();
    }();
    return Done(ctx, s);
  }

  ::grpc::ServerUnaryReactor *Shutdown(::grpc::CallbackServerContext *ctx,
                                       const shimpb::ShutdownRequest *req,
                                       shimpb::ShutdownResponse *) override {
    absl::MutexLock lock(&mu_);
    absl::Status s = [&]() -> absl::Status {
      BERTH_FAKE_CHECK(req->container_id());
      const bool live =
          init_.phase != Phase::kNone && init_.phase != Phase::kDeleted;
      if (live && req->mode() != shimpb::SHUTDOWN_MODE_NOW) {
        return absl::FailedPreconditionError("task still exists");
      }
      if (live)
        ExitLocked(init_, 128 + SIGKILL);
      shut_down_ = true;
      return absl::OkStatus();
    }();
    return Done(ctx, s);
  }

  // Attach: `attached`, then every stdin frame echoed as stdout, then `exit` at
  // half-close.
  class EchoAttach final
      : public ::grpc::ServerBidiReactor<shimpb::AttachRequest,
                                         shimpb::AttachResponse> {
  public:
    EchoAttach(FakeShim *shim) : shim_(shim) { StartRead(&in_); }
    void OnReadDone(bool ok) override {
      if (!started_) {
        started_ = true;
        if (!ok)
          return Finish(::grpc::Status::OK);
        if (in_.frame_case() != shimpb::AttachRequest::kStart) {
          return Finish(::grpc::Status(::grpc::StatusCode::INVALID_ARGUMENT,
                                       "start first"));
        }
        if (in_.start().container_id() != shim_->spec_.id) {
          return Finish(::grpc::Status(::grpc::StatusCode::NOT_FOUND,
                                       "not my container"));
        }
        out_.mutable_attached()->set_pid(shim_->init_pid_);
        return StartWrite(&out_);
      }
      if (!ok) {
        closing_ = true;
        out_.Clear();
        out_.mutable_exit()->set_pid(shim_->init_pid_);
        out_.mutable_exit()->set_exit_status(7);
        return StartWrite(&out_);
      }
      out_.Clear();
      if (in_.frame_case() == shimpb::AttachRequest::kStdin) {
        out_.mutable_output()->set_stream(typespb::STDIO_STREAM_STDOUT);
        out_.mutable_output()->set_data(in_.stdin());
      }
      StartWrite(&out_);
    }
    void OnWriteDone(bool ok) override {
      if (!ok || closing_)
        return Finish(::grpc::Status::OK);
      StartRead(&in_);
    }
    void OnDone() override { delete this; }

  private:
    FakeShim *const shim_;
    shimpb::AttachRequest in_;
    shimpb::AttachResponse out_;
    bool started_ = false;
    bool closing_ = false;
  };

  ::grpc::ServerBidiReactor<shimpb::AttachRequest, shimpb::AttachResponse> *
  Attach(::grpc::CallbackServerContext *) override {
    return new EchoAttach(this);
  }

private:
  static typespb::ProcessStatus StatusOf(Phase p) {
    switch (p) {
    case Phase::kCreated:
      return typespb::PROCESS_STATUS_CREATED;
    case Phase::kRunning:
      return typespb::PROCESS_STATUS_RUNNING;
    case Phase::kPaused:
      return typespb::PROCESS_STATUS_PAUSED;
    case Phase::kStopped:
      return typespb::PROCESS_STATUS_STOPPED;
    default:
      return typespb::PROCESS_STATUS_UNKNOWN;
    }
  }

  Proc *FindLocked(const std::string &exec_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (exec_id.empty()) {
      return init_.phase == Phase::kNone || init_.phase == Phase::kDeleted
                 ? nullptr
                 : &init_;
    }
    auto it = execs_.find(exec_id);
    return it == execs_.end() ? nullptr : &it->second;
  }

  void ExitLocked(Proc &p, uint32_t status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (p.phase == Phase::kStopped || p.phase == Phase::kDeleted)
      return;
    p.phase = Phase::kStopped;
    p.exit_status = status;
    p.exited_at = absl::FromUnixSeconds(1700000000);
    if (&p == &init_)
      init_exited_ = true;
    for (size_t i = 0; i < p.waiters.size(); ++i) {
      p.responses[i]->set_exit_status(status);
      *p.responses[i]->mutable_exited_at() =
          TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(p.exited_at));
      p.waiters[i]->Finish(::grpc::Status::OK);
    }
    p.waiters.clear();
    p.responses.clear();
  }

  void FailWaitersLocked(Proc &p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto *w : p.waiters) {
      w->Finish(::grpc::Status(::grpc::StatusCode::UNAVAILABLE, "shim died"));
    }
    p.waiters.clear();
    p.responses.clear();
  }

  ::grpc::ServerUnaryReactor *Done(::grpc::CallbackServerContext *ctx,
                                   const absl::Status &s) {
    ::grpc::ServerUnaryReactor *r = ctx->DefaultReactor();
    r->Finish(grpc_util::ToGrpcStatus(s));
    return r;
  }

  const ShimSpec spec_;
  const uint32_t shim_pid_;
  const uint32_t init_pid_;
  const std::optional<absl::Status> fail_create_;
  absl::Mutex mu_;
  Proc init_ ABSL_GUARDED_BY(mu_) = Proc{Phase::kNone};
  bool init_exited_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, Proc> execs_ ABSL_GUARDED_BY(mu_);
  std::string log_path_ ABSL_GUARDED_BY(mu_);
  std::optional<shimpb::CreateRequest> last_create_ ABSL_GUARDED_BY(mu_);
  bool gone_ ABSL_GUARDED_BY(mu_) = false;
  bool unresponsive_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

#undef BERTH_FAKE_CHECK
#undef BERTH_FAKE_CHECK_INIT

FakeShimManager::FakeShimManager(std::string socket_dir)
    : socket_dir_(std::move(socket_dir)) {}

FakeShimManager::~FakeShimManager() {
  absl::MutexLock lock(&mu_);
  for (auto &[bundle, e] : shims_) {
    e.shim->Kill();
    if (e.server)
      e.server->Shutdown();
  }
}

bool FakeShimManager::Alive(const Entry &e) const {
  return !e.killed && !e.shim->shut_down();
}

FakeShimManager::Entry *FakeShimManager::FindById(const std::string &id) {
  for (auto &[bundle, e] : shims_) {
    if (e.spec.id == id)
      return &e;
  }
  return nullptr;
}

absl::StatusOr<ShimConnection> FakeShimManager::Connect(Entry &e) {
  BERTH_ASSIGN_OR_RETURN(auto channel, grpc_util::DialUnix(e.params.address()));
  auto stub = shimpb::Task::NewStub(channel);
  ::grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  shimpb::ConnectRequest req;
  req.set_container_id(e.spec.id);
  ShimConnection conn;
  ::grpc::Status s = stub->Connect(&ctx, req, &conn.connect);
  if (!s.ok())
    return absl::UnavailableError(s.error_message());
  conn.params = e.params;
  conn.channel = std::move(channel);
  return conn;
}

absl::StatusOr<ShimConnection> FakeShimManager::Start(const ShimSpec &spec) {
  absl::MutexLock lock(&mu_);
  if (fail_start_.has_value()) {
    absl::Status s = *fail_start_;
    fail_start_.reset();
    return s;
  }
  started_.push_back(spec);
  Entry &e = shims_[spec.bundle];
  if (e.shim != nullptr) {
    e.shim->Kill();
    if (e.server)
      e.server->Shutdown();
  }
  e = Entry();
  e.spec = spec;
  const uint32_t pid = next_pid_;
  next_pid_ += 10;
  e.params.set_version(1);
  e.params.set_protocol("grpc");
  e.params.set_address(absl::StrCat("unix://", socket_dir_, "/", pid, ".sock"));
  e.params.set_shim_pid(pid);
  e.params.set_shim_start_time(1000 + pid);
  e.shim = std::make_unique<FakeShim>(spec, pid, pid + 1, fail_create_);
  fail_create_.reset();
  grpc_util::UnixServerOptions o;
  o.address = e.params.address();
  o.socket_group = "";
  o.drain_timeout = absl::Milliseconds(100);
  BERTH_ASSIGN_OR_RETURN(e.server,
                         grpc_util::UnixGrpcServer::Start(o, {e.shim.get()}));
  return Connect(e);
}

absl::StatusOr<ShimConnection>
FakeShimManager::Reconnect(const ShimSpec &spec) {
  absl::MutexLock lock(&mu_);
  auto it = shims_.find(spec.bundle);
  if (it == shims_.end())
    return absl::NotFoundError("no bootstrap params");
  if (!Alive(it->second))
    return absl::FailedPreconditionError("shim is gone");
  return Connect(it->second);
}

absl::StatusOr<bool>
FakeShimManager::IsAlive(const shimpb::BootstrapParams &params) {
  absl::MutexLock lock(&mu_);
  for (auto &[bundle, e] : shims_) {
    if (e.params.shim_pid() == params.shim_pid())
      return Alive(e);
  }
  return false;
}

absl::StatusOr<TaskExit> FakeShimManager::Cleanup(const ShimSpec &spec) {
  absl::MutexLock lock(&mu_);
  cleanups_.push_back(spec);
  auto it = shims_.find(spec.bundle);
  if (it == shims_.end())
    return TaskExit{0, 255, absl::FromUnixSeconds(1700000001)};
  Entry &e = it->second;
  std::optional<TaskExit> recorded = e.shim->recorded_exit();
  e.killed = true;
  e.shim->Kill();
  if (recorded.has_value())
    return *recorded;
  return TaskExit{e.params.shim_pid() + 1, 255,
                  absl::FromUnixSeconds(1700000001)};
}

void FakeShimManager::FailNextStart(absl::Status status) {
  absl::MutexLock lock(&mu_);
  fail_start_ = std::move(status);
}

void FakeShimManager::FailNextCreate(absl::Status status) {
  absl::MutexLock lock(&mu_);
  fail_create_ = std::move(status);
}

void FakeShimManager::ExitInit(const std::string &id, uint32_t status) {
  absl::MutexLock lock(&mu_);
  if (Entry *e = FindById(id))
    e->shim->ExitInit(status);
}

void FakeShimManager::KillShim(const std::string &id) {
  absl::MutexLock lock(&mu_);
  if (Entry *e = FindById(id)) {
    e->killed = true;
    e->shim->Kill();
  }
}

void FakeShimManager::SetUnresponsive(const std::string &id,
                                      bool unresponsive) {
  absl::MutexLock lock(&mu_);
  if (Entry *e = FindById(id))
    e->shim->SetUnresponsive(unresponsive);
}

std::vector<ShimSpec> FakeShimManager::started() const {
  absl::MutexLock lock(&mu_);
  return started_;
}

std::vector<ShimSpec> FakeShimManager::cleanups() const {
  absl::MutexLock lock(&mu_);
  return cleanups_;
}

std::optional<shimpb::CreateRequest>
FakeShimManager::last_create(const std::string &id) const {
  absl::MutexLock lock(&mu_);
  for (const auto &[bundle, e] : shims_) {
    if (e.spec.id == id)
      return e.shim->last_create();
  }
  return std::nullopt;
}

int FakeShimManager::live_shims() const {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (const auto &[bundle, e] : shims_)
    n += Alive(e) ? 1 : 0;
  return n;
}

} // namespace berth::containerd::tasks
