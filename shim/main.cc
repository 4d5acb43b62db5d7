// berth-shim: one per container, started by berth-containerd through the
// handshake in proto/berth/shim/task/v1/bootstrap.proto. Subcommands:
//   start   validate, find a live shim or daemonize one (re-exec as `serve`),
//   print
//           BootstrapParams;
//   serve   (internal) the daemon: child subreaper, berth.shim.task.v1.Task on
//   its socket, until
//           Shutdown or SIGTERM;
//   delete  clean up after a dead shim and print CleanupResult.
//
// Deviation from bootstrap.proto step 2/3, for now: `serve` binds the socket
// itself (by path, mode 0600) instead of inheriting a listening fd 3 (gRPC
// cannot adopt a listening fd). `start` learns that it listens from a pipe
// instead: `serve --ready_fd=N` writes one byte to fd N once its server is up
// and closes it; `start` waits (up to --start_timeout) for that byte, or for
// EOF without it (the daemon died: its log tail is the error), then writes
// bootstrap.json. No polling and no gRPC in `start`: every task create waits
// for it, and a gRPC channel there cost threads to start and to tear down.
//
// Upgrade in place (issue #4): SIGUSR2 makes the daemon re-exec a new binary (--upgrade_binary,
// else its argv[0]) as `serve <same flags> --restore=<bundle>/upgrade.json` without stopping the
// container. It keeps its pid, so it stays the container's parent and subreaper and
// bootstrap.json stays valid. Under the Task service's operations lock (no runtime call in
// flight) it writes the init process's state (TaskService::Upgrade) and leaves the init
// process's stdio pipes open across execve; the new image rebinds the socket by path (gRPC
// cannot adopt a listening fd: clients reconnect), takes the state and pipes back
// (TaskService::Restore), reopens the json-file log and reaps what exited meanwhile (such exits
// stay zombies until then, so none is lost). Not handed over, so the upgrade is refused (logged,
// the shim keeps running) while they exist: terminals, exec processes, a stdin path being
// copied. Attach streams, pending Wait calls and event forwarding connections are dropped; their
// clients see the connection end and retry.
//
// Memory (issue #4: one shim per running container; bench/shim_mem.py
// measures it): the binary is static and not position-independent (see
// BUILD.bazel); the daemon serves the Task service alone (shim/rpc: no
// health, reflection or metrics); its main thread is also the reaper; all
// threads share one malloc arena, trimmed after start-up and after work.
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "berth/shim/task/v1/bootstrap.pb.h"
#include "berth/shim/task/v1/task.grpc.pb.h"
#include "common/fs/fs.h"
#include "common/init/init.h"
#include "common/proc/proc.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "common/mount/mount.h"
#include "shim/events/forwarder.h"
#include "shim/io/event_loop.h"
#include "shim/process/cgroup_prime.h"
#include "shim/process/exit_record.h"
#include "shim/process/reaper.h"
#include "shim/process/runtime.h"
#include "shim/rpc/unix.h"
#include "shim/task/bootstrap.h"
#include "shim/task/task_service.h"
#include "shim/task/upgrade_state.h"

ABSL_FLAG(std::string, namespace, "",
          "berth-containerd namespace of the container");
ABSL_FLAG(std::string, id, "", "container id");
ABSL_FLAG(std::string, bundle, "",
          "absolute OCI bundle directory (holds config.json)");
ABSL_FLAG(std::string, state_dir, "",
          "berth-containerd's --state; the socket goes under it");
ABSL_FLAG(std::string, address, "", "berth-containerd's gRPC address (events)");
ABSL_FLAG(std::string, runtime, "berth-runc",
          "OCI runtime binary, absolute or in PATH");
ABSL_FLAG(std::string, runtime_root, "",
          "the runtime's --root; default /run/berth-runc/<ns>");
ABSL_FLAG(bool, systemd_cgroup, false, "pass --systemd-cgroup to the runtime");
ABSL_FLAG(std::string, shim_cgroup, "",
          "cgroup v2 path the daemon moves itself into");
ABSL_FLAG(std::string, upgrade_binary, "",
          "binary the daemon re-executes on SIGUSR2; default its argv[0]");
