// ContainerManager: berthd's container lifecycle on top of berth-containerd (dockerd's
// daemon/ container code). A container is a ContainerStore record plus, in berth-containerd's
// namespace (default "berth"), a container record, an active snapshot keyed by the container id
// and, while it runs, a task whose shim writes the json-file log under the container's dir.
//
// State flow (Docker's): created -> running <-> paused -> exited -> (restart policy) running ...
// -> removed. The task's exit is observed from berth-containerd's event stream ("/tasks/exit"),
// and, because events can be missed while berthd or berth-containerd is down, from a
// reconciliation with Tasks.Get at start and after every reconnect (live restore: nothing is
// stopped when berthd stops or starts).
//
// Blocking work (stop timeouts, waits) runs on a BlockingExecutor, never on gRPC threads.
// Thread safety: every public method is thread-safe. Per container, lifecycle operations are
// serialized by a per-container mutex; the store has its own lock.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "berth/engine/v1/containers.pb.h"
#include "common/containerd/client.h"
#include "common/executor/blocking_executor.h"
#include "engine/containers/store.h"

namespace berth::engine::containers {

namespace ev1 = ::berth::engine::v1;

// What Create needs to know about an image.
struct ResolvedImage {
  // "sha256:<config digest>".
  std::string id;
  // What the container record's `image` names: the normalized reference the user's resolved
  // to ("docker.io/library/busybox:latest"), or the id when given by id. Image removal
  // checks it to refuse deleting images in use.
  std::string name;
  // The OCI image config JSON.
  std::string config_json;
  // Committed snapshot holding the image's unpacked top layer (its chain id); empty for an
  // image without layers.
  std::string snapshot_parent;
};

// Looks images up for Create (implemented over engine/images).
class ImageResolver {
 public:
  virtual ~ImageResolver() = default;
  // NotFound ("No such image: ref") when the image is absent; InvalidArgument for a
  // malformed reference.
  virtual absl::StatusOr<ResolvedImage> Resolve(const std::string& ref) = 0;
};

// Everything the OCI spec of a new container is made from.
struct SpecRequest {
  std::string id;
  const ev1::ContainerConfig* config = nullptr;
  const ev1::HostConfig* host_config = nullptr;
  const ResolvedImage* image = nullptr;
  // Mounted rootfs of the container (for user/group lookups), may be empty.
  std::string rootfs_dir;
  // Files berthd generated for the container, bind-mounted into it.
  std::string hostname_path, hosts_path, resolv_conf_path;
  // Cgroup path, e.g. "/berth/<id>".
  std::string cgroups_path;
};
// Builds the config.json text (engine/oci); InvalidArgument for a config that cannot run
// (no command, bad user, limits above the host's).
using SpecBuilder = std::function<absl::StatusOr<std::string>(const SpecRequest&)>;

// Receives container events as Docker names them ("create", "start", "die", "destroy",
// "stop", "kill", "pause", "unpause", "restart", "rename", "update", "oom", "exec_create",
// "exec_start", "exec_die"), with the container's id and Docker's attributes (name, image,
// the container's labels, and per action exitCode, signal, oldName, execID). Called after the
// change is recorded, on any thread, possibly with a container's lock held: the sink must
// not call back into the manager.
using EventSink = std::function<void(const std::string& action, const std::string& id,
                                     std::map<std::string, std::string> attributes)>;

struct ManagerOptions {
  // Where container events go (berthd's event journal); none when empty.
  EventSink events;
  // berth-containerd namespace of berthd's objects.
  std::string ns = "berth";
  // Runtime when HostConfig.runtime is empty.
  std::string default_runtime = "berth-runc";
  std::string snapshotter = "overlayfs";
  // Parent of every container's cgroup.
  std::string cgroup_parent = "/berth";
  // Host files the per-container ones are derived from.
  std::string host_resolv_conf = "/etc/resolv.conf";
  // Restart-policy backoff (Docker's: 100ms doubling, reset after 10s of running, max 1m).
  absl::Duration restart_backoff_initial = absl::Milliseconds(100);
  absl::Duration restart_backoff_max = absl::Minutes(1);
  absl::Duration restart_reset_after = absl::Seconds(10);
};

class ContainerManager {
 public:
  ContainerManager(ManagerOptions options, ContainerStore* store,
                   containerd_client::Client* containerd, ImageResolver* images,
                   SpecBuilder spec_builder);
  // Stops the event monitor and waits for background work. Containers keep running.
  ~ContainerManager();

