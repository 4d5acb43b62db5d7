#include "containerd/tasks/tasks_service.h"

#include <signal.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "berth/containerd/events/v1/payloads.pb.h"
#include "berth/shim/task/v1/options.pb.h"
#include "common/grpc/status_mapping.h"
#include "common/status/status_macros.h"
#include "containerd/filters/filter.h"
#include "containerd/server/proto_time.h"
#include "containerd/server/request_context.h"
#include "containerd/tasks/attach_relay.h"
#include "containerd/tasks/command.h"
#include "glog/logging.h"

namespace berth::containerd::tasks {
namespace {

namespace shimpb = ::berth::shim::task::v1;
namespace typespb = ::berth::types::v1;
using server::Reply;
using server::RequestNamespace;

absl::Status CheckContainerId(const std::string &id) {
  if (id.empty())
    return absl::InvalidArgumentError("container_id must not be empty");
  return absl::OkStatus();
}

absl::Status CheckJsonObject(const std::string &bytes, absl::string_view what) {
  const nlohmann::json j =
      nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not a JSON object"));
  }
  return absl::OkStatus();
}

absl::Status CheckStdioPaths(const std::string &in, const std::string &out,
                             const std::string &err) {
  for (const std::string *p : {&in, &out, &err}) {
    if (!p->empty() && (*p)[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("stdio path ", *p, " is not absolute"));
    }
  }
  return absl::OkStatus();
}

// tasks.proto Exec: `[A-Za-z0-9][A-Za-z0-9_.-]{0,75}`.
absl::Status CheckExecId(const std::string &id) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
  };
  bool ok = !id.empty() && id.size() <= 76 && alnum(id[0]);
  for (size_t i = 1; ok && i < id.size(); ++i) {
    ok = alnum(id[i]) || id[i] == '_' || id[i] == '.' || id[i] == '-';
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "exec id \"", id, "\" does not match [A-Za-z0-9][A-Za-z0-9_.-]{0,75}"));
  }
  return absl::OkStatus();
}

// The List/Metrics filter value of a status.
std::string StatusName(typespb::ProcessStatus s) {
  switch (s) {
  case typespb::PROCESS_STATUS_CREATED:
    return "created";
  case typespb::PROCESS_STATUS_RUNNING:
    return "running";
  case typespb::PROCESS_STATUS_STOPPED:
    return "stopped";
  case typespb::PROCESS_STATUS_PAUSED:
    return "paused";
  case typespb::PROCESS_STATUS_PAUSING:
    return "pausing";
  default:
    return "unknown";
  }
}

absl::Status NoExecInDeadTask(const std::string &exec_id) {
  return absl::NotFoundError(
      absl::StrCat("no exec process ", exec_id, ": the task has stopped"));
}

absl::Status TaskStopped() {
  return absl::FailedPreconditionError("the task's init process has stopped");
}

// What Get answers for a task whose shim is gone.
void DeadProcess(const std::string &id, const std::string &bundle,
                 const TaskExit &exit, const TaskRecord &record,
                 typespb::Process *p) {
  p->set_container_id(id);
  p->set_pid(exit.pid);
  p->set_status(typespb::PROCESS_STATUS_STOPPED);
  p->set_exit_status(exit.exit_status);
  *p->mutable_exited_at() = server::ToProtoTime(exit.exited_at);
  p->set_bundle(bundle);
  p->set_log_path(record.log_path);
}

absl::Status ShimError(const ::grpc::Status &s) {
  return Annotate(grpc_util::FromGrpcStatus(s), "shim");
}

} // namespace

// ---- construction ----

TasksService::TasksService(metadata::Store *metadata,
                           TasksServiceOptions options)
    : metadata_(metadata), options_(std::move(options)),
      table_(TaskTableOptions{
          options_.state_dir, options_.shims, options_.publisher, metadata,
          options_.monitor_interval, options_.shim_exit_timeout}) {}

absl::StatusOr<std::unique_ptr<TasksService>>
TasksService::Create(metadata::Store *metadata, TasksServiceOptions options) {
  if (options.shims == nullptr || metadata == nullptr ||
      options.state_dir.empty()) {
    return absl::InvalidArgumentError(
        "tasks service needs a shim manager, metadata and state");
  }
  std::unique_ptr<TasksService> service(
      new TasksService(metadata, std::move(options)));
  service->table_.Recover();
  return service;
}

absl::StatusOr<bool> TasksService::HasTask(absl::string_view ns,
                                           absl::string_view id) {
  return table_.Has(std::string(ns), std::string(id));
}

