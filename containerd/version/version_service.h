// gRPC adapter for berth.containerd.version.v1.Version.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "berth/containerd/version/v1/version.grpc.pb.h"

namespace berth::containerd::version {

class VersionService final : public v1::Version::CallbackService {
 public:
  VersionService(std::string root, std::string state);

  ::grpc::ServerUnaryReactor* Version(::grpc::CallbackServerContext* ctx,
                                      const v1::VersionRequest* req,
                                      v1::VersionResponse* resp) override;

 private:
  const std::string root_;
  const std::string state_;
  const absl::Time started_at_;
};

}  // namespace berth::containerd::version
