// TaskService is the gRPC adapter of berth.shim.task.v1.Task for one container (see
// proto/berth/shim/task/v1/task.proto, which has every RPC's semantics and error codes): it
// mounts the rootfs, runs the OCI runtime for the init process (Create/Start/Kill/Delete,
// Pause/Resume/Update/Pids/Checkpoint) and for exec processes (Exec/Start/Kill/Delete), owns
// every process's stdio through io::ProcessIo (log, stdio paths, terminal, Attach), learns exits
// from the shim's Reaper (OnExit), records the init process's exit durably in
// `<bundle>/exit.json` before anything reports it, answers Wait calls, also long after the fact,
// and publishes task events.
//
// Code layout: task_service.cc (queries, Wait, Connect, Shutdown, exits), init_process.cc (the
// init process's runtime operations), exec_process.cc (exec processes), attach.{h,cc} (Attach).
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "berth/shim/task/v1/bootstrap.pb.h"
#include "berth/shim/task/v1/task.grpc.pb.h"
#include "common/proc/proc.h"
#include "shim/events/publisher.h"
#include "shim/io/event_loop.h"
#include "shim/io/process_io.h"
#include "shim/process/oom_watcher.h"
#include "shim/process/reaper.h"
#include "shim/process/runtime.h"
#include "shim/task/upgrade_state.h"

namespace berth::shim::task {

namespace v1 = ::berth::shim::task::v1;

struct TaskServiceOptions {
  std::string id;
  std::string ns;
  // Absolute bundle directory (the shim's --bundle).
  std::string bundle;
  // Not owned; must outlive the service.
  const process::Runtime* runtime = nullptr;
  process::Reaper* reaper = nullptr;
  io::EventLoop* loop = nullptr;
  // Task events; may be null (then nothing is published).
  events::Publisher* publisher = nullptr;
  // Called (on a gRPC thread) after Shutdown has answered; the daemon then drains and exits.
  std::function<void()> on_shutdown;
  // Called (on the gRPC thread) when an init-process Create begins, before the rootfs is mounted
  // and the runtime runs: work that the runtime's create goes faster for when started early
  // (the daemon primes the cgroup migration, see shim/process/cgroup_prime.h). May be empty.
  std::function<void()> on_create;
};

// What Attach needs of a process (see BeginAttach).
struct AttachTarget {
  std::shared_ptr<io::ProcessIo> io;
  uint32_t pid = 0;
  bool terminal = false;
  int listener = 0;
  std::optional<::berth::types::v1::ProcessExit> exited;  // already exited
};

class TaskService final : public v1::Task::CallbackService {
 public:
  explicit TaskService(TaskServiceOptions options);
  // Closes every process's stdio.
  ~TaskService() override;

  // The reaper's callback: records the exit of the init or an exec process (ignores other
  // pids). Thread-safe.
  void OnExit(pid_t pid, int wait_status, absl::Time when);
  // Finishes pending Wait calls with Unavailable (the shim is going away). Thread-safe.
  void CancelWaiters();

  // For Attach: the process `exec_id` ("" = init) and a listener that gets its exit (called
  // once, under the service's lock: it must only queue). NotFound when there is no such
  // process. EndAttach removes the listener. Thread-safe.
  absl::StatusOr<AttachTarget> BeginAttach(
      const std::string& exec_id,
      std::function<void(const ::berth::types::v1::ProcessExit&)> on_exit);
  void EndAttach(const std::string& exec_id, int listener);

  ::grpc::ServerUnaryReactor* State(::grpc::CallbackServerContext* ctx,
                                    const v1::StateRequest* req, v1::StateResponse* resp) override;
  ::grpc::ServerUnaryReactor* Create(::grpc::CallbackServerContext* ctx,
                                     const v1::CreateRequest* req,
                                     v1::CreateResponse* resp) override;
  ::grpc::ServerUnaryReactor* Start(::grpc::CallbackServerContext* ctx,
                                    const v1::StartRequest* req, v1::StartResponse* resp) override;
  ::grpc::ServerUnaryReactor* Delete(::grpc::CallbackServerContext* ctx,
                                     const v1::DeleteRequest* req,
                                     v1::DeleteResponse* resp) override;
  ::grpc::ServerUnaryReactor* Pids(::grpc::CallbackServerContext* ctx, const v1::PidsRequest* req,
                                   v1::PidsResponse* resp) override;
  ::grpc::ServerUnaryReactor* Pause(::grpc::CallbackServerContext* ctx,
                                    const v1::PauseRequest* req, v1::PauseResponse* resp) override;
  ::grpc::ServerUnaryReactor* Resume(::grpc::CallbackServerContext* ctx,
                                     const v1::ResumeRequest* req,
                                     v1::ResumeResponse* resp) override;
  ::grpc::ServerUnaryReactor* Checkpoint(::grpc::CallbackServerContext* ctx,
                                         const v1::CheckpointRequest* req,
                                         v1::CheckpointResponse* resp) override;
  ::grpc::ServerUnaryReactor* Kill(::grpc::CallbackServerContext* ctx, const v1::KillRequest* req,
                                   v1::KillResponse* resp) override;
  ::grpc::ServerUnaryReactor* Exec(::grpc::CallbackServerContext* ctx, const v1::ExecRequest* req,
                                   v1::ExecResponse* resp) override;
  ::grpc::ServerUnaryReactor* ResizePty(::grpc::CallbackServerContext* ctx,
                                        const v1::ResizePtyRequest* req,
                                        v1::ResizePtyResponse* resp) override;
  ::grpc::ServerUnaryReactor* CloseIO(::grpc::CallbackServerContext* ctx,
                                      const v1::CloseIORequest* req,
                                      v1::CloseIOResponse* resp) override;
  ::grpc::ServerUnaryReactor* Update(::grpc::CallbackServerContext* ctx,
                                     const v1::UpdateRequest* req,
                                     v1::UpdateResponse* resp) override;
  ::grpc::ServerUnaryReactor* Wait(::grpc::CallbackServerContext* ctx, const v1::WaitRequest* req,
                                   v1::WaitResponse* resp) override;
  ::grpc::ServerUnaryReactor* Stats(::grpc::CallbackServerContext* ctx,
                                    const v1::StatsRequest* req, v1::StatsResponse* resp) override;
  ::grpc::ServerUnaryReactor* Connect(::grpc::CallbackServerContext* ctx,
                                      const v1::ConnectRequest* req,
                                      v1::ConnectResponse* resp) override;
  ::grpc::ServerUnaryReactor* Shutdown(::grpc::CallbackServerContext* ctx,
                                       const v1::ShutdownRequest* req,
                                       v1::ShutdownResponse* resp) override;
  ::grpc::ServerBidiReactor<v1::AttachRequest, v1::AttachResponse>* Attach(
      ::grpc::CallbackServerContext* ctx) override;

