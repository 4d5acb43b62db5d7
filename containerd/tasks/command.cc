#include "containerd/tasks/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

extern char **environ;

namespace berth::containerd::tasks {
namespace {

void CloseFd(int &fd) {
  if (fd >= 0)
    ::close(fd);
  fd = -1;
}

bool IsExecutableFile(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         ::access(path.c_str(), X_OK) == 0;
}

} // namespace

bool CommandResult::Succeeded() const {
  return WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
}

std::string CommandResult::ErrorLine() const {
  std::vector<absl::string_view> lines =
      absl::StrSplit(stderr_text, '\n', absl::SkipWhitespace());
  if (!lines.empty())
    return std::string(absl::StripAsciiWhitespace(lines.back()));
  if (WIFEXITED(wait_status))
    return absl::StrCat("exited with status ", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status))
    return absl::StrCat("killed by signal ", WTERMSIG(wait_status));
  return absl::StrCat("ended with wait status ", wait_status);
}

absl::StatusOr<CommandResult> RunCommand(const CommandOptions &options) {
  if (options.argv.empty() || options.argv[0].empty() ||
      options.argv[0][0] != '/') {
    return absl::InvalidArgumentError(
        "command must start with an absolute path");
  }
  int out[2] = {-1, -1}, err[2] = {-1, -1};
  absl::Cleanup close_pipes = [&] {
    for (int *p : {out, err}) {
      CloseFd(p[0]);
      CloseFd(p[1]);
    }
  };
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    return absl::ErrnoToStatus(errno, "pipe");
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  absl::Cleanup destroy_actions = [&] {
    posix_spawn_file_actions_destroy(&actions);
  };
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  if (!options.cwd.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());
  }
  // Nothing of ours leaks into a child that may daemonize (CLOEXEC or not).
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  absl::Cleanup destroy_attr = [&] { posix_spawnattr_destroy(&attr); };
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  // Daemons ignore SIGPIPE; a child must not inherit that.
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char *> argv;
  for (const std::string &a : options.argv)
    argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc =
      ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
  if (rc != 0)
    return absl::ErrnoToStatus(rc, absl::StrCat("spawn ", options.argv[0]));
  CloseFd(out[1]);
  CloseFd(err[1]);

  CommandResult result;
  const absl::Time deadline = absl::Now() + options.timeout;
  bool timed_out = false;
  struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string *sinks[2] = {&result.stdout_text, &result.stderr_text};
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      timed_out = true;
      break;
    }
    const int n =
        ::poll(fds, 2, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0)
        continue;
      char buf[4096];
      const ssize_t got = ::read(fds[i].fd, buf, sizeof(buf));
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0) {
        fds[i].fd = -1;
        continue;
      }
      // The handshake prints a line or two; cap what a misbehaving child can
      // make us hold.
      if (sinks[i]->size() < (1 << 20))
        sinks[i]->append(buf, static_cast<size_t>(got));
    }
  }
  if (timed_out)
    ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return absl::ErrnoToStatus(errno, "waitpid");
  }
  if (timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat(options.argv[0], " did not finish within ",
                     absl::FormatDuration(options.timeout)));
  }
  result.wait_status = status;
  return result;
}

absl::StatusOr<std::string> FindExecutable(const std::string &name,
                                           const std::string &search_path) {
  if (name.empty())
    return absl::InvalidArgumentError("empty binary name");
  if (name[0] == '/') {
    if (IsExecutableFile(name))
      return name;
    return absl::NotFoundError(
        absl::StrCat(name, " is not an executable file"));
  }
  if (name.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "binary ", name, " must be an absolute path or a plain name"));
  }
  for (absl::string_view dir :
       absl::StrSplit(search_path, ':', absl::SkipEmpty())) {
    const std::string candidate = absl::StrCat(dir, "/", name);
    if (IsExecutableFile(candidate))
      return candidate;
  }
  return absl::NotFoundError(absl::StrCat(name, " not found in ", search_path));
}

absl::StatusOr<std::string>
FindExecutableInPath(const std::string &name,
                     const std::vector<std::string> &preferred_dirs) {
  const char *path = std::getenv("PATH");
  std::vector<std::string> dirs = preferred_dirs;
  dirs.push_back(
      path != nullptr && *path != '\0'
          ? path
          : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  return FindExecutable(name, absl::StrJoin(dirs, ":"));
}

} // namespace berth::containerd::tasks