ABSL_FLAG(std::string, restore, "",
          "(internal) state file of the shim image this one replaces");
ABSL_FLAG(absl::Duration, start_timeout, absl::Seconds(10),
          "how long `start` waits for the daemon to serve");
ABSL_FLAG(int, ready_fd, -1,
          "(internal) pipe `serve` writes one byte to once it listens");

namespace {

namespace task = berth::shim::task;
namespace process = berth::shim::process;
using ::google::protobuf::util::TimeUtil;

struct Common {
  std::string ns, id, bundle, state_dir, socket_path;
};

absl::StatusOr<Common> ValidateFlags(bool need_address) {
  Common c;
  c.ns = absl::GetFlag(FLAGS_namespace);
  c.id = absl::GetFlag(FLAGS_id);
  c.bundle = absl::GetFlag(FLAGS_bundle);
  c.state_dir = absl::GetFlag(FLAGS_state_dir);
  if (c.ns.empty())
    return absl::InvalidArgumentError("--namespace is required");
  if (c.id.empty())
    return absl::InvalidArgumentError("--id is required");
  if (c.bundle.empty() || c.bundle[0] != '/') {
    return absl::InvalidArgumentError("--bundle must be an absolute directory");
  }
  if (need_address && absl::GetFlag(FLAGS_address).empty()) {
    return absl::InvalidArgumentError("--address is required");
  }
  struct stat st;
  if (::stat((c.bundle + "/config.json").c_str(), &st) != 0) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("bundle ", c.bundle, ": config.json"));
  }
  BERTH_ASSIGN_OR_RETURN(c.socket_path,
                         task::ShimSocketPath(c.state_dir, c.ns, c.id));
  return c;
}

absl::StatusOr<process::Runtime>
MakeRuntime(const Common &c, std::function<absl::StatusOr<int>(pid_t)> wait) {
  process::RuntimeOptions o;
  o.binary = absl::GetFlag(FLAGS_runtime);
  o.root = absl::GetFlag(FLAGS_runtime_root);
  if (o.root.empty())
    o.root = "/run/berth-runc/" + c.ns;
  o.log_path = c.bundle + "/log.json";
  o.systemd_cgroup = absl::GetFlag(FLAGS_systemd_cgroup);
  o.wait = std::move(wait);
  return process::Runtime::Create(std::move(o));
}

std::string Tail(const std::string &path) {
  absl::StatusOr<std::string> text = berth::fs::ReadFile(path);
  if (!text.ok())
    return "";
  std::string s = *text;
  if (s.size() > 400)
    s = s.substr(s.size() - 400);
  while (!s.empty() && s.back() == '\n')
    s.pop_back();
  return s;
}

// ---- start ----

