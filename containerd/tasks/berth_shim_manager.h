// BerthShimManager is the ShimManager that runs the berth-shim binary:
// `berth-shim start` and `berth-shim delete` as short-lived child processes
// (bootstrap.proto, START and DELETE), and the shim's unix socket for
// Task.Connect (RECONNECT).
#pragma once

#include <string>

#include "absl/time/time.h"
#include "containerd/tasks/shim_manager.h"

namespace berth::containerd::tasks {

struct BerthShimManagerOptions {
  // Absolute path of the berth-shim binary; empty makes Start and Cleanup fail
  // with FailedPrecondition.
  std::string shim_binary;
  // berth-containerd's --state (the shims put their sockets under it; at most
  // 67 bytes).
  std::string state_dir;
  // berth-containerd's own gRPC address ("unix:///..."), where shims forward
  // events.
  std::string containerd_address;
  // Passed to the shims as --log_level when not empty.
  std::string shim_log_level;
  // Bounds on `berth-shim start` and `berth-shim delete`.
  absl::Duration command_timeout = absl::Seconds(60);
  // Bound on Task.Connect.
  absl::Duration connect_timeout = absl::Seconds(10);
};

class BerthShimManager final : public ShimManager {
public:
  explicit BerthShimManager(BerthShimManagerOptions options);

  absl::StatusOr<ShimConnection> Start(const ShimSpec &spec) override;
  absl::StatusOr<ShimConnection> Reconnect(const ShimSpec &spec) override;
  absl::StatusOr<bool>
  IsAlive(const ::berth::shim::task::v1::BootstrapParams &params) override;
  absl::StatusOr<TaskExit> Cleanup(const ShimSpec &spec) override;

private:
  absl::Status CheckBinary() const;
  std::vector<std::string> ShimArgs(const std::string &command,
                                    const ShimSpec &spec) const;
  // Dials params.address and checks with Task.Connect that the shim there is
  // the one `params` names, serving `spec`. Unavailable otherwise.
  absl::StatusOr<ShimConnection>
  Dial(const ShimSpec &spec,
       const ::berth::shim::task::v1::BootstrapParams &params);

  const BerthShimManagerOptions options_;
};

} // namespace berth::containerd::tasks
