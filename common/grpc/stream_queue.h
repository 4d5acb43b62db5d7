// Server streams fed from other threads. gRPC's callback reactors allow one outstanding write
// and are deleted by OnDone, while the data of berthd's streams (container exits, log lines,
// attach output, stats samples) comes from background threads that may outlive the call. These
// reactors queue what the producers Send, write it one message at a time, and give producers a
// handle (an `Outlet`) that stays valid after the call ended: Send then returns false and the
// producer stops.
//
//   QueuedWriteReactor<Resp>      server-streaming calls;
//   QueuedBidiReactor<Req, Resp>  bidirectional calls: also reads, handing each client message to
//                                 OnMessage (override it), and the end of the client's side to
//                                 OnClientDone.
// Both delete themselves in OnDone, after calling OnFinished (override it to stop producers).
// The queue is bounded: a producer that outruns a slow client gets Send() == false and the call
// ends with ResourceExhausted, rather than buffering without limit; producers that can pause use
// SendWait(), which blocks until there is room.
#pragma once

#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc/status_mapping.h"

namespace berth::grpc_util {

namespace internal {

// State shared between the reactor and its producers.
template <typename Resp>
struct StreamState {
  absl::Mutex mu;
  std::deque<Resp> queue ABSL_GUARDED_BY(mu);
  bool writing ABSL_GUARDED_BY(mu) = false;
  std::optional<::grpc::Status> finish ABSL_GUARDED_BY(mu);
  bool finished ABSL_GUARDED_BY(mu) = false;  // Finish called
  bool done ABSL_GUARDED_BY(mu) = false;      // OnDone ran: the reactor is gone
  bool overflowed ABSL_GUARDED_BY(mu) = false;
  size_t limit = 1024;
  // Starts a write / finishes on the reactor; called with mu held.
  std::function<void(const Resp*)> start_write;
  std::function<void(const ::grpc::Status&)> do_finish;

  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (finish.has_value() && !writing && !finished && !done) {
      finished = true;
      do_finish(*finish);
    }
  }
  bool Send(Resp msg) {
    absl::MutexLock lock(&mu);
    if (done || finish.has_value()) return false;
    if (queue.size() >= limit) {
      overflowed = true;
      finish = ::grpc::Status(::grpc::StatusCode::RESOURCE_EXHAUSTED,
                              "client does not keep up with the stream");
      MaybeFinishLocked();
      return false;
    }
    queue.push_back(std::move(msg));
    if (!writing) {
      writing = true;
      start_write(&queue.front());
    }
    return true;
  }
  // Like Send, but waits while the queue is full instead of failing (for producers that can
  // pause, e.g. a file reader); false once the stream is ending or gone.
  bool SendWait(Resp msg) {
    absl::MutexLock lock(&mu);
    auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return done || finish.has_value() || queue.size() < limit;
    };
    mu.Await(absl::Condition(&room));
    if (done || finish.has_value()) return false;
    queue.push_back(std::move(msg));
    if (!writing) {
      writing = true;
      start_write(&queue.front());
    }
    return true;
  }
  void Close(const absl::Status& status) {
    absl::MutexLock lock(&mu);
    if (finish.has_value()) return;
    finish = ToGrpcStatus(status);
    MaybeFinishLocked();
  }
  void OnWriteDone(bool ok) {
    absl::MutexLock lock(&mu);
    queue.pop_front();
    if (!ok) {
      writing = false;
      if (!finish.has_value()) {
        finish = ::grpc::Status(::grpc::StatusCode::CANCELLED, "client went away");
      }
      queue.clear();
      MaybeFinishLocked();
      return;
    }
    if (!queue.empty() && !finished) {
      start_write(&queue.front());
    } else {
      writing = false;
      MaybeFinishLocked();
    }
  }
};

}  // namespace internal

// A producer's handle on a stream; copyable, thread-safe, valid after the call ended.
template <typename Resp>
class Outlet {
 public:
  Outlet() = default;
  explicit Outlet(std::shared_ptr<internal::StreamState<Resp>> s) : s_(std::move(s)) {}
  // Queues a message; false once the stream is ending or gone (stop producing then).
  bool Send(Resp msg) const { return s_ && s_->Send(std::move(msg)); }
  // Waits for room in the queue instead of overflowing (producers that can pause).
  bool SendWait(Resp msg) const { return s_ && s_->SendWait(std::move(msg)); }
  // Ends the call after the queued messages with `status` (first call wins).
  void Close(const absl::Status& status) const {
    if (s_) s_->Close(status);
  }
  bool alive() const {
    if (!s_) return false;
    absl::MutexLock lock(&s_->mu);
    return !s_->done && !s_->finish.has_value();
  }

 private:
  std::shared_ptr<internal::StreamState<Resp>> s_;
};

template <typename Resp>
class QueuedWriteReactor : public ::grpc::ServerWriteReactor<Resp> {
 public:
  QueuedWriteReactor() : state_(std::make_shared<internal::StreamState<Resp>>()) {
    state_->start_write = [this](const Resp* m) { this->StartWrite(m); };
    state_->do_finish = [this](const ::grpc::Status& s) { this->Finish(s); };
  }
  Outlet<Resp> outlet() { return Outlet<Resp>(state_); }

  void OnWriteDone(bool ok) override { state_->OnWriteDone(ok); }
  void OnCancel() override { state_->Close(absl::CancelledError("call cancelled")); }
  void OnDone() override {
    {
      absl::MutexLock lock(&state_->mu);
      state_->done = true;
    }
    OnFinished();
    delete this;
  }

 protected:
  // Called once, when the call is over (stop producers here; Send already fails).
  virtual void OnFinished() {}

 private:
  std::shared_ptr<internal::StreamState<Resp>> state_;
};

template <typename Req, typename Resp>
class QueuedBidiReactor : public ::grpc::ServerBidiReactor<Req, Resp> {
 public:
  QueuedBidiReactor() : state_(std::make_shared<internal::StreamState<Resp>>()) {
    state_->start_write = [this](const Resp* m) { this->StartWrite(m); };
    state_->do_finish = [this](const ::grpc::Status& s) { this->Finish(s); };
  }
  Outlet<Resp> outlet() { return Outlet<Resp>(state_); }

  // Starts reading client messages; call once from the subclass constructor.
  void StartReading() { this->StartRead(&request_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      OnClientDone();
      return;
    }
    if (OnMessage(request_)) this->StartRead(&request_);
  }
  void OnWriteDone(bool ok) override { state_->OnWriteDone(ok); }
  void OnCancel() override { state_->Close(absl::CancelledError("call cancelled")); }
  void OnDone() override {
    {
      absl::MutexLock lock(&state_->mu);
      state_->done = true;
    }
    OnFinished();
    delete this;
  }

 protected:
  // One client message; return false to stop reading.
  virtual bool OnMessage(const Req& req) = 0;
  // The client half-closed (or the call broke).
  virtual void OnClientDone() {}
  virtual void OnFinished() {}

 private:
  std::shared_ptr<internal::StreamState<Resp>> state_;
  Req request_;
};

}  // namespace berth::grpc_util
