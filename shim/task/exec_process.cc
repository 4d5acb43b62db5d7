// TaskService: exec processes (Exec registers one, Start runs it with the runtime's
// `exec --detach`, Delete forgets it). Kill, Wait, State, ResizePty, CloseIO and Attach treat
// them like the init process (task_service.cc, attach.cc).
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "berth/containerd/events/v1/payloads.pb.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"
#include "shim/task/rpc_util.h"
#include "shim/task/task_service.h"

namespace berth::shim::task {
namespace {

namespace ev1 = ::berth::containerd::events::v1;
using nlohmann::json;

// `[A-Za-z0-9][A-Za-z0-9_.-]{0,75}` (berth.containerd.tasks.v1.Tasks.Exec): the id becomes part
// of file names in the bundle.
absl::Status ValidateExecId(const std::string& id) {
  bool ok = !id.empty() && id.size() <= 76 && absl::ascii_isalnum(id[0]);
  for (char c : id) {
    ok = ok && (absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '-');
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "exec id \"", id.substr(0, 80), "\" does not match [A-Za-z0-9][A-Za-z0-9_.-]{0,75}"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status TaskService::DoExec(const v1::ExecRequest& req) {
  BERTH_RETURN_IF_ERROR(ValidateExecId(req.exec_id()));
  json spec = json::parse(req.spec(), nullptr, /*allow_exceptions=*/false);
  if (!spec.is_object()) return absl::InvalidArgumentError("exec spec is not a JSON object");
  // The request's terminal flag decides; the runtime must agree with the stdio it is given.
  spec["terminal"] = req.terminal();
  io::ProcessIoOptions io_options;
  io_options.stdin_path = req.stdin();
  io_options.stdout_path = req.stdout();
  io_options.stderr_path = req.stderr();
  io_options.terminal = req.terminal();
  io_options.stdin_mode = req.stdin_mode();
  BERTH_RETURN_IF_ERROR(io::ValidateStdio(io_options));
  {
    absl::MutexLock lock(&mu_);
    BERTH_RETURN_IF_ERROR(FindLocked("").status());
    if (execs_.count(req.exec_id()) > 0) {
      return absl::AlreadyExistsError(absl::StrCat("exec ", req.exec_id(), " exists"));
    }
    if (init_.phase != Phase::kRunning) {
      return absl::FailedPreconditionError("task is not running");
    }
  }
  auto p = std::make_unique<Process>();
  p->exec_id = req.exec_id();
  p->phase = Phase::kCreated;
  p->stdin_path = req.stdin();
  p->stdout_path = req.stdout();
  p->stderr_path = req.stderr();
  p->terminal = req.terminal();
  const std::string dir = options_.bundle + "/execs";
  p->spec_file = absl::StrCat(dir, "/", req.exec_id(), ".json");
  p->pid_file = absl::StrCat(dir, "/", req.exec_id(), ".pid");
  BERTH_RETURN_IF_ERROR(fs::MakeDirs(dir, 0700), "exec dir");
  BERTH_RETURN_IF_ERROR(fs::WriteFileAtomically(p->spec_file, spec.dump(), 0600), "exec spec");
  absl::Cleanup remove = [&] { ::unlink(p->spec_file.c_str()); };
  BERTH_ASSIGN_OR_RETURN(p->io, io::ProcessIo::Create(options_.loop, io_options));
  p->stdin_mode = p->io->stdin_mode();
  std::move(remove).Cancel();
  {
    absl::MutexLock lock(&mu_);
    execs_[req.exec_id()] = std::move(p);
  }
  ev1::TaskExecAdded ev;
  ev.set_container_id(options_.id);
  ev.set_exec_id(req.exec_id());
  Publish("/tasks/exec-added", ev);
  return absl::OkStatus();
}

absl::Status TaskService::DoStartExec(const std::string& exec_id, v1::StartResponse* resp) {
  process::ExecOptions eo;
  io::ProcessIo* pio;
  {
    absl::MutexLock lock(&mu_);
    BERTH_ASSIGN_OR_RETURN(Process * p, FindLocked(exec_id));
    if (p->phase == Phase::kStopped) return absl::FailedPreconditionError("exec has stopped");
    if (p->phase != Phase::kCreated) {
      resp->set_pid(static_cast<uint32_t>(p->who.pid));
      return absl::OkStatus();
    }
    if (init_.phase != Phase::kRunning) {
      return absl::FailedPreconditionError("task is not running");
    }
    eo.process_file = p->spec_file;
    eo.pid_file = p->pid_file;
    pio = p->io.get();  // stays until Delete, which ops_mu_ keeps out
  }
  eo.detach = true;
  eo.console_socket = pio->console_socket();
  eo.stdio = pio->runtime_stdio();
  BERTH_RETURN_IF_ERROR(options_.runtime->Exec(options_.id, eo));
  BERTH_RETURN_IF_ERROR(pio->Start(), "exec stdio");
  BERTH_ASSIGN_OR_RETURN(pid_t pid, process::ReadPidFile(eo.pid_file), "read exec pid");
  absl::StatusOr<proc::ProcessIdentity> who = proc::ProcessIdentity::Current(pid);
  {
    absl::MutexLock lock(&mu_);
    Process* p = execs_.at(exec_id).get();
    p->who.pid = pid;
    p->who.start_time = who.ok() ? who->start_time : 0;
    p->started_at = absl::Now();
    p->phase = Phase::kRunning;
    absl::StatusOr<int> early = options_.reaper->TakeIfReaped(pid);
    if (early.ok() && !p->exit.has_value()) RecordExitLocked(p, *early, absl::Now());
  }
  resp->set_pid(static_cast<uint32_t>(pid));
  LOG(INFO) << "exec started id=" << options_.id << " exec=" << exec_id << " pid=" << pid;
  ev1::TaskExecStarted ev;
  ev.set_container_id(options_.id);
  ev.set_exec_id(exec_id);
  ev.set_pid(static_cast<uint32_t>(pid));
  Publish("/tasks/exec-started", ev);
  return absl::OkStatus();
}

absl::Status TaskService::DoDeleteExec(const std::string& exec_id, v1::DeleteResponse* resp) {
  std::unique_ptr<Process> p;
  {
    absl::MutexLock lock(&mu_);
    BERTH_ASSIGN_OR_RETURN(Process * found, FindLocked(exec_id));
    if (found->phase == Phase::kRunning) {
      return absl::FailedPreconditionError("exec is running");
    }
    auto it = execs_.find(exec_id);
    p = std::move(it->second);
    execs_.erase(it);
    // Waits on a never-started exec would otherwise hang: the process is gone for good.
    for (Waiter& w : p->waiters) {
      w.reactor->Finish(::grpc::Status(::grpc::StatusCode::NOT_FOUND, "exec deleted"));
    }
    p->waiters.clear();
  }
  if (p->io) {
    if (p->phase == Phase::kStopped) (void)p->io->AwaitOutputDone(absl::Seconds(2));
    p->io->Close();
  }
  ::unlink(p->spec_file.c_str());
  ::unlink(p->pid_file.c_str());
  resp->set_pid(static_cast<uint32_t>(p->who.pid));
  ev1::TaskDelete ev;
  ev.set_container_id(options_.id);
  ev.set_id(exec_id);
  ev.set_pid(resp->pid());
  if (p->exit.has_value()) {
    resp->set_exit_status(p->exit->exit_status());
    *resp->mutable_exited_at() = p->exit->exited_at();
    ev.set_exit_status(p->exit->exit_status());
    *ev.mutable_exited_at() = p->exit->exited_at();
  }
  Publish("/tasks/delete", ev);
  return absl::OkStatus();
}

}  // namespace berth::shim::task
