#include "containerd/tasks/task_table.h"

#include <signal.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "berth/containerd/events/v1/payloads.pb.h"
#include "common/proc/proc.h"
#include "common/status/status_macros.h"
#include "containerd/server/proto_time.h"
#include "glog/logging.h"

namespace berth::containerd::tasks {
namespace {

namespace shimpb = ::berth::shim::task::v1;

constexpr absl::Duration kRecoverCallTimeout = absl::Seconds(10);

void SetDeadline(::grpc::ClientContext *ctx, absl::Duration timeout) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    absl::ToChronoMilliseconds(timeout));
}

} // namespace

std::chrono::system_clock::time_point
ShimDeadline(std::chrono::system_clock::time_point caller_deadline,
             absl::Duration cap) {
  const auto capped =
      std::chrono::system_clock::now() + absl::ToChronoMilliseconds(cap);
  return caller_deadline < capped ? caller_deadline : capped;
}

TaskTable::TaskTable(TaskTableOptions options) : options_(std::move(options)) {}

TaskTable::~TaskTable() {
  stop_.Notify();
  if (monitor_.joinable())
    monitor_.join();
}

absl::StatusOr<std::shared_ptr<Task>>
TaskTable::Reserve(const std::string &ns, const std::string &id) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = tasks_.try_emplace(Key(ns, id), nullptr);
  if (!inserted) {
    return absl::AlreadyExistsError(
        absl::StrCat("container ", id, " already has a task"));
  }
  it->second =
      std::make_shared<Task>(ns, id, BundlePath(options_.state_dir, ns, id));
  return it->second;
}

void TaskTable::Erase(const std::shared_ptr<Task> &task) {
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(Key(task->ns(), task->id()));
  if (it != tasks_.end() && it->second == task)
    tasks_.erase(it);
}

absl::StatusOr<std::shared_ptr<Task>> TaskTable::Find(const std::string &ns,
                                                      const std::string &id) {
  std::shared_ptr<Task> task;
  {
    absl::MutexLock lock(&mu_);
    auto it = tasks_.find(Key(ns, id));
    if (it != tasks_.end())
      task = it->second;
  }
  if (task != nullptr) {
    absl::MutexLock lock(&task->mu);
    if (task->phase != Task::Phase::kCreating)
      return task;
  }
  return absl::NotFoundError(absl::StrCat("container ", id, " has no task"));
}

bool TaskTable::Has(const std::string &ns, const std::string &id) {
  absl::MutexLock lock(&mu_);
  return tasks_.count(Key(ns, id)) > 0;
}

std::vector<std::shared_ptr<Task>> TaskTable::List(const std::string &ns) {
  std::vector<std::shared_ptr<Task>> candidates;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = tasks_.lower_bound(Key(ns, ""));
         it != tasks_.end() && it->first.first == ns; ++it) {
      candidates.push_back(it->second);
    }
  }
  std::vector<std::shared_ptr<Task>> out;
  for (auto &t : candidates) {
    absl::MutexLock lock(&t->mu);
    if (t->phase != Task::Phase::kCreating)
      out.push_back(t);
  }
  return out;
}

absl::StatusOr<TaskView> TaskTable::Resolve(const std::shared_ptr<Task> &task) {
  ShimSpec spec;
  {
    absl::MutexLock lock(&task->mu);
    TaskView view;
    view.record = task->record;
    if (task->phase == Task::Phase::kDead) {
      view.exit = task->exit;
      return view;
    }
    if (task->stub != nullptr) {
      view.stub = task->stub;
      return view;
    }
    spec = task->Spec();
  }
  // Not verified yet (the shim did not answer at recovery): try again.
  absl::StatusOr<ShimConnection> conn = options_.shims->Reconnect(spec);
  if (conn.ok()) {
    absl::MutexLock lock(&task->mu);
    task->params = conn->params;
    if (task->phase == Task::Phase::kLive && task->stub == nullptr) {
      task->stub = shimpb::Task::NewStub(conn->channel);
    }
  } else if (conn.status().code() == absl::StatusCode::kNotFound ||
             conn.status().code() == absl::StatusCode::kFailedPrecondition) {
    BERTH_RETURN_IF_ERROR(MarkDead(task).status());
  } else {
    return absl::UnavailableError(
        absl::StrCat("shim of task ", task->id(),
                     " does not answer: ", conn.status().message()));
  }
  absl::MutexLock lock(&task->mu);
  TaskView view;
  view.record = task->record;
  if (task->phase == Task::Phase::kDead) {
    view.exit = task->exit;
  } else {
    view.stub = task->stub;
  }
  return view;
}

