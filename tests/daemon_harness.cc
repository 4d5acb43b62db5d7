#include "tests/daemon_harness.h"

#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <atomic>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/testing/runfiles.h"

namespace berth::tests {

using berth::testing::ChildProcess;
using berth::testing::ReadFileOrEmpty;
using berth::testing::RunfilePath;

absl::StatusOr<std::string> WaitForLogValue(const std::string& log_path, const std::string& key,
                                            absl::Duration timeout) {
  const std::string needle = key + "=";
  std::string value;
  bool found = berth::testing::WaitFor(
      [&] {
        const std::string log = ReadFileOrEmpty(log_path);
        size_t at = log.find(needle);
        if (at == std::string::npos) return false;
        at += needle.size();
        value = log.substr(at, log.find_first_of(" \n", at) - at);
        return true;
      },
      timeout);
  if (!found) {
    return absl::DeadlineExceededError(absl::StrCat("no ", needle, " in ", log_path, ":\n",
                                                    ReadFileOrEmpty(log_path)));
  }
  return value;
}

absl::StatusOr<int> RunningDaemon::Stop(absl::Duration timeout) {
  if (!process.has_value()) return absl::FailedPreconditionError("not started");
  if (auto s = process->Signal(SIGTERM); !s.ok()) return s;
  absl::StatusOr<int> status = process->Wait(timeout);
  // Each hierarchy (cgroup v1 controllers, the v2 mount) may hold the parent; rmdir only
  // succeeds once no container cgroup is left under it, which is the point.
  for (const std::string& parent : cgroup_parents) {
    glob_t g;
    if (glob(absl::StrCat("/sys/fs/cgroup/*", parent).c_str(), GLOB_ONLYDIR, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) rmdir(g.gl_pathv[i]);
      globfree(&g);
    }
    rmdir(absl::StrCat("/sys/fs/cgroup", parent).c_str());
  }
  return status;
}

absl::StatusOr<RunningDaemon> StartDaemon(const std::string& binary_rel,
                                          const std::vector<std::string>& args,
                                          const std::string& dir, const std::string& name,
                                          const std::string& socket,
                                          const std::vector<std::string>& extra_env) {
  RunningDaemon d;
  d.socket = socket;
  // A fresh log per start: a restarted daemon must not be taken as ready on its previous
  // run's lines.
  static std::atomic<int> starts{0};
  d.log_path = absl::StrCat(dir, "/", name, ".", starts++, ".log");
  std::vector<std::string> argv = {RunfilePath(binary_rel)};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = ChildProcess::Start(argv, d.log_path, extra_env);
  if (!child.ok()) return child.status();
  d.process.emplace(std::move(*child));
  auto ready = WaitForLogValue(d.log_path, "ready socket");
  if (!ready.ok()) return ready.status();
  auto metrics = WaitForLogValue(d.log_path, "metrics listening address");
  if (!metrics.ok()) return metrics.status();
  d.metrics_addr = *metrics;
  return d;
}

absl::StatusOr<RunningDaemon> StartContainerd(const berth::testing::TempDir& dir, bool tasks) {
  const std::string socket = dir.Sub("cd/containerd.sock");
  std::vector<std::string> args = {"--root=" + dir.Sub("cd-root"), "--state=" + dir.Sub("cd"),
                                   "--address=unix://" + socket, "--metrics-addr=127.0.0.1:0"};
  std::vector<std::string> env;
  if (tasks) {
    args.push_back("--shim=" + RunfilePath("shim/berth-shim"));
    // The runtime's state stays in the test's own directory.
    args.push_back("--runtime_root=" + dir.Sub("runc"));
    std::string runc_dir = RunfilePath("runc/berth-runc");
    runc_dir = runc_dir.substr(0, runc_dir.rfind('/'));
    const char* path = std::getenv("PATH");
    env.push_back(absl::StrCat("PATH=", runc_dir, ":", path ? path : "/usr/sbin:/usr/bin:/sbin:/bin"));
  }
  return StartDaemon("containerd/berth-containerd", args, dir.path(), "containerd", socket, env);
}

absl::StatusOr<RunningDaemon> StartBerthd(const berth::testing::TempDir& dir,
                                          const std::string& containerd_socket) {
  const std::string socket = dir.Sub("b/berthd.sock");
  const std::string cgroup_parent =
      "/berth-test-" + dir.path().substr(dir.path().rfind('/') + 1);
  absl::StatusOr<RunningDaemon> d =
      StartDaemon("engine/berthd",
                  {"--root=" + dir.Sub("b-root"), "--exec-root=" + dir.Sub("b"),
                   "--host=unix://" + socket, "--containerd=unix://" + containerd_socket,
                   "--metrics-addr=127.0.0.1:0", "--cgroup_parent=" + cgroup_parent},
                  dir.path(), "berthd", socket);
  if (d.ok()) d->cgroup_parents.push_back(cgroup_parent);
  return d;
}

absl::Status MakeBusyboxTar(const std::string& work_dir, const std::string& tar_path) {
  if (access("/bin/busybox", X_OK) != 0) {
    return absl::FailedPreconditionError("/bin/busybox missing (Debian package busybox-static)");
  }
  const std::string root = absl::StrCat(work_dir, "/busybox-rootfs");
  for (const char* d : {"", "/bin", "/etc", "/tmp", "/proc", "/sys", "/dev", "/root"}) {
    if (mkdir((root + d).c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno, absl::StrCat("mkdir ", root, d));
    }
  }
  auto cp = berth::testing::RunCommand({"/bin/cp", "/bin/busybox", root + "/bin/busybox"});
  if (!cp.ok()) return cp.status();
  if (!cp->Succeeded()) return absl::InternalError("cp busybox: " + cp->output);
  for (const char* applet : {"sh", "ls", "echo", "cat", "true", "false", "sleep", "id", "env",
                             "hostname", "stty", "ps", "kill", "seq", "wc", "head", "tail",
                             "date", "touch", "mkdir", "rm", "grep", "tty", "yes", "top"}) {
    std::string link = root + "/bin/" + applet;
    if (symlink("busybox", link.c_str()) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno, "symlink " + link);
    }
  }
  FILE* f = fopen((root + "/etc/passwd").c_str(), "w");
  if (f == nullptr) return absl::ErrnoToStatus(errno, "write passwd");
  fputs("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n", f);
  fclose(f);
  f = fopen((root + "/etc/group").c_str(), "w");
  if (f == nullptr) return absl::ErrnoToStatus(errno, "write group");
  fputs("root:x:0:\nnogroup:x:65534:\n", f);
  fclose(f);
  auto tar = berth::testing::RunCommand({"/bin/tar", "-C", root, "-cf", tar_path, "."});
  if (!tar.ok()) return tar.status();
  if (!tar->Succeeded()) return absl::InternalError("tar: " + tar->output);
  return absl::OkStatus();
}

absl::StatusOr<berth::testing::CommandResult> RunBerth(const std::string& socket,
                                                       const std::vector<std::string>& args) {
  std::vector<std::string> argv = {RunfilePath("engine/cli/berth"), "-H", "unix://" + socket};
  argv.insert(argv.end(), args.begin(), args.end());
  return berth::testing::RunCommand(argv);
}

}  // namespace berth::tests
