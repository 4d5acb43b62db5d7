#include "containerd/server/proto_time.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace berth::containerd::server {
namespace {

// google/protobuf/timestamp.proto: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
constexpr int64_t kMinSeconds = -62135596800;
constexpr int64_t kMaxSeconds = 253402300799;

}  // namespace

google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  google::protobuf::Timestamp ts;
  if (t <= absl::FromUnixSeconds(kMinSeconds)) {
    ts.set_seconds(kMinSeconds);
    return ts;
  }
  if (t >= absl::FromUnixSeconds(kMaxSeconds)) {
    ts.set_seconds(kMaxSeconds);
    return ts;
  }
  const int64_t seconds = absl::ToUnixSeconds(t);  // rounds toward negative infinity
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
  return ts;
}

absl::StatusOr<absl::Time> FromProtoTime(const google::protobuf::Timestamp& ts) {
  if (ts.nanos() < 0 || ts.nanos() >= 1000000000 || ts.seconds() < kMinSeconds ||
      ts.seconds() > kMaxSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat("timestamp ", ts.seconds(), "s ", ts.nanos(), "ns is out of range"));
  }
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

absl::StatusOr<absl::Duration> FromProtoDuration(const google::protobuf::Duration& d) {
  const bool bad_nanos = d.nanos() <= -1000000000 || d.nanos() >= 1000000000;
  const bool bad_sign = (d.seconds() > 0 && d.nanos() < 0) || (d.seconds() < 0 && d.nanos() > 0);
  if (bad_nanos || bad_sign) {
    return absl::InvalidArgumentError(
        absl::StrCat("duration ", d.seconds(), "s ", d.nanos(), "ns is not valid"));
  }
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

}  // namespace berth::containerd::server
