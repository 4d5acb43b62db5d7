#include "shim/task/task_service.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/grpc/status_mapping.h"
#include "common/status/status_macros.h"
#include "common/version/version.h"
#include "glog/logging.h"
#include "google/protobuf/util/time_util.h"
#include "shim/process/exit_record.h"

namespace berth::shim::task {
namespace {

using ::google::protobuf::util::TimeUtil;

::grpc::ServerUnaryReactor *Reply(::grpc::CallbackServerContext *ctx,
                                  absl::string_view rpc,
                                  const absl::Status &status) {
  VLOG(1) << "rpc=" << rpc
          << " code=" << absl::StatusCodeToString(status.code())
          << (status.ok()
                  ? ""
                  : absl::StrCat(" error=\"",
                                 absl::CHexEscape(status.message()), "\""));
  ::grpc::ServerUnaryReactor *reactor = ctx->DefaultReactor();
  reactor->Finish(grpc_util::ToGrpcStatus(status));
  return reactor;
}

void SetTimestamp(absl::Time t, google::protobuf::Timestamp *ts) {
  *ts = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

void CloseFd(int &fd) {
  if (fd >= 0)
    ::close(fd);
  fd = -1;
}

} // namespace

TaskService::TaskService(TaskServiceOptions options)
    : options_(std::move(options)) {
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0)
    PLOG(FATAL) << "pipe";
}

TaskService::~TaskService() {
  StopPumps();
  CloseFd(stop_pipe_[0]);
  CloseFd(stop_pipe_[1]);
}

void TaskService::StopPumps() {
  if (stop_pipe_[1] >= 0) {
    char c = 0;
    (void)!::write(stop_pipe_[1], &c, 1);
  }
  std::vector<std::thread> pumps;
  {
    absl::MutexLock lock(&pumps_mu_);
    pumps.swap(pumps_);
  }
  for (auto &t : pumps)
    t.join();
}

void TaskService::StartPump(int fd, io::LogStream stream) {
  std::shared_ptr<io::JsonFileLogger> logger = logger_;
  const int stop_fd = stop_pipe_[0];
  absl::MutexLock lock(&pumps_mu_);
  pumps_.emplace_back([fd, stream, logger, stop_fd] {
    char buf[32 * 1024];
    struct pollfd fds[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    for (;;) {
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR)
          continue;
        break;
      }
      if (fds[1].revents != 0)
        break; // the shim is stopping
      const ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break; // EOF: every writer (the container's processes) is gone
      if (logger) {
        absl::Status s = logger->Write(
            stream, absl::string_view(buf, static_cast<size_t>(n)));
        if (!s.ok())
          LOG(WARNING) << "container log write failed error=\"" << s.message()
                       << "\"";
      }
    }
    ::close(fd);
  });
}

void TaskService::OnExit(pid_t pid, int wait_status, absl::Time when) {
  absl::MutexLock lock(&mu_);
  if (init_.pid == 0 || pid != init_.pid || exit_.has_value())
    return;
  (void)options_.reaper->TakeIfReaped(pid);
  RecordExitLocked(wait_status, when);
}

void TaskService::RecordExitLocked(int wait_status, absl::Time when) {
  v1::ExitRecord record = process::MakeExitRecord(init_, wait_status, when);
  // Durable before it is reported anywhere (bootstrap.proto, exit.json).
  absl::Status s = process::WriteExitRecord(exit_file(), record);
  if (!s.ok())
    LOG(ERROR) << "record exit " << init_.ToString() << ": " << s.message();
  LOG(INFO) << "container exited id=" << options_.id << " pid=" << init_.pid
            << " status=" << record.exit_status();
  exit_ = record;
  if (phase_ == Phase::kCreated || phase_ == Phase::kRunning)
    phase_ = Phase::kStopped;
  for (Waiter &w : waiters_) {
    w.response->set_exit_status(record.exit_status());
    *w.response->mutable_exited_at() = record.exited_at();
    w.reactor->Finish(::grpc::Status::OK);
  }
  waiters_.clear();
}

void TaskService::CancelWaiters() {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
  for (Waiter &w : waiters_) {
    w.reactor->Finish(
        ::grpc::Status(::grpc::StatusCode::UNAVAILABLE, "shim shutting down"));
  }
  waiters_.clear();
}