absl::Status RunStart(int argc, char **argv) {
  BERTH_ASSIGN_OR_RETURN(Common c, ValidateFlags(/*need_address=*/true));
  // 1. A retried start finds the shim that is already running.
  absl::StatusOr<task::BootstrapParams> existing =
      task::ReadBootstrapFile(c.bundle);
  if (existing.ok()) {
    absl::StatusOr<bool> alive = task::ShimIsAlive(*existing);
    if (alive.ok() && *alive) {
      std::cout << task::BootstrapParamsToJson(*existing) << "\n" << std::flush;
      return absl::OkStatus();
    }
  }

  const std::string log_path = c.bundle + "/shim.log";
  int log_fd =
      ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0)
    return absl::ErrnoToStatus(errno, "open " + log_path);
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0)
    return absl::ErrnoToStatus(errno, "open /dev/null");

  // The daemon's readiness pipe: it holds the write end (not close-on-exec,
  // its number on the command line) and we the read end.
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) {
    const int err = errno;
    ::close(log_fd);
    ::close(null_fd);
    return absl::ErrnoToStatus(err, "pipe");
  }
  absl::Cleanup close_ready = [&] {
    for (int fd : ready) {
      if (fd >= 0)
        ::close(fd);
    }
  };
  // Above stdio, so that the child's dup2s onto 0-2 leave it alone (start may
  // have been run with stdio closed).
  if (ready[1] <= 2) {
    const int high = ::fcntl(ready[1], F_DUPFD_CLOEXEC, 3);
    if (high < 0) {
      const int err = errno;
      ::close(log_fd);
      ::close(null_fd);
      return absl::ErrnoToStatus(err, "dup readiness pipe");
    }
    ::close(ready[1]);
    ready[1] = high;
  }

  // argv with `start` replaced by `serve` and the pipe's fd added, prepared
  // before fork (the child only execs).
  std::vector<std::string> args;
  bool replaced = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (absl::StartsWith(a, "--ready_fd="))
      continue;
    if (!replaced && i > 0 && a == "start") {
      a = "serve";
      replaced = true;
    }
    args.push_back(a);
  }
  args.push_back(absl::StrCat("--ready_fd=", ready[1]));
  std::vector<char *> cargs;
  for (auto &a : args)
    cargs.push_back(a.data());
  cargs.push_back(nullptr);
  const std::string self = "/proc/self/exe";

  const pid_t pid = ::fork();
  if (pid < 0)
    return absl::ErrnoToStatus(errno, "fork");
  if (pid == 0) {
    ::setsid();
    if (::dup2(null_fd, 0) < 0 || ::dup2(null_fd, 1) < 0 ||
        ::dup2(log_fd, 2) < 0)
      _exit(127);
    if (::fcntl(ready[1], F_SETFD, 0) != 0)
      _exit(127);
    if (::chdir(c.bundle.c_str()) != 0)
      _exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(self.c_str(), cargs.data());
    _exit(127);
  }
  ::close(log_fd);
  ::close(null_fd);
  ::close(ready[1]);
  ready[1] = -1;

  auto fail = [&](absl::Status s) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ::unlink(c.socket_path.c_str());
    return s;
  };

  // 2. Wait until the daemon listens (one byte), or dies (EOF: every copy of
  // the write end is gone).
  const absl::Time deadline = absl::Now() + absl::GetFlag(FLAGS_start_timeout);
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return fail(absl::DeadlineExceededError(
          absl::StrCat("shim daemon did not serve in time: ", Tail(log_path))));
    }
    struct pollfd p = {ready[0], POLLIN, 0};
    const int n = ::poll(
        &p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return fail(absl::ErrnoToStatus(errno, "poll readiness pipe"));
    if (n == 0)
      continue; // the deadline check above ends it
    char byte;
    const ssize_t got = ::read(ready[0], &byte, 1);
    if (got < 0 && errno == EINTR)
      continue;
    if (got == 1)
      break;
    if (got < 0)
      return fail(absl::ErrnoToStatus(errno, "read readiness pipe"));
    // EOF: the daemon exited without serving (it keeps the write end open
    // until then, and nothing else holds it).
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return absl::InternalError(absl::StrCat("shim daemon exited with status ",
                                            status, ": ", Tail(log_path)));
  }

  // 3. Name it (atomically; see WriteBootstrapFile) and tell the caller.
  task::BootstrapParams params;
  params.set_version(task::kBootstrapVersion);
  params.set_protocol("grpc");
  params.set_address("unix://" + c.socket_path);
  params.set_shim_pid(static_cast<uint32_t>(pid));
  absl::StatusOr<uint64_t> start_time = berth::proc::ProcessStartTime(pid);
  if (!start_time.ok())
    return fail(start_time.status());
  params.set_shim_start_time(*start_time);
  absl::Status s = task::WriteBootstrapFile(c.bundle, params);
  if (!s.ok())
    return fail(s);
  std::cout << task::BootstrapParamsToJson(params) << "\n" << std::flush;
  return absl::OkStatus();
}

// ---- serve ----

absl::Status JoinCgroup(const std::string &cgroup) {
  if (cgroup.empty())
    return absl::OkStatus();
  const std::string dir =
      "/sys/fs/cgroup" + (cgroup[0] == '/' ? cgroup : "/" + cgroup);
  BERTH_RETURN_IF_ERROR(berth::fs::MakeDirs(dir, 0755), "shim cgroup");
  int fd = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return absl::ErrnoToStatus(errno, "open " + dir + "/cgroup.procs");
  const std::string pid = std::to_string(::getpid());
  const bool ok =
      ::write(fd, pid.data(), pid.size()) == static_cast<ssize_t>(pid.size());
  const int err = errno;
  ::close(fd);
  if (!ok)
    return absl::ErrnoToStatus(err, "join " + dir);
  return absl::OkStatus();
}

