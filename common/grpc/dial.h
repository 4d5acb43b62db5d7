// Dialing berth's unix-socket gRPC servers: the client half of common/grpc, kept apart from
// the server code so clients (the CLIs, static binaries) link no server, metrics or reflection.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace berth::grpc_util {

// Dials a unix-socket address (see ParseUnixAddress). The channel connects lazily.
absl::StatusOr<std::shared_ptr<::grpc::Channel>> DialUnix(const std::string& address);

}  // namespace berth::grpc_util