absl::Status TasksService::WithShim(
    const ::grpc::CallbackServerContext &ctx, const std::string &ns,
    const std::string &container_id,
    const std::function<::grpc::Status(ShimStub &, ::grpc::ClientContext *)>
        &live,
    const std::function<absl::Status(const TaskExit &, const TaskRecord &)>
        &dead) {
  BERTH_RETURN_IF_ERROR(CheckContainerId(container_id));
  BERTH_ASSIGN_OR_RETURN(std::shared_ptr<Task> task,
                         table_.Find(ns, container_id));
  BERTH_ASSIGN_OR_RETURN(TaskView view, table_.Resolve(task));
  if (view.exit.has_value())
    return dead(*view.exit, view.record);
  ::grpc::ClientContext shim_ctx;
  shim_ctx.set_deadline(
      ShimDeadline(ctx.deadline(), options_.shim_call_timeout));
  const ::grpc::Status s = live(*view.stub, &shim_ctx);
  if (s.ok())
    return absl::OkStatus();
  if (std::optional<TaskExit> exit = table_.CheckShimGone(task, s)) {
    return dead(*exit, view.record);
  }
  return ShimError(s);
}

// ---- Create ----

absl::StatusOr<RuntimeConfig>
TasksService::ChooseRuntime(const std::string &ns,
                            const metadata::Container &container,
                            const std::string &runtime_path) {
  RuntimeConfig rt;
  rt.name = !runtime_path.empty()             ? runtime_path
            : !container.runtime.name.empty() ? container.runtime.name
                                              : "berth-runc";
  absl::StatusOr<std::string> binary =
      FindExecutableInPath(rt.name, options_.runtime_search_dirs);
  if (!binary.ok()) {
    if (binary.status().code() == absl::StatusCode::kNotFound) {
      return absl::FailedPreconditionError(absl::StrCat(
          "runtime binary ", rt.name, ": ", binary.status().message()));
    }
    return binary.status();
  }
  rt.binary = *binary;
  if (!container.runtime.options.empty()) {
    google::protobuf::Any any;
    if (!any.ParseFromString(container.runtime.options)) {
      return absl::DataLossError("stored runtime options do not parse");
    }
    shimpb::RuntimeOptions ro;
    if (!any.Is<shimpb::RuntimeOptions>() || !any.UnpackTo(&ro)) {
      return absl::InvalidArgumentError(
          absl::StrCat("runtime options of unknown type ", any.type_url()));
    }
    rt.root = ro.root();
    rt.systemd_cgroup = ro.systemd_cgroup();
    rt.shim_cgroup = ro.shim_cgroup();
  }
  if (rt.root.empty())
    rt.root = absl::StrCat(options_.runtime_root_base, "/", ns);
  return rt;
}

absl::Status TasksService::DoCreate(const std::string &ns,
                                    const v1::CreateRequest &req,
                                    v1::CreateResponse *resp) {
  BERTH_RETURN_IF_ERROR(CheckContainerId(req.container_id()));
  BERTH_RETURN_IF_ERROR(
      CheckStdioPaths(req.stdin(), req.stdout(), req.stderr()));
  shimpb::CreateOptions create_options;
  if (req.has_options()) {
    if (!req.options().Is<shimpb::CreateOptions>() ||
        !req.options().UnpackTo(&create_options)) {
      return absl::InvalidArgumentError(
          absl::StrCat("options of unknown type ", req.options().type_url()));
    }
  }
  BERTH_ASSIGN_OR_RETURN(
      const metadata::Container container,
      metadata_->WithReadTransaction([&](metadata::Transaction &tx) {
        return tx.GetContainer(ns, req.container_id());
      }));
  if (container.spec.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("container ", req.container_id(), " has no spec"));
  }
  BERTH_RETURN_IF_ERROR(CheckJsonObject(container.spec, "container spec"));
  if (req.has_checkpoint()) {
    return absl::UnimplementedError(
        "restoring a task from a checkpoint is not supported yet");
  }
  BERTH_ASSIGN_OR_RETURN(const RuntimeConfig runtime,
                         ChooseRuntime(ns, container, req.runtime_path()));

  BERTH_ASSIGN_OR_RETURN(std::shared_ptr<Task> task,
                         table_.Reserve(ns, req.container_id()));
  absl::Cleanup unreserve = [&] { table_.Erase(task); };
  const std::string &bundle = task->bundle();
  // A bundle no task owns is debris of an earlier failure (recovery could not
  // remove it).
  BERTH_RETURN_IF_ERROR(RemoveBundle(bundle), "remove stale bundle");
  TaskRecord record{ns, req.container_id(), runtime, ""};
  BERTH_RETURN_IF_ERROR(CreateBundle(bundle, record, container.spec),
                        "write bundle");
  absl::Cleanup remove_bundle = [&] {
    if (absl::Status s = RemoveBundle(bundle); !s.ok()) {
      LOG(WARNING) << "bundle not removed path=" << bundle << " error=\""
                   << s.message() << "\"";
    }
    RemoveNamespaceDirIfEmpty(options_.state_dir, ns);
  };

  const ShimSpec spec{ns, req.container_id(), bundle, runtime};
  BERTH_ASSIGN_OR_RETURN(ShimConnection conn, options_.shims->Start(spec));
  auto stub = std::shared_ptr<ShimStub>(shimpb::Task::NewStub(conn.channel));
  absl::Cleanup stop_shim = [&] {
    ::grpc::ClientContext ctx;
    ctx.set_deadline(ShimDeadline(std::chrono::system_clock::time_point::max(),
                                  options_.shim_call_timeout));
    shimpb::ShutdownRequest sreq;
    sreq.set_container_id(req.container_id());
    sreq.set_mode(shimpb::SHUTDOWN_MODE_NOW);
    shimpb::ShutdownResponse sresp;
    if (!stub->Shutdown(&ctx, sreq, &sresp).ok() ||
        !table_.WaitShimExit(conn.params)) {
      if (absl::StatusOr<TaskExit> c = options_.shims->Cleanup(spec); !c.ok()) {
        LOG(WARNING) << "failed task not cleaned up id=" << req.container_id()
                     << " error=\"" << c.status().message() << "\"";
      }
    }
  };

  shimpb::CreateRequest sreq;
  sreq.set_container_id(req.container_id());
  sreq.set_bundle(bundle);
  *sreq.mutable_rootfs_mounts() = req.rootfs_mounts();
  sreq.set_stdin(req.stdin());
  sreq.set_stdout(req.stdout());
  sreq.set_stderr(req.stderr());
  sreq.set_terminal(req.terminal());
  sreq.set_stdin_mode(req.stdin_mode());
  if (req.has_log_config())
    *sreq.mutable_log_config() = req.log_config();
  if (req.has_options())
    *sreq.mutable_options() = create_options;
  shimpb::CreateResponse sresp;
  {
    ::grpc::ClientContext ctx;
    ctx.set_deadline(ShimDeadline(std::chrono::system_clock::time_point::max(),
                                  options_.shim_call_timeout));
    const ::grpc::Status s = stub->Create(&ctx, sreq, &sresp);
    if (!s.ok())
      return Annotate(grpc_util::FromGrpcStatus(s), "create task");
  }
  record.log_path = sresp.log_path();
  if (absl::Status s = WriteTaskRecord(bundle, record); !s.ok()) {
    LOG(WARNING) << "task record not updated id=" << req.container_id()
                 << " error=\"" << s.message() << "\"";
  }
  {
    absl::MutexLock lock(&task->mu);
    task->record = record;
    task->params = conn.params;
    task->stub = stub;
    task->phase = Task::Phase::kLive;
  }
  std::move(stop_shim).Cancel();
  std::move(remove_bundle).Cancel();
  std::move(unreserve).Cancel();
  resp->set_container_id(req.container_id());
  resp->set_pid(sresp.pid());
  resp->set_pid_start_time(sresp.pid_start_time());
  resp->set_log_path(sresp.log_path());
  LOG(INFO) << "task created ns=" << ns << " id=" << req.container_id()
            << " pid=" << sresp.pid() << " runtime=" << runtime.binary;
  return absl::OkStatus();
}

