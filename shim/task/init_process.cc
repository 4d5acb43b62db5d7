// TaskService: the init process's runtime operations (Create, Start, Delete, Pause/Resume,
// Update, Pids, Stats, Checkpoint) and the rootfs mounts.
#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "berth/containerd/events/v1/payloads.pb.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/mount/mount.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"
#include "shim/process/cgroup_stats.h"
#include "shim/task/rpc_util.h"
#include "shim/task/task_service.h"

namespace berth::shim::task {
namespace {

namespace ev1 = ::berth::containerd::events::v1;
namespace tv1 = ::berth::types::v1;
using nlohmann::json;

mount_util::Mount FromProto(const tv1::Mount& m) {
  return mount_util::Mount{m.type(), m.source(), m.target(),
                           std::vector<std::string>(m.options().begin(), m.options().end())};
}

bool InPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin", ':',
                                              absl::SkipEmpty())) {
    if (::access(absl::StrCat(dir, "/", name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace

absl::Status TaskService::UnmountRootfs() {
  {
    absl::MutexLock lock(&mu_);
    if (!rootfs_mounted_) return absl::OkStatus();
  }
  absl::Status s = mount_util::UnmountAll(rootfs());
  if (!s.ok()) {
    LOG(WARNING) << "rootfs busy, detaching it error=\"" << s.message() << "\"";
    BERTH_RETURN_IF_ERROR(mount_util::UnmountAll(rootfs(), MNT_DETACH), "unmount rootfs");
  }
  absl::MutexLock lock(&mu_);
  rootfs_mounted_ = false;
  return absl::OkStatus();
}

void TaskService::WatchOom(pid_t pid) {
  // Runs on the loop thread and only publishes: it never takes mu_ (see oom_watcher_).
  auto on_oom = [this] {
    LOG(INFO) << "container oom id=" << options_.id;
    ev1::TaskOOM ev;
    ev.set_container_id(options_.id);
    Publish("/tasks/oom", ev);
  };
  absl::StatusOr<process::CgroupDirs> dirs = process::FindCgroupDirs(pid);
  absl::StatusOr<std::unique_ptr<process::OomWatcher>> watcher =
      dirs.ok() ? process::OomWatcher::Create(options_.loop, *dirs, std::move(on_oom))
                : dirs.status();
  if (!watcher.ok()) {
    LOG(WARNING) << "oom events off id=" << options_.id << " error=\""
                 << watcher.status().message() << "\"";
    return;
  }
  VLOG(1) << "oom watch id=" << options_.id << " cgroup=" << dirs->memory;
  absl::MutexLock lock(&mu_);
  oom_watcher_ = std::move(*watcher);
}

absl::Status TaskService::DoCreate(const v1::CreateRequest& req, v1::CreateResponse* resp) {
  if (req.bundle() != options_.bundle) {
    return absl::InvalidArgumentError(
        absl::StrCat("bundle ", req.bundle(), " is not the shim's bundle ", options_.bundle));
  }
  {
    absl::MutexLock lock(&mu_);
    if (init_.phase != Phase::kNone) return absl::AlreadyExistsError("task already created");
  }
  if (options_.on_create) options_.on_create();
  io::ProcessIoOptions io_options;
  io_options.stdin_path = req.stdin();
  io_options.stdout_path = req.stdout();
  io_options.stderr_path = req.stderr();
  io_options.terminal = req.terminal();
  io_options.stdin_mode = req.stdin_mode();
  io_options.uid = req.options().io_uid();
  io_options.gid = req.options().io_gid();
  BERTH_RETURN_IF_ERROR(io::ValidateStdio(io_options));
  if (!req.checkpoint().empty()) {
    struct stat st;
    if (::stat(req.checkpoint().c_str(), &st) != 0) {
      return absl::NotFoundError("checkpoint directory " + req.checkpoint() + " not found");
    }
    // TODO(shim): #4 restore through the runtime's `restore` once checkpoints are supported.
    return absl::UnimplementedError("restoring a checkpoint is not supported by this shim");
  }

  const tv1::LogConfig& lc = req.log_config();
  std::string log_path;
  if (lc.driver() != tv1::LOG_DRIVER_NONE) {
    log_path = lc.path().empty() ? absl::StrCat(options_.bundle, "/", options_.id, "-json.log")
                                 : lc.path();
    if (log_path[0] != '/') {
      return absl::InvalidArgumentError(absl::StrCat("log path ", log_path, " is not absolute"));
    }
    io::JsonFileLoggerOptions lo;
    lo.path = log_path;
    lo.max_size_bytes = lc.max_size_bytes();
    lo.max_files = lc.max_files();
    auto logger = io::JsonFileLogger::Create(lo);
    if (!logger.ok()) {
      absl::Status s = logger.status();
      if (s.code() == absl::StatusCode::kNotFound) s = absl::InvalidArgumentError(s.message());
      return absl::Status(s.code(), absl::StrCat("open container log: ", s.message()));
    }
    io_options.logger = std::move(*logger);
  }

  // Side effects from here on; each is undone if a later step fails.
  if (req.rootfs_mounts_size() > 0) {
    BERTH_RETURN_IF_ERROR(fs::MakeDirs(rootfs(), 0755), "rootfs");
    std::vector<mount_util::Mount> mounts;
    for (const tv1::Mount& m : req.rootfs_mounts()) mounts.push_back(FromProto(m));
    absl::Status s = mount_util::MountAll(mounts, rootfs());
    if (!s.ok()) return absl::InternalError(absl::StrCat("mount rootfs: ", s.message()));
    absl::MutexLock lock(&mu_);
    rootfs_mounted_ = true;
  }
  absl::Cleanup unmount = [this] { (void)UnmountRootfs(); };

  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<io::ProcessIo> pio,
                         io::ProcessIo::Create(options_.loop, io_options));
  process::CreateOptions co;
  co.bundle = options_.bundle;
  co.pid_file = options_.bundle + "/init.pid";
  co.console_socket = pio->console_socket();
  co.no_pivot = req.options().no_pivot_root();
  co.no_new_keyring = req.options().no_new_keyring();
  co.stdio = pio->runtime_stdio();
  BERTH_RETURN_IF_ERROR(options_.runtime->Create(options_.id, co));
  absl::Cleanup undo = [&] { (void)options_.runtime->Delete(options_.id, /*force=*/true); };
  BERTH_RETURN_IF_ERROR(pio->Start(), "stdio");
  BERTH_ASSIGN_OR_RETURN(pid_t pid, process::ReadPidFile(co.pid_file), "read init pid");
  absl::StatusOr<proc::ProcessIdentity> who = proc::ProcessIdentity::Current(pid);
  {
    absl::MutexLock lock(&mu_);
    init_.who.pid = pid;
    init_.who.start_time = who.ok() ? who->start_time : 0;
    init_.stdin_path = req.stdin();
    init_.stdout_path = req.stdout();
    init_.stderr_path = req.stderr();
    init_.terminal = req.terminal();
    init_.stdin_mode = pio->stdin_mode();
    init_.io = std::move(pio);
    log_path_ = log_path;
    init_.phase = Phase::kCreated;
    // It may have died (and been reaped) before its pid was known here.
    absl::StatusOr<int> early = options_.reaper->TakeIfReaped(pid);
    if (early.ok() && !init_.exit.has_value()) RecordExitLocked(&init_, *early, absl::Now());
    resp->set_pid(static_cast<uint32_t>(pid));
    resp->set_pid_start_time(init_.who.start_time);
    resp->set_log_path(log_path);
  }
  std::move(undo).Cancel();
  std::move(unmount).Cancel();
  WatchOom(pid);
  LOG(INFO) << "container created id=" << options_.id << " pid=" << pid;
  ev1::TaskCreate ev;
  ev.set_container_id(options_.id);
  ev.set_bundle(options_.bundle);
  *ev.mutable_rootfs_mounts() = req.rootfs_mounts();
  ev.mutable_io()->set_stdin(req.stdin());
  ev.mutable_io()->set_stdout(req.stdout());
  ev.mutable_io()->set_stderr(req.stderr());
  ev.mutable_io()->set_terminal(req.terminal());
  ev.set_pid(static_cast<uint32_t>(pid));
  Publish("/tasks/create", ev);
  return absl::OkStatus();
}

absl::Status TaskService::DoStartInit(v1::StartResponse* resp) {
  {
    absl::MutexLock lock(&mu_);
    BERTH_ASSIGN_OR_RETURN(Process * p, FindLocked(""));
    switch (p->phase) {
      case Phase::kStopped:
        return absl::FailedPreconditionError("task has stopped");
      case Phase::kCreated:
        break;
      default:  // running or paused
        resp->set_pid(static_cast<uint32_t>(p->who.pid));
        return absl::OkStatus();
    }
  }
  BERTH_RETURN_IF_ERROR(options_.runtime->Start(options_.id));
  uint32_t pid;
  {
    absl::MutexLock lock(&mu_);
    init_.started_at = absl::Now();
    if (init_.phase == Phase::kCreated) init_.phase = Phase::kRunning;
    pid = static_cast<uint32_t>(init_.who.pid);
  }
  resp->set_pid(pid);
  LOG(INFO) << "container started id=" << options_.id << " pid=" << pid;
  ev1::TaskStart ev;
  ev.set_container_id(options_.id);
  ev.set_pid(pid);
  Publish("/tasks/start", ev);
  return absl::OkStatus();
}

absl::Status TaskService::ForceDelete() {
  absl::Status s = options_.runtime->Delete(options_.id, /*force=*/true);
  if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
  if (!AwaitExit(&init_, absl::Seconds(10))) {
    return absl::DeadlineExceededError("init process did not exit after delete --force");
  }
  std::shared_ptr<io::ProcessIo> pio;
  {
    absl::MutexLock lock(&mu_);
    pio = std::move(init_.io);
  }
  if (pio) {
    (void)pio->AwaitOutputDone(absl::Seconds(2));
    pio->Close();
  }
  return UnmountRootfs();
}

absl::Status TaskService::DoDeleteInit(v1::DeleteResponse* resp) {
  Phase phase;
  {
    absl::MutexLock lock(&mu_);
    BERTH_ASSIGN_OR_RETURN(Process * p, FindLocked(""));
    phase = p->phase;
    if (phase == Phase::kRunning || phase == Phase::kPaused) {
      return absl::FailedPreconditionError("task is running");
    }
    for (const auto& [id, e] : execs_) {
      if (e->phase == Phase::kRunning) {
        return absl::FailedPreconditionError(absl::StrCat("exec ", id, " is running"));
      }
    }
  }
  if (phase == Phase::kCreated) {
    BERTH_RETURN_IF_ERROR(ForceDelete(), "delete created task");
  } else {
    absl::Status s = options_.runtime->Delete(options_.id, /*force=*/false);
    if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
    // The container is gone, so its output reaches EOF: the log is complete once it has.
    std::shared_ptr<io::ProcessIo> pio;
    {
      absl::MutexLock lock(&mu_);
      pio = std::move(init_.io);
    }
    if (pio) {
      if (!pio->AwaitOutputDone(absl::Seconds(5))) {
        LOG(WARNING) << "container output still open at delete id=" << options_.id;
      }
      pio->Close();
    }
    BERTH_RETURN_IF_ERROR(UnmountRootfs());
  }
  ev1::TaskDelete ev;
  {
    absl::MutexLock lock(&mu_);
    oom_watcher_.reset();
    init_.phase = Phase::kDeleted;
    resp->set_pid(static_cast<uint32_t>(init_.who.pid));
    if (init_.exit.has_value()) {
      resp->set_exit_status(init_.exit->exit_status());
      *resp->mutable_exited_at() = init_.exit->exited_at();
    }
    ev.set_container_id(options_.id);
    ev.set_id(options_.id);
    ev.set_pid(resp->pid());
    ev.set_exit_status(resp->exit_status());
    *ev.mutable_exited_at() = resp->exited_at();
  }
  LOG(INFO) << "container deleted id=" << options_.id;
  Publish("/tasks/delete", ev);
  return absl::OkStatus();
}

absl::Status TaskService::DoPauseResume(bool pause) {
  {
    absl::MutexLock lock(&mu_);
    BERTH_ASSIGN_OR_RETURN(Process * p, FindLocked(""));
    const Phase already = pause ? Phase::kPaused : Phase::kRunning;
    const Phase from = pause ? Phase::kRunning : Phase::kPaused;
    if (p->phase == already) return absl::OkStatus();
    if (p->phase != from) {
      return absl::FailedPreconditionError(pause ? "task is not running" : "task is not paused");
    }
  }
  BERTH_RETURN_IF_ERROR(pause ? options_.runtime->Pause(options_.id)
                              : options_.runtime->Resume(options_.id));
  {
    absl::MutexLock lock(&mu_);
    if (init_.phase == (pause ? Phase::kRunning : Phase::kPaused)) {
      init_.phase = pause ? Phase::kPaused : Phase::kRunning;
    }
  }
  LOG(INFO) << "container " << (pause ? "paused" : "resumed") << " id=" << options_.id;
  if (pause) {
    ev1::TaskPaused ev;
    ev.set_container_id(options_.id);
    Publish("/tasks/paused", ev);
  } else {
    ev1::TaskResumed ev;
    ev.set_container_id(options_.id);
    Publish("/tasks/resumed", ev);
  }
  return absl::OkStatus();
}

absl::Status TaskService::DoUpdate(const v1::UpdateRequest& req) {
  {
    absl::MutexLock lock(&mu_);
    BERTH_ASSIGN_OR_RETURN(Process * p, FindLocked(""));
    if (p->phase == Phase::kStopped) return absl::FailedPreconditionError("task has stopped");
  }
  json resources = json::parse(req.resources(), nullptr, /*allow_exceptions=*/false);
  if (!resources.is_object()) {
    return absl::InvalidArgumentError("resources is not a JSON object");
  }
  if (!req.annotations().empty()) {
    const std::string config = options_.bundle + "/config.json";
    BERTH_ASSIGN_OR_RETURN(std::string text, fs::ReadFile(config));
    json spec = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!spec.is_object()) return absl::InternalError("config.json is not a JSON object");
    for (const auto& [k, v] : req.annotations()) spec["annotations"][k] = v;
    BERTH_RETURN_IF_ERROR(fs::WriteFileAtomically(config, spec.dump(), 0644), "annotations");
  }
  const std::string file = options_.bundle + "/update-resources.json";
  BERTH_RETURN_IF_ERROR(fs::WriteFileAtomically(file, resources.dump(), 0600));
  absl::Cleanup remove = [&] { ::unlink(file.c_str()); };
  return options_.runtime->Update(options_.id, file);
}

absl::Status TaskService::DoPids(v1::PidsResponse* resp) {
  std::map<pid_t, std::string> exec_pids;
  {
    absl::MutexLock lock(&mu_);
    BERTH_ASSIGN_OR_RETURN(Process * p, FindLocked(""));
    if (p->phase == Phase::kStopped) return absl::FailedPreconditionError("task has stopped");
    for (const auto& [id, e] : execs_) {
      if (e->who.pid != 0 && !e->exit.has_value()) exec_pids[e->who.pid] = id;
    }
  }
  BERTH_ASSIGN_OR_RETURN(std::vector<pid_t> pids, options_.runtime->Ps(options_.id));
  for (pid_t pid : pids) {
    tv1::ProcessInfo* info = resp->add_processes();
    info->set_pid(static_cast<uint32_t>(pid));
    auto it = exec_pids.find(pid);
    if (it != exec_pids.end()) info->set_exec_id(it->second);
  }
  return absl::OkStatus();
}

absl::Status TaskService::DoStats(v1::StatsResponse* resp) {
  pid_t pid;
  {
    absl::MutexLock lock(&mu_);
    if (init_.phase == Phase::kNone) return absl::FailedPreconditionError("task not created");
    BERTH_ASSIGN_OR_RETURN(Process * p, FindLocked(""));
    if (p->phase == Phase::kStopped) return absl::FailedPreconditionError("task has stopped");
    pid = p->who.pid;
  }
  absl::StatusOr<process::CgroupDirs> dirs = process::FindCgroupDirs(pid);
  if (!dirs.ok()) {
    if (absl::IsNotFound(dirs.status())) return absl::FailedPreconditionError("task has stopped");
    return dirs.status();
  }
  BERTH_ASSIGN_OR_RETURN(tv1::TaskMetrics m, process::ReadCgroupMetrics(*dirs));
  m.set_container_id(options_.id);
  SetTimestamp(absl::Now(), m.mutable_timestamp());
  *resp->mutable_metrics() = std::move(m);
  return absl::OkStatus();
}

absl::Status TaskService::DoCheckpoint(const v1::CheckpointRequest& req) {
  if (req.path().empty() || req.path()[0] != '/') {
    return absl::InvalidArgumentError("checkpoint path must be absolute");
  }
  {
    absl::MutexLock lock(&mu_);
    BERTH_ASSIGN_OR_RETURN(Process * p, FindLocked(""));
    if (p->phase != Phase::kRunning && p->phase != Phase::kPaused) {
      return absl::FailedPreconditionError("task is not running");
    }
  }
  if (!InPath("criu")) {
    return absl::UnimplementedError("checkpoint needs CRIU, and criu is not installed");
  }
  BERTH_RETURN_IF_ERROR(fs::MakeDirs(req.path(), 0700), "checkpoint path");
  const v1::CheckpointOptions& o = req.options();
  std::vector<std::string> args;
  if (o.leave_running()) args.push_back("--leave-running");
  if (o.tcp_established()) args.push_back("--tcp-established");
  if (o.external_unix_sockets()) args.push_back("--ext-unix-sk");
  if (o.shell_job()) args.push_back("--shell-job");
  if (o.file_locks()) args.push_back("--file-locks");
  for (const std::string& ns : o.empty_namespaces()) args.insert(args.end(), {"--empty-ns", ns});
  if (!o.work_path().empty()) args.insert(args.end(), {"--work-path", o.work_path()});
  return options_.runtime->Checkpoint(options_.id, req.path(), req.parent_path(), args);
}

}  // namespace berth::shim::task
