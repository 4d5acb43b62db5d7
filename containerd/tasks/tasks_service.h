// gRPC adapter for berth.containerd.tasks.v1.Tasks
// (proto/berth/containerd/tasks/v1/ tasks.proto): validates requests, resolves
// the task in the call's namespace through the TaskTable and relays to the
// task's shim (berth.shim.task.v1.Task), answering for tasks whose shim is gone
// from their recorded exit. Create writes the bundle from the container record
// and starts the shim; Delete ends the shim and removes the bundle.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "berth/containerd/tasks/v1/tasks.grpc.pb.h"
#include "common/executor/blocking_executor.h"
#include "containerd/events/publisher.h"
#include "containerd/metadata/store.h"
#include "containerd/tasks/shim_manager.h"
#include "containerd/tasks/task_table.h"

namespace berth::containerd::tasks {

struct TasksServiceOptions {
  // berth-containerd's --state (bundles under `<state_dir>/tasks`).
  std::string state_dir;
  // Not owned; required.
  ShimManager *shims = nullptr;
  events::Publisher *publisher = nullptr;
  // Runtime root of a container whose RuntimeOptions.root is empty:
  // `<base>/<namespace>` (options.proto).
  std::string runtime_root_base = "/run/berth-runc";
  // Directories searched for a runtime given by name, before $PATH.
  std::vector<std::string> runtime_search_dirs;
  // Bound on one relayed shim call (Wait excepted: it takes the caller's
  // deadline only).
  absl::Duration shim_call_timeout = absl::Seconds(60);
  // Bound on each shim's answer when List and Metrics ask every shim.
  absl::Duration list_call_timeout = absl::Seconds(5);
  // See TaskTableOptions.
  absl::Duration monitor_interval = absl::Seconds(1);
  absl::Duration shim_exit_timeout = absl::Seconds(10);
};

class TasksService final : public v1::Tasks::CallbackService {
public:
  // Builds the service and recovers the tasks found under the state dir
  // (TaskTable::Recover), which it does before returning, so it can be served
  // right away. `metadata` is not owned.
  static absl::StatusOr<std::unique_ptr<TasksService>>
  Create(metadata::Store *metadata, TasksServiceOptions options);

  // Whether container `id` of namespace `ns` has a task in any state (for
  // Containers.Delete).
  absl::StatusOr<bool> HasTask(absl::string_view ns, absl::string_view id);

  ::grpc::ServerUnaryReactor *Create(::grpc::CallbackServerContext *ctx,
                                     const v1::CreateRequest *req,
                                     v1::CreateResponse *resp) override;
  ::grpc::ServerUnaryReactor *Start(::grpc::CallbackServerContext *ctx,
                                    const v1::StartRequest *req,
                                    v1::StartResponse *resp) override;
  ::grpc::ServerUnaryReactor *Delete(::grpc::CallbackServerContext *ctx,
                                     const v1::DeleteRequest *req,
                                     v1::DeleteResponse *resp) override;
  ::grpc::ServerUnaryReactor *
  DeleteProcess(::grpc::CallbackServerContext *ctx,
                const v1::DeleteProcessRequest *req,
                v1::DeleteProcessResponse *resp) override;
  ::grpc::ServerUnaryReactor *Get(::grpc::CallbackServerContext *ctx,
                                  const v1::GetRequest *req,
                                  v1::GetResponse *resp) override;
  ::grpc::ServerUnaryReactor *List(::grpc::CallbackServerContext *ctx,
                                   const v1::ListRequest *req,
                                   v1::ListResponse *resp) override;
  ::grpc::ServerUnaryReactor *Kill(::grpc::CallbackServerContext *ctx,
                                   const v1::KillRequest *req,
                                   v1::KillResponse *resp) override;
  ::grpc::ServerUnaryReactor *Exec(::grpc::CallbackServerContext *ctx,
                                   const v1::ExecRequest *req,
                                   v1::ExecResponse *resp) override;
  ::grpc::ServerUnaryReactor *ResizePty(::grpc::CallbackServerContext *ctx,
                                        const v1::ResizePtyRequest *req,
                                        v1::ResizePtyResponse *resp) override;
  ::grpc::ServerUnaryReactor *CloseIO(::grpc::CallbackServerContext *ctx,
                                      const v1::CloseIORequest *req,
                                      v1::CloseIOResponse *resp) override;
  ::grpc::ServerUnaryReactor *Pause(::grpc::CallbackServerContext *ctx,
                                    const v1::PauseRequest *req,
                                    v1::PauseResponse *resp) override;
  ::grpc::ServerUnaryReactor *Resume(::grpc::CallbackServerContext *ctx,
                                     const v1::ResumeRequest *req,
                                     v1::ResumeResponse *resp) override;
  ::grpc::ServerUnaryReactor *ListPids(::grpc::CallbackServerContext *ctx,
                                       const v1::ListPidsRequest *req,
                                       v1::ListPidsResponse *resp) override;
  ::grpc::ServerUnaryReactor *Checkpoint(::grpc::CallbackServerContext *ctx,
                                         const v1::CheckpointRequest *req,
                                         v1::CheckpointResponse *resp) override;
  ::grpc::ServerUnaryReactor *Update(::grpc::CallbackServerContext *ctx,
                                     const v1::UpdateRequest *req,
                                     v1::UpdateResponse *resp) override;
  ::grpc::ServerUnaryReactor *Metrics(::grpc::CallbackServerContext *ctx,
                                      const v1::MetricsRequest *req,
                                      v1::MetricsResponse *resp) override;
  ::grpc::ServerUnaryReactor *Wait(::grpc::CallbackServerContext *ctx,
                                   const v1::WaitRequest *req,
                                   v1::WaitResponse *resp) override;
  ::grpc::ServerBidiReactor<v1::AttachRequest, v1::AttachResponse> *
  Attach(::grpc::CallbackServerContext *ctx) override;

private:
  TasksService(metadata::Store *metadata, TasksServiceOptions options);

  absl::Status DoCreate(const std::string &ns, const v1::CreateRequest &req,
                        v1::CreateResponse *resp);
  absl::Status DoDelete(const std::string &ns, const v1::DeleteRequest &req,
                        v1::DeleteResponse *resp);
  absl::Status
  DoList(const ::grpc::CallbackServerContext &ctx, const std::string &ns,
         const google::protobuf::RepeatedPtrField<std::string> &filters,
         v1::ListResponse *list, v1::MetricsResponse *metrics);
  // The runtime a new task of `container` gets.
  absl::StatusOr<RuntimeConfig>
  ChooseRuntime(const std::string &ns, const metadata::Container &container,
                const std::string &runtime_path);

  // Relays one unary call to the task's shim. `live` makes the call (with a
  // context carrying the deadline); `dead` answers for a task whose shim is
  // gone.
  absl::Status
  WithShim(const ::grpc::CallbackServerContext &ctx, const std::string &ns,
           const std::string &container_id,
           const std::function<::grpc::Status(
               ShimStub &stub, ::grpc::ClientContext *shim_ctx)> &live,
           const std::function<absl::Status(const TaskExit &exit,
                                            const TaskRecord &record)> &dead);

  friend class WaitCall;
  friend class AttachCall;

  metadata::Store *const metadata_;
  const TasksServiceOptions options_;
  TaskTable table_;
  // Runs the handlers that wait on a shim or the runtime (server::ReplyOffThread): on gRPC's
  // callback threads (two on a 2-core machine) a ~40 ms Create made concurrent activations
  // queue. Last member: destroyed first, it waits for their threads while everything they use
  // still exists.
  executor::BlockingExecutor blocking_;
};

} // namespace berth::containerd::tasks