::grpc::ServerUnaryReactor *
TasksService::Create(::grpc::CallbackServerContext *ctx,
                     const v1::CreateRequest *req, v1::CreateResponse *resp) {
  return server::ReplyOffThread(ctx, "tasks.Create", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    return DoCreate(ns, *req, resp);
  });
}

// ---- Delete ----

absl::Status TasksService::DoDelete(const std::string &ns,
                                    const v1::DeleteRequest &req,
                                    v1::DeleteResponse *resp) {
  BERTH_RETURN_IF_ERROR(CheckContainerId(req.container_id()));
  BERTH_ASSIGN_OR_RETURN(std::shared_ptr<Task> task,
                         table_.Find(ns, req.container_id()));
  BERTH_ASSIGN_OR_RETURN(TaskView view, table_.Resolve(task));
  absl::MutexLock lifecycle(&task->lifecycle_mu);
  {
    absl::MutexLock lock(&task->mu);
    if (task->deleting) {
      return absl::NotFoundError(
          absl::StrCat("container ", req.container_id(), " has no task"));
    }
    if (task->phase == Task::Phase::kDead)
      view.exit = task->exit;
  }
  resp->set_container_id(req.container_id());
  std::optional<shimpb::BootstrapParams> params;
  if (!view.exit.has_value()) {
    shimpb::DeleteRequest sreq;
    sreq.set_container_id(req.container_id());
    shimpb::DeleteResponse sresp;
    ::grpc::ClientContext ctx;
    ctx.set_deadline(ShimDeadline(std::chrono::system_clock::time_point::max(),
                                  options_.shim_call_timeout));
    const ::grpc::Status s = view.stub->Delete(&ctx, sreq, &sresp);
    if (s.ok()) {
      resp->set_pid(sresp.pid());
      resp->set_exit_status(sresp.exit_status());
      *resp->mutable_exited_at() = sresp.exited_at();
    } else if (s.error_code() == ::grpc::StatusCode::NOT_FOUND) {
      // The shim already deleted it (we died before finishing a Delete): its
      // exit record remains in the bundle.
      if (absl::StatusOr<TaskExit> exit = ReadExitFile(task->bundle());
          exit.ok()) {
        resp->set_pid(exit->pid);
        resp->set_exit_status(exit->exit_status);
        *resp->mutable_exited_at() = server::ToProtoTime(exit->exited_at);
      }
    } else {
      std::optional<shimpb::BootstrapParams> p;
      {
        absl::MutexLock lock(&task->mu);
        p = task->params;
      }
      absl::StatusOr<bool> alive = p.has_value() ? options_.shims->IsAlive(*p)
                                                 : absl::StatusOr<bool>(false);
      if (s.error_code() != ::grpc::StatusCode::UNAVAILABLE || !alive.ok() ||
          *alive) {
        return ShimError(s);
      }
      BERTH_ASSIGN_OR_RETURN(TaskExit exit, table_.MarkDeadLocked(task));
      view.exit = exit;
    }
  }
  {
    absl::MutexLock lock(&task->mu);
    task->deleting = true;
    params = task->params;
  }
  if (view.exit.has_value()) {
    resp->set_pid(view.exit->pid);
    resp->set_exit_status(view.exit->exit_status);
    *resp->mutable_exited_at() = server::ToProtoTime(view.exit->exited_at);
  } else {
    // The shim has nothing left to do: let it go.
    shimpb::ShutdownRequest sreq;
    sreq.set_container_id(req.container_id());
    sreq.set_mode(shimpb::SHUTDOWN_MODE_IF_IDLE);
    shimpb::ShutdownResponse sresp;
    ::grpc::ClientContext ctx;
    ctx.set_deadline(ShimDeadline(std::chrono::system_clock::time_point::max(),
                                  options_.shim_call_timeout));
    const ::grpc::Status s = view.stub->Shutdown(&ctx, sreq, &sresp);
    const bool leaving =
        (s.ok() || s.error_code() == ::grpc::StatusCode::UNAVAILABLE) &&
        params.has_value();
    if (leaving) {
      ShimSpec spec;
      {
        absl::MutexLock lock(&task->mu);
        spec = task->Spec();
      }
      table_.ExpectShimExit(*params, spec);
    } else {
      LOG(WARNING) << "shim did not shut down; cleaning up id="
                   << req.container_id() << " error=\"" << s.error_message()
                   << "\"";
      ShimSpec spec;
      {
        absl::MutexLock lock(&task->mu);
        spec = task->Spec();
      }
      if (absl::StatusOr<TaskExit> c = options_.shims->Cleanup(spec); !c.ok()) {
        LOG(ERROR) << "shim cleanup failed id=" << req.container_id()
                   << " error=\"" << c.status().message() << "\"";
      }
    }
  }
  absl::Status removed = RemoveBundle(task->bundle());
  table_.Erase(task);
  RemoveNamespaceDirIfEmpty(options_.state_dir, ns);
  if (!removed.ok()) {
    // Recovery retries it at the next start (a bundle without a live task is
    // discarded).
    LOG(ERROR) << "bundle not removed path=" << task->bundle() << " error=\""
               << removed.message() << "\"";
  }
  if (view.exit.has_value() && options_.publisher != nullptr) {
    // The shim that would have announced it is gone.
    ::berth::containerd::events::v1::TaskDelete event;
    event.set_container_id(req.container_id());
    event.set_id(req.container_id());
    event.set_pid(resp->pid());
    event.set_exit_status(resp->exit_status());
    *event.mutable_exited_at() = resp->exited_at();
    if (absl::Status s =
            options_.publisher->Publish(ns, "/tasks/delete", event);
        !s.ok()) {
      LOG(WARNING) << "publish /tasks/delete ns=" << ns << " error=\""
                   << s.message() << "\"";
    }
  }
  LOG(INFO) << "task deleted ns=" << ns << " id=" << req.container_id()
            << " exit_status=" << resp->exit_status();
  return absl::OkStatus();
}

