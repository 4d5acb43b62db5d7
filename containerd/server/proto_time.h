// absl::Time <-> google.protobuf.Timestamp/Duration for the berth-containerd services, which
// keep times as absl::Time inside (the metadata records) and speak protobuf at the edge.
#pragma once

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::containerd::server {

// Nanosecond precision; times outside the Timestamp range (years 1..9999) are clamped to it,
// absl::InfinitePast/Future included, so a reply never carries an invalid Timestamp.
google::protobuf::Timestamp ToProtoTime(absl::Time t);
// InvalidArgument for a Timestamp outside the range protobuf defines (nanos not in
// [0, 1e9), seconds outside years 1..9999): it came from a client.
absl::StatusOr<absl::Time> FromProtoTime(const google::protobuf::Timestamp& ts);
// InvalidArgument for nanos outside (-1e9, 1e9) or with a sign different from seconds'.
absl::StatusOr<absl::Duration> FromProtoDuration(const google::protobuf::Duration& d);

}  // namespace berth::containerd::server