constexpr char kRestoreFlag[] = "--restore=";

// The exec of an upgrade: `argv` with --restore=<state_file> instead of any earlier one. Returns
// only on failure.
absl::Status ExecUpgrade(int argc, char **argv, const std::string &state_file) {
  std::string binary = absl::GetFlag(FLAGS_upgrade_binary);
  if (binary.empty())
    binary = argv[0];
  // `serve` runs in the bundle directory: a relative argv[0] means nothing there.
  if (binary.empty() || binary[0] != '/')
    binary = "/proc/self/exe";
  std::vector<std::string> args;
  for (int i = 0; i < argc; ++i) {
    // The readiness pipe was `start`'s, answered and closed long ago: the fd
    // number may name anything now.
    if (!absl::StartsWith(argv[i], kRestoreFlag) &&
        !absl::StartsWith(argv[i], "--ready_fd="))
      args.push_back(argv[i]);
  }
  args.push_back(kRestoreFlag + state_file);
  std::vector<char *> cargs;
  for (auto &a : args)
    cargs.push_back(a.data());
  cargs.push_back(nullptr);
  google::FlushLogFiles(google::GLOG_INFO);
  ::execve(binary.c_str(), cargs.data(), environ);
  return absl::ErrnoToStatus(errno, "exec " + binary);
}

// Tells `start` that the daemon listens (see --ready_fd), once.
class Readiness {
public:
  // Takes --ready_fd, close-on-exec from here on: no runtime or container
  // process may hold it (start would wait for their exit to see EOF).
  Readiness() {
    const int fd = absl::GetFlag(FLAGS_ready_fd);
    struct stat st;
    // Only a pipe: a stray flag value must not make us write into some other
    // file.
    if (fd > 2 && ::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
        ::fcntl(fd, F_SETFD, FD_CLOEXEC) == 0) {
      fd_ = fd;
    } else if (fd >= 0) {
      LOG(WARNING) << "--ready_fd=" << fd << " is not a pipe; ignored";
    }
  }
  // Without Signal the fd stays open until the process exits, so that `start`
  // sees EOF only once our error is in the log and we can be waited for.

  void Signal() {
    if (fd_ < 0)
      return;
    const char byte = 1;
    if (::write(fd_, &byte, 1) != 1)
      PLOG(WARNING) << "readiness pipe";
    ::close(fd_);
    fd_ = -1;
  }

private:
  int fd_ = -1;
};

