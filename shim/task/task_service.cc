// TaskService: the RPC edges, state queries, Wait, Kill, Connect, Shutdown and exit recording.
#include "shim/task/task_service.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "berth/containerd/events/v1/payloads.pb.h"
#include "common/grpc/status_mapping.h"
#include "common/status/status_macros.h"
#include "common/version/version.h"
#include "glog/logging.h"
#include "google/protobuf/util/time_util.h"
#include "shim/process/exit_record.h"
#include "shim/task/rpc_util.h"

namespace berth::shim::task {

namespace ev1 = ::berth::containerd::events::v1;
namespace tv1 = ::berth::types::v1;

TaskService::TaskService(TaskServiceOptions options) : options_(std::move(options)) {}

TaskService::~TaskService() {
  std::vector<std::shared_ptr<io::ProcessIo>> ios;
  {
    absl::MutexLock lock(&mu_);
    oom_watcher_.reset();
    if (init_.io) ios.push_back(std::move(init_.io));
    for (auto& [id, p] : execs_) {
      if (p->io) ios.push_back(std::move(p->io));
    }
  }
  ios.clear();  // closes, outside mu_ (closing waits for the I/O thread)
}

void TaskService::Publish(absl::string_view topic, const google::protobuf::Message& event) {
  if (options_.publisher != nullptr) options_.publisher->Publish(topic, event);
}

absl::StatusOr<TaskService::Process*> TaskService::FindLocked(const std::string& exec_id) {
  if (exec_id.empty()) {
    if (init_.phase == Phase::kNone || init_.phase == Phase::kDeleted) {
      return absl::NotFoundError("task not created or already deleted");
    }
    return &init_;
  }
  auto it = execs_.find(exec_id);
  if (it == execs_.end()) return absl::NotFoundError(absl::StrCat("no exec ", exec_id));
  return it->second.get();
}

void TaskService::OnExit(pid_t pid, int wait_status, absl::Time when) {
  absl::MutexLock lock(&mu_);
  Process* p = nullptr;
  if (init_.who.pid == pid && !init_.exit.has_value()) {
    p = &init_;
  } else {
    for (auto& [id, e] : execs_) {
      if (e->who.pid == pid && !e->exit.has_value()) p = e.get();
    }
  }
  if (p == nullptr) return;
  (void)options_.reaper->TakeIfReaped(pid);
  RecordExitLocked(p, wait_status, when);
}

void TaskService::RecordExitLocked(Process* p, int wait_status, absl::Time when) {
  v1::ExitRecord record = process::MakeExitRecord(p->who, wait_status, when);
  if (p == &init_) {
    // Durable before it is reported anywhere (bootstrap.proto, exit.json).
    absl::Status s = process::WriteExitRecord(exit_file(), record);
    if (!s.ok()) LOG(ERROR) << "record exit " << p->who.ToString() << ": " << s.message();
  }
  LOG(INFO) << "process exited id=" << options_.id << " exec=" << p->exec_id
            << " pid=" << p->who.pid << " status=" << record.exit_status();
  p->exit = record;
  if (p->phase != Phase::kNone && p->phase != Phase::kDeleted) p->phase = Phase::kStopped;
  for (Waiter& w : p->waiters) {
    w.response->set_exit_status(record.exit_status());
    *w.response->mutable_exited_at() = record.exited_at();
    w.reactor->Finish(::grpc::Status::OK);
  }
  p->waiters.clear();
  tv1::ProcessExit pe;
  pe.set_pid(record.pid());
  pe.set_exit_status(record.exit_status());
  *pe.mutable_exited_at() = record.exited_at();
  for (auto& [id, listener] : p->exit_listeners) listener(pe);
  p->exit_listeners.clear();
  ev1::TaskExit ev;
  ev.set_container_id(options_.id);
  ev.set_id(p->exec_id.empty() ? options_.id : p->exec_id);
  ev.set_pid(record.pid());
  ev.set_exit_status(record.exit_status());
  *ev.mutable_exited_at() = record.exited_at();
  Publish("/tasks/exit", ev);
}

void TaskService::CancelWaiters() {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
  std::vector<Process*> all = {&init_};
  for (auto& [id, p] : execs_) all.push_back(p.get());
  for (Process* p : all) {
    for (Waiter& w : p->waiters) {
      w.reactor->Finish(::grpc::Status(::grpc::StatusCode::UNAVAILABLE, "shim shutting down"));
    }
    p->waiters.clear();
  }
}

bool TaskService::AwaitExit(const Process* p, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto done = [p]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> bool { return p->exit.has_value(); };
  return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

absl::StatusOr<AttachTarget> TaskService::BeginAttach(
    const std::string& exec_id, std::function<void(const tv1::ProcessExit&)> on_exit) {
  absl::MutexLock lock(&mu_);
  BERTH_ASSIGN_OR_RETURN(Process * p, FindLocked(exec_id));
  if (!p->io) return absl::FailedPreconditionError("process has no stdio");
  AttachTarget t;
  t.io = p->io;
  t.pid = static_cast<uint32_t>(p->who.pid);
  t.terminal = p->terminal;
  if (p->exit.has_value()) {
    tv1::ProcessExit pe;
    pe.set_pid(p->exit->pid());
    pe.set_exit_status(p->exit->exit_status());
    *pe.mutable_exited_at() = p->exit->exited_at();
    t.exited = pe;
  } else {
    t.listener = next_listener_++;
    p->exit_listeners[t.listener] = std::move(on_exit);
  }
  return t;
}

void TaskService::EndAttach(const std::string& exec_id, int listener) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Process*> p = FindLocked(exec_id);
  if (p.ok()) (*p)->exit_listeners.erase(listener);
}

absl::Status TaskService::DoKill(const v1::KillRequest& req) {
  if (req.signal() == 0 || req.signal() > 64) {
    return absl::InvalidArgumentError(absl::StrCat("bad signal ", req.signal()));
  }
  if (req.all() && !req.exec_id().empty()) {
    return absl::InvalidArgumentError("`all` is only for the init process");
  }
  pid_t exec_pid = 0;
  {
    absl::MutexLock lock(&mu_);
    BERTH_ASSIGN_OR_RETURN(Process * p, FindLocked(req.exec_id()));
    if (p->phase == Phase::kStopped) return absl::FailedPreconditionError("process has stopped");
    if (!req.exec_id().empty()) {
      if (p->phase == Phase::kCreated) {
        return absl::FailedPreconditionError("exec process has not been started");
      }
      exec_pid = p->who.pid;
    }
  }
  if (exec_pid != 0) {
    // The exec's pid is our child until we reap it, so it cannot have been reused yet.
    if (::kill(exec_pid, static_cast<int>(req.signal())) != 0 && errno != ESRCH) {
      return absl::ErrnoToStatus(errno, "kill exec process");
    }
    return absl::OkStatus();
  }
  return options_.runtime->Kill(options_.id, static_cast<int>(req.signal()), req.all());
}

absl::Status TaskService::DoShutdown(const v1::ShutdownRequest& req) {
  Phase phase;
  {
    absl::MutexLock lock(&mu_);
    phase = init_.phase;
  }
  const bool live = phase != Phase::kNone && phase != Phase::kDeleted;
  if (live && req.mode() != v1::SHUTDOWN_MODE_NOW) {
    return absl::FailedPreconditionError("task still exists; delete it or use SHUTDOWN_MODE_NOW");
  }
  if (live) {
    BERTH_RETURN_IF_ERROR(ForceDelete(), "shutdown");
    absl::MutexLock lock(&mu_);
    init_.phase = Phase::kDeleted;
  }
  return absl::OkStatus();
}

#define BERTH_CHECK_ID(rpc, req)                                                          \
  if ((req)->container_id() != options_.id) {                                             \
    return Reply(ctx, rpc,                                                                \
                 absl::NotFoundError(absl::StrCat("container ", (req)->container_id(),    \
                                                  " is not served by this shim")));       \
  }

::grpc::ServerUnaryReactor* TaskService::State(::grpc::CallbackServerContext* ctx,
                                               const v1::StateRequest* req,
                                               v1::StateResponse* resp) {
  BERTH_CHECK_ID("State", req);
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Process*> found = FindLocked(req->exec_id());
  if (!found.ok()) return Reply(ctx, "State", found.status());
  const Process& p = **found;
  tv1::Process* out = resp->mutable_process();
  out->set_container_id(options_.id);
  out->set_exec_id(p.exec_id);
  out->set_pid(static_cast<uint32_t>(p.who.pid));
  out->set_pid_start_time(p.who.start_time);
  out->set_stdin(p.stdin_path);
  out->set_stdout(p.stdout_path);
  out->set_stderr(p.stderr_path);
  out->set_terminal(p.terminal);
  out->set_stdin_mode(p.stdin_mode);
  if (p.exec_id.empty()) {
    out->set_bundle(options_.bundle);
    out->set_log_path(log_path_);
  }
  if (p.started_at) SetTimestamp(*p.started_at, out->mutable_started_at());
  switch (p.phase) {
    case Phase::kCreated:
      out->set_status(tv1::PROCESS_STATUS_CREATED);
      break;
    case Phase::kRunning:
      out->set_status(tv1::PROCESS_STATUS_RUNNING);
      break;
    case Phase::kPaused:
      out->set_status(tv1::PROCESS_STATUS_PAUSED);
      break;
    default:
      out->set_status(tv1::PROCESS_STATUS_STOPPED);
      break;
  }
  if (p.exit.has_value()) {
    out->set_exit_status(p.exit->exit_status());
    *out->mutable_exited_at() = p.exit->exited_at();
  }
  return Reply(ctx, "State", absl::OkStatus());
}

::grpc::ServerUnaryReactor* TaskService::Create(::grpc::CallbackServerContext* ctx,
                                                const v1::CreateRequest* req,
                                                v1::CreateResponse* resp) {
  BERTH_CHECK_ID("Create", req);
  absl::MutexLock ops(&ops_mu_);
  return Reply(ctx, "Create", DoCreate(*req, resp));
}

::grpc::ServerUnaryReactor* TaskService::Start(::grpc::CallbackServerContext* ctx,
                                               const v1::StartRequest* req,
                                               v1::StartResponse* resp) {
  BERTH_CHECK_ID("Start", req);
  absl::MutexLock ops(&ops_mu_);
  return Reply(ctx, "Start",
               req->exec_id().empty() ? DoStartInit(resp) : DoStartExec(req->exec_id(), resp));
}

::grpc::ServerUnaryReactor* TaskService::Delete(::grpc::CallbackServerContext* ctx,
                                                const v1::DeleteRequest* req,
                                                v1::DeleteResponse* resp) {
  BERTH_CHECK_ID("Delete", req);
  absl::MutexLock ops(&ops_mu_);
  return Reply(ctx, "Delete",
               req->exec_id().empty() ? DoDeleteInit(resp) : DoDeleteExec(req->exec_id(), resp));
}

::grpc::ServerUnaryReactor* TaskService::Pids(::grpc::CallbackServerContext* ctx,
                                              const v1::PidsRequest* req,
                                              v1::PidsResponse* resp) {
  BERTH_CHECK_ID("Pids", req);
  return Reply(ctx, "Pids", DoPids(resp));
}

::grpc::ServerUnaryReactor* TaskService::Pause(::grpc::CallbackServerContext* ctx,
                                               const v1::PauseRequest* req, v1::PauseResponse*) {
  BERTH_CHECK_ID("Pause", req);
  absl::MutexLock ops(&ops_mu_);
  return Reply(ctx, "Pause", DoPauseResume(/*pause=*/true));
}

::grpc::ServerUnaryReactor* TaskService::Resume(::grpc::CallbackServerContext* ctx,
                                                const v1::ResumeRequest* req,
                                                v1::ResumeResponse*) {
  BERTH_CHECK_ID("Resume", req);
  absl::MutexLock ops(&ops_mu_);
  return Reply(ctx, "Resume", DoPauseResume(/*pause=*/false));
}

::grpc::ServerUnaryReactor* TaskService::Checkpoint(::grpc::CallbackServerContext* ctx,
                                                    const v1::CheckpointRequest* req,
                                                    v1::CheckpointResponse*) {
  BERTH_CHECK_ID("Checkpoint", req);
  absl::MutexLock ops(&ops_mu_);
  return Reply(ctx, "Checkpoint", DoCheckpoint(*req));
}

::grpc::ServerUnaryReactor* TaskService::Kill(::grpc::CallbackServerContext* ctx,
                                              const v1::KillRequest* req, v1::KillResponse*) {
  BERTH_CHECK_ID("Kill", req);
  absl::MutexLock ops(&ops_mu_);
  return Reply(ctx, "Kill", DoKill(*req));
}

::grpc::ServerUnaryReactor* TaskService::Exec(::grpc::CallbackServerContext* ctx,
                                              const v1::ExecRequest* req, v1::ExecResponse*) {
  BERTH_CHECK_ID("Exec", req);
  absl::MutexLock ops(&ops_mu_);
  return Reply(ctx, "Exec", DoExec(*req));
}

::grpc::ServerUnaryReactor* TaskService::ResizePty(::grpc::CallbackServerContext* ctx,
                                                   const v1::ResizePtyRequest* req,
                                                   v1::ResizePtyResponse*) {
  BERTH_CHECK_ID("ResizePty", req);
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Process*> p = FindLocked(req->exec_id());
  if (!p.ok()) return Reply(ctx, "ResizePty", p.status());
  if (!(*p)->terminal) {
    return Reply(ctx, "ResizePty", absl::FailedPreconditionError("process has no terminal"));
  }
  if ((*p)->phase == Phase::kStopped || !(*p)->io) {
    return Reply(ctx, "ResizePty", absl::FailedPreconditionError("process has stopped"));
  }
  return Reply(ctx, "ResizePty", (*p)->io->Resize(req->width(), req->height()));
}

::grpc::ServerUnaryReactor* TaskService::CloseIO(::grpc::CallbackServerContext* ctx,
                                                 const v1::CloseIORequest* req,
                                                 v1::CloseIOResponse*) {
  BERTH_CHECK_ID("CloseIO", req);
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Process*> p = FindLocked(req->exec_id());
  if (!p.ok()) return Reply(ctx, "CloseIO", p.status());
  return Reply(ctx, "CloseIO", (*p)->io ? (*p)->io->CloseStdin() : absl::OkStatus());
}

::grpc::ServerUnaryReactor* TaskService::Update(::grpc::CallbackServerContext* ctx,
                                                const v1::UpdateRequest* req,
                                                v1::UpdateResponse*) {
  BERTH_CHECK_ID("Update", req);
  absl::MutexLock ops(&ops_mu_);
  return Reply(ctx, "Update", DoUpdate(*req));
}

::grpc::ServerUnaryReactor* TaskService::Wait(::grpc::CallbackServerContext* ctx,
                                              const v1::WaitRequest* req,
                                              v1::WaitResponse* resp) {
  BERTH_CHECK_ID("Wait", req);
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Process*> found = FindLocked(req->exec_id());
  if (!found.ok()) return Reply(ctx, "Wait", found.status());
  Process* p = *found;
  if (p->exit.has_value()) {
    resp->set_exit_status(p->exit->exit_status());
    *resp->mutable_exited_at() = p->exit->exited_at();
    return Reply(ctx, "Wait", absl::OkStatus());
  }
  if (shutting_down_) return Reply(ctx, "Wait", absl::UnavailableError("shim shutting down"));
  // Answered by RecordExitLocked (or CancelWaiters, or the exec's Delete), not on this thread.
  ::grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  p->waiters.push_back(Waiter{reactor, resp});
  return reactor;
}

::grpc::ServerUnaryReactor* TaskService::Stats(::grpc::CallbackServerContext* ctx,
                                               const v1::StatsRequest* req,
                                               v1::StatsResponse* resp) {
  BERTH_CHECK_ID("Stats", req);
  return Reply(ctx, "Stats", DoStats(resp));
}

::grpc::ServerUnaryReactor* TaskService::Connect(::grpc::CallbackServerContext* ctx,
                                                 const v1::ConnectRequest* req,
                                                 v1::ConnectResponse* resp) {
  BERTH_CHECK_ID("Connect", req);
  absl::StatusOr<proc::ProcessIdentity> self = proc::ProcessIdentity::Current(::getpid());
  if (!self.ok()) return Reply(ctx, "Connect", self.status());
  resp->set_shim_pid(static_cast<uint32_t>(self->pid));
  resp->set_shim_start_time(self->start_time);
  resp->set_version(kVersion);
  resp->set_namespace_(options_.ns);
  resp->set_bundle(options_.bundle);
  absl::MutexLock lock(&mu_);
  resp->set_task_pid(static_cast<uint32_t>(init_.who.pid));
  resp->set_task_pid_start_time(init_.who.start_time);
  return Reply(ctx, "Connect", absl::OkStatus());
}

::grpc::ServerUnaryReactor* TaskService::Shutdown(::grpc::CallbackServerContext* ctx,
                                                  const v1::ShutdownRequest* req,
                                                  v1::ShutdownResponse*) {
  BERTH_CHECK_ID("Shutdown", req);
  absl::Status s;
  {
    absl::MutexLock ops(&ops_mu_);
    s = DoShutdown(*req);
  }
  ::grpc::ServerUnaryReactor* reactor = Reply(ctx, "Shutdown", s);
  if (s.ok() && options_.on_shutdown) options_.on_shutdown();
  return reactor;
}

}  // namespace berth::shim::task
