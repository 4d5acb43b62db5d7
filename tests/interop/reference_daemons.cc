#include "tests/interop/reference_daemons.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"
#include "common/testing/http_get.h"
#include "common/testing/leftovers.h"

namespace berth::tests::interop {
namespace {

using ::berth::testing::RemoveCgroupParent;
using ::berth::testing::UnmountLeftovers;

using berth::testing::ChildProcess;
using berth::testing::ReadFileOrEmpty;
using berth::testing::TempDir;
using berth::testing::WaitFor;

// The daemons find their helpers (runc, containerd-shim-runc-v2, mount) here, whatever PATH the
// test runner gives; /usr/local is left out so no other build of a tool is picked up.
constexpr char kDaemonPath[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

// The last `lines` lines of a log, for error messages.
std::string Tail(const std::string& path, int lines = 15) {
  const std::string text = ReadFileOrEmpty(path);
  size_t at = text.size();
  for (int i = 0; i <= lines && at != std::string::npos && at > 0; ++i) {
    at = text.rfind('\n', at - 1);
  }
  return at == std::string::npos ? text : text.substr(at + 1);
}

// The last path component: "berth-test-AbC123" for its temp dir.
std::string BaseName(const std::string& path) { return path.substr(path.rfind('/') + 1); }

bool Exited(ChildProcess& child) { return child.Wait(absl::ZeroDuration()).ok(); }

// SIGTERM to `child`, then SIGKILL (its PID only) if it is still there after `timeout`. Internal
// when it had to be killed.
absl::Status TerminateChild(ChildProcess& child, const std::string& name, absl::Duration timeout) {
  if (!child.running()) return absl::OkStatus();
  if (absl::Status s = child.Signal(SIGTERM); !s.ok() && child.running()) return s;
  if (child.Wait(timeout).ok()) return absl::OkStatus();
  child.Signal(SIGKILL).IgnoreError();
  child.Wait(absl::Seconds(10)).IgnoreError();
  return absl::InternalError(absl::StrCat(name, " did not exit within ",
                                          absl::FormatDuration(timeout), " of SIGTERM: killed"));
}

// PIDs of containerd shims serving the containerd at `socket` (their "-address" argument).
std::vector<pid_t> ShimsOf(const std::string& socket) {
  std::vector<pid_t> pids;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* e = readdir(proc)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    const std::string cmdline = ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/cmdline"));
    std::vector<std::string> argv = absl::StrSplit(cmdline, '\0');
    if (argv.empty() || !absl::StrContains(BaseName(argv[0]), "containerd-shim")) continue;
    for (size_t i = 0; i + 1 < argv.size(); ++i) {
      if ((argv[i] == "-address" || argv[i] == "--address") && argv[i + 1] == socket) {
        pids.push_back(pid);
        break;
      }
    }
  }
  closedir(proc);
  return pids;
}

// Polls `ready` until it holds, `child` exits (Unavailable) or `timeout` passes (DeadlineExceeded);
// both errors carry the log's tail.
absl::Status WaitUntilReady(ChildProcess& child, const std::string& name, const std::string& log,
                            const std::function<bool()>& ready, absl::Duration timeout) {
  bool died = false;
  const bool ok = WaitFor(
      [&] {
        if (Exited(child)) {
          died = true;
          return true;
        }
        return ready();
      },
      timeout);
  if (died) {
    return absl::UnavailableError(absl::StrCat(name, " exited during start-up:\n", Tail(log)));
  }
  if (!ok) {
    return absl::DeadlineExceededError(
        absl::StrCat(name, " not ready within ", absl::FormatDuration(timeout), ":\n", Tail(log)));
  }
  return absl::OkStatus();
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

}  // namespace

absl::Status RequireTool(const std::string& path, const std::string& debian_package) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || access(path.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not installed (Debian package ", debian_package, ")"));
  }
  return absl::OkStatus();
}

absl::Status RequireRoot() {
  if (geteuid() != 0) return absl::FailedPreconditionError("needs root");
  return absl::OkStatus();
}

bool ToolRun::Succeeded() const { return WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0; }

std::string ToolRun::Describe() const {
  std::string how;
  if (WIFEXITED(wait_status)) {
    how = absl::StrCat("exit ", WEXITSTATUS(wait_status));
  } else if (WIFSIGNALED(wait_status)) {
    how = absl::StrCat("killed by signal ", WTERMSIG(wait_status));
  } else {
    how = absl::StrCat("wait status ", wait_status);
  }
  return absl::StrCat(how, "\nstderr: ", err, "\nstdout: ", out);
}

absl::StatusOr<ToolRun> RunTool(const std::vector<std::string>& argv, absl::Duration timeout,
                                const std::vector<std::string>& extra_env) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  // RunCommand keeps one output; a shell redirect moves stderr to a file of its own, and `exec`
  // makes the tool itself the child RunCommand waits for (and kills on a timeout).
  absl::StatusOr<TempDir> tmp = TempDir::Create();
  if (!tmp.ok()) return tmp.status();
  const std::string err_path = tmp->Sub("stderr");
  std::vector<std::string> sh = {"/bin/sh", "-c", "exec \"$@\" 2>\"$0\"", err_path};
  sh.insert(sh.end(), argv.begin(), argv.end());
  absl::StatusOr<berth::testing::CommandResult> r =
      berth::testing::RunCommand(sh, timeout, extra_env);
  if (!r.ok()) {
    return absl::Status(r.status().code(), absl::StrCat(argv[0], ": ", r.status().message()));
  }
  ToolRun run;
  run.wait_status = r->wait_status;
  run.out = std::move(r->output);
  run.err = ReadFileOrEmpty(err_path);
  return run;
}

