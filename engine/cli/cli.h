// Shared state and helpers of the berth CLI: which daemon to talk to, where output goes, how
// daemon errors are reported. Each command lives in a *_commands.cc file and registers itself
// in the command table (commands.h).
#pragma once

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/cli/flags.h"

namespace berth::cli {

// Exit codes the docker CLI uses.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 125;  // berth's own error: bad flags, daemon unreachable on run

inline constexpr char kDefaultHost[] = "unix:///run/berth/berthd.sock";

class Cli {
 public:
  Cli(std::string host, std::ostream& out, std::ostream& err)
      : host_(std::move(host)), out_(out), err_(err) {}

  const std::string& host() const { return host_; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }

  // The channel to berthd (connects lazily, once).
  absl::StatusOr<std::shared_ptr<::grpc::Channel>> Channel();

  // Sets a deadline and fail-fast (an absent daemon is reported at once, not after the
  // deadline) on `ctx`.
  static void Prepare(::grpc::ClientContext& ctx, absl::Duration timeout = absl::Seconds(30));

  // Prints a daemon call's failure like docker does and returns the exit code to use:
  // "Cannot connect to the berth daemon at ... Is berthd running?" when it is unreachable,
  // "Error response from daemon: ..." otherwise.
  int ReportError(const ::grpc::Status& status);

 private:
  std::string host_;
  std::ostream& out_;
  std::ostream& err_;
  std::shared_ptr<::grpc::Channel> channel_;
};

// Formats a byte count like docker (binary units, e.g. "23.47GiB").
std::string HumanBytes(double bytes);

}  // namespace berth::cli
