// Conversion between absl::Status and grpc::Status at the gRPC edge, so a local error and the
// same error coming back from a peer look alike (same code, same message).
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace berth::grpc_util {

// Same code, same message. absl::StatusCode and grpc::StatusCode agree on all 17 canonical
// codes; anything else becomes UNKNOWN.
::grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const ::grpc::Status& status);

}  // namespace berth::grpc_util
