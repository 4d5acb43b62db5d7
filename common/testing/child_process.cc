#include "common/testing/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/testing/temp_dir.h"

extern char** environ;

namespace berth::testing {

absl::StatusOr<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv,
                                                 const std::string& output_path,
                                                 const std::vector<std::string>& extra_env) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  // extra_env entries replace inherited ones with the same name (glibc's getenv takes the
  // first match, so appending a second PATH would be ignored).
  auto key = [](const std::string& e) { return e.substr(0, e.find('=')); };
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    bool overridden = false;
    for (const auto& x : extra_env) overridden |= key(x) == key(entry);
    if (!overridden) env.push_back(std::move(entry));
  }
  for (const auto& e : extra_env) env.push_back(e);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  const std::string out = output_path.empty() ? "/dev/null" : output_path;
  int out_fd = open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out_fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", out));
  int in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (in_fd < 0) {
    close(out_fd);
    return absl::ErrnoToStatus(errno, "open /dev/null");
  }
  pid_t pid = fork();
  if (pid < 0) {
    close(out_fd);
    close(in_fd);
    return absl::ErrnoToStatus(errno, "fork");
  }
  if (pid == 0) {
    // Own process group, so a terminal's Ctrl-C to the test does not reach it twice.
    setpgid(0, 0);
    dup2(in_fd, 0);
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(cargv[0], cargv.data(), cenv.data());
    _exit(127);
  }
  close(out_fd);
  close(in_fd);
  return ChildProcess(pid);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), exited_(other.exited_), wait_status_(other.wait_status_) {
  other.pid_ = -1;
}

ChildProcess::~ChildProcess() {
  if (running()) {
    kill(pid_, SIGKILL);
    int st;
    waitpid(pid_, &st, 0);
  }
}

absl::Status ChildProcess::Signal(int sig) {
  if (!running()) return absl::FailedPreconditionError("child is not running");
  if (kill(pid_, sig) != 0) return absl::ErrnoToStatus(errno, "kill");
  return absl::OkStatus();
}

absl::StatusOr<int> ChildProcess::Wait(absl::Duration timeout) {
  if (exited_) return wait_status_;
  if (pid_ <= 0) return absl::FailedPreconditionError("no child");
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      wait_status_ = st;
      return st;
    }
    if (r < 0 && errno != EINTR) return absl::ErrnoToStatus(errno, "waitpid");
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("pid ", pid_, " still running"));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

bool WaitFor(const std::function<bool()>& done, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

int ExitCode(int wait_status) {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
}

bool CommandResult::Succeeded() const {
  return WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout,
                                         const std::vector<std::string>& extra_env) {
  auto dir = TempDir::Create();
  if (!dir.ok()) return dir.status();
  const std::string out = dir->Sub("output");
  auto child = ChildProcess::Start(argv, out, extra_env);
  if (!child.ok()) return child.status();
  auto st = child->Wait(timeout);
  if (!st.ok()) return st.status();
  CommandResult r;
  r.wait_status = *st;
  r.output = ReadFileOrEmpty(out);
  return r;
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace berth::testing
