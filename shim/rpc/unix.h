// The shim's own gRPC plumbing, lean on purpose (issue #4: one shim per container, so every
// resident page counts 20 times with 20 containers): the Task service alone on the unix socket,
// with no health, reflection or metrics services (common/grpc's UnixGrpcServer brings all
// three, and their libraries), and a dialer for the unix addresses the shim calls.
//
// `berth-shim start` learns that the daemon serves from Task.Connect, not from gRPC health.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/server.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::shim::rpc {

class UnixServer {
 public:
  // Serves `service` (not owned; must outlive the server) on the unix socket `path`, created
  // with mode `socket_mode` (never wider, not even for a moment). A stale socket file left by
  // a dead shim is replaced; AlreadyExists when a live process answers on it;
  // FailedPrecondition when the path is not a socket.
  static absl::StatusOr<std::unique_ptr<UnixServer>> Start(const std::string& path,
                                                           mode_t socket_mode,
                                                           ::grpc::Service* service);
  // Shutdown(zero).
  ~UnixServer();

  // Lets in-flight calls finish for up to `drain`, cancels the rest, waits for the server and
  // removes the socket file. Idempotent; not thread-safe.
  void Shutdown(absl::Duration drain);

 private:
  UnixServer(std::unique_ptr<::grpc::Server> server, std::string path);

  std::unique_ptr<::grpc::Server> server_;
  std::string path_;
  bool shut_down_ = false;
};

// A channel to "unix:///path" (see common/grpc/address.h); it connects lazily.
absl::StatusOr<std::shared_ptr<::grpc::Channel>> DialUnix(const std::string& address);

}  // namespace berth::shim::rpc