::grpc::ServerUnaryReactor *
TasksService::Delete(::grpc::CallbackServerContext *ctx,
                     const v1::DeleteRequest *req, v1::DeleteResponse *resp) {
  return server::ReplyOffThread(ctx, "tasks.Delete", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    return DoDelete(ns, *req, resp);
  });
}

// ---- relayed unary calls ----

::grpc::ServerUnaryReactor *
TasksService::Start(::grpc::CallbackServerContext *ctx,
                    const v1::StartRequest *req, v1::StartResponse *resp) {
  return server::ReplyOffThread(ctx, "tasks.Start", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    return WithShim(
        *ctx, ns, req->container_id(),
        [&](ShimStub &stub, ::grpc::ClientContext *c) {
          shimpb::StartRequest s;
          s.set_container_id(req->container_id());
          s.set_exec_id(req->exec_id());
          shimpb::StartResponse r;
          ::grpc::Status st = stub.Start(c, s, &r);
          resp->set_pid(r.pid());
          return st;
        },
        [&](const TaskExit &, const TaskRecord &) {
          return req->exec_id().empty() ? TaskStopped()
                                        : NoExecInDeadTask(req->exec_id());
        });
  });
}

::grpc::ServerUnaryReactor *
TasksService::DeleteProcess(::grpc::CallbackServerContext *ctx,
                            const v1::DeleteProcessRequest *req,
                            v1::DeleteProcessResponse *resp) {
  return server::ReplyOffThread(ctx, "tasks.DeleteProcess", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    if (req->exec_id().empty()) {
      return absl::InvalidArgumentError(
          "exec_id must not be empty; use Delete for the task");
    }
    return WithShim(
        *ctx, ns, req->container_id(),
        [&](ShimStub &stub, ::grpc::ClientContext *c) {
          shimpb::DeleteRequest s;
          s.set_container_id(req->container_id());
          s.set_exec_id(req->exec_id());
          shimpb::DeleteResponse r;
          ::grpc::Status st = stub.Delete(c, s, &r);
          resp->set_container_id(req->container_id());
          resp->set_exec_id(req->exec_id());
          resp->set_pid(r.pid());
          resp->set_exit_status(r.exit_status());
          *resp->mutable_exited_at() = r.exited_at();
          return st;
        },
        [&](const TaskExit &, const TaskRecord &) {
          return NoExecInDeadTask(req->exec_id());
        });
  });
}

