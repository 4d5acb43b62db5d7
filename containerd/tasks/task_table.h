// TaskTable: berth-containerd's in-memory view of its tasks, rebuilt from the
// bundles under
// `<state>/tasks` and the live shims when the daemon starts (bootstrap.proto,
// RECONNECT). It owns each task's connection to its shim and the rules for a
// shim that is gone (tasks.proto, "Shim failures"): when a call finds the shim
// process dead, or the monitor thread notices it, `berth-shim delete` cleans
// up, the task becomes STOPPED with the recovered exit (255 when unknown),
// "/tasks/exit" is published, and the task then only answers Get, Wait and
// Delete from that record. The gRPC adapter (tasks_service.h) does the request
// logic.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "berth/shim/task/v1/task.grpc.pb.h"
#include "containerd/events/publisher.h"
#include "containerd/metadata/store.h"
#include "containerd/tasks/bundle.h"
#include "containerd/tasks/shim_manager.h"

namespace berth::containerd::tasks {

using ShimStub = ::berth::shim::task::v1::Task::Stub;

// One task. Its identity is immutable; the rest is guarded by `mu`.
class Task {
public:
  enum class Phase {
    // Create is running: the task exists for AlreadyExists and HasTask, not for
    // other calls.
    kCreating,
    // A shim serves it (connected, or alive but not verified yet: `stub` is
    // null then).
    kLive,
    // The shim is gone and was cleaned up; `exit` holds the recovered exit.
    kDead,
  };

  Task(std::string ns, std::string id, std::string bundle)
      : ns_(std::move(ns)), id_(std::move(id)), bundle_(std::move(bundle)) {}

  const std::string &ns() const { return ns_; }
  const std::string &id() const { return id_; }
  const std::string &bundle() const { return bundle_; }

  absl::Mutex mu;
  Phase phase ABSL_GUARDED_BY(mu) = Phase::kCreating;
  TaskRecord record ABSL_GUARDED_BY(mu);
  std::shared_ptr<ShimStub> stub ABSL_GUARDED_BY(mu);
  std::optional<::berth::shim::task::v1::BootstrapParams>
      params ABSL_GUARDED_BY(mu);
  std::optional<TaskExit> exit ABSL_GUARDED_BY(mu);
  // Set while Delete tears the shim down (and for good once it did), so the
  // shim's exit is not taken for a death.
  bool deleting ABSL_GUARDED_BY(mu) = false;

  // Serializes the handling of a dead shim (one `berth-shim delete` at a time)
  // and Delete.
  absl::Mutex lifecycle_mu ABSL_ACQUIRED_BEFORE(mu);

  ShimSpec Spec() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return ShimSpec{ns_, id_, bundle_, record.runtime};
  }

private:
  const std::string ns_, id_, bundle_;
};

// How a call sees a task: served by a shim (`stub` set), or STOPPED for good
// (`exit` set).
struct TaskView {
  std::shared_ptr<ShimStub> stub;
  std::optional<TaskExit> exit;
  TaskRecord record;
};

struct TaskTableOptions {
  // berth-containerd's --state; bundles live in `<state_dir>/tasks`.
  std::string state_dir;
  // Not owned; required.
  ShimManager *shims = nullptr;
  events::Publisher *publisher = nullptr;
  metadata::Store *metadata = nullptr;
  // How often the monitor thread checks that every shim process still runs;
  // zero disables the thread (calls still notice a dead shim).
  absl::Duration monitor_interval = absl::Seconds(1);
  // How long Delete waits for a shim to exit after Shutdown.
  absl::Duration shim_exit_timeout = absl::Seconds(10);
};

class TaskTable {
public:
  // Records a shim that answered Shutdown: Delete does not wait for its process to end (a
  // gRPC server's exit takes tens of milliseconds, which every `run --rm` would pay); the
  // monitor checks that it did, and cleans it up if it did not within shim_exit_timeout.
  void ExpectShimExit(const ::berth::shim::task::v1::BootstrapParams &params,
                      const ShimSpec &spec);
  explicit TaskTable(TaskTableOptions options);
  // Stops the monitor thread.
  ~TaskTable();
  TaskTable(const TaskTable &) = delete;
  TaskTable &operator=(const TaskTable &) = delete;

