// SendAllReactor: the server-streaming reactor of berth-containerd's List-style calls whose whole
// answer is computed up front (one read transaction, so the stream is a consistent snapshot):
// it writes the messages one at a time, then finishes with OK, or finishes at once with the
// error the computation returned. The status goes through ToGrpcStatus (the gRPC edge).
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/grpc/status_mapping.h"
#include "glog/logging.h"

namespace berth::containerd::server {

// Deletes itself when gRPC is done with it (OnDone). `rpc` names the call in the VLOG(1) line.
template <typename Response>
class SendAllReactor final : public ::grpc::ServerWriteReactor<Response> {
 public:
  SendAllReactor(absl::string_view rpc, absl::StatusOr<std::vector<Response>> messages)
      : rpc_(rpc) {
    if (!messages.ok()) {
      Done(messages.status());
      return;
    }
    messages_ = std::move(*messages);
    Next();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Done(absl::CancelledError("client went away"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    if (next_ == messages_.size()) {
      Done(absl::OkStatus());
      return;
    }
    this->StartWrite(&messages_[next_++]);
  }
  void Done(const absl::Status& status) {
    VLOG(1) << "rpc=" << rpc_ << " code=" << absl::StatusCodeToString(status.code());
    this->Finish(grpc_util::ToGrpcStatus(status));
  }

  const std::string rpc_;
  std::vector<Response> messages_;
  size_t next_ = 0;
};

}  // namespace berth::containerd::server