absl::StatusOr<ToolRun> RunSkopeo(const std::string& work_dir, const std::vector<std::string>& args,
                                  absl::Duration timeout) {
  if (absl::Status s = RequireTool(kSkopeoBin, "skopeo"); !s.ok()) return s;
  const std::string policy = work_dir + "/skopeo-policy.json";
  if (!Exists(policy)) {
    BERTH_RETURN_IF_ERROR(fs::WriteFileAtomically(
        policy, R"({"default":[{"type":"insecureAcceptAnything"}]})", 0600));
  }
  std::vector<std::string> argv = {kSkopeoBin, "--policy", policy};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunTool(argv, timeout, {"HOME=" + work_dir, "XDG_RUNTIME_DIR=" + work_dir});
}

absl::StatusOr<int> PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    close(fd);
    return absl::ErrnoToStatus(err, "bind 127.0.0.1:0");
  }
  close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

// ---- ContainerdProcess ----

absl::StatusOr<std::unique_ptr<ContainerdProcess>> ContainerdProcess::Start() {
  BERTH_RETURN_IF_ERROR(RequireRoot());
  BERTH_RETURN_IF_ERROR(RequireTool(kContainerdBin, "containerd"));
  BERTH_RETURN_IF_ERROR(RequireTool(kCtrBin, "containerd"));
  std::unique_ptr<ContainerdProcess> p(new ContainerdProcess());
  absl::StatusOr<TempDir> dir = TempDir::Create();
  if (!dir.ok()) return dir.status();
  p->dir_.emplace(std::move(*dir));
  p->dir_path_ = p->dir_->path();
  const std::string& d = p->dir_path_;
  p->socket_ = d + "/containerd.sock";
  p->log_ = d + "/containerd.log";
  // Every address and directory containerd would otherwise take from /run/containerd,
  // /var/lib/containerd or /opt/containerd is set here.
  const std::string config =
      absl::StrCat("version = 2\n", "root = \"", d, "/root\"\n", "state = \"", d, "/state\"\n",
                   "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n", "[grpc]\n  address = \"",
                   p->socket_, "\"\n", "[ttrpc]\n  address = \"", p->socket_, ".ttrpc\"\n",
                   "[debug]\n  address = \"", d, "/debug.sock\"\n", "[metrics]\n  address = \"\"\n",
                   "[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"", d, "/opt\"\n");
  BERTH_RETURN_IF_ERROR(fs::WriteFileAtomically(d + "/config.toml", config, 0600));
  absl::StatusOr<ChildProcess> child =
      ChildProcess::Start({kContainerdBin, "--config", d + "/config.toml"}, p->log_, {kDaemonPath});
  if (!child.ok()) return child.status();
  p->process_.emplace(std::move(*child));
  BERTH_RETURN_IF_ERROR(WaitUntilReady(
      *p->process_, "containerd", p->log_,
      [&] {
        if (!Exists(p->socket_)) return false;
        absl::StatusOr<ToolRun> v =
            RunTool({kCtrBin, "--address", p->socket_, "version"}, absl::Seconds(10));
        return v.ok() && v->Succeeded();
      },
      absl::Seconds(60)));
  return p;
}

ContainerdProcess::~ContainerdProcess() { Stop().IgnoreError(); }

pid_t ContainerdProcess::pid() const { return process_ ? process_->pid() : -1; }

std::string ContainerdProcess::Log() const { return ReadFileOrEmpty(log_); }

absl::StatusOr<ToolRun> ContainerdProcess::Ctr(const std::vector<std::string>& args,
                                               const std::string& ns, absl::Duration timeout) {
  std::vector<std::string> argv = {kCtrBin, "--address", socket_, "--namespace", ns};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunTool(argv, timeout);
}

