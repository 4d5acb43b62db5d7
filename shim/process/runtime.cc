#include "shim/process/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"

extern char** environ;

namespace berth::shim::process {
namespace {

using nlohmann::json;

bool IsExecutable(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

absl::StatusOr<std::string> FindBinary(const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("runtime binary is empty");
  if (absl::StrContains(name, '/')) {
    if (!IsExecutable(name)) return absl::NotFoundError("runtime " + name + " not found");
    return name;
  }
  const char* path = std::getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                      ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (IsExecutable(candidate)) return candidate;
  }
  return absl::NotFoundError("runtime " + name + " not found in $PATH");
}

off_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

// The "msg" of the last error-level line of a runtime's JSON log text; "" if none.
std::string LastLoggedError(absl::string_view text) {
  std::string last;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) continue;
    auto level = j.find("level");
    auto msg = j.find("msg");
    if (level == j.end() || msg == j.end() || !msg->is_string()) continue;
    if (*level == "error" || *level == "fatal") last = msg->get<std::string>();
  }
  return last;
}

std::string LastLine(absl::string_view text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n', absl::SkipWhitespace());
  return lines.empty() ? "" : std::string(absl::StripAsciiWhitespace(lines.back()));
}

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

absl::StatusOr<OciState> ParseOciState(const std::string& json_text) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("id") || !j["id"].is_string() || !j.contains("status") ||
      !j["status"].is_string()) {
    return absl::InvalidArgumentError("runtime state is not an OCI state object: " +
                                      LastLine(json_text));
  }
  OciState s;
  s.id = j["id"].get<std::string>();
  s.status = j["status"].get<std::string>();
  if (j.contains("ociVersion") && j["ociVersion"].is_string()) s.oci_version = j["ociVersion"];
  if (j.contains("pid") && j["pid"].is_number_integer()) s.pid = j["pid"].get<pid_t>();
  if (j.contains("bundle") && j["bundle"].is_string()) s.bundle = j["bundle"];
  if (j.contains("annotations") && j["annotations"].is_object()) {
    for (const auto& [k, v] : j["annotations"].items()) {
      if (v.is_string()) s.annotations[k] = v.get<std::string>();
    }
  }
  return s;
}

absl::StatusOr<pid_t> ReadPidFile(const std::string& path) {
  BERTH_ASSIGN_OR_RETURN(std::string text, fs::ReadFile(path));
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &pid) || pid <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("pid file ", path, ": not a pid: \"", absl::CEscape(text), "\""));
  }
  return static_cast<pid_t>(pid);
}

absl::StatusOr<Runtime> Runtime::Create(RuntimeOptions options) {
  if (options.root.empty()) return absl::InvalidArgumentError("runtime root is empty");
  if (options.log_path.empty()) return absl::InvalidArgumentError("runtime log path is empty");
  BERTH_ASSIGN_OR_RETURN(std::string path, FindBinary(options.binary));
  return Runtime(std::move(options), std::move(path));
}