std::optional<TaskExit>
TaskTable::CheckShimGone(const std::shared_ptr<Task> &task,
                         const ::grpc::Status &status) {
  if (status.error_code() != ::grpc::StatusCode::UNAVAILABLE)
    return std::nullopt;
  std::optional<shimpb::BootstrapParams> params;
  {
    absl::MutexLock lock(&task->mu);
    if (task->phase == Task::Phase::kDead)
      return task->exit;
    if (task->deleting)
      return std::nullopt;
    params = task->params;
  }
  if (params.has_value()) {
    absl::StatusOr<bool> alive = options_.shims->IsAlive(*params);
    if (!alive.ok() || *alive)
      return std::nullopt;
  }
  absl::StatusOr<TaskExit> exit = MarkDead(task);
  if (!exit.ok()) {
    LOG(ERROR) << "cleanup after dead shim ns=" << task->ns()
               << " id=" << task->id() << " error=\"" << exit.status().message()
               << "\"";
    return std::nullopt;
  }
  return *exit;
}

absl::StatusOr<TaskExit>
TaskTable::MarkDead(const std::shared_ptr<Task> &task) {
  absl::MutexLock lifecycle(&task->lifecycle_mu);
  return MarkDeadLocked(task);
}

absl::StatusOr<TaskExit>
TaskTable::MarkDeadLocked(const std::shared_ptr<Task> &task) {
  ShimSpec spec;
  {
    absl::MutexLock lock(&task->mu);
    if (task->phase == Task::Phase::kDead)
      return *task->exit;
    if (task->deleting) {
      return absl::FailedPreconditionError(
          absl::StrCat("task ", task->id(), " is being deleted"));
    }
    spec = task->Spec();
  }
  BERTH_ASSIGN_OR_RETURN(
      const TaskExit exit, options_.shims->Cleanup(spec),
      absl::StrCat("clean up after the shim of task ", task->id()));
  {
    absl::MutexLock lock(&task->mu);
    task->phase = Task::Phase::kDead;
    task->exit = exit;
    task->stub.reset();
  }
  LOG(INFO) << "task shim gone ns=" << task->ns() << " id=" << task->id()
            << " exit_status=" << exit.exit_status;
  PublishExit(task->ns(), task->id(), exit);
  return exit;
}

void TaskTable::PublishExit(const std::string &ns, const std::string &id,
                            const TaskExit &exit) {
  if (options_.publisher == nullptr)
    return;
  ::berth::containerd::events::v1::TaskExit event;
  event.set_container_id(id);
  event.set_id(id);
  event.set_pid(exit.pid);
  event.set_exit_status(exit.exit_status);
  *event.mutable_exited_at() = server::ToProtoTime(exit.exited_at);
  if (absl::Status s = options_.publisher->Publish(ns, "/tasks/exit", event);
      !s.ok()) {
    LOG(WARNING) << "publish /tasks/exit ns=" << ns << " error=\""
                 << s.message() << "\"";
  }
}