absl::Status RunServe(int argc, char **argv) {
  Readiness readiness;
  BERTH_ASSIGN_OR_RETURN(Common c, ValidateFlags(/*need_address=*/false));
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    return absl::ErrnoToStatus(errno, "subreaper");
  if (absl::Status s = JoinCgroup(absl::GetFlag(FLAGS_shim_cgroup)); !s.ok()) {
    LOG(WARNING) << "shim cgroup not joined error=\"" << s.message() << "\"";
  }

  std::atomic<task::TaskService *> service_ptr{nullptr};
  // It reaps on this thread once the server is up (RunUntilSignal below):
  // nothing runs a child before that.
  process::Reaper reaper([&](pid_t pid, int status, absl::Time when) {
    if (task::TaskService *s = service_ptr.load())
      s->OnExit(pid, status, when);
  });
  BERTH_ASSIGN_OR_RETURN(
      process::Runtime runtime,
      MakeRuntime(c, [&](pid_t pid) { return reaper.Wait(pid); }), "runtime");

  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<berth::shim::io::EventLoop> loop,
                         berth::shim::io::EventLoop::Create(), "event loop");
  berth::shim::events::ForwarderOptions fo;
  fo.address = absl::GetFlag(FLAGS_address);
  fo.ns = c.ns;
  std::unique_ptr<berth::shim::events::Forwarder> forwarder;
  if (!fo.address.empty()) {
    BERTH_ASSIGN_OR_RETURN(forwarder, berth::shim::events::Forwarder::Create(fo), "events");
  } else {
    LOG(WARNING) << "no --address: task events are not forwarded";
  }

  task::TaskServiceOptions options;
  options.id = c.id;
  options.ns = c.ns;
  options.bundle = c.bundle;
  options.runtime = &runtime;
  options.reaper = &reaper;
  options.loop = loop.get();
  options.publisher = forwarder.get();
  // Shutdown answers first; SIGTERM to ourselves then takes the same path as a
  // real SIGTERM.
  options.on_shutdown = [] { ::kill(::getpid(), SIGTERM); };
  // The runtime's create puts the container into its cgroup; the kernel's slow part of that
  // starts now, in parallel with the rootfs mount and the runtime's start-up.
  options.on_create = [] { process::PrimeCgroupMigration(); };
  task::TaskService service(std::move(options));
  service_ptr.store(&service);
  if (const std::string restore = absl::GetFlag(FLAGS_restore); !restore.empty()) {
    // Before the reaper runs, so that an init process that exited meanwhile is recorded.
    absl::StatusOr<task::UpgradeState> state = task::ReadUpgradeState(restore);
    absl::Status s = state.ok() ? service.Restore(*state) : state.status();
    ::unlink(restore.c_str());
    // Still serve: the container (if any) is only reachable through this shim.
    if (!s.ok())
      LOG(ERROR) << "restore after upgrade failed error=\"" << s.message() << "\"";
  }

  BERTH_RETURN_IF_ERROR(
      berth::fs::MakeDirs(
          c.socket_path.substr(0, c.socket_path.rfind('/')), 0755),
      "socket directory");
  BERTH_ASSIGN_OR_RETURN(
      std::unique_ptr<berth::shim::rpc::UnixServer> server,
      berth::shim::rpc::UnixServer::Start(c.socket_path, 0600, &service),
      "serve");
  LOG(INFO) << "shim serving id=" << c.id << " ns=" << c.ns
            << " socket=" << c.socket_path << " pid=" << ::getpid();
  readiness.Signal();
  // A Task.Create follows within milliseconds of a fresh start: start the kernel's wait for
  // the runtime's cgroup migration already (after serving, not to slow that down; Create primes
  // again, see on_create).
  if (absl::GetFlag(FLAGS_restore).empty())
    process::PrimeCgroupMigration();
  // What start-up freed goes back to the kernel now; later, each time the
  // shim has been quiet for a second after reaping a child (a runtime command
  // or a container process: it has just done work).
  ::malloc_trim(0);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGHUP);
  sigaddset(&stop, SIGUSR2);
  int sig;
  for (;;) {
    sig = reaper.RunUntilSignal(stop, absl::Seconds(1), [] { ::malloc_trim(0); });
    if (sig == SIGHUP) {
      LOG(INFO) << "SIGHUP ignored: configuration reload is not supported";
    } else if (sig == SIGUSR2) {
      // Returns only when the upgrade did not happen.
      absl::Status s = service.Upgrade(c.bundle + "/upgrade.json",
                                       [&] { return ExecUpgrade(argc, argv, c.bundle + "/upgrade.json"); });
      LOG(WARNING) << "upgrade not done, still serving error=\"" << s.message() << "\"";
    } else {
      break;
    }
  }
  LOG(INFO) << "shutting down signal=" << strsignal(sig);
  // Processes keep exiting while in-flight calls drain.
  reaper.Start();
  service.CancelWaiters();
  server->Shutdown(absl::Seconds(10));
  service_ptr.store(nullptr);
  // Events of the last moments (a delete, an exit) get a short chance to reach
  // berth-containerd; it recovers anything missed through State and Wait.
  if (forwarder) forwarder->Stop(absl::Seconds(2));
  reaper.Stop();
  return absl::OkStatus();
}

// ---- delete ----