absl::StatusOr<Runtime::Result> Runtime::Run(const std::vector<std::string>& args,
                                             const RuntimeStdio* stdio) const {
  std::vector<std::string> argv = {binary_path_,      "--root",       options_.root, "--log",
                                   options_.log_path, "--log-format", "json"};
  if (options_.systemd_cgroup) argv.push_back("--systemd-cgroup");
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  // Everything the child needs is prepared here: between fork and exec only
  // async-signal-safe calls are allowed (the shim has threads).
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) return absl::ErrnoToStatus(errno, "open /dev/null");
  int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  absl::Cleanup close_fds = [&] {
    CloseFd(null_fd);
    for (int* p : {out_pipe, err_pipe}) {
      CloseFd(p[0]);
      CloseFd(p[1]);
    }
  };
  int child_fds[3];
  if (stdio == nullptr) {
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
      return absl::ErrnoToStatus(errno, "pipe");
    }
    child_fds[0] = null_fd;
    child_fds[1] = out_pipe[1];
    child_fds[2] = err_pipe[1];
  } else {
    child_fds[0] = stdio->stdin_fd >= 0 ? stdio->stdin_fd : null_fd;
    child_fds[1] = stdio->stdout_fd >= 0 ? stdio->stdout_fd : null_fd;
    child_fds[2] = stdio->stderr_fd >= 0 ? stdio->stderr_fd : null_fd;
  }

  const pid_t pid = ::fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
  if (pid == 0) {
    // Copies above 2 first, so that a source fd that is itself 0, 1 or 2 is not overwritten
    // before it is used.
    int high[3];
    for (int i = 0; i < 3; ++i) {
      high[i] = ::fcntl(child_fds[i], F_DUPFD_CLOEXEC, 3);
      if (high[i] < 0) _exit(127);
    }
    for (int i = 0; i < 3; ++i) {
      if (::dup2(high[i], i) < 0) _exit(127);
    }
    ::syscall(SYS_close_range, 3u, ~0u, 0u);  // best effort; berth opens fds O_CLOEXEC anyway
    // The shim blocks termination signals and ignores SIGPIPE; the runtime, and the container
    // process it becomes, must start with defaults.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execve(cargv[0], cargv.data(), environ);
    _exit(127);
  }

  Result result;
  if (stdio == nullptr) {
    CloseFd(out_pipe[1]);
    CloseFd(err_pipe[1]);
    struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    std::string* sinks[2] = {&result.output, &result.errors};
    int open_count = 2;
    while (open_count > 0) {
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        char buf[8192];
        const ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
        if (n > 0) {
          sinks[i]->append(buf, static_cast<size_t>(n));
        } else if (n == 0 || errno != EINTR) {
          fds[i].fd = -1;
          --open_count;
        }
      }
    }
  }
  if (options_.wait) {
    BERTH_ASSIGN_OR_RETURN(result.wait_status, options_.wait(pid));
  } else {
    while (::waitpid(pid, &result.wait_status, 0) < 0) {
      if (errno != EINTR) return absl::ErrnoToStatus(errno, "wait for runtime");
    }
  }
  return result;
}

absl::Status Runtime::CheckResult(const std::string& command, const std::string& id,
                                  const Result& result, off_t log_offset) const {
  if (WIFEXITED(result.wait_status) && WEXITSTATUS(result.wait_status) == 0) {
    return absl::OkStatus();
  }
  std::string message;
  if (absl::StatusOr<std::string> log = fs::ReadFile(options_.log_path); log.ok()) {
    const size_t from = std::min(static_cast<size_t>(log_offset), log->size());
    message = LastLoggedError(absl::string_view(*log).substr(from));
  }
  if (message.empty()) message = LastLine(result.errors);
  if (message.empty()) {
    message = WIFEXITED(result.wait_status)
                  ? absl::StrCat("exit status ", WEXITSTATUS(result.wait_status))
                  : absl::StrCat("killed by signal ", WTERMSIG(result.wait_status));
  }
  const std::string name = binary_path_.substr(binary_path_.rfind('/') + 1);
  std::string text = absl::StrCat(name, " ", command, " ", id, ": ", message);
  if (absl::StrContains(message, "does not exist")) return absl::NotFoundError(text);
  return absl::InternalError(text);
}

absl::Status Runtime::RunChecked(const std::string& command, const std::string& id,
                                 const std::vector<std::string>& args, const RuntimeStdio* stdio,
                                 std::string* output) const {
  const off_t offset = FileSize(options_.log_path);
  std::vector<std::string> full = {command};
  full.insert(full.end(), args.begin(), args.end());
  full.push_back(id);
  BERTH_ASSIGN_OR_RETURN(Result r, Run(full, stdio), absl::StrCat("run runtime ", command));
  BERTH_RETURN_IF_ERROR(CheckResult(command, id, r, offset));
  if (output != nullptr) *output = std::move(r.output);
  return absl::OkStatus();
}

