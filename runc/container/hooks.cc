#include "runc/container/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace berth::runc::container {
namespace {

// Writes `data` to the pipe `fd`, whose reader (a hook) may have exited already without
// reading it, e.g. /bin/false: the write then fails with EPIPE, and the SIGPIPE it raises must
// not kill berth-runc halfway through a lifecycle step (berth-runc does not ignore SIGPIPE).
// SIGPIPE is blocked around the write and a SIGPIPE it left pending is consumed.
void WriteIgnoringSigpipe(int fd, const std::string& data) {
  sigset_t pipe_set, old_mask, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  // The kernel raises SIGPIPE even when the reader went away after part of the data was
  // written (and the write returns that count), so look at what is pending, not at errno.
  sigpending(&pending);
  if (!was_pending && sigismember(&pending, SIGPIPE)) {
    const timespec zero = {0, 0};
    sigtimedwait(&pipe_set, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
}

absl::Status RunHook(const spec::Hook& hook, const std::string& name,
                     const std::string& state_json) {
  int in[2];
  if (pipe2(in, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, name + ": pipe");
  std::vector<char*> argv, envp;
  std::vector<std::string> args = hook.args;
  if (args.empty()) args.push_back(hook.path);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = hook.env;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) {
    close(in[0]);
    close(in[1]);
    return absl::ErrnoToStatus(errno, name + ": fork");
  }
  if (pid == 0) {
    dup2(in[0], 0);
    execve(hook.path.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  close(in[0]);
  // The hook may not read its stdin; a full pipe or EPIPE must not fail the hook.
  WriteIgnoringSigpipe(in[1], state_json);
  close(in[1]);

  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (hook.timeout && pidfd >= 0) {
    pollfd p = {pidfd, POLLIN, 0};
    int r;
    do {
      r = poll(&p, 1, *hook.timeout * 1000);
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      close(pidfd);
      return absl::DeadlineExceededError(
          absl::StrCat(name, ": timed out after ", *hook.timeout, "s"));
    }
  }
  if (pidfd >= 0) close(pidfd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::ErrnoToStatus(errno, name + ": wait");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    return absl::FailedPreconditionError(absl::StrCat(name, ": cannot execute ", hook.path));
  }
  if (WIFSIGNALED(status)) {
    return absl::InternalError(absl::StrCat(name, ": killed by signal ", WTERMSIG(status)));
  }
  return absl::InternalError(absl::StrCat(name, ": exit status ", WEXITSTATUS(status)));
}

}  // namespace

absl::Status RunHooks(const std::vector<spec::Hook>& hooks, const std::string& phase,
                      const std::string& state_json) {
  for (size_t i = 0; i < hooks.size(); ++i) {
    absl::Status s = RunHook(
        hooks[i], absl::StrCat("hooks.", phase, "[", i, "] (", hooks[i].path, ")"), state_json);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

std::vector<absl::Status> RunAllHooks(const std::vector<spec::Hook>& hooks,
                                      const std::string& phase, const std::string& state_json) {
  std::vector<absl::Status> failures;
  for (size_t i = 0; i < hooks.size(); ++i) {
    absl::Status s = RunHook(
        hooks[i], absl::StrCat("hooks.", phase, "[", i, "] (", hooks[i].path, ")"), state_json);
    if (!s.ok()) failures.push_back(std::move(s));
  }
  return failures;
}

}  // namespace berth::runc::container
