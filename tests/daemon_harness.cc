#include "tests/daemon_harness.h"

#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <atomic>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/testing/busybox.h"
#include "common/testing/leftovers.h"
#include "common/testing/runfiles.h"
#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

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

absl::StatusOr<berth::testing::CommandResult> RunBerth(const std::string& socket,
                                                       const std::vector<std::string>& args,
                                                       absl::Duration timeout,
                                                       const std::vector<std::string>& extra_env) {
  std::vector<std::string> argv = {RunfilePath("engine/cli/berth"), "-H", "unix://" + socket};
  argv.insert(argv.end(), args.begin(), args.end());
  return berth::testing::RunCommand(argv, timeout, extra_env);
}

EngineEnv::~EngineEnv() { Stop(); }

absl::Status EngineEnv::Start(Options options) {
  options_ = options;
  absl::StatusOr<berth::testing::TempDir> dir = berth::testing::TempDir::Create();
  if (!dir.ok()) return dir.status();
  dir_.emplace(std::move(*dir));
  if (absl::Status s = StartContainerd(); !s.ok()) return s;
  if (absl::Status s = StartBerthd(); !s.ok()) return s;
  if (options_.import_busybox) return ImportBusybox().status();
  return absl::OkStatus();
}

absl::Status EngineEnv::StartContainerd() {
  absl::StatusOr<RunningDaemon> cd = tests::StartContainerd(*dir_, options_.tasks);
  if (!cd.ok()) return cd.status();
  cd_.emplace(std::move(*cd));
  return absl::OkStatus();
}

absl::Status EngineEnv::StartBerthd() {
  if (!cd_.has_value()) return absl::FailedPreconditionError("berth-containerd is not running");
  absl::StatusOr<RunningDaemon> bd = tests::StartBerthd(*dir_, cd_->socket);
  if (!bd.ok()) return bd.status();
  bd_.emplace(std::move(*bd));
  return absl::OkStatus();
}

absl::StatusOr<std::string> EngineEnv::ImportBusybox(const std::string& name) {
  const std::string tar = dir_->Sub("busybox.tar");
  if (access(tar.c_str(), F_OK) != 0) {
    if (absl::Status s = berth::testing::MakeBusyboxTar(dir_->path(), tar); !s.ok()) return s;
  }
  berth::testing::CommandResult r = Berth({"import", tar, name});
  if (!r.Succeeded()) return absl::InternalError("berth import: " + r.output);
  return std::string(absl::StripAsciiWhitespace(r.output));
}

void EngineEnv::Stop() {
  std::vector<std::string> cgroup_parents;
  if (bd_.has_value()) {
    // Remove what the test left, then stop the daemons: nothing may stay running.
    berth::testing::CommandResult ids = Berth({"ps", "-a", "-q"});
    for (absl::string_view id : absl::StrSplit(ids.output, '\n', absl::SkipEmpty())) {
      Berth({"rm", "-f", std::string(id)});
    }
    cgroup_parents = bd_->cgroup_parents;
    (void)bd_->Stop();
    bd_.reset();
  }
  if (cd_.has_value()) {
    (void)cd_->Stop();
    cd_.reset();
  }
  if (dir_.has_value()) SweepLeftovers(cgroup_parents);
}

// A test that failed half-way (daemons killed, a peer unreachable) can leave containers behind
// that `rm -f` could not remove. They live in this test's own cgroup parent and mount under its
// own directory, so they are found by those (never by name), killed and unmounted, and the test
// fails naming them: a passing test must not need this.
void EngineEnv::SweepLeftovers(const std::vector<std::string>& cgroup_parents) {
  std::vector<std::string> found;
  for (const std::string& parent : cgroup_parents) {
    glob_t g;
    const std::string pattern = absl::StrCat("/sys/fs/cgroup/*", parent, "/*/cgroup.procs");
    if (glob(pattern.c_str(), 0, nullptr, &g) != 0) continue;
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      for (absl::string_view line :
           absl::StrSplit(berth::testing::ReadFileOrEmpty(g.gl_pathv[i]), '\n',
                          absl::SkipEmpty())) {
        int pid = 0;
        if (absl::SimpleAtoi(line, &pid) && pid > 1) {
          found.push_back(absl::StrCat("pid ", pid, " in ", g.gl_pathv[i]));
          kill(pid, SIGKILL);
        }
      }
    }
    globfree(&g);
  }
  for (const std::string& m : berth::testing::UnmountLeftovers(dir_->path())) {
    found.push_back("mount " + m);
  }
  if (!found.empty()) {
    // Let the killed processes leave their cgroups, then remove the (now empty) groups.
    absl::SleepFor(absl::Milliseconds(200));
    for (const std::string& parent : cgroup_parents) {
      (void)berth::testing::RemoveCgroupParent(parent);
    }
    ADD_FAILURE() << "the test left containers behind (swept): " << absl::StrJoin(found, "; ");
  }
}

std::vector<std::string> EngineEnv::BerthArgv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {RunfilePath("engine/cli/berth"), "-H",
                                   "unix://" + bd_->socket};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

berth::testing::CommandResult EngineEnv::Berth(const std::vector<std::string>& args,
                                               absl::Duration timeout) {
  if (!bd_.has_value()) {
    ADD_FAILURE() << "berthd is not running";
    return {-1, ""};
  }
  absl::StatusOr<berth::testing::CommandResult> r =
      RunBerth(bd_->socket, args, timeout, CliEnv());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : berth::testing::CommandResult{-1, ""};
}

nlohmann::json EngineEnv::InspectOne(const std::vector<std::string>& args) {
  berth::testing::CommandResult r = Berth(args);
  EXPECT_EQ(berth::testing::ExitCode(r), 0) << absl::StrJoin(args, " ") << ": " << r.output;
  nlohmann::json j = nlohmann::json::parse(r.output, nullptr, false);
  EXPECT_TRUE(j.is_array() && j.size() == 1) << r.output;
  return j.is_array() && !j.empty() ? j[0] : nlohmann::json::object();
}

void EngineTest::SetUp() {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (containers, overlayfs snapshots)";
  if (access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "needs Debian's busybox-static";
  ASSERT_THAT(env_.Start(EnvOptions()), berth::testing::IsOk());
}

}  // namespace berth::tests
