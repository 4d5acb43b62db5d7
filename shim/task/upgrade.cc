// TaskService: handing the init process over to a new shim image (Upgrade) and taking it over
// (Restore). Only the init process's pipes and log travel: see shim/main.cc.
#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"
#include "shim/process/exit_record.h"
#include "shim/task/task_service.h"

namespace berth::shim::task {
namespace {

void CloseHandedOver(const io::ProcessIo::HandedOver& h) {
  for (int fd : {h.stdout_fd, h.stderr_fd, h.stdin_fd}) {
    if (fd >= 0) ::close(fd);
  }
}

}  // namespace

absl::Status TaskService::Upgrade(const std::string& state_file,
                                  const std::function<absl::Status()>& exec) {
  absl::MutexLock ops(&ops_mu_);
  UpgradeState st;
  std::shared_ptr<io::ProcessIo> pio;
  io::ProcessIoOptions io_options;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return absl::FailedPreconditionError("shim shutting down");
    if (!execs_.empty()) {
      return absl::FailedPreconditionError("exec processes are not handed over");
    }
    if (init_.terminal) return absl::FailedPreconditionError("a terminal is not handed over");
    switch (init_.phase) {
      case Phase::kNone: st.phase = "none"; break;
      case Phase::kCreated: st.phase = "created"; break;
      case Phase::kRunning: st.phase = "running"; break;
      case Phase::kPaused: st.phase = "paused"; break;
      case Phase::kStopped: st.phase = "stopped"; break;
      case Phase::kDeleted: st.phase = "deleted"; break;
    }
    st.pid = init_.who.pid;
    st.start_time = init_.who.start_time;
    st.started_at = init_.started_at;
    st.exited = init_.exit.has_value();
    st.stdin_path = init_.stdin_path;
    st.stdout_path = init_.stdout_path;
    st.stderr_path = init_.stderr_path;
    st.stdin_mode = init_.stdin_mode;
    st.log_path = log_path_;
    st.rootfs_mounted = rootfs_mounted_;
    pio = init_.io;
  }
  io::ProcessIo::HandedOver fds;
  if (pio) {
    if (pio->logger()) {
      st.log_max_size_bytes = pio->logger()->max_size_bytes();
      st.log_max_files = pio->logger()->max_files();
      io_options.logger = pio->logger();
    }
    io_options.stdin_path = st.stdin_path;
    io_options.stdout_path = st.stdout_path;
    io_options.stderr_path = st.stderr_path;
    io_options.stdin_mode = st.stdin_mode;
    BERTH_ASSIGN_OR_RETURN(fds, pio->Detach(), "hand over stdio");
  }
  st.stdout_fd = fds.stdout_fd;
  st.stderr_fd = fds.stderr_fd;
  st.stdin_fd = fds.stdin_fd;
  absl::Status s = WriteUpgradeState(state_file, st);
  if (s.ok()) {
    LOG(INFO) << "upgrading shim id=" << options_.id << " state=" << state_file;
    s = exec();  // returns only on failure
    ::unlink(state_file.c_str());
  }
  // Still this image: take the stdio back.
  if (pio) {
    absl::StatusOr<std::unique_ptr<io::ProcessIo>> back =
        io::ProcessIo::Adopt(options_.loop, std::move(io_options), fds);
    absl::MutexLock lock(&mu_);
    if (back.ok()) {
      init_.io = std::move(*back);
    } else {
      LOG(ERROR) << "stdio lost after a failed upgrade error=\"" << back.status().message()
                 << "\"";
      init_.io.reset();
    }
  }
  return s;
}

absl::Status TaskService::Restore(const UpgradeState& st) {
  absl::MutexLock ops(&ops_mu_);
  io::ProcessIo::HandedOver fds{st.stdout_fd, st.stderr_fd, st.stdin_fd};
  Phase phase;
  if (st.phase == "none") {
    phase = Phase::kNone;
  } else if (st.phase == "created") {
    phase = Phase::kCreated;
  } else if (st.phase == "running") {
    phase = Phase::kRunning;
  } else if (st.phase == "paused") {
    phase = Phase::kPaused;
  } else if (st.phase == "stopped") {
    phase = Phase::kStopped;
  } else if (st.phase == "deleted") {
    phase = Phase::kDeleted;
  } else {
    CloseHandedOver(fds);
    return absl::InvalidArgumentError("unknown phase " + st.phase);
  }
  std::unique_ptr<io::ProcessIo> pio;
  if (fds.stdout_fd >= 0 || fds.stderr_fd >= 0 || fds.stdin_fd >= 0 || !st.log_path.empty()) {
    io::ProcessIoOptions o;
    o.stdin_path = st.stdin_path;
    o.stdout_path = st.stdout_path;
    o.stderr_path = st.stderr_path;
    o.stdin_mode = st.stdin_mode;
    if (!st.log_path.empty()) {
      io::JsonFileLoggerOptions lo;
      lo.path = st.log_path;
      lo.max_size_bytes = st.log_max_size_bytes;
      lo.max_files = st.log_max_files;
      absl::StatusOr<std::unique_ptr<io::JsonFileLogger>> logger = io::JsonFileLogger::Create(lo);
      if (!logger.ok()) {
        CloseHandedOver(fds);
        return absl::Status(logger.status().code(),
                            absl::StrCat("reopen container log: ", logger.status().message()));
      }
      o.logger = std::move(*logger);
    }
    BERTH_ASSIGN_OR_RETURN(pio, io::ProcessIo::Adopt(options_.loop, std::move(o), fds),
                           "adopt stdio");
  }
  const bool live = phase == Phase::kCreated || phase == Phase::kRunning ||
                    phase == Phase::kPaused;
  {
    absl::MutexLock lock(&mu_);
    init_.phase = phase;
    init_.who.pid = st.pid;
    init_.who.start_time = st.start_time;
    init_.started_at = st.started_at;
    init_.stdin_path = st.stdin_path;
    init_.stdout_path = st.stdout_path;
    init_.stderr_path = st.stderr_path;
    init_.stdin_mode = st.stdin_mode;
    init_.io = std::move(pio);
    log_path_ = st.log_path;
    rootfs_mounted_ = st.rootfs_mounted;
    if (st.exited) {
      absl::StatusOr<process::ExitRecord> exit = process::ReadExitRecord(exit_file());
      if (exit.ok()) {
        init_.exit = *exit;
      } else {
        LOG(ERROR) << "recorded exit unreadable error=\"" << exit.status().message() << "\"";
      }
    }
  }
  if (live && !st.exited) WatchOom(st.pid);
  LOG(INFO) << "shim restored id=" << options_.id << " phase=" << st.phase << " pid=" << st.pid;
  return absl::OkStatus();
}

}  // namespace berth::shim::task
