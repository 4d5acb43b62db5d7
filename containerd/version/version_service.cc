#include "containerd/version/version_service.h"

#include <unistd.h>

#include <google/protobuf/util/time_util.h>

#include "absl/time/clock.h"
#include "common/version/version.h"

namespace berth::containerd::version {

VersionService::VersionService(std::string root, std::string state)
    : root_(std::move(root)), state_(std::move(state)), started_at_(absl::Now()) {}

::grpc::ServerUnaryReactor* VersionService::Version(::grpc::CallbackServerContext* ctx,
                                                    const v1::VersionRequest*,
                                                    v1::VersionResponse* resp) {
  resp->set_version(kVersion);
  resp->set_api_version(kApiVersion);
  *resp->mutable_started_at() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      absl::ToUnixNanos(started_at_));
  resp->set_pid(getpid());
  resp->set_root(root_);
  resp->set_state(state_);
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(::grpc::Status::OK);
  return reactor;
}

}  // namespace berth::containerd::version