  // Shim upgrade in place (shim/main.cc, SIGUSR2; upgrade.cc). Holds the operations lock, so
  // no runtime call is in flight, and refuses (FailedPrecondition, nothing changed) while a
  // terminal or an exec process exists, since neither is handed over. Detaches the init
  // process's stdio, writes the state to `state_file` and calls `exec`, which only returns on
  // failure: then the stdio is taken back and that error returned.
  absl::Status Upgrade(const std::string& state_file, const std::function<absl::Status()>& exec);
  // In the new image, before serving and reaping: rebuilds the init process from `state`.
  absl::Status Restore(const UpgradeState& state);

  std::string exit_file() const { return options_.bundle + "/exit.json"; }
  std::string rootfs() const { return options_.bundle + "/rootfs"; }
  const std::string& id() const { return options_.id; }

 private:
  // kPaused is the init process's only (the container's cgroup is frozen).
  enum class Phase { kNone, kCreated, kRunning, kPaused, kStopped, kDeleted };
  struct Waiter {
    ::grpc::ServerUnaryReactor* reactor;
    v1::WaitResponse* response;
  };
  // One process: the init process (exec_id "") or an exec process. Guarded by mu_.
  struct Process {
    std::string exec_id;
    Phase phase = Phase::kNone;
    proc::ProcessIdentity who;
    std::optional<v1::ExitRecord> exit;
    std::optional<absl::Time> started_at;
    std::vector<Waiter> waiters;
    std::map<int, std::function<void(const ::berth::types::v1::ProcessExit&)>> exit_listeners;
    std::shared_ptr<io::ProcessIo> io;
    // As requested, for State.
    std::string stdin_path, stdout_path, stderr_path;
    bool terminal = false;
    ::berth::types::v1::StdinMode stdin_mode = ::berth::types::v1::STDIN_MODE_UNSPECIFIED;
    // Exec processes: the runtime's --process and --pid-file.
    std::string spec_file, pid_file;
  };

  // init_process.cc
  absl::Status DoCreate(const v1::CreateRequest& req, v1::CreateResponse* resp);
  absl::Status DoStartInit(v1::StartResponse* resp);
  absl::Status DoDeleteInit(v1::DeleteResponse* resp);
  absl::Status DoPauseResume(bool pause);
  absl::Status DoUpdate(const v1::UpdateRequest& req);
  absl::Status DoPids(v1::PidsResponse* resp);
  absl::Status DoStats(v1::StatsResponse* resp);
  absl::Status DoCheckpoint(const v1::CheckpointRequest& req);
  // Kills whatever is left of the container (runtime `delete --force`), waits for the exit and
  // unmounts the rootfs.
  absl::Status ForceDelete();
  absl::Status UnmountRootfs();
  // Starts publishing /tasks/oom for the memory cgroup of the init process `pid`; a shim that
  // cannot watch (no memory controller, old kernel) logs it and goes on.
  void WatchOom(pid_t pid);
  // exec_process.cc
  absl::Status DoExec(const v1::ExecRequest& req);
  absl::Status DoStartExec(const std::string& exec_id, v1::StartResponse* resp);
  absl::Status DoDeleteExec(const std::string& exec_id, v1::DeleteResponse* resp);
  // task_service.cc
  absl::Status DoKill(const v1::KillRequest& req);
  absl::Status DoShutdown(const v1::ShutdownRequest& req);
  // The process `exec_id` ("" = init) unless it does not exist (yet) or was deleted: NotFound.
  absl::StatusOr<Process*> FindLocked(const std::string& exec_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits up to `timeout` for process `p`'s exit to be recorded.
  bool AwaitExit(const Process* p, absl::Duration timeout);
  void RecordExitLocked(Process* p, int wait_status, absl::Time when)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Publish(absl::string_view topic, const google::protobuf::Message& event);

  const TaskServiceOptions options_;

  // Serializes the runtime-running operations. Never taken by OnExit, and never held with mu_
  // around a runtime call: the reaper thread, which runtime calls wait for, takes mu_ in
  // OnExit.
  absl::Mutex ops_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  Process init_ ABSL_GUARDED_BY(mu_);
  std::string log_path_ ABSL_GUARDED_BY(mu_);
  bool rootfs_mounted_ ABSL_GUARDED_BY(mu_) = false;
  // From Create until Delete. Its callback only publishes (never takes mu_), so it may be
  // destroyed under mu_.
  std::unique_ptr<process::OomWatcher> oom_watcher_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<Process>> execs_ ABSL_GUARDED_BY(mu_);
  int next_listener_ ABSL_GUARDED_BY(mu_) = 1;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace berth::shim::task
