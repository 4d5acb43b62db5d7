// Starting real berth daemons for cross-process tests: each gets its own temp root, state
// directory, socket path and metrics port (port 0, read back from its log), and is killed by
// its own PID if the test ends early.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/testing/child_process.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace berth::tests {

// The value after the first "<key>=" in a log file (up to a space or newline), polling until
// `timeout`. `key` may contain spaces ("ready socket").
absl::StatusOr<std::string> WaitForLogValue(const std::string& log_path, const std::string& key,
                                            absl::Duration timeout = absl::Seconds(20));

struct RunningDaemon {
  std::optional<berth::testing::ChildProcess> process;
  std::string socket;        // unix socket path
  std::string metrics_addr;  // host:port actually bound
  std::string log_path;
  // Cgroups (names under each hierarchy's root) the daemon's containers were put under; Stop
  // removes them once empty.
  std::vector<std::string> cgroup_parents;

  // SIGTERM, then the exit status within `timeout`; then removes the empty cgroup_parents.
  absl::StatusOr<int> Stop(absl::Duration timeout = absl::Seconds(15));
};

// Starts `binary_rel` (workspace-relative, e.g. "engine/berthd") with `args`, logging to
// <dir>/<name>.<n>.log, and waits until its "ready socket=" line appears.
// `extra_env` entries ("K=V") are added to its environment.
absl::StatusOr<RunningDaemon> StartDaemon(const std::string& binary_rel,
                                          const std::vector<std::string>& args,
                                          const std::string& dir, const std::string& name,
                                          const std::string& socket,
                                          const std::vector<std::string>& extra_env = {});

// berth-containerd with everything under `dir`. With `tasks`, it runs containers: --shim is the
// runfiles' berth-shim and berth-runc is on its PATH (the test's BUILD target must have
// //shim:berth-shim and //runc:berth-runc in its data).
absl::StatusOr<RunningDaemon> StartContainerd(const berth::testing::TempDir& dir,
                                              bool tasks = false);
// berthd with everything under `dir`, talking to the containerd socket given. Its containers'
// cgroups go under a parent of the test's own ("/berth-test-<dir name>"), removed by Stop.
absl::StatusOr<RunningDaemon> StartBerthd(const berth::testing::TempDir& dir,
                                          const std::string& containerd_socket);

// Runs the berth CLI binary against `socket`; `extra_env` entries ("K=V") are added to its
// environment.
absl::StatusOr<berth::testing::CommandResult> RunBerth(
    const std::string& socket, const std::vector<std::string>& args,
    absl::Duration timeout = absl::Seconds(30), const std::vector<std::string>& extra_env = {});

// The engine's end-to-end fixture: berth-containerd and berthd in a temp dir of their own,
// driven through the real berth CLI (whose config dir, $BERTH_CONFIG, is in that temp dir too,
// so no credentials of the host are read and none are left behind). The test's BUILD target
// needs //containerd:berth-containerd, //engine:berthd and //engine/cli:berth in its data, plus
// //shim:berth-shim and //runc:berth-runc for containers that run.
//
// Berth() and the Inspect helpers record gtest failures (EXPECT) when the CLI cannot be run or
// its answer is not what they need; the rest returns a Status.
class EngineEnv {
 public:
  struct Options {
    // berth-containerd runs containers (StartContainerd's `tasks`).
    bool tasks = true;
    // Imports a busybox image (berth::testing::MakeBusyboxTar) as "busybox" once both daemons
    // are up.
    bool import_busybox = true;
  };

  EngineEnv() = default;
  EngineEnv(const EngineEnv&) = delete;
  EngineEnv& operator=(const EngineEnv&) = delete;
  // Stop(), when Start was called.
  ~EngineEnv();

  // Creates the temp dir, starts berth-containerd and berthd, and imports busybox if asked.
  absl::Status Start(Options options);
  absl::Status Start() { return Start(Options()); }
  // (Re)starts one daemon, e.g. after the test killed it and reset() its slot.
  absl::Status StartContainerd();
  absl::Status StartBerthd();
  // Imports a busybox image as `name`; returns what `berth import` printed (the image id).
  absl::StatusOr<std::string> ImportBusybox(const std::string& name = "busybox");
  // Removes every container left (`rm -f`), then stops berthd and berth-containerd (the ones
  // still running). Idempotent.
  void Stop();

  const berth::testing::TempDir& dir() const { return *dir_; }
  // The daemons; a test may kill one and reset() its slot before starting it again.
  std::optional<RunningDaemon>& containerd() { return cd_; }
  std::optional<RunningDaemon>& berthd() { return bd_; }
  // $BERTH_CONFIG of every CLI run.
  std::string config_dir() const { return dir_->Sub("berth-config"); }
  // The environment entries every CLI run gets ("BERTH_CONFIG=...").
  std::vector<std::string> CliEnv() const { return {"BERTH_CONFIG=" + config_dir()}; }
  // The CLI's argv for `args` (binary, -H, then `args`), for tests that start it themselves
  // (on a pty, or with stdout and stderr apart); run it with CliEnv().
  std::vector<std::string> BerthArgv(const std::vector<std::string>& args) const;

  // Runs the CLI to completion; {-1, ""} (and a test failure) when it cannot be run.
  berth::testing::CommandResult Berth(const std::vector<std::string>& args,
                                      absl::Duration timeout = absl::Seconds(30));
  // The single object of an inspect command's JSON array answer (`args`, e.g.
  // {"image", "inspect", "busybox"}); an empty object, and a test failure, otherwise.
  nlohmann::json InspectOne(const std::vector<std::string>& args);
  nlohmann::json Inspect(const std::string& container_or_image) {
    return InspectOne({"inspect", container_or_image});
  }
  nlohmann::json InspectImage(const std::string& image) {
    return InspectOne({"image", "inspect", image});
  }

 private:
  void SweepLeftovers(const std::vector<std::string>& cgroup_parents);
  Options options_;
  std::optional<berth::testing::TempDir> dir_;
  std::optional<RunningDaemon> cd_, bd_;
};

// A gtest fixture around EngineEnv for the engine's end-to-end tests: SetUp skips without root
// or /bin/busybox, then starts env_ with EnvOptions(); TearDown stops it. A subclass that
// overrides SetUp calls EngineTest::SetUp first and returns when IsSkipped() or
// HasFatalFailure().
class EngineTest : public ::testing::Test {
 protected:
  virtual EngineEnv::Options EnvOptions() const { return EngineEnv::Options(); }
  void SetUp() override;
  void TearDown() override { env_.Stop(); }

  berth::testing::CommandResult Berth(const std::vector<std::string>& args) {
    return env_.Berth(args);
  }
  nlohmann::json Inspect(const std::string& container_or_image) {
    return env_.Inspect(container_or_image);
  }

  EngineEnv env_;
};

}  // namespace berth::tests