  // Starts following berth-containerd's events and reconciles every record with it (exits
  // missed while down, restart policies of containers that should run); returns after the
  // first reconciliation, or after 10s if berth-containerd does not answer. Call once.
  void Start();

  absl::StatusOr<ev1::CreateContainerResponse> Create(const ev1::CreateContainerRequest& req);
  absl::StatusOr<ev1::StartContainerResponse> StartContainer(const std::string& ref);
  absl::StatusOr<ev1::StopContainerResponse> Stop(const ev1::StopContainerRequest& req);
  absl::Status Restart(const ev1::RestartContainerRequest& req);
  absl::Status Kill(const std::string& ref, const std::string& signal);
  absl::Status Pause(const std::string& ref);
  absl::Status Unpause(const std::string& ref);
  absl::Status Remove(const ev1::RemoveContainerRequest& req);
  absl::Status Rename(const std::string& ref, const std::string& new_name);
  absl::StatusOr<ev1::UpdateContainerResponse> Update(const ev1::UpdateContainerRequest& req);
  absl::StatusOr<ev1::ListContainersResponse> List(const ev1::ListContainersRequest& req);
  absl::StatusOr<ev1::Container> Inspect(const std::string& ref);
  absl::StatusOr<ev1::ContainerTopResponse> Top(const std::string& ref);
  absl::StatusOr<ev1::PruneContainersResponse> Prune(const ev1::PruneContainersRequest& req);

  // Wait: resolves the container and registers the wait (then `registered` is called), and
  // calls `done` once with the exit (or an error). `done` may run on any thread, also before
  // WaitFor returns. Returns an error (and calls neither) when the container does not exist.
  absl::Status WaitFor(const std::string& ref, ev1::WaitCondition condition,
                       std::function<void(absl::StatusOr<ev1::ExitStatus>)> done);
  // (A waiter lives until the container exits or is removed; a cancelled client call just
  // drops the answer.)

  // Full id of a container reference.
  absl::StatusOr<std::string> ResolveId(const std::string& ref) const {
    return store_->Resolve(ref);
  }
  // The record (for Logs/Attach/Exec/Stats adapters).
  absl::StatusOr<ContainerRecord> Record(const std::string& id) const { return store_->Get(id); }

  // Exec bookkeeping for the Exec adapter: registers a new exec id on a running container.
  absl::StatusOr<std::string> NewExec(const std::string& id, const ev1::ExecConfig& config);
  void ExecStarted(const std::string& id, const std::string& exec_id, int pid);
  void ExecExited(const std::string& id, const std::string& exec_id, int exit_code);
  absl::StatusOr<ev1::ExecInfo> InspectExec(const std::string& exec_id);

  // Attach streams that must see a container's output from its first byte register here: the
  // hook runs during the next start, after the task exists and before it runs, and returns once
  // its stream is attached. Returns false (hook not kept) when the container runs already:
  // attach directly then. The token removes a hook that was never run (client went away).
  bool AddStartHook(const std::string& id, std::function<void()> hook, uint64_t* token);
  void RemoveStartHook(const std::string& id, uint64_t token);

  containerd_client::Client& containerd() { return *containerd_; }
  const ManagerOptions& options() const { return options_; }
  executor::BlockingExecutor& executor() { return executor_; }

