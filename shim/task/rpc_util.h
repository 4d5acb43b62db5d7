// Small helpers shared by the Task service's files: answering a unary call from an
// absl::Status (logged at VLOG(1), one line per RPC) and protobuf timestamps.
#pragma once

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/grpc/status_mapping.h"
#include "glog/logging.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"

namespace berth::shim::task {

inline ::grpc::ServerUnaryReactor* Reply(::grpc::CallbackServerContext* ctx,
                                         absl::string_view rpc, const absl::Status& status) {
  VLOG(1) << "rpc=" << rpc << " code=" << absl::StatusCodeToString(status.code())
          << (status.ok() ? ""
                          : absl::StrCat(" error=\"", absl::CHexEscape(status.message()), "\""));
  ::grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc_util::ToGrpcStatus(status));
  return reactor;
}

inline void SetTimestamp(absl::Time t, google::protobuf::Timestamp* ts) {
  *ts = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

}  // namespace berth::shim::task
