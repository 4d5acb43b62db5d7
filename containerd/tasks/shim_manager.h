// ShimManager: how the Tasks service gets hold of a task's shim process. It
// starts shims
// (`berth-shim start`), finds them again after berth-containerd restarted
// (bootstrap.json plus Task.Connect), tells whether one is still alive (pid +
// start time), and cleans up after a dead one (`berth-shim delete`); see
// proto/berth/shim/task/v1/bootstrap.proto. Everything else the service says to
// a shim goes over the returned channel, in berth.shim.task.v1.Task. The
// interface exists so the service's logic is tested against an in-process fake
// (fake_shim_manager.h) without running processes.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "berth/shim/task/v1/bootstrap.pb.h"
#include "berth/shim/task/v1/task.pb.h"
#include "containerd/tasks/bundle.h"

namespace berth::containerd::tasks {

// What identifies a shim's task and how its shim runs the runtime.
struct ShimSpec {
  std::string ns;
  std::string id;
  // Absolute bundle directory, holding config.json.
  std::string bundle;
  RuntimeConfig runtime;
};

// A connected shim.
struct ShimConnection {
  ::berth::shim::task::v1::BootstrapParams params;
  // The shim's answer to Task.Connect on this connection.
  ::berth::shim::task::v1::ConnectResponse connect;
  std::shared_ptr<::grpc::Channel> channel;
};

class ShimManager {
public:
  virtual ~ShimManager() = default;

  // Starts a shim for the bundle (which must hold config.json), dials it, calls
  // Task.Connect and checks it is the shim that was started (pid and start
  // time). Nothing of the shim is left running on failure. Errors:
  // FailedPrecondition (the shim speaks another handshake version), Internal
  // (start failed: the message carries the shim's error line), Unavailable (the
  // shim started but did not answer). Thread-safe.
  virtual absl::StatusOr<ShimConnection> Start(const ShimSpec &spec) = 0;

  // Finds the shim of an existing bundle again (after a restart, or to re-check
  // a shim that did not answer): reads its bootstrap params, and when that
  // process is alive dials it and verifies it with Task.Connect. Errors:
  // NotFound (the bundle has no bootstrap params: its shim never started),
  // FailedPrecondition (the shim process is gone), Unavailable (it is alive but
  // does not answer, or answers as another shim). Thread-safe.
  virtual absl::StatusOr<ShimConnection> Reconnect(const ShimSpec &spec) = 0;

  // Whether the shim process named by `params` still runs (pid and start time).
  // An error only when that cannot be told. Thread-safe.
  virtual absl::StatusOr<bool>
  IsAlive(const ::berth::shim::task::v1::BootstrapParams &params) = 0;

  // Cleans up after a dead (or to-be-killed) shim: kills a still-running shim
  // of the bundle, kills what is left of the container (runtime `delete
  // --force`), unmounts the rootfs and returns the init process's recorded exit
  // (255 when none was recorded). It does not remove the bundle. Repeatable.
  // Errors: Internal with the shim's error line. Thread-safe.
  virtual absl::StatusOr<TaskExit> Cleanup(const ShimSpec &spec) = 0;
};

} // namespace berth::containerd::tasks