::grpc::ServerUnaryReactor *
TasksService::Get(::grpc::CallbackServerContext *ctx, const v1::GetRequest *req,
                  v1::GetResponse *resp) {
  return Reply(ctx, "tasks.Get", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    return WithShim(
        *ctx, ns, req->container_id(),
        [&](ShimStub &stub, ::grpc::ClientContext *c) {
          shimpb::StateRequest s;
          s.set_container_id(req->container_id());
          s.set_exec_id(req->exec_id());
          shimpb::StateResponse r;
          ::grpc::Status st = stub.State(c, s, &r);
          *resp->mutable_process() = r.process();
          return st;
        },
        [&](const TaskExit &exit, const TaskRecord &record) {
          if (!req->exec_id().empty())
            return NoExecInDeadTask(req->exec_id());
          DeadProcess(req->container_id(),
                      BundlePath(options_.state_dir, ns, req->container_id()),
                      exit, record, resp->mutable_process());
          return absl::OkStatus();
        });
  }());
}

::grpc::ServerUnaryReactor *
TasksService::Kill(::grpc::CallbackServerContext *ctx,
                   const v1::KillRequest *req, v1::KillResponse *) {
  return server::ReplyOffThread(ctx, "tasks.Kill", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    if (req->signal() == 0 || req->signal() > 64) {
      return absl::InvalidArgumentError(
          absl::StrCat("signal ", req->signal(), " is not 1..64"));
    }
    if (req->all() && !req->exec_id().empty()) {
      return absl::InvalidArgumentError(
          "`all` cannot be combined with an exec_id");
    }
    return WithShim(
        *ctx, ns, req->container_id(),
        [&](ShimStub &stub, ::grpc::ClientContext *c) {
          shimpb::KillRequest s;
          s.set_container_id(req->container_id());
          s.set_exec_id(req->exec_id());
          s.set_signal(req->signal());
          s.set_all(req->all());
          shimpb::KillResponse r;
          return stub.Kill(c, s, &r);
        },
        [&](const TaskExit &, const TaskRecord &) {
          return req->exec_id().empty() ? TaskStopped()
                                        : NoExecInDeadTask(req->exec_id());
        });
  });
}

::grpc::ServerUnaryReactor *
TasksService::Exec(::grpc::CallbackServerContext *ctx,
                   const v1::ExecRequest *req, v1::ExecResponse *) {
  return server::ReplyOffThread(ctx, "tasks.Exec", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_RETURN_IF_ERROR(CheckExecId(req->exec_id()));
    BERTH_RETURN_IF_ERROR(CheckJsonObject(req->spec(), "exec process spec"));
    BERTH_RETURN_IF_ERROR(
        CheckStdioPaths(req->stdin(), req->stdout(), req->stderr()));
    return WithShim(
        *ctx, ns, req->container_id(),
        [&](ShimStub &stub, ::grpc::ClientContext *c) {
          shimpb::ExecRequest s;
          s.set_container_id(req->container_id());
          s.set_exec_id(req->exec_id());
          s.set_spec(req->spec());
          s.set_stdin(req->stdin());
          s.set_stdout(req->stdout());
          s.set_stderr(req->stderr());
          s.set_terminal(req->terminal());
          s.set_stdin_mode(req->stdin_mode());
          shimpb::ExecResponse r;
          return stub.Exec(c, s, &r);
        },
        [&](const TaskExit &, const TaskRecord &) {
          return absl::FailedPreconditionError(
              "the task's init process is not running");
        });
  });
}

::grpc::ServerUnaryReactor *
TasksService::ResizePty(::grpc::CallbackServerContext *ctx,
                        const v1::ResizePtyRequest *req,
                        v1::ResizePtyResponse *) {
  return Reply(ctx, "tasks.ResizePty", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    return WithShim(
        *ctx, ns, req->container_id(),
        [&](ShimStub &stub, ::grpc::ClientContext *c) {
          shimpb::ResizePtyRequest s;
          s.set_container_id(req->container_id());
          s.set_exec_id(req->exec_id());
          s.set_width(req->width());
          s.set_height(req->height());
          shimpb::ResizePtyResponse r;
          return stub.ResizePty(c, s, &r);
        },
        [&](const TaskExit &, const TaskRecord &) {
          return req->exec_id().empty() ? TaskStopped()
                                        : NoExecInDeadTask(req->exec_id());
        });
  }());
}