bool TaskTable::WaitShimExit(const shimpb::BootstrapParams &params) {
  const absl::Time deadline = absl::Now() + options_.shim_exit_timeout;
  for (;;) {
    absl::StatusOr<bool> alive = options_.shims->IsAlive(params);
    if (alive.ok() && !*alive)
      return true;
    if (absl::Now() > deadline)
      return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

void TaskTable::DiscardBundle(const ShimSpec &spec,
                              const std::optional<ShimConnection> &conn) {
  bool stopped = false;
  if (conn.has_value()) {
    auto stub = shimpb::Task::NewStub(conn->channel);
    ::grpc::ClientContext ctx;
    SetDeadline(&ctx, kRecoverCallTimeout);
    shimpb::ShutdownRequest req;
    req.set_container_id(spec.id);
    req.set_mode(shimpb::SHUTDOWN_MODE_NOW);
    shimpb::ShutdownResponse resp;
    const ::grpc::Status s = stub->Shutdown(&ctx, req, &resp);
    stopped = s.ok() && WaitShimExit(conn->params);
  }
  if (!stopped) {
    // Also right for a bundle whose shim never started: delete finds nothing to
    // kill.
    if (absl::StatusOr<TaskExit> c = options_.shims->Cleanup(spec); !c.ok()) {
      LOG(WARNING) << "stale task not cleaned up ns=" << spec.ns
                   << " id=" << spec.id << " error=\"" << c.status().message()
                   << "\"";
      return;
    }
  }
  if (absl::Status s = RemoveBundle(spec.bundle); !s.ok()) {
    LOG(WARNING) << "stale bundle not removed path=" << spec.bundle
                 << " error=\"" << s.message() << "\"";
    return;
  }
  RemoveNamespaceDirIfEmpty(options_.state_dir, spec.ns);
  LOG(INFO) << "stale task removed ns=" << spec.ns << " id=" << spec.id;
}

void TaskTable::Recover() {
  absl::StatusOr<std::vector<BundleRef>> bundles =
      ListBundles(options_.state_dir);
  if (!bundles.ok()) {
    LOG(ERROR) << "scan task bundles error=\"" << bundles.status().message()
               << "\"";
  } else {
    for (const BundleRef &b : *bundles)
      RecoverBundle(b);
  }
  if (options_.monitor_interval > absl::ZeroDuration()) {
    monitor_ = std::thread([this] { MonitorLoop(); });
  }
}

void TaskTable::RecoverBundle(const BundleRef &b) {
  absl::StatusOr<TaskRecord> record = ReadTaskRecord(b.path);
  if (!record.ok() || record->ns != b.ns || record->id != b.id) {
    // task.json is written before the shim is started, so without a readable
    // one no shim ever ran for this bundle.
    LOG(WARNING) << "removing task bundle without a valid task.json path="
                 << b.path;
    if (absl::Status s = RemoveBundle(b.path); !s.ok()) {
      LOG(WARNING) << "bundle not removed path=" << b.path << " error=\""
                   << s.message() << "\"";
    }
    RemoveNamespaceDirIfEmpty(options_.state_dir, b.ns);
    return;
  }
  const ShimSpec spec{b.ns, b.id, b.path, record->runtime};
  absl::StatusOr<ShimConnection> conn = options_.shims->Reconnect(spec);

  absl::StatusOr<metadata::Container> container =
      options_.metadata->WithReadTransaction([&](metadata::Transaction &tx) {
        return tx.GetContainer(b.ns, b.id);
      });
  if (!container.ok() &&
      container.status().code() == absl::StatusCode::kNotFound) {
    DiscardBundle(spec, conn.ok() ? std::optional<ShimConnection>(*conn)
                                  : std::nullopt);
    return;
  }

  if (conn.ok()) {
    // A shim whose init process was never created (we died between start and
    // Create) or already deleted (we died during Delete) holds no task any
    // more.
    auto stub = shimpb::Task::NewStub(conn->channel);
    ::grpc::ClientContext ctx;
    SetDeadline(&ctx, kRecoverCallTimeout);
    shimpb::StateRequest req;
    req.set_container_id(b.id);
    shimpb::StateResponse resp;
    const ::grpc::Status s = stub->State(&ctx, req, &resp);
    if (s.error_code() == ::grpc::StatusCode::NOT_FOUND) {
      DiscardBundle(spec, *conn);
      return;
    }
  }

  absl::StatusOr<std::shared_ptr<Task>> task = Reserve(b.ns, b.id);
  if (!task.ok())
    return; // a bundle is listed once per (ns, id)
  {
    absl::MutexLock lock(&(*task)->mu);
    (*task)->record = *record;
    (*task)->phase = Task::Phase::kLive;
    if (conn.ok()) {
      (*task)->params = conn->params;
      (*task)->stub = shimpb::Task::NewStub(conn->channel);
    }
  }
  if (conn.ok()) {
    LOG(INFO) << "task re-adopted ns=" << b.ns << " id=" << b.id
              << " shim_pid=" << conn->params.shim_pid();
    return;
  }
  const absl::StatusCode code = conn.status().code();
  if (code == absl::StatusCode::kNotFound ||
      code == absl::StatusCode::kFailedPrecondition) {
    absl::StatusOr<TaskExit> exit = MarkDead(*task);
    if (!exit.ok()) {
      LOG(ERROR) << "cleanup after dead shim ns=" << b.ns << " id=" << b.id
                 << " error=\"" << exit.status().message() << "\"";
    }
    return;
  }
  LOG(WARNING) << "task shim does not answer ns=" << b.ns << " id=" << b.id
               << " error=\"" << conn.status().message() << "\"";
}

void TaskTable::ExpectShimExit(const shimpb::BootstrapParams &params,
                               const ShimSpec &spec) {
  absl::MutexLock lock(&leaving_mu_);
  leaving_.push_back(
      Leaving{params, spec, absl::Now() + options_.shim_exit_timeout});
}

void TaskTable::CheckLeaving() {
  std::vector<Leaving> check;
  {
    absl::MutexLock lock(&leaving_mu_);
    check.swap(leaving_);
  }
  std::vector<Leaving> keep;
  for (Leaving &l : check) {
    absl::StatusOr<bool> alive = options_.shims->IsAlive(l.params);
    if (alive.ok() && !*alive)
      continue;
    if (absl::Now() < l.deadline) {
      keep.push_back(std::move(l));
      continue;
    }
    // Its task is deleted and its bundle gone: only the process is left. Kill it by its
    // identity (pid + start time), never a reused pid.
    LOG(WARNING) << "shim did not exit after shutdown; killing id=" << l.spec.id
                 << " pid=" << l.params.shim_pid();
    berth::proc::ProcessIdentity shim;
    shim.pid = static_cast<pid_t>(l.params.shim_pid());
    shim.start_time = l.params.shim_start_time();
    if (absl::StatusOr<bool> still = shim.IsAlive(); still.ok() && *still) {
      ::kill(shim.pid, SIGKILL);
    }
  }
  absl::MutexLock lock(&leaving_mu_);
  for (Leaving &l : keep)
    leaving_.push_back(std::move(l));
}

void TaskTable::MonitorLoop() {
  while (!stop_.WaitForNotificationWithTimeout(options_.monitor_interval)) {
    CheckLeaving();
    std::vector<std::shared_ptr<Task>> all;
    {
      absl::MutexLock lock(&mu_);
      for (auto &[key, task] : tasks_)
        all.push_back(task);
    }
    for (const auto &task : all) {
      if (stop_.HasBeenNotified())
        return;
      std::optional<shimpb::BootstrapParams> params;
      bool unverified = false;
      {
        absl::MutexLock lock(&task->mu);
        if (task->phase != Task::Phase::kLive || task->deleting)
          continue;
        params = task->params;
        unverified = task->stub == nullptr;
      }
      if (unverified) {
        (void)Resolve(task); // reconnects, or cleans up when the shim is gone
        continue;
      }
      if (!params.has_value())
        continue;
      absl::StatusOr<bool> alive = options_.shims->IsAlive(*params);
      if (!alive.ok() || *alive)
        continue;
      {
        absl::MutexLock lock(&task->mu);
        if (task->deleting)
          continue;
      }
      if (absl::StatusOr<TaskExit> exit = MarkDead(task); !exit.ok()) {
        LOG(ERROR) << "cleanup after dead shim ns=" << task->ns()
                   << " id=" << task->id() << " error=\""
                   << exit.status().message() << "\"";
      }
    }
  }
}

} // namespace berth::containerd::tasks
