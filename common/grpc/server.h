// UnixGrpcServer serves a daemon's gRPC services on a unix socket, the way every berth daemon
// does: the standard health service (grpc.health.v1) and server reflection are always on, the
// socket gets the configured mode and group, a stale socket left by a crashed daemon is
// replaced (but a live one is never stolen), and Shutdown drains in-flight calls, then removes
// the socket.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "common/grpc/dial.h"
#include "absl/time/time.h"

namespace berth::grpc_util {

class GrpcServerMetrics;

struct UnixServerOptions {
  // "unix:///path", "unix:/path" or "/path". The parent directory is created (0755).
  std::string address;
  // Permission bits of the socket file.
  mode_t socket_mode = 0660;
  // Group owning the socket, when that group exists on the host (else left as is).
  std::string socket_group = "berth";
  // How long Shutdown waits for in-flight calls before cancelling them.
  absl::Duration drain_timeout = absl::Seconds(10);
  // Optional: per-RPC request/latency metrics. Not owned; must outlive the server.
  GrpcServerMetrics* metrics = nullptr;
  // Largest message accepted, in bytes (image layers stream in chunks well below this).
  int max_receive_message_bytes = 16 << 20;
};

class UnixGrpcServer {
 public:
  // Binds and starts serving `services` (not owned; they must outlive the server).
  // AlreadyExists when another process is serving on the socket; FailedPrecondition when the
  // path exists and is not a socket; InvalidArgument for a bad address.
  static absl::StatusOr<std::unique_ptr<UnixGrpcServer>> Start(
      const UnixServerOptions& options, const std::vector<::grpc::Service*>& services);

  ~UnixGrpcServer();

  // Marks health NOT_SERVING, lets in-flight calls finish for up to drain_timeout, cancels
  // the rest and unlinks the socket. Idempotent; thread-safe.
  void Shutdown();

  const std::string& socket_path() const { return socket_path_; }

 private:
  UnixGrpcServer(std::unique_ptr<::grpc::Server> server, std::string socket_path,
                 absl::Duration drain_timeout);

  std::unique_ptr<::grpc::Server> server_;
  std::string socket_path_;
  absl::Duration drain_timeout_;
  bool shut_down_ = false;
};

}  // namespace berth::grpc_util
