// AttachRelay serves one Tasks.Attach call by relaying it, frame by frame and
// unchanged, to the task's shim (berth.shim.task.v1.Task.Attach, wire-identical
// messages; tasks.proto, Attach). The first client frame picks the task; for a
// task whose shim is gone the relay answers by itself (`attached`, then `exit`
// with the recovered exit). Each direction has at most one frame in flight, so
// a slow reader slows its own stream only, and the shim (which drops output for
// clients that lag) sees our back-pressure as a slow client.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "berth/containerd/tasks/v1/tasks.grpc.pb.h"
#include "berth/shim/task/v1/task.grpc.pb.h"
#include "containerd/tasks/bundle.h"

namespace berth::containerd::tasks {

// Where an Attach goes: a live shim, or the recorded exit of a task whose shim
// is gone.
struct AttachTarget {
  std::shared_ptr<::berth::shim::task::v1::Task::Stub> stub;
  std::optional<TaskExit> exit;
};

class AttachRelay final
    : public ::grpc::ServerBidiReactor<v1::AttachRequest, v1::AttachResponse> {
public:
  using Resolver =
      std::function<absl::StatusOr<AttachTarget>(const v1::AttachStart &start)>;

  // Starts reading the client's first frame. Deletes itself when both calls are
  // done.
  AttachRelay(::grpc::CallbackServerContext *ctx, Resolver resolve);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

private:
  using ShimRequest = ::berth::shim::task::v1::AttachRequest;
  using ShimResponse = ::berth::shim::task::v1::AttachResponse;

  // The client side of the call to the shim.
  class ShimSide final
      : public ::grpc::ClientBidiReactor<ShimRequest, ShimResponse> {
  public:
    explicit ShimSide(AttachRelay *relay) : relay_(relay) {}
    void OnReadDone(bool ok) override { relay_->OnShimRead(ok); }
    void OnWriteDone(bool ok) override { relay_->OnShimWrite(ok); }
    void OnDone(const ::grpc::Status &s) override { relay_->OnShimDone(s); }

  private:
    AttachRelay *const relay_;
  };

  void StartRelay(const AttachTarget &target);
  // Answers a task whose shim is gone, then finishes.
  void AnswerLocally(const TaskExit &exit);
  void FinishServer(const ::grpc::Status &s);
  void OnShimRead(bool ok);
  void OnShimWrite(bool ok);
  void OnShimDone(const ::grpc::Status &s);
  // Drops one of the two references (the server call's, the shim call's); the
  // last one deletes the relay. Nothing may touch `this` after it.
  void Unref();

  // The state of one direction. The shim call keeps one hold per direction
  // (gRPC's rule for operations started outside the call's own reactions),
  // released when the direction closes, so the shim call cannot end while a
  // direction may still start an operation on it; and the server call is
  // finished only when the shim call ended, so server operations stay valid
  // too.
  enum class Flow { kReading, kWriting, kClosed };

  ::grpc::CallbackServerContext *const server_ctx_;
  const Resolver resolve_;
  ShimSide shim_;
  ::grpc::ClientContext shim_ctx_;
  std::atomic<int> refs_{1};
  bool started_ =
      false; // the first frame was handled (only the read path touches it)
  std::atomic<bool> shim_called_{false}; // set before the shim call starts

  v1::AttachRequest client_frame_;
  ShimRequest shim_frame_;
  ShimResponse shim_reply_;
  v1::AttachResponse client_reply_;
  // Frames answered locally (dead task), written one at a time by the write
  // path.
  std::deque<v1::AttachResponse> local_frames_;

  absl::Mutex mu_;
  // client -> shim: kReading (a client read is pending), kWriting (a shim write
  // is pending).
  Flow to_shim_ ABSL_GUARDED_BY(mu_) = Flow::kClosed;
  // A close of to_shim_ requested while its shim write was pending.
  bool to_shim_close_pending_ ABSL_GUARDED_BY(mu_) = false;
  // shim -> client: kReading (a shim read is pending), kWriting (a client write
  // is pending).
  Flow to_client_ ABSL_GUARDED_BY(mu_) = Flow::kClosed;
};

} // namespace berth::containerd::tasks
