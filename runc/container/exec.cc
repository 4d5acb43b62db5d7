#include "runc/container/exec.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "runc/container/console.h"
#include "runc/container/create.h"
#include "runc/container/lifecycle.h"
#include "runc/container/process_setup.h"
#include "runc/seccomp/bpf_cache.h"
#include "runc/seccomp/seccomp.h"
#include "runc/spec/parser.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace berth::runc::container {
namespace {

struct NsFile {
  const char* name;
  int flag;
};
// The user namespace comes first: joining it grants the rights needed to join the others.
constexpr NsFile kNamespaces[] = {
    {"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC},       {"uts", CLONE_NEWUTS},
    {"net", CLONE_NEWNET},   {"pid", CLONE_NEWPID},       {"cgroup", CLONE_NEWCGROUP},
    {"time", CLONE_NEWTIME}, {"mnt", CLONE_NEWNS},
};

// Joins the namespaces of `pid` whose flag is in `mask`.
absl::Status JoinNamespacesOf(pid_t pid, int mask) {
  for (const NsFile& ns : kNamespaces) {
    if ((ns.flag & mask) == 0) continue;
    const std::string theirs = absl::StrCat("/proc/", pid, "/ns/", ns.name);
    const std::string ours = absl::StrCat("/proc/self/ns/", ns.name);
    struct stat a, b;
    if (stat(theirs.c_str(), &a) != 0) {
      if (errno == ENOENT) continue;  // kernel without this namespace type
      return absl::ErrnoToStatus(errno, absl::StrCat("stat ", theirs));
    }
    if (stat(ours.c_str(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) continue;
    int fd = open(theirs.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", theirs));
    int rc = setns(fd, ns.flag);
    int err = errno;
    close(fd);
    if (rc != 0) return absl::ErrnoToStatus(err, absl::StrCat("join ", ns.name, " namespace"));
  }
  return absl::OkStatus();
}


}  // namespace

absl::StatusOr<int> Exec(const state::Store& store, const spec::Process& process,
                         const ExecOptions& options) {
  BERTH_ASSIGN_OR_RETURN(Loaded c, Load(store, options.id));
  if (c.status == state::Status::kStopped) {
    return absl::FailedPreconditionError("cannot exec in a stopped container");
  }
  if (c.status == state::Status::kPaused) {
    return absl::FailedPreconditionError("cannot exec in a paused container");
  }
  if (process.args.empty()) return absl::InvalidArgumentError("process.args: must not be empty");
  if (process.terminal && options.console_socket.empty()) {
    return absl::InvalidArgumentError("process.terminal is true but no --console-socket was given");
  }
  // The container's seccomp profile applies to its exec'd processes too.
  std::string bpf;
  uint32_t seccomp_flags = 0;
  BERTH_ASSIGN_OR_RETURN(spec::Spec config, spec::LoadSpec(c.state.bundle),
                         "read the container's config");
  if (config.linux.seccomp && seccomp::Enabled(*config.linux.seccomp)) {
    seccomp::BpfCacheOptions cache;
    cache.dir = store.root() + "/.cache/seccomp";
    BERTH_ASSIGN_OR_RETURN(seccomp::Program program,
                           seccomp::CompileCached(*config.linux.seccomp, cache));
    bpf = std::move(program.bpf);
    seccomp_flags = program.flags;
  }
  int console_fd = -1;
  if (process.terminal) {
    BERTH_ASSIGN_OR_RETURN(console_fd, ConnectConsoleSocket(options.console_socket));
  }
  // pid and time namespaces apply to our children: entered here, before the fork. The rest
  // are joined by the child after the parent put it in the cgroup, since writing the host's
  // cgroupfs needs the host's mount and user namespaces.
  constexpr int kForChildren = CLONE_NEWPID | CLONE_NEWTIME;
  BERTH_RETURN_IF_ERROR(JoinNamespacesOf(c.state.pid, kForChildren));

  int go[2], report[2];
  if (pipe2(go, O_CLOEXEC) != 0 || pipe2(report, O_CLOEXEC) != 0) {
    return absl::ErrnoToStatus(errno, "pipe");
  }
  pid_t pid = fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
  if (pid == 0) {
    close(go[1]);
    close(report[0]);
    auto child = [&]() -> absl::Status {
      char b;
      if (read(go[0], &b, 1) != 1) return absl::AbortedError("parent went away");
      BERTH_RETURN_IF_ERROR(JoinNamespacesOf(c.state.pid, ~kForChildren));
      BERTH_RETURN_IF_ERROR(ApplyRlimits(process.rlimits));
      if (process.oom_score_adj) BERTH_RETURN_IF_ERROR(ApplyOomScoreAdj(*process.oom_score_adj));
      if (process.terminal) BERTH_RETURN_IF_ERROR(SetupConsole(console_fd, process.console_size));
      if (!bpf.empty() && !process.no_new_privileges) {
        BERTH_RETURN_IF_ERROR(seccomp::InstallBpf(bpf, seccomp_flags));
      }
      bool cwd_done = chdir(process.cwd.c_str()) == 0;
      BERTH_RETURN_IF_ERROR(ApplyUserAndCapabilities(process, true));
      if (!cwd_done && chdir(process.cwd.c_str()) != 0) {
        return absl::ErrnoToStatus(errno, absl::StrCat("process.cwd: chdir ", process.cwd));
      }
      BERTH_ASSIGN_OR_RETURN(std::string exe, LookPath(process.args[0], process.env));
      if (process.no_new_privileges) BERTH_RETURN_IF_ERROR(SetNoNewPrivileges());
      if (!bpf.empty() && process.no_new_privileges) {
        BERTH_RETURN_IF_ERROR(seccomp::InstallBpf(bpf, seccomp_flags));
      }
      syscall(SYS_close_range, 3 + options.preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);
      std::vector<char*> argv, envp;
      for (const auto& a : process.args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      for (const auto& e : process.env) envp.push_back(const_cast<char*>(e.c_str()));
      envp.push_back(nullptr);
      execve(exe.c_str(), argv.data(), envp.data());
      return absl::ErrnoToStatus(errno, absl::StrCat("exec ", exe));
    };
    absl::Status s = child();
    const std::string msg(s.message());
    (void)!write(report[1], msg.data(), msg.size());
    _exit(s.code() == absl::StatusCode::kNotFound ? 127 : 126);
  }
  close(go[0]);
  close(report[1]);
  if (console_fd >= 0) close(console_fd);
  absl::Cleanup kill_child = [pid] {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  };
  BERTH_RETURN_IF_ERROR(c.cgroup->AddProcess(pid), "join the container's cgroup");
  if (write(go[1], "g", 1) != 1) return absl::ErrnoToStatus(errno, "start exec process");
  close(go[1]);
  // The report pipe closes on a successful exec (close-on-exec) and carries the error
  // otherwise.
  std::string err;
  char buf[4096];
  ssize_t n;
  while ((n = read(report[0], buf, sizeof(buf))) > 0) err.append(buf, n);
  close(report[0]);
  if (!err.empty()) return absl::FailedPreconditionError(err);
  std::move(kill_child).Cancel();
  BERTH_RETURN_IF_ERROR(WritePidFile(options.pid_file, pid), "--pid-file");
  if (options.detach) return 0;
  return WaitForeground(pid);
}

}  // namespace berth::runc::container