::grpc::ServerUnaryReactor *
TasksService::CloseIO(::grpc::CallbackServerContext *ctx,
                      const v1::CloseIORequest *req, v1::CloseIOResponse *) {
  return Reply(ctx, "tasks.CloseIO", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    return WithShim(
        *ctx, ns, req->container_id(),
        [&](ShimStub &stub, ::grpc::ClientContext *c) {
          shimpb::CloseIORequest s;
          s.set_container_id(req->container_id());
          s.set_exec_id(req->exec_id());
          shimpb::CloseIOResponse r;
          return stub.CloseIO(c, s, &r);
        },
        [&](const TaskExit &, const TaskRecord &) {
          // Nothing reads the stdin of a process that is gone: closing it
          // succeeds.
          return req->exec_id().empty() ? absl::OkStatus()
                                        : NoExecInDeadTask(req->exec_id());
        });
  }());
}

::grpc::ServerUnaryReactor *
TasksService::Pause(::grpc::CallbackServerContext *ctx,
                    const v1::PauseRequest *req, v1::PauseResponse *) {
  return server::ReplyOffThread(ctx, "tasks.Pause", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    return WithShim(
        *ctx, ns, req->container_id(),
        [&](ShimStub &stub, ::grpc::ClientContext *c) {
          shimpb::PauseRequest s;
          s.set_container_id(req->container_id());
          shimpb::PauseResponse r;
          return stub.Pause(c, s, &r);
        },
        [&](const TaskExit &, const TaskRecord &) { return TaskStopped(); });
  });
}

::grpc::ServerUnaryReactor *
TasksService::Resume(::grpc::CallbackServerContext *ctx,
                     const v1::ResumeRequest *req, v1::ResumeResponse *) {
  return server::ReplyOffThread(ctx, "tasks.Resume", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    return WithShim(
        *ctx, ns, req->container_id(),
        [&](ShimStub &stub, ::grpc::ClientContext *c) {
          shimpb::ResumeRequest s;
          s.set_container_id(req->container_id());
          shimpb::ResumeResponse r;
          return stub.Resume(c, s, &r);
        },
        [&](const TaskExit &, const TaskRecord &) { return TaskStopped(); });
  });
}

::grpc::ServerUnaryReactor *
TasksService::ListPids(::grpc::CallbackServerContext *ctx,
                       const v1::ListPidsRequest *req,
                       v1::ListPidsResponse *resp) {
  return server::ReplyOffThread(ctx, "tasks.ListPids", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    return WithShim(
        *ctx, ns, req->container_id(),
        [&](ShimStub &stub, ::grpc::ClientContext *c) {
          shimpb::PidsRequest s;
          s.set_container_id(req->container_id());
          shimpb::PidsResponse r;
          ::grpc::Status st = stub.Pids(c, s, &r);
          *resp->mutable_processes() = r.processes();
          return st;
        },
        [&](const TaskExit &, const TaskRecord &) { return TaskStopped(); });
  });
}

::grpc::ServerUnaryReactor *
TasksService::Checkpoint(::grpc::CallbackServerContext *ctx,
                         const v1::CheckpointRequest *req,
                         v1::CheckpointResponse *) {
  return server::ReplyOffThread(ctx, "tasks.Checkpoint", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    if (req->has_options() && !req->options().Is<shimpb::CheckpointOptions>()) {
      return absl::InvalidArgumentError(
          absl::StrCat("options of unknown type ", req->options().type_url()));
    }
    BERTH_RETURN_IF_ERROR(CheckContainerId(req->container_id()));
    BERTH_ASSIGN_OR_RETURN(std::shared_ptr<Task> task,
                           table_.Find(ns, req->container_id()));
    BERTH_ASSIGN_OR_RETURN(TaskView view, table_.Resolve(task));
    if (view.exit.has_value())
      return TaskStopped();
    // Storing a CRIU image in the content store (and restoring it in Create) is
    // not built.
    return absl::UnimplementedError(
        "checkpoints are not supported by berth-containerd yet");
  });
}

::grpc::ServerUnaryReactor *
TasksService::Update(::grpc::CallbackServerContext *ctx,
                     const v1::UpdateRequest *req, v1::UpdateResponse *) {
  return server::ReplyOffThread(ctx, "tasks.Update", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_RETURN_IF_ERROR(CheckJsonObject(req->resources(), "resources"));
    return WithShim(
        *ctx, ns, req->container_id(),
        [&](ShimStub &stub, ::grpc::ClientContext *c) {
          shimpb::UpdateRequest s;
          s.set_container_id(req->container_id());
          s.set_resources(req->resources());
          s.mutable_annotations()->insert(req->annotations().begin(),
                                          req->annotations().end());
          shimpb::UpdateResponse r;
          return stub.Update(c, s, &r);
        },
        [&](const TaskExit &, const TaskRecord &) { return TaskStopped(); });
  });
}

// ---- List and Metrics ----

