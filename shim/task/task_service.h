// TaskService is the gRPC adapter of berth.shim.task.v1.Task for one
// container's init process (see proto/berth/shim/task/v1/task.proto): it runs
// the OCI runtime for Create/Start/Kill/ Delete, pumps the init process's
// stdout and stderr into a json-file log, learns the init process's exit from
// the shim's Reaper (OnExit), records it durably in `<bundle>/exit.json` before
// anything reports it, and answers Wait calls, also long after the fact.
//
// Not yet implemented (Unimplemented): exec processes, rootfs mounts, stdio
// paths, terminals, checkpoints, Pids, Pause/Resume, Update, Stats, ResizePty,
// CloseIO, Attach, events.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "berth/shim/task/v1/bootstrap.pb.h"
#include "berth/shim/task/v1/task.grpc.pb.h"
#include "common/proc/proc.h"
#include "shim/io/json_file_logger.h"
#include "shim/process/reaper.h"
#include "shim/process/runtime.h"

namespace berth::shim::task {

namespace v1 = ::berth::shim::task::v1;

struct TaskServiceOptions {
  std::string id;
  std::string ns;
  // Absolute bundle directory (the shim's --bundle).
  std::string bundle;
  // Not owned; must outlive the service.
  const process::Runtime *runtime = nullptr;
  process::Reaper *reaper = nullptr;
  // Called (on a gRPC thread) after Shutdown has answered; the daemon then
  // drains and exits.
  std::function<void()> on_shutdown;
};

class TaskService final : public v1::Task::CallbackService {
public:
  explicit TaskService(TaskServiceOptions options);
  // Stops and joins the stdio pumps.
  ~TaskService() override;

  // The reaper's callback: records the init process's exit (ignores other
  // pids). Thread-safe.
  void OnExit(pid_t pid, int wait_status, absl::Time when);
  // Finishes pending Wait calls with Unavailable (the shim is going away).
  // Thread-safe.
  void CancelWaiters();

  ::grpc::ServerUnaryReactor *State(::grpc::CallbackServerContext *ctx,
                                    const v1::StateRequest *req,
                                    v1::StateResponse *resp) override;
  ::grpc::ServerUnaryReactor *Create(::grpc::CallbackServerContext *ctx,
                                     const v1::CreateRequest *req,
                                     v1::CreateResponse *resp) override;
  ::grpc::ServerUnaryReactor *Start(::grpc::CallbackServerContext *ctx,
                                    const v1::StartRequest *req,
                                    v1::StartResponse *resp) override;
  ::grpc::ServerUnaryReactor *Delete(::grpc::CallbackServerContext *ctx,
                                     const v1::DeleteRequest *req,
                                     v1::DeleteResponse *resp) override;
  ::grpc::ServerUnaryReactor *Kill(::grpc::CallbackServerContext *ctx,
                                   const v1::KillRequest *req,
                                   v1::KillResponse *resp) override;
  ::grpc::ServerUnaryReactor *Wait(::grpc::CallbackServerContext *ctx,
                                   const v1::WaitRequest *req,
                                   v1::WaitResponse *resp) override;
  ::grpc::ServerUnaryReactor *Connect(::grpc::CallbackServerContext *ctx,
                                      const v1::ConnectRequest *req,
                                      v1::ConnectResponse *resp) override;
  ::grpc::ServerUnaryReactor *Shutdown(::grpc::CallbackServerContext *ctx,
                                       const v1::ShutdownRequest *req,
                                       v1::ShutdownResponse *resp) override;

  std::string exit_file() const { return options_.bundle + "/exit.json"; }

private:
  enum class Phase { kNone, kCreated, kRunning, kStopped, kDeleted };
  struct Waiter {
    ::grpc::ServerUnaryReactor *reactor;
    v1::WaitResponse *response;
  };

  absl::Status DoCreate(const v1::CreateRequest &req, v1::CreateResponse *resp);
  absl::Status DoStart(v1::StartResponse *resp);
  absl::Status DoKill(const v1::KillRequest &req);
  absl::Status DoDelete(v1::DeleteResponse *resp);
  absl::Status DoShutdown(const v1::ShutdownRequest &req);
  // Waits up to `timeout` for the init process's exit to be recorded.
  bool AwaitExit(absl::Duration timeout);
  // Kills whatever is left of the container (runtime `delete --force`) and
  // waits for the exit.
  absl::Status ForceDelete();
  void RecordExitLocked(int wait_status, absl::Time when)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartPump(int fd, io::LogStream stream);
  void StopPumps();

  const TaskServiceOptions options_;
  int stop_pipe_[2] = {-1, -1}; // written to stop the pumps

  // Serializes the runtime-running operations (Create, Start, Kill, Delete,
  // Shutdown). Never taken by OnExit, and never held with mu_ around a runtime
  // call: the reaper thread, which runtime calls wait for, takes mu_ in OnExit.
  absl::Mutex ops_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kNone;
  proc::ProcessIdentity init_ ABSL_GUARDED_BY(mu_);
  std::string log_path_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Time> started_at_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::ExitRecord> exit_ ABSL_GUARDED_BY(mu_);
  std::vector<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;

  std::shared_ptr<io::JsonFileLogger>
      logger_; // set once by Create, under ops_mu_
  absl::Mutex pumps_mu_;
  std::vector<std::thread> pumps_ ABSL_GUARDED_BY(pumps_mu_);
};

} // namespace berth::shim::task
