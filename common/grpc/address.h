// Parsing of the unix-socket addresses berth's daemons listen on and dial
// ("unix:///run/berth/berthd.sock", "unix:/path" or a bare absolute path).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::grpc_util {

// Returns the socket path. InvalidArgument for other schemes (tcp://, …), relative paths
// and paths longer than a sockaddr_un can hold (107 bytes).
absl::StatusOr<std::string> ParseUnixAddress(absl::string_view address);

// The gRPC target for a socket path: "unix:" + path.
std::string UnixTarget(absl::string_view path);

}  // namespace berth::grpc_util