absl::Status TasksService::DoList(
    const ::grpc::CallbackServerContext &ctx, const std::string &ns,
    const google::protobuf::RepeatedPtrField<std::string> &filters,
    v1::ListResponse *list, v1::MetricsResponse *metrics) {
  BERTH_ASSIGN_OR_RETURN(const filters::Filter filter,
                         filters::Filter::ParseAll(filters));
  const std::vector<std::shared_ptr<Task>> tasks = table_.List(ns);
  struct Entry {
    std::shared_ptr<Task> task;
    TaskView view;
    bool unreachable = false;
    std::unique_ptr<::grpc::ClientContext> ctx;
    shimpb::StateRequest state_req;
    shimpb::StateResponse state;
    shimpb::StatsRequest stats_req;
    ::grpc::Status status;
    shimpb::StatsResponse stats;
  };
  std::vector<Entry> entries(tasks.size());
  const auto deadline =
      ShimDeadline(ctx.deadline(), options_.list_call_timeout);
  // Ask every shim at once: one slow shim costs one timeout, not one each.
  auto fan_out = [&](auto call) {
    absl::BlockingCounter pending(static_cast<int>(entries.size()));
    for (Entry &e : entries) {
      if (e.view.stub == nullptr) {
        pending.DecrementCount();
        continue;
      }
      e.ctx = std::make_unique<::grpc::ClientContext>();
      e.ctx->set_deadline(deadline);
      call(e, [&pending, &e](::grpc::Status s) {
        e.status = std::move(s);
        pending.DecrementCount();
      });
    }
    pending.Wait();
  };
  for (size_t i = 0; i < tasks.size(); ++i) {
    entries[i].task = tasks[i];
    absl::StatusOr<TaskView> view = table_.Resolve(tasks[i]);
    if (view.ok()) {
      entries[i].view = std::move(*view);
    } else {
      entries[i].unreachable = true;
      absl::MutexLock lock(&tasks[i]->mu);
      entries[i].view.record = tasks[i]->record;
    }
  }
  fan_out([&](Entry &e, std::function<void(::grpc::Status)> done) {
    e.state_req.set_container_id(e.task->id());
    e.view.stub->async()->State(e.ctx.get(), &e.state_req, &e.state,
                                std::move(done));
  });

  std::vector<Entry *> matched;
  for (Entry &e : entries) {
    typespb::Process p;
    if (e.view.exit.has_value()) {
      DeadProcess(e.task->id(), e.task->bundle(), *e.view.exit, e.view.record,
                  &p);
    } else if (e.unreachable) {
      p.set_container_id(e.task->id());
      p.set_bundle(e.task->bundle());
      p.set_status(typespb::PROCESS_STATUS_UNKNOWN);
    } else if (e.status.ok()) {
      p = e.state.process();
    } else if (std::optional<TaskExit> exit =
                   table_.CheckShimGone(e.task, e.status)) {
      e.view.exit = exit;
      e.view.stub.reset();
      DeadProcess(e.task->id(), e.task->bundle(), *exit, e.view.record, &p);
    } else {
      p.set_container_id(e.task->id());
      p.set_bundle(e.task->bundle());
      p.set_status(typespb::PROCESS_STATUS_UNKNOWN);
      e.unreachable = true;
    }
    const bool match = filter.Matches(
        [&](absl::Span<const std::string> path) -> std::optional<std::string> {
          if (path.size() != 1)
            return std::nullopt;
          if (path[0] == "container_id")
            return e.task->id();
          if (path[0] == "status")
            return StatusName(p.status());
          if (path[0] == "runtime")
            return e.view.record.runtime.name;
          return std::nullopt;
        });
    if (!match)
      continue;
    if (list != nullptr)
      *list->add_tasks() = std::move(p);
    const bool live = p.status() != typespb::PROCESS_STATUS_STOPPED &&
                      p.status() != typespb::PROCESS_STATUS_UNKNOWN &&
                      !e.unreachable && e.view.stub != nullptr;
    if (metrics != nullptr && live)
      matched.push_back(&e);
  }
  if (metrics == nullptr)
    return absl::OkStatus();

  for (Entry &e : entries) {
    if (std::find(matched.begin(), matched.end(), &e) == matched.end())
      e.view.stub.reset();
  }
  fan_out([&](Entry &e, std::function<void(::grpc::Status)> done) {
    e.stats_req.set_container_id(e.task->id());
    e.view.stub->async()->Stats(e.ctx.get(), &e.stats_req, &e.stats,
                                std::move(done));
  });
  for (Entry *e : matched) {
    if (!e->status.ok()) {
      VLOG(1) << "metrics left out id=" << e->task->id() << " error=\""
              << e->status.error_message() << "\"";
      continue;
    }
    typespb::TaskMetrics *m = metrics->add_metrics();
    *m = e->stats.metrics();
    m->set_container_id(e->task->id());
  }
  return absl::OkStatus();
}

::grpc::ServerUnaryReactor *
TasksService::List(::grpc::CallbackServerContext *ctx,
                   const v1::ListRequest *req, v1::ListResponse *resp) {
  return Reply(ctx, "tasks.List", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    return DoList(*ctx, ns, req->filters(), resp, nullptr);
  }());
}