  // Rebuilds the table from the bundles on disk, once, before serving:
  // re-adopts live shims, cleans up after dead ones (tasks then STOPPED) and
  // removes bundles whose container record is gone or whose task never got
  // created. Problems with one bundle are logged and do not stop the others.
  // Then starts the monitor thread.
  void Recover();

  // Claims (ns, id) for a Create. AlreadyExists when the container has a task
  // in any state.
  absl::StatusOr<std::shared_ptr<Task>> Reserve(const std::string &ns,
                                                const std::string &id);
  // Drops a claim or a deleted task.
  void Erase(const std::shared_ptr<Task> &task);

  // The task of container `id`; NotFound when there is none (or it is still
  // being created).
  absl::StatusOr<std::shared_ptr<Task>> Find(const std::string &ns,
                                             const std::string &id);
  // Whether the container has a task in any state (for Containers.Delete).
  bool Has(const std::string &ns, const std::string &id);
  // The namespace's tasks (not being created), ordered by container id.
  std::vector<std::shared_ptr<Task>> List(const std::string &ns);

  // How a call should see `task` now. A task whose shim was not verified yet is
  // reconnected; one whose shim turns out to be gone is cleaned up (then `exit`
  // is set). Unavailable when the shim is alive but does not answer.
  absl::StatusOr<TaskView> Resolve(const std::shared_ptr<Task> &task);

  // After a shim call failed with `status`: when it is UNAVAILABLE and the shim
  // process is gone, cleans up (as Resolve) and returns the exit; otherwise
  // nullopt (report the error).
  std::optional<TaskExit> CheckShimGone(const std::shared_ptr<Task> &task,
                                        const ::grpc::Status &status);

  // Cleans up after the task's dead shim (idempotent): `berth-shim delete`,
  // STOPPED with the recovered exit, "/tasks/exit" published. Errors from the
  // cleanup command.
  absl::StatusOr<TaskExit> MarkDead(const std::shared_ptr<Task> &task);
  // MarkDead for a caller that holds task->lifecycle_mu (Delete).
  absl::StatusOr<TaskExit> MarkDeadLocked(const std::shared_ptr<Task> &task)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(task->lifecycle_mu);

  // Waits until the shim named by `params` has exited, up to the shim exit
  // timeout.
  bool WaitShimExit(const ::berth::shim::task::v1::BootstrapParams &params);

  const TaskTableOptions &options() const { return options_; }

private:
  using Key = std::pair<std::string, std::string>;

  void RecoverBundle(const BundleRef &bundle);
  // Stops what may be left of a task (a shim, a container, a mount) and removes
  // its bundle.
  void DiscardBundle(const ShimSpec &spec,
                     const std::optional<ShimConnection> &conn);
  void MonitorLoop();
  // Shims told to shut down whose exit the monitor still has to see; past the deadline it
  // cleans them up (berth-shim delete kills a shim that hangs).
  struct Leaving {
    ::berth::shim::task::v1::BootstrapParams params;
    ShimSpec spec;
    absl::Time deadline;
  };
  void CheckLeaving();
  void PublishExit(const std::string &ns, const std::string &id,
                   const TaskExit &exit);

  const TaskTableOptions options_;
  absl::Mutex mu_;
  std::map<Key, std::shared_ptr<Task>> tasks_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread monitor_;
  absl::Mutex leaving_mu_;
  std::vector<Leaving> leaving_ ABSL_GUARDED_BY(leaving_mu_);
};

// A deadline for a shim call: the caller's deadline when it has one, capped at
// `cap` from now.
std::chrono::system_clock::time_point
ShimDeadline(std::chrono::system_clock::time_point caller_deadline,
             absl::Duration cap);

} // namespace berth::containerd::tasks