 private:
  struct Waiter {
    ev1::WaitCondition condition;
    std::function<void(absl::StatusOr<ev1::ExitStatus>)> done;
  };
  struct RestartState {
    absl::Duration next_delay;
    int failures = 0;
  };

  // Serializes lifecycle operations on one container.
  std::shared_ptr<absl::Mutex> LockFor(const std::string& id);

  absl::Status StartLocked(const std::string& id, bool by_policy);
  absl::Status StopLocked(const std::string& id, const std::string& signal,
                          std::optional<absl::Duration> timeout, bool manual);
  // `task_deleted`: the caller has just deleted the container's task (an exit it handled), so
  // no Delete round trip is spent on it again.
  absl::Status RemoveLocked(const std::string& id, bool force, bool task_deleted = false);
  // Deletes the task and records how it ended; notifies waiters; applies the restart policy
  // or auto-remove. Idempotent (a second call for the same exit finds no task).
  void HandleExit(const std::string& id);
  // The same with the container's lock held; `apply_policy` false for user stops.
  void HandleExitLocked(const std::string& id, bool apply_policy);
  void NotifyWaiters(const std::string& id, const ev1::ExitStatus& exit, bool removed);
  // Publishes a container event with the record's name, image and labels as attributes.
  void Emit(const std::string& action, const ContainerRecord& r,
            std::map<std::string, std::string> extra = {});
  void Emit(const std::string& action, const std::string& id,
            std::map<std::string, std::string> extra = {});
  // Whether the restart policy wants the container started again after this exit.
  bool ShouldRestart(const ContainerRecord& r, int exit_code);
  void ScheduleRestart(const std::string& id, absl::Duration delay);

  // `at_start`: the first one of this berthd, which also applies Docker's restart-at-start
  // rules to containers that are not running.
  absl::Status Reconcile(bool at_start);
  void MonitorLoop();
  absl::StatusOr<bool> WaitStopped(const std::string& id, absl::Duration timeout);

  // Container operations wait (up to `timeout`) for a berth-containerd that is restarting
  // rather than failing while it comes back.
  std::unique_ptr<::grpc::ClientContext> Ctx(absl::Duration timeout = absl::Seconds(30)) const {
    return containerd_->Context(timeout, /*wait_for_ready=*/true);
  }

  const ManagerOptions options_;
  ContainerStore* const store_;
  containerd_client::Client* const containerd_;
  ImageResolver* const images_;
  const SpecBuilder spec_builder_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<absl::Mutex>> locks_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::vector<Waiter>> waiters_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, RestartState> restarts_ ABSL_GUARDED_BY(mu_);
  // exec id -> container id.
  absl::flat_hash_map<std::string, std::string> execs_ ABSL_GUARDED_BY(mu_);
  // Rootfs mounts of the containers' snapshots, from Prepare (or Mounts after a restart).
  absl::flat_hash_map<std::string, std::vector<::berth::types::v1::Mount>> mounts_
      ABSL_GUARDED_BY(mu_);
  // Containers whose last task was OOM-killed (from "/tasks/oom").
  absl::flat_hash_map<std::string, bool> oom_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, std::vector<std::pair<uint64_t, std::function<void()>>>>
      start_hooks_ ABSL_GUARDED_BY(mu_);
  uint64_t next_hook_token_ ABSL_GUARDED_BY(mu_) = 1;
  ::grpc::ClientContext* monitor_ctx_ ABSL_GUARDED_BY(mu_) = nullptr;

  absl::Notification first_reconcile_;
  executor::BlockingExecutor executor_;
  std::thread monitor_;
};

// Docker's "Up 2 minutes", "Exited (0) 3 hours ago", "Created" for `ps`.
std::string HumanStatus(const ev1::ContainerState& state, absl::Time now);
// Parses "SIGTERM", "TERM", "15" into a signal number; InvalidArgument otherwise.
absl::StatusOr<int> ParseSignal(const std::string& s);

}  // namespace berth::engine::containers