absl::Status RunDelete() {
  BERTH_ASSIGN_OR_RETURN(Common c, ValidateFlags(/*need_address=*/false));
  absl::StatusOr<task::BootstrapParams> boot =
      task::ReadBootstrapFile(c.bundle);
  if (boot.ok()) {
    berth::proc::ProcessIdentity shim;
    shim.pid = static_cast<pid_t>(boot->shim_pid());
    shim.start_time = boot->shim_start_time();
    absl::StatusOr<bool> alive = shim.IsAlive();
    if (alive.ok() && *alive) {
      ::kill(shim.pid, SIGKILL);
      const absl::Time deadline = absl::Now() + absl::Seconds(5);
      while (absl::Now() < deadline) {
        alive = shim.IsAlive();
        if (!alive.ok() || !*alive)
          break;
        absl::SleepFor(absl::Milliseconds(10));
      }
    }
  }
  BERTH_ASSIGN_OR_RETURN(process::Runtime runtime, MakeRuntime(c, nullptr),
                         "runtime");
  absl::Status s = runtime.Delete(c.id, /*force=*/true);
  if (!s.ok() && s.code() != absl::StatusCode::kNotFound)
    return s;
  const std::string rootfs = c.bundle + "/rootfs";
  // Everything at and below the rootfs (the container is dead, so nothing holds it but a
  // lazy reference, which MNT_DETACH leaves to the kernel).
  BERTH_RETURN_IF_ERROR(berth::mount_util::UnmountAll(rootfs, MNT_DETACH),
                        "unmount rootfs");
  if (::unlink(c.socket_path.c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, "remove " + c.socket_path);
  }

  berth::shim::task::v1::CleanupResult result;
  absl::StatusOr<process::ExitRecord> exit =
      process::ReadExitRecord(c.bundle + "/exit.json");
  if (exit.ok()) {
    result.set_pid(exit->pid());
    result.set_exit_status(exit->exit_status());
    *result.mutable_exited_at() = exit->exited_at();
  } else if (exit.status().code() == absl::StatusCode::kNotFound) {
    absl::StatusOr<pid_t> pid = process::ReadPidFile(c.bundle + "/init.pid");
    result.set_pid(pid.ok() ? static_cast<uint32_t>(*pid) : 0);
    result.set_exit_status(255);
    *result.mutable_exited_at() =
        TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
  } else {
    return exit.status();
  }
  google::protobuf::util::JsonPrintOptions print;
  print.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(result, &json, print).ok()) {
    return absl::InternalError("encode CleanupResult");
  }
  std::cout << json << "\n" << std::flush;
  return absl::OkStatus();
}

constexpr char kUsage[] =
    "berth-shim: the per-container shim of berth-containerd.\n"
    "Usage: berth-shim start|delete --namespace=NS --id=ID --bundle=DIR "
    "--state_dir=DIR "
    "[--address=unix://PATH] [--runtime=BIN] [--runtime_root=DIR]";

} // namespace

int main(int argc, char **argv) {
  // The daemon blocks SIGCHLD (for the reaper) and the termination signals
  // before any thread.
  bool serve = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "serve") == 0)
      serve = true;
  }
  if (serve) {
    process::BlockSigchld();
    // SIGUSR2 (upgrade) is taken by the reaping thread like the termination signals.
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    ::pthread_sigmask(SIG_BLOCK, &usr2, nullptr);
    // Memory (one shim per container): every thread allocates from one malloc
    // arena, instead of one arena per thread with its own free pages.
    ::mallopt(M_ARENA_MAX, 1);
    // Debian builds Abseil without NDEBUG, which turns on absl::Mutex deadlock
    // detection: a lock graph on every Mutex::Lock, in arenas of its own.
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }
  berth::InitOptions init;
  init.daemon = serve;
  std::vector<char *> positional = berth::InitProcess(argc, argv, kUsage, init);
  if (positional.size() != 2) {
    std::cerr << kUsage << "\n";
    return 2;
  }
  const std::string command = positional[1];
  absl::Status s;
  if (command == "start") {
    s = RunStart(argc, argv);
  } else if (command == "serve") {
    s = RunServe(argc, argv);
  } else if (command == "delete") {
    s = RunDelete();
  } else {
    std::cerr << "berth-shim: unknown command " << command << "\n"
              << kUsage << "\n";
    return 2;
  }
  if (!s.ok()) {
    std::cerr << "berth-shim " << command << ": " << s.message() << "\n";
    return 1;
  }
  return 0;
}