bool TaskService::AwaitExit(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> bool {
    return exit_.has_value();
  };
  return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

absl::Status TaskService::DoCreate(const v1::CreateRequest &req,
                                   v1::CreateResponse *resp) {
  if (req.bundle() != options_.bundle) {
    return absl::InvalidArgumentError(absl::StrCat("bundle ", req.bundle(),
                                                   " is not the shim's bundle ",
                                                   options_.bundle));
  }
  // TODO(shim): #4 rootfs mounts, stdio paths, terminals and checkpoints.
  if (req.rootfs_mounts_size() > 0 || !req.stdin().empty() ||
      !req.stdout().empty() || !req.stderr().empty() || req.terminal() ||
      !req.checkpoint().empty()) {
    return absl::UnimplementedError("rootfs mounts, stdio paths, terminals and "
                                    "checkpoints are not supported yet");
  }
  {
    absl::MutexLock lock(&mu_);
    if (phase_ != Phase::kNone)
      return absl::AlreadyExistsError("task already created");
  }

  const berth::types::v1::LogConfig &lc = req.log_config();
  std::string log_path;
  if (lc.driver() != berth::types::v1::LOG_DRIVER_NONE) {
    log_path = lc.path().empty() ? absl::StrCat(options_.bundle, "/",
                                                options_.id, "-json.log")
                                 : lc.path();
    if (log_path[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("log path ", log_path, " is not absolute"));
    }
    io::JsonFileLoggerOptions lo;
    lo.path = log_path;
    lo.max_size_bytes = lc.max_size_bytes();
    lo.max_files = lc.max_files();
    auto logger = io::JsonFileLogger::Create(lo);
    if (!logger.ok()) {
      absl::Status s = logger.status();
      if (s.code() == absl::StatusCode::kNotFound) {
        s = absl::InvalidArgumentError(s.message());
      }
      return absl::Status(s.code(),
                          absl::StrCat("open container log: ", s.message()));
    }
    logger_ = std::move(*logger);
  }

  int out[2] = {-1, -1}, err[2] = {-1, -1};
  absl::Cleanup close_pipes = [&] {
    for (int *p : {out, err}) {
      CloseFd(p[0]);
      CloseFd(p[1]);
    }
  };
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    return absl::ErrnoToStatus(errno, "pipe");
  }
  process::CreateOptions co;
  co.bundle = options_.bundle;
  co.pid_file = options_.bundle + "/init.pid";
  co.no_pivot = req.options().no_pivot_root();
  co.no_new_keyring = req.options().no_new_keyring();
  co.stdio.stdout_fd = out[1];
  co.stdio.stderr_fd = err[1];
  BERTH_RETURN_IF_ERROR(options_.runtime->Create(options_.id, co));
  absl::Cleanup undo = [&] {
    (void)options_.runtime->Delete(options_.id, /*force=*/true);
  };
  CloseFd(out[1]);
  CloseFd(err[1]);

  BERTH_ASSIGN_OR_RETURN(pid_t pid, process::ReadPidFile(co.pid_file),
                         "read init pid");
  absl::StatusOr<proc::ProcessIdentity> who =
      proc::ProcessIdentity::Current(pid);
  {
    absl::MutexLock lock(&mu_);
    init_.pid = pid;
    init_.start_time = who.ok() ? who->start_time : 0;
    log_path_ = log_path;
    phase_ = Phase::kCreated;
    // It may have died (and been reaped) before its pid was known here.
    absl::StatusOr<int> early = options_.reaper->TakeIfReaped(pid);
    if (early.ok() && !exit_.has_value())
      RecordExitLocked(*early, absl::Now());
    resp->set_pid(static_cast<uint32_t>(pid));
    resp->set_pid_start_time(init_.start_time);
    resp->set_log_path(log_path);
  }
  std::move(undo).Cancel();
  StartPump(out[0], io::LogStream::kStdout);
  out[0] = -1;
  StartPump(err[0], io::LogStream::kStderr);
  err[0] = -1;
  LOG(INFO) << "container created id=" << options_.id << " pid=" << pid;
  return absl::OkStatus();
}

absl::Status TaskService::DoStart(v1::StartResponse *resp) {
  {
    absl::MutexLock lock(&mu_);
    switch (phase_) {
    case Phase::kNone:
    case Phase::kDeleted:
      return absl::NotFoundError("task not created");
    case Phase::kStopped:
      return absl::FailedPreconditionError("task has stopped");
    case Phase::kRunning:
      resp->set_pid(static_cast<uint32_t>(init_.pid));
      return absl::OkStatus();
    case Phase::kCreated:
      break;
    }
  }
  BERTH_RETURN_IF_ERROR(options_.runtime->Start(options_.id));
  absl::MutexLock lock(&mu_);
  started_at_ = absl::Now();
  if (phase_ == Phase::kCreated)
    phase_ = Phase::kRunning;
  resp->set_pid(static_cast<uint32_t>(init_.pid));
  LOG(INFO) << "container started id=" << options_.id << " pid=" << init_.pid;
  return absl::OkStatus();
}

