// Client probes for the standard services every berth daemon serves: gRPC health checking and
// server reflection. Used by tests, by the CLI to tell "daemon down" from "daemon broken", and
// by deploy scripts waiting for a daemon to come up.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::grpc_util {

enum class ServingStatus { kUnknown, kServing, kNotServing, kServiceUnknown };

// grpc.health.v1.Health/Check for `service` ("" = whole server). Unavailable when nothing
// answers before `timeout`.
absl::StatusOr<ServingStatus> CheckHealth(const std::shared_ptr<::grpc::Channel>& channel,
                                          const std::string& service, absl::Duration timeout);

// Lists the fully qualified names of the services the server exposes through reflection.
absl::StatusOr<std::vector<std::string>> ListServices(
    const std::shared_ptr<::grpc::Channel>& channel, absl::Duration timeout);

}  // namespace berth::grpc_util
