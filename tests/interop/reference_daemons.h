// Debian's reference daemons (containerd 1.6, dockerd 20.10, docker-registry 2.8) as processes a
// test owns, for interop tests and comparisons with berth.
//
// Each daemon gets a fresh /tmp/berth-test-XXXXXX directory of its own holding its config, sockets,
// pidfile, state and log; nothing is written to the host's /etc, /var/lib or /run except what the
// tools themselves insist on (containerd's shim sockets under /run/containerd/s/, gone once the
// shims exit). Start waits until the daemon answers. Stop sends SIGTERM to the PID it started
// (SIGKILL by that PID only if it does not exit), then checks that the daemon left nothing behind:
// mounts under its directory (unmounted, and reported), its containers' cgroups (removed when
// empty, and reported), shims of its own socket (killed by PID, and reported). It then removes the
// directory. The destructor stops a daemon still running and ignores what Stop reports: call Stop
// in the test to see it.
//
// Error codes: FailedPrecondition means "cannot run here" (a tool is not installed, or not root),
// and only that: tests turn it into GTEST_SKIP. A daemon that does not come up is Unavailable or
// DeadlineExceeded with the tail of its log; leftovers at Stop are Internal.
//
// The busybox image the tests import comes from common/testing/busybox.h (MakeBusyboxTar).
//
// Thread safety: the objects are not thread-safe; distinct objects are independent, so tests (and
// several copies of one test) can run in parallel.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/testing/child_process.h"
#include "common/testing/leftovers.h"
#include "common/testing/temp_dir.h"

namespace berth::tests::interop {

inline constexpr char kContainerdBin[] = "/usr/bin/containerd";
inline constexpr char kCtrBin[] = "/usr/bin/ctr";
inline constexpr char kDockerdBin[] = "/usr/sbin/dockerd";
// Debian's 20.10 CLI; `docker` on PATH may be a newer client from /usr/local/bin.
inline constexpr char kDockerBin[] = "/usr/bin/docker";
inline constexpr char kDockerRegistryBin[] = "/usr/bin/docker-registry";
inline constexpr char kSkopeoBin[] = "/usr/bin/skopeo";

// OK when `path` is an executable file; FailedPrecondition naming the Debian package otherwise.
absl::Status RequireTool(const std::string& path, const std::string& debian_package);
// OK when running as root; FailedPrecondition otherwise.
absl::Status RequireRoot();

// The outcome of one command, stdout and stderr kept apart (a CLI's stdout is parsed; its warnings
// on stderr must not get in the way).
struct ToolRun {
  int wait_status = 0;
  std::string out;
  std::string err;
  bool Succeeded() const;
  // "exit 1: <stderr>" or "killed by signal 9: ...", for assertion messages.
  std::string Describe() const;
};
// The exit code, or -1 when the tool was killed by a signal.
inline int ExitCode(const ToolRun& r) { return berth::testing::ExitCode(r.wait_status); }

// Runs `argv` (argv[0] absolute) to completion with stdin from /dev/null; `extra_env` entries
// ("K=V") replace inherited ones. DeadlineExceeded (the command is SIGKILLed) after `timeout`.
absl::StatusOr<ToolRun> RunTool(const std::vector<std::string>& argv,
                                absl::Duration timeout = absl::Seconds(120),
                                const std::vector<std::string>& extra_env = {});

// `skopeo` with a private policy (accept anything), HOME and XDG_RUNTIME_DIR under `work_dir` (an
// existing directory), so the host's /etc/containers policy and ~/.config are not used.
absl::StatusOr<ToolRun> RunSkopeo(const std::string& work_dir, const std::vector<std::string>& args,
                                  absl::Duration timeout = absl::Seconds(120));

// Mount points at or under a directory (common/testing/leftovers.h), for the tests' final check.
using ::berth::testing::MountsUnder;

// A loopback TCP port that was free a moment ago (bound to port 0, then released). For tools that
// cannot listen on port 0 themselves; another process may take it first, so callers retry.
absl::StatusOr<int> PickFreePort();

// Debian's containerd with a private config: root, state, gRPC, ttrpc and debug sockets under its
// own directory, the CRI plugin disabled, the "opt" plugin's directory private as well.
class ContainerdProcess {
 public:
  // FailedPrecondition when containerd or ctr is missing, or not root.
  static absl::StatusOr<std::unique_ptr<ContainerdProcess>> Start();
  ContainerdProcess(const ContainerdProcess&) = delete;
  ContainerdProcess& operator=(const ContainerdProcess&) = delete;
  ~ContainerdProcess();