::grpc::ServerUnaryReactor *
TasksService::Metrics(::grpc::CallbackServerContext *ctx,
                      const v1::MetricsRequest *req,
                      v1::MetricsResponse *resp) {
  return server::ReplyOffThread(ctx, "tasks.Metrics", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    return DoList(*ctx, ns, req->filters(), nullptr, resp);
  });
}

// ---- Wait ----

// Wait may block for as long as the process runs, so it does not hold a thread:
// the shim call is asynchronous, and a cancelled caller cancels it.
class WaitCall final : public ::grpc::ServerUnaryReactor {
public:
  WaitCall(TasksService *service, ::grpc::CallbackServerContext *ctx,
           const v1::WaitRequest *req, v1::WaitResponse *resp)
      : service_(service), ctx_(ctx), req_(req), resp_(resp) {}

  void Begin() {
    absl::Status s = [&]() -> absl::Status {
      BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx_));
      BERTH_RETURN_IF_ERROR(CheckContainerId(req_->container_id()));
      BERTH_ASSIGN_OR_RETURN(task_,
                             service_->table_.Find(ns, req_->container_id()));
      BERTH_ASSIGN_OR_RETURN(view_, service_->table_.Resolve(task_));
      return absl::OkStatus();
    }();
    if (!s.ok())
      return Done(s);
    if (view_.exit.has_value())
      return Answer(*view_.exit);
    // A cancel that arrives before the call starts still cancels it
    // (ClientContext keeps it). Nothing may touch `this` after the call
    // started: its callback may finish and free it.
    shim_req_.set_container_id(req_->container_id());
    shim_req_.set_exec_id(req_->exec_id());
    shim_ctx_.set_deadline(ctx_->deadline());
    view_.stub->async()->Wait(
        &shim_ctx_, &shim_req_, &shim_resp_,
        [this](::grpc::Status st) { OnShimDone(std::move(st)); });
  }

  void OnCancel() override { shim_ctx_.TryCancel(); }
  void OnDone() override { delete this; }

private:
  void OnShimDone(::grpc::Status s) {
    if (s.ok()) {
      resp_->set_exit_status(shim_resp_.exit_status());
      *resp_->mutable_exited_at() = shim_resp_.exited_at();
      return Done(absl::OkStatus());
    }
    if (std::optional<TaskExit> exit =
            service_->table_.CheckShimGone(task_, s)) {
      return Answer(*exit);
    }
    if (s.error_code() == ::grpc::StatusCode::UNAVAILABLE ||
        s.error_code() == ::grpc::StatusCode::CANCELLED) {
      // The shim restarts nothing, so this is our side going away (or the
      // caller leaving).
      return Done(absl::UnavailableError(
          absl::StrCat("wait interrupted, call again: ", s.error_message())));
    }
    Done(ShimError(s));
  }
  void Answer(const TaskExit &exit) {
    if (!req_->exec_id().empty())
      return Done(NoExecInDeadTask(req_->exec_id()));
    resp_->set_exit_status(exit.exit_status);
    *resp_->mutable_exited_at() = server::ToProtoTime(exit.exited_at);
    Done(absl::OkStatus());
  }
  void Done(const absl::Status &s) {
    VLOG(1) << "rpc=tasks.Wait code=" << absl::StatusCodeToString(s.code());
    Finish(grpc_util::ToGrpcStatus(s));
  }

  TasksService *const service_;
  ::grpc::CallbackServerContext *const ctx_;
  const v1::WaitRequest *const req_;
  v1::WaitResponse *const resp_;
  std::shared_ptr<Task> task_;
  TaskView view_;
  shimpb::WaitRequest shim_req_;
  shimpb::WaitResponse shim_resp_;
  ::grpc::ClientContext shim_ctx_;
};

::grpc::ServerUnaryReactor *
TasksService::Wait(::grpc::CallbackServerContext *ctx,
                   const v1::WaitRequest *req, v1::WaitResponse *resp) {
  auto *call = new WaitCall(this, ctx, req, resp);
  call->Begin();
  return call;
}

// ---- Attach ----

::grpc::ServerBidiReactor<v1::AttachRequest, v1::AttachResponse> *
TasksService::Attach(::grpc::CallbackServerContext *ctx) {
  return new AttachRelay(
      ctx,
      [this,
       ctx](const v1::AttachStart &start) -> absl::StatusOr<AttachTarget> {
        BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
        BERTH_RETURN_IF_ERROR(CheckContainerId(start.container_id()));
        BERTH_ASSIGN_OR_RETURN(std::shared_ptr<Task> task,
                               table_.Find(ns, start.container_id()));
        BERTH_ASSIGN_OR_RETURN(TaskView view, table_.Resolve(task));
        AttachTarget target;
        if (view.exit.has_value()) {
          if (!start.exec_id().empty())
            return NoExecInDeadTask(start.exec_id());
          target.exit = *view.exit;
        } else {
          target.stub = view.stub;
        }
        return target;
      });
}

} // namespace berth::containerd::tasks