absl::Status ContainerdProcess::Stop(absl::Duration timeout) {
  if (!dir_.has_value()) return absl::OkStatus();
  std::vector<std::string> problems;
  if (process_) {
    if (absl::Status s = TerminateChild(*process_, "containerd", timeout); !s.ok()) {
      problems.push_back(std::string(s.message()));
    }
  }
  // Shims outlive containerd by design; the ones serving this containerd are ours to end.
  const std::vector<pid_t> shims = ShimsOf(socket_);
  for (pid_t pid : shims) kill(pid, SIGKILL);
  if (!shims.empty()) {
    WaitFor(
        [&] {
          for (pid_t pid : shims) {
            if (kill(pid, 0) == 0) return false;
          }
          return true;
        },
        absl::Seconds(10));
    problems.push_back(absl::StrCat("shims still running (killed): ", absl::StrJoin(shims, " ")));
  }
  const std::vector<std::string> mounts = UnmountLeftovers(dir_path_);
  if (!mounts.empty()) {
    problems.push_back(absl::StrCat("mounts left (unmounted): ", absl::StrJoin(mounts, " ")));
  }
  std::string log_tail = problems.empty() ? "" : Tail(log_);
  process_.reset();
  dir_.reset();
  if (problems.empty()) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("containerd ", dir_path_, ": ", absl::StrJoin(problems, "; "), "\n", log_tail));
}

// ---- DockerdProcess ----

absl::StatusOr<std::unique_ptr<DockerdProcess>> DockerdProcess::Start(
    const ContainerdProcess& containerd) {
  BERTH_RETURN_IF_ERROR(RequireRoot());
  BERTH_RETURN_IF_ERROR(RequireTool(kDockerdBin, "docker.io"));
  BERTH_RETURN_IF_ERROR(RequireTool(kDockerBin, "docker.io"));
  std::unique_ptr<DockerdProcess> p(new DockerdProcess());
  absl::StatusOr<TempDir> dir = TempDir::Create();
  if (!dir.ok()) return dir.status();
  p->dir_.emplace(std::move(*dir));
  p->dir_path_ = p->dir_->path();
  const std::string& d = p->dir_path_;
  p->socket_ = d + "/docker.sock";
  p->data_root_ = d + "/data";
  p->log_ = d + "/dockerd.log";
  p->cgroup_parent_ = absl::StrCat("/", BaseName(d), "-dockerd");
  // Without a key path of its own, dockerd 20.10 writes /etc/docker/key.json.
  BERTH_RETURN_IF_ERROR(fs::WriteFileAtomically(
      d + "/daemon.json", absl::StrCat(R"({"deprecated-key-path": ")", d, "/key.json\"}\n"), 0600));
  BERTH_RETURN_IF_ERROR(fs::MakeDirs(d + "/cli", 0700));
  const std::vector<std::string> argv = {
      kDockerdBin, "--data-root", p->data_root_, "--exec-root", d + "/exec", "--pidfile",
      d + "/dockerd.pid", "--host", "unix://" + p->socket_, "--containerd", containerd.socket(),
      "--config-file", d + "/daemon.json", "--storage-driver", "overlay2", "--exec-opt",
      "native.cgroupdriver=cgroupfs", "--cgroup-parent", p->cgroup_parent_,
      // The host's firewall, bridges and sysctls stay as they are.
      "--iptables=false", "--ip6tables=false", "--bridge=none", "--ip-masq=false",
      "--ip-forward=false", "--userland-proxy=false"};
  absl::StatusOr<ChildProcess> child = ChildProcess::Start(argv, p->log_, {kDaemonPath});
  if (!child.ok()) return child.status();
  p->process_.emplace(std::move(*child));
  DockerdProcess* raw = p.get();
  BERTH_RETURN_IF_ERROR(WaitUntilReady(
      *p->process_, "dockerd", p->log_,
      [raw] {
        if (!Exists(raw->socket_)) return false;
        absl::StatusOr<ToolRun> v =
            raw->Docker({"version", "--format", "{{.Server.Version}}"}, absl::Seconds(10));
        return v.ok() && v->Succeeded();
      },
      absl::Seconds(90)));
  return p;
}

DockerdProcess::~DockerdProcess() { Stop().IgnoreError(); }

pid_t DockerdProcess::pid() const { return process_ ? process_->pid() : -1; }

std::string DockerdProcess::Log() const { return ReadFileOrEmpty(log_); }

