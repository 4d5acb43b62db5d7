#include "containerd/tasks/attach_relay.h"

#include <utility>

#include "common/grpc/status_mapping.h"
#include "containerd/server/proto_time.h"
#include "glog/logging.h"

namespace berth::containerd::tasks {

// Locking rule: mu_ only guards the decisions; gRPC operations are started
// after it is released, because their reactions may run on other threads at
// once and take it.

AttachRelay::AttachRelay(::grpc::CallbackServerContext *ctx, Resolver resolve)
    : server_ctx_(ctx), resolve_(std::move(resolve)), shim_(this) {
  StartRead(&client_frame_);
}

void AttachRelay::Unref() {
  if (refs_.fetch_sub(1) == 1)
    delete this;
}

void AttachRelay::FinishServer(const ::grpc::Status &s) {
  VLOG(1) << "rpc=tasks.Attach code=" << s.error_code();
  Finish(s);
}

void AttachRelay::OnReadDone(bool ok) {
  if (!started_) {
    started_ = true;
    if (!ok)
      return FinishServer(::grpc::Status::OK);
    if (client_frame_.frame_case() != v1::AttachRequest::kStart) {
      return FinishServer(grpc_util::ToGrpcStatus(absl::InvalidArgumentError(
          "the first Attach frame must be `start`")));
    }
    absl::StatusOr<AttachTarget> target = resolve_(client_frame_.start());
    if (!target.ok())
      return FinishServer(grpc_util::ToGrpcStatus(target.status()));
    if (target->exit.has_value())
      return AnswerLocally(*target->exit);
    return StartRelay(*target);
  }

  enum { kNothing, kForward, kHalfClose } action = kNothing;
  {
    absl::MutexLock lock(&mu_);
    if (to_shim_ == Flow::kReading) {
      if (ok) {
        to_shim_ = Flow::kWriting;
        action = kForward;
      } else {
        to_shim_ = Flow::kClosed;
        action = kHalfClose;
      }
    }
  }
  if (action == kForward) {
    if (!shim_frame_.ParseFromString(client_frame_.SerializeAsString()))
      shim_frame_.Clear();
    shim_.StartWrite(&shim_frame_);
  } else if (action == kHalfClose) {
    // The client detached (half-close) or went away: tell the shim, which
    // decides what that means for stdin (STDIN_MODE_ONCE).
    shim_.StartWritesDone();
    shim_.RemoveHold();
  }
}

void AttachRelay::StartRelay(const AttachTarget &target) {
  shim_called_ = true;
  refs_.fetch_add(1);
  if (!shim_frame_.ParseFromString(client_frame_.SerializeAsString()))
    shim_frame_.Clear();
  shim_ctx_.set_deadline(server_ctx_->deadline());
  {
    absl::MutexLock lock(&mu_);
    to_shim_ = Flow::kWriting;
    to_client_ = Flow::kReading;
  }
  target.stub->async()->Attach(&shim_ctx_, &shim_); // binds shim_ to the call
  shim_.AddMultipleHolds(2);
  shim_.StartWrite(&shim_frame_);
  shim_.StartRead(&shim_reply_);
  shim_.StartCall();
}

void AttachRelay::AnswerLocally(const TaskExit &exit) {
  v1::AttachResponse attached;
  attached.mutable_attached()->set_pid(exit.pid);
  v1::AttachResponse done;
  done.mutable_exit()->set_pid(exit.pid);
  done.mutable_exit()->set_exit_status(exit.exit_status);
  *done.mutable_exit()->mutable_exited_at() =
      server::ToProtoTime(exit.exited_at);
  local_frames_.push_back(std::move(attached));
  local_frames_.push_back(std::move(done));
  StartWrite(&local_frames_.front());
}

void AttachRelay::OnWriteDone(bool ok) {
  if (!shim_called_) {
    local_frames_.pop_front();
    if (ok && !local_frames_.empty())
      return StartWrite(&local_frames_.front());
    return FinishServer(::grpc::Status::OK);
  }
  {
    absl::MutexLock lock(&mu_);
    to_client_ = ok ? Flow::kReading : Flow::kClosed;
  }
  if (ok)
    return shim_.StartRead(&shim_reply_);
  // The client is gone: stop the shim call; its end finishes this one.
  shim_ctx_.TryCancel();
  shim_.RemoveHold();
}

void AttachRelay::OnShimRead(bool ok) {
  if (ok) {
    {
      absl::MutexLock lock(&mu_);
      to_client_ = Flow::kWriting;
    }
    if (!client_reply_.ParseFromString(shim_reply_.SerializeAsString()))
      client_reply_.Clear();
    StartWrite(&client_reply_);
    return;
  }
  // The shim ended its stream (after `exit`, or on error): nothing goes either
  // way any more.
  bool close_to_shim = false;
  {
    absl::MutexLock lock(&mu_);
    to_client_ = Flow::kClosed;
    if (to_shim_ == Flow::kReading) {
      to_shim_ = Flow::kClosed;
      close_to_shim = true;
    } else if (to_shim_ == Flow::kWriting) {
      to_shim_close_pending_ = true;
    }
  }
  if (close_to_shim)
    shim_.RemoveHold();
  shim_.RemoveHold();
}

void AttachRelay::OnShimWrite(bool ok) {
  bool read_more = false;
  {
    absl::MutexLock lock(&mu_);
    if (to_shim_ != Flow::kWriting)
      return;
    if (ok && !to_shim_close_pending_) {
      to_shim_ = Flow::kReading;
      read_more = true;
    } else {
      to_shim_ = Flow::kClosed;
    }
  }
  if (read_more)
    return StartRead(&client_frame_);
  shim_.RemoveHold();
}

void AttachRelay::OnShimDone(const ::grpc::Status &s) {
  FinishServer(s);
  Unref();
}

void AttachRelay::OnCancel() {
  if (shim_called_)
    shim_ctx_.TryCancel();
}

void AttachRelay::OnDone() { Unref(); }

} // namespace berth::containerd::tasks