absl::Status TaskService::DoKill(const v1::KillRequest &req) {
  if (req.signal() == 0 || req.signal() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad signal ", req.signal()));
  }
  {
    absl::MutexLock lock(&mu_);
    if (phase_ == Phase::kNone || phase_ == Phase::kDeleted) {
      return absl::NotFoundError("task not created");
    }
    if (phase_ == Phase::kStopped)
      return absl::FailedPreconditionError("task has stopped");
  }
  return options_.runtime->Kill(options_.id, static_cast<int>(req.signal()),
                                req.all());
}

absl::Status TaskService::ForceDelete() {
  absl::Status s = options_.runtime->Delete(options_.id, /*force=*/true);
  if (!s.ok() && s.code() != absl::StatusCode::kNotFound)
    return s;
  if (!AwaitExit(absl::Seconds(10))) {
    return absl::DeadlineExceededError(
        "init process did not exit after delete --force");
  }
  return absl::OkStatus();
}

absl::Status TaskService::DoDelete(v1::DeleteResponse *resp) {
  Phase phase;
  {
    absl::MutexLock lock(&mu_);
    phase = phase_;
  }
  switch (phase) {
  case Phase::kNone:
  case Phase::kDeleted:
    return absl::NotFoundError("task not created or already deleted");
  case Phase::kRunning:
    return absl::FailedPreconditionError("task is running");
  case Phase::kCreated:
    BERTH_RETURN_IF_ERROR(ForceDelete(), "delete created task");
    break;
  case Phase::kStopped: {
    absl::Status s = options_.runtime->Delete(options_.id, /*force=*/false);
    if (!s.ok() && s.code() != absl::StatusCode::kNotFound)
      return s;
    break;
  }
  }
  // The container is gone, so its output pipes reach EOF; the pumps finish on
  // their own.
  {
    absl::MutexLock lock(&pumps_mu_);
    for (auto &t : pumps_)
      t.join();
    pumps_.clear();
  }
  absl::MutexLock lock(&mu_);
  phase_ = Phase::kDeleted;
  resp->set_pid(static_cast<uint32_t>(init_.pid));
  if (exit_.has_value()) {
    resp->set_exit_status(exit_->exit_status());
    *resp->mutable_exited_at() = exit_->exited_at();
  }
  LOG(INFO) << "container deleted id=" << options_.id;
  return absl::OkStatus();
}

absl::Status TaskService::DoShutdown(const v1::ShutdownRequest &req) {
  Phase phase;
  {
    absl::MutexLock lock(&mu_);
    phase = phase_;
  }
  const bool live = phase != Phase::kNone && phase != Phase::kDeleted;
  if (live && req.mode() != v1::SHUTDOWN_MODE_NOW) {
    return absl::FailedPreconditionError(
        "task still exists; delete it or use SHUTDOWN_MODE_NOW");
  }
  if (live) {
    BERTH_RETURN_IF_ERROR(ForceDelete(), "shutdown");
    absl::MutexLock lock(&mu_);
    phase_ = Phase::kDeleted;
  }
  return absl::OkStatus();
}

#define BERTH_CHECK_ID(rpc, req)                                               \
  if ((req)->container_id() != options_.id) {                                  \
    return Reply(                                                              \
        ctx, rpc,                                                              \
        absl::NotFoundError(absl::StrCat("container ", (req)->container_id(),  \
                                         " is not served by this shim")));     \
  }

::grpc::ServerUnaryReactor *
TaskService::State(::grpc::CallbackServerContext *ctx,
                   const v1::StateRequest *req, v1::StateResponse *resp) {
  BERTH_CHECK_ID("State", req);
  if (!req->exec_id().empty())
    return Reply(ctx, "State", absl::NotFoundError("no such exec"));
  absl::MutexLock lock(&mu_);
  if (phase_ == Phase::kNone || phase_ == Phase::kDeleted) {
    return Reply(ctx, "State", absl::NotFoundError("task not created"));
  }
  berth::types::v1::Process *p = resp->mutable_process();
  p->set_container_id(options_.id);
  p->set_pid(static_cast<uint32_t>(init_.pid));
  p->set_pid_start_time(init_.start_time);
  p->set_bundle(options_.bundle);
  p->set_log_path(log_path_);
  if (started_at_)
    SetTimestamp(*started_at_, p->mutable_started_at());
  switch (phase_) {
  case Phase::kCreated:
    p->set_status(berth::types::v1::PROCESS_STATUS_CREATED);
    break;
  case Phase::kRunning:
    p->set_status(berth::types::v1::PROCESS_STATUS_RUNNING);
    break;
  default:
    p->set_status(berth::types::v1::PROCESS_STATUS_STOPPED);
    break;
  }
  if (exit_.has_value()) {
    p->set_exit_status(exit_->exit_status());
    *p->mutable_exited_at() = exit_->exited_at();
  }
  return Reply(ctx, "State", absl::OkStatus());
}