  // The gRPC socket (a path, no scheme): for `ctr --address` and `dockerd --containerd`.
  const std::string& socket() const { return socket_; }
  const std::string& dir() const { return dir_path_; }
  pid_t pid() const;
  std::string Log() const;

  // `ctr --address <socket> --namespace <ns> <args...>`.
  absl::StatusOr<ToolRun> Ctr(const std::vector<std::string>& args,
                              const std::string& ns = "berth-interop",
                              absl::Duration timeout = absl::Seconds(120));

  // SIGTERM, wait; kills shims still serving this containerd (by PID) and unmounts anything left
  // under dir(); Internal naming what was left. Then removes dir(). Idempotent.
  absl::Status Stop(absl::Duration timeout = absl::Seconds(30));

 private:
  ContainerdProcess() = default;
  std::optional<berth::testing::TempDir> dir_;
  std::string dir_path_;
  std::string socket_;
  std::string log_;
  std::optional<berth::testing::ChildProcess> process_;
};

// dockerd 20.10 on a ContainerdProcess, with --data-root, --exec-root, --pidfile, a unix --host
// socket and a daemon.json (so no /etc/docker/key.json) under its own directory, overlay2 with the
// cgroupfs driver, its containers' cgroups under a parent of its own
// ("/berth-test-XXXXXX-dockerd"), and no host networking changes: --iptables=false
// --ip6tables=false --bridge=none --ip-masq=false --ip-forward=false (no iptables chains, no
// bridge, no NAT rule, no sysctl). Containers therefore need `--network none` (or host).
class DockerdProcess {
 public:
  // `containerd` must outlive this object and be stopped after it. FailedPrecondition when dockerd
  // or the docker CLI is missing, or not root.
  static absl::StatusOr<std::unique_ptr<DockerdProcess>> Start(const ContainerdProcess& containerd);
  DockerdProcess(const DockerdProcess&) = delete;
  DockerdProcess& operator=(const DockerdProcess&) = delete;
  ~DockerdProcess();

  const std::string& socket() const { return socket_; }
  const std::string& dir() const { return dir_path_; }
  const std::string& data_root() const { return data_root_; }
  // The cgroup parent of its containers, e.g. "/berth-test-AbC123-dockerd".
  const std::string& cgroup_parent() const { return cgroup_parent_; }
  pid_t pid() const;
  std::string Log() const;

  // `/usr/bin/docker -H unix://<socket> <args...>` with a private DOCKER_CONFIG (no ~/.docker
  // writes, no credentials of the host).
  absl::StatusOr<ToolRun> Docker(const std::vector<std::string>& args,
                                 absl::Duration timeout = absl::Seconds(120));

  // SIGTERM, wait (dockerd stops its containers first); then unmounts anything left under dir() and
  // removes its cgroup parent, Internal naming any mount or non-empty cgroup that was left. Then
  // removes dir(). Idempotent.
  absl::Status Stop(absl::Duration timeout = absl::Seconds(60));

 private:
  DockerdProcess() = default;
  std::optional<berth::testing::TempDir> dir_;
  std::string dir_path_;
  std::string socket_;
  std::string data_root_;
  std::string cgroup_parent_;
  std::string log_;
  std::optional<berth::testing::ChildProcess> process_;
};

// docker-registry 2.8 (distribution) with a generated config.yml: filesystem storage under its own
// directory, deletes enabled, upload purging off, access log off, listening on a loopback port
// picked for it (2.8 cannot listen on port 0 and report the port).
class DockerRegistryProcess {
 public:
  // FailedPrecondition when docker-registry is missing.
  static absl::StatusOr<std::unique_ptr<DockerRegistryProcess>> Start();
  DockerRegistryProcess(const DockerRegistryProcess&) = delete;
  DockerRegistryProcess& operator=(const DockerRegistryProcess&) = delete;
  ~DockerRegistryProcess();

  // "127.0.0.1:<port>"
  const std::string& address() const { return address_; }
  const std::string& dir() const { return dir_path_; }
  // The storage driver's root directory.
  std::string storage_dir() const { return dir_path_ + "/storage"; }
  pid_t pid() const;
  std::string Log() const;

  // SIGTERM, wait, remove dir(). Idempotent.
  absl::Status Stop(absl::Duration timeout = absl::Seconds(20));

 private:
  DockerRegistryProcess() = default;
  std::optional<berth::testing::TempDir> dir_;
  std::string dir_path_;
  std::string address_;
  std::string log_;
  std::optional<berth::testing::ChildProcess> process_;
};

}  // namespace berth::tests::interop
