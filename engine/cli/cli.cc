#include "engine/cli/cli.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/grpc/dial.h"

namespace berth::cli {

absl::StatusOr<std::shared_ptr<::grpc::Channel>> Cli::Channel() {
  if (channel_ == nullptr) {
    auto ch = grpc_util::DialUnix(host_);
    if (!ch.ok()) return ch.status();
    channel_ = *ch;
  }
  return channel_;
}

void Cli::Prepare(::grpc::ClientContext& ctx, absl::Duration timeout) {
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  ctx.set_wait_for_ready(false);
}

int Cli::ReportError(const ::grpc::Status& status) {
  const std::string& msg = status.error_message();
  if (status.error_code() == ::grpc::StatusCode::UNAVAILABLE) {
    if (absl::StrContains(absl::AsciiStrToLower(msg), "permission denied")) {
      err_ << "permission denied while trying to connect to the berth daemon socket at "
           << host_ << ": is your user in the 'berth' group?\n";
    } else {
      err_ << "Cannot connect to the berth daemon at " << host_ << ". Is berthd running?\n";
    }
    return kExitFailure;
  }
  if (status.error_code() == ::grpc::StatusCode::DEADLINE_EXCEEDED) {
    err_ << "berth daemon at " << host_ << " did not answer in time: " << msg << "\n";
    return kExitFailure;
  }
  err_ << "Error response from daemon: " << msg << "\n";
  return kExitFailure;
}

std::string HumanBytes(double bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (bytes >= 1024 && u < 5) {
    bytes /= 1024;
    ++u;
  }
  // Four significant digits, trailing zeros dropped, like docker's units.BytesSize.
  std::string s = absl::StrFormat("%.4g", bytes);
  return absl::StrCat(s, kUnits[u]);
}

}  // namespace berth::cli