absl::StatusOr<ToolRun> DockerdProcess::Docker(const std::vector<std::string>& args,
                                               absl::Duration timeout) {
  std::vector<std::string> argv = {kDockerBin, "-H", "unix://" + socket_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunTool(argv, timeout, {"DOCKER_CONFIG=" + dir_path_ + "/cli", "HOME=" + dir_path_});
}

absl::Status DockerdProcess::Stop(absl::Duration timeout) {
  if (!dir_.has_value()) return absl::OkStatus();
  std::vector<std::string> problems;
  if (process_) {
    if (absl::Status s = TerminateChild(*process_, "dockerd", timeout); !s.ok()) {
      problems.push_back(std::string(s.message()));
    }
  }
  const std::vector<std::string> mounts = UnmountLeftovers(dir_path_);
  if (!mounts.empty()) {
    problems.push_back(absl::StrCat("mounts left (unmounted): ", absl::StrJoin(mounts, " ")));
  }
  // The parent is made by dockerd and stays after its containers are gone (like /docker); anything
  // below it is a container cgroup that was not cleaned up.
  const std::vector<std::string> cgroups_left = RemoveCgroupParent(cgroup_parent_);
  if (!cgroups_left.empty()) {
    problems.push_back(absl::StrCat("cgroups left: ", absl::StrJoin(cgroups_left, " ")));
  }
  if (Exists(dir_path_ + "/dockerd.pid")) problems.push_back("pidfile left");
  std::string log_tail = problems.empty() ? "" : Tail(log_);
  process_.reset();
  dir_.reset();
  if (problems.empty()) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("dockerd ", dir_path_, ": ", absl::StrJoin(problems, "; "), "\n", log_tail));
}

// ---- DockerRegistryProcess ----

absl::StatusOr<std::unique_ptr<DockerRegistryProcess>> DockerRegistryProcess::Start() {
  BERTH_RETURN_IF_ERROR(RequireTool(kDockerRegistryBin, "docker-registry"));
  std::unique_ptr<DockerRegistryProcess> p(new DockerRegistryProcess());
  absl::StatusOr<TempDir> dir = TempDir::Create();
  if (!dir.ok()) return dir.status();
  p->dir_.emplace(std::move(*dir));
  p->dir_path_ = p->dir_->path();
  const std::string& d = p->dir_path_;
  static std::atomic<int> starts{0};
  absl::Status last = absl::UnavailableError("not started");
  // The port is free when picked, but another process may bind it before the registry does.
  for (int attempt = 0; attempt < 5; ++attempt) {
    absl::StatusOr<int> port = PickFreePort();
    if (!port.ok()) return port.status();
    p->address_ = absl::StrCat("127.0.0.1:", *port);
    p->log_ = absl::StrCat(d, "/registry.", starts++, ".log");
    const std::string config = absl::StrCat(
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        "storage:\n  filesystem:\n    rootdirectory: ",
        d,
        "/storage\n"
        "  delete:\n    enabled: true\n"
        "  maintenance:\n    uploadpurging:\n      enabled: false\n"
        "http:\n  addr: ",
        p->address_, "\n");
    BERTH_RETURN_IF_ERROR(fs::WriteFileAtomically(d + "/config.yml", config, 0600));
    absl::StatusOr<ChildProcess> child =
        ChildProcess::Start({kDockerRegistryBin, "serve", d + "/config.yml"}, p->log_);
    if (!child.ok()) return child.status();
    p->process_.emplace(std::move(*child));
    const std::string address = p->address_;
    last = WaitUntilReady(
        *p->process_, "docker-registry", p->log_,
        [&address] {
          absl::StatusOr<berth::testing::HttpResponse> r =
              berth::testing::HttpGet(address, "/v2/", absl::Seconds(5));
          return r.ok() && r->status == 200;
        },
        absl::Seconds(30));
    if (last.ok()) return p;
    const bool port_taken = absl::StrContains(ReadFileOrEmpty(p->log_), "address already in use");
    p->process_.reset();  // kills it (by its PID) if it still runs
    if (!port_taken) return last;
  }
  return last;
}

DockerRegistryProcess::~DockerRegistryProcess() { Stop().IgnoreError(); }

pid_t DockerRegistryProcess::pid() const { return process_ ? process_->pid() : -1; }

std::string DockerRegistryProcess::Log() const { return ReadFileOrEmpty(log_); }

absl::Status DockerRegistryProcess::Stop(absl::Duration timeout) {
  if (!dir_.has_value()) return absl::OkStatus();
  absl::Status s = absl::OkStatus();
  if (process_) s = TerminateChild(*process_, "docker-registry", timeout);
  process_.reset();
  dir_.reset();
  return s;
}

}  // namespace berth::tests::interop