::grpc::ServerUnaryReactor *
TaskService::Create(::grpc::CallbackServerContext *ctx,
                    const v1::CreateRequest *req, v1::CreateResponse *resp) {
  BERTH_CHECK_ID("Create", req);
  absl::MutexLock ops(&ops_mu_);
  return Reply(ctx, "Create", DoCreate(*req, resp));
}

::grpc::ServerUnaryReactor *
TaskService::Start(::grpc::CallbackServerContext *ctx,
                   const v1::StartRequest *req, v1::StartResponse *resp) {
  BERTH_CHECK_ID("Start", req);
  if (!req->exec_id().empty())
    return Reply(ctx, "Start", absl::NotFoundError("no such exec"));
  absl::MutexLock ops(&ops_mu_);
  return Reply(ctx, "Start", DoStart(resp));
}

::grpc::ServerUnaryReactor *
TaskService::Delete(::grpc::CallbackServerContext *ctx,
                    const v1::DeleteRequest *req, v1::DeleteResponse *resp) {
  BERTH_CHECK_ID("Delete", req);
  if (!req->exec_id().empty())
    return Reply(ctx, "Delete", absl::NotFoundError("no such exec"));
  absl::MutexLock ops(&ops_mu_);
  return Reply(ctx, "Delete", DoDelete(resp));
}

::grpc::ServerUnaryReactor *
TaskService::Kill(::grpc::CallbackServerContext *ctx,
                  const v1::KillRequest *req, v1::KillResponse *) {
  BERTH_CHECK_ID("Kill", req);
  if (!req->exec_id().empty()) {
    return Reply(ctx, "Kill",
                 req->all() ? absl::InvalidArgumentError("all with an exec id")
                            : absl::NotFoundError("no such exec"));
  }
  absl::MutexLock ops(&ops_mu_);
  return Reply(ctx, "Kill", DoKill(*req));
}

::grpc::ServerUnaryReactor *
TaskService::Wait(::grpc::CallbackServerContext *ctx,
                  const v1::WaitRequest *req, v1::WaitResponse *resp) {
  BERTH_CHECK_ID("Wait", req);
  if (!req->exec_id().empty())
    return Reply(ctx, "Wait", absl::NotFoundError("no such exec"));
  absl::MutexLock lock(&mu_);
  if (phase_ == Phase::kNone || phase_ == Phase::kDeleted) {
    return Reply(ctx, "Wait", absl::NotFoundError("task not created"));
  }
  if (exit_.has_value()) {
    resp->set_exit_status(exit_->exit_status());
    *resp->mutable_exited_at() = exit_->exited_at();
    return Reply(ctx, "Wait", absl::OkStatus());
  }
  if (shutting_down_)
    return Reply(ctx, "Wait", absl::UnavailableError("shim shutting down"));
  // Answered by RecordExitLocked (or CancelWaiters), not on this thread.
  ::grpc::ServerUnaryReactor *reactor = ctx->DefaultReactor();
  waiters_.push_back(Waiter{reactor, resp});
  return reactor;
}

::grpc::ServerUnaryReactor *
TaskService::Connect(::grpc::CallbackServerContext *ctx,
                     const v1::ConnectRequest *req, v1::ConnectResponse *resp) {
  BERTH_CHECK_ID("Connect", req);
  absl::StatusOr<proc::ProcessIdentity> self =
      proc::ProcessIdentity::Current(::getpid());
  if (!self.ok())
    return Reply(ctx, "Connect", self.status());
  resp->set_shim_pid(static_cast<uint32_t>(self->pid));
  resp->set_shim_start_time(self->start_time);
  resp->set_version(kVersion);
  resp->set_namespace_(options_.ns);
  resp->set_bundle(options_.bundle);
  absl::MutexLock lock(&mu_);
  resp->set_task_pid(static_cast<uint32_t>(init_.pid));
  resp->set_task_pid_start_time(init_.start_time);
  return Reply(ctx, "Connect", absl::OkStatus());
}

::grpc::ServerUnaryReactor *
TaskService::Shutdown(::grpc::CallbackServerContext *ctx,
                      const v1::ShutdownRequest *req, v1::ShutdownResponse *) {
  BERTH_CHECK_ID("Shutdown", req);
  absl::Status s;
  {
    absl::MutexLock ops(&ops_mu_);
    s = DoShutdown(*req);
  }
  ::grpc::ServerUnaryReactor *reactor = Reply(ctx, "Shutdown", s);
  if (s.ok() && options_.on_shutdown)
    options_.on_shutdown();
  return reactor;
}

} // namespace berth::shim::task
