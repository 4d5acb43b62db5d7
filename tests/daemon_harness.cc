#include "tests/daemon_harness.h"

#include <signal.h>

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
  return process->Wait(timeout);
}

absl::StatusOr<RunningDaemon> StartDaemon(const std::string& binary_rel,
                                          const std::vector<std::string>& args,
                                          const std::string& dir, const std::string& name,
                                          const std::string& socket) {
  RunningDaemon d;
  d.socket = socket;
  // A fresh log per start: a restarted daemon must not be taken as ready on its previous
  // run's lines.
  static std::atomic<int> starts{0};
  d.log_path = absl::StrCat(dir, "/", name, ".", starts++, ".log");
  std::vector<std::string> argv = {RunfilePath(binary_rel)};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = ChildProcess::Start(argv, d.log_path);
  if (!child.ok()) return child.status();
  d.process.emplace(std::move(*child));
  auto ready = WaitForLogValue(d.log_path, "ready socket");
  if (!ready.ok()) return ready.status();
  auto metrics = WaitForLogValue(d.log_path, "metrics listening address");
  if (!metrics.ok()) return metrics.status();
  d.metrics_addr = *metrics;
  return d;
}

absl::StatusOr<RunningDaemon> StartContainerd(const berth::testing::TempDir& dir) {
  const std::string socket = dir.Sub("cd/containerd.sock");
  return StartDaemon("containerd/berth-containerd",
                     {"--root=" + dir.Sub("cd-root"), "--state=" + dir.Sub("cd"),
                      "--address=unix://" + socket, "--metrics-addr=127.0.0.1:0"},
                     dir.path(), "containerd", socket);
}

absl::StatusOr<RunningDaemon> StartBerthd(const berth::testing::TempDir& dir,
                                          const std::string& containerd_socket) {
  const std::string socket = dir.Sub("b/berthd.sock");
  return StartDaemon("engine/berthd",
                     {"--root=" + dir.Sub("b-root"), "--exec-root=" + dir.Sub("b"),
                      "--host=unix://" + socket, "--containerd=unix://" + containerd_socket,
                      "--metrics-addr=127.0.0.1:0"},
                     dir.path(), "berthd", socket);
}

absl::StatusOr<berth::testing::CommandResult> RunBerth(const std::string& socket,
                                                       const std::vector<std::string>& args) {
  std::vector<std::string> argv = {RunfilePath("engine/cli/berth"), "-H", "unix://" + socket};
  argv.insert(argv.end(), args.begin(), args.end());
  return berth::testing::RunCommand(argv);
}

}  // namespace berth::tests