absl::Status Runtime::Create(const std::string& id, const CreateOptions& options) const {
  std::vector<std::string> args = {"--bundle", options.bundle};
  if (!options.pid_file.empty()) args.insert(args.end(), {"--pid-file", options.pid_file});
  if (!options.console_socket.empty()) {
    args.insert(args.end(), {"--console-socket", options.console_socket});
  }
  if (options.no_pivot) args.push_back("--no-pivot");
  if (options.no_new_keyring) args.push_back("--no-new-keyring");
  return RunChecked("create", id, args, &options.stdio, nullptr);
}

absl::Status Runtime::Start(const std::string& id) const {
  return RunChecked("start", id, {}, nullptr, nullptr);
}

absl::StatusOr<OciState> Runtime::State(const std::string& id) const {
  std::string out;
  BERTH_RETURN_IF_ERROR(RunChecked("state", id, {}, nullptr, &out));
  return ParseOciState(out);
}

absl::Status Runtime::Kill(const std::string& id, int signal, bool all) const {
  // The signal follows the id: `kill [--all] <id> <signal>`.
  const off_t offset = FileSize(options_.log_path);
  std::vector<std::string> args = {"kill"};
  if (all) args.push_back("--all");
  args.push_back(id);
  args.push_back(absl::StrCat(signal));
  BERTH_ASSIGN_OR_RETURN(Result r, Run(args, nullptr), "run runtime kill");
  return CheckResult("kill", id, r, offset);
}

absl::Status Runtime::Delete(const std::string& id, bool force) const {
  std::vector<std::string> args;
  if (force) args.push_back("--force");
  return RunChecked("delete", id, args, nullptr, nullptr);
}

absl::Status Runtime::Exec(const std::string& id, const ExecOptions& options) const {
  std::vector<std::string> args = {"--process", options.process_file};
  if (options.detach) args.push_back("--detach");
  if (!options.pid_file.empty()) args.insert(args.end(), {"--pid-file", options.pid_file});
  if (!options.console_socket.empty()) {
    args.insert(args.end(), {"--console-socket", options.console_socket});
  }
  return RunChecked("exec", id, args, &options.stdio, nullptr);
}

absl::StatusOr<std::vector<pid_t>> Runtime::Ps(const std::string& id) const {
  std::string out;
  BERTH_RETURN_IF_ERROR(RunChecked("ps", id, {"--format", "json"}, nullptr, &out));
  json j = json::parse(out, nullptr, /*allow_exceptions=*/false);
  // runc prints "null" for an empty list.
  if (j.is_null() && absl::StripAsciiWhitespace(out) == "null") return std::vector<pid_t>{};
  if (!j.is_array()) {
    return absl::InternalError("runtime ps: not a JSON array of pids: " + LastLine(out));
  }
  std::vector<pid_t> pids;
  for (const auto& v : j) {
    if (!v.is_number_integer()) return absl::InternalError("runtime ps: pid is not a number");
    pids.push_back(v.get<pid_t>());
  }
  return pids;
}

absl::Status Runtime::Pause(const std::string& id) const {
  return RunChecked("pause", id, {}, nullptr, nullptr);
}

absl::Status Runtime::Resume(const std::string& id) const {
  return RunChecked("resume", id, {}, nullptr, nullptr);
}

absl::Status Runtime::Update(const std::string& id, const std::string& resources_file) const {
  return RunChecked("update", id, {"--resources", resources_file}, nullptr, nullptr);
}

absl::Status Runtime::Checkpoint(const std::string& id, const std::string& image_path,
                                 const std::string& parent_path,
                                 const std::vector<std::string>& args) const {
  std::vector<std::string> all = {"--image-path", image_path};
  if (!parent_path.empty()) all.insert(all.end(), {"--parent-path", parent_path});
  all.insert(all.end(), args.begin(), args.end());
  return RunChecked("checkpoint", id, all, nullptr, nullptr);
}

}  // namespace berth::shim::process
