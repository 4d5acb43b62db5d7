#include "shim/task/attach.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc/status_mapping.h"
#include "glog/logging.h"

namespace berth::shim::task {

namespace tv1 = ::berth::types::v1;

AttachReactor::AttachReactor(TaskService* service)
    : service_(service), guard_(std::make_shared<Guard>()) {
  {
    absl::MutexLock lock(&guard_->mu);
    guard_->reactor = this;
  }
  StartRead(&request_);
}

::grpc::ServerBidiReactor<v1::AttachRequest, v1::AttachResponse>* TaskService::Attach(
    ::grpc::CallbackServerContext*) {
  return new AttachReactor(this);
}

void AttachReactor::ReadNext() {
  absl::MutexLock lock(&mu_);
  if (!finished_) StartRead(&request_);
}

absl::Status AttachReactor::HandleStart(const v1::AttachStart& start) {
  if (start.container_id() != service_->id()) {
    return absl::NotFoundError(
        absl::StrCat("container ", start.container_id(), " is not served by this shim"));
  }
  for (int s : start.streams()) {
    want_stdin_ |= s == tv1::STDIO_STREAM_STDIN;
    want_stdout_ |= s == tv1::STDIO_STREAM_STDOUT;
    want_stderr_ |= s == tv1::STDIO_STREAM_STDERR;
  }
  if (start.streams().empty()) want_stdin_ = want_stdout_ = want_stderr_ = true;
  std::shared_ptr<Guard> guard = guard_;
  absl::StatusOr<AttachTarget> t =
      service_->BeginAttach(start.exec_id(), [guard](const tv1::ProcessExit& e) {
        absl::MutexLock lock(&guard->mu);
        if (guard->reactor != nullptr) guard->reactor->OnExit(e);
      });
  if (!t.ok()) return t.status();
  exec_id_ = start.exec_id();
  io_ = t->io;
  listener_ = t->listener;
  if (want_stdin_ && start.streams().empty()) {
    // "All that the process has": stdin only when it can be written.
    want_stdin_ = io_->StdinWritable();
  } else if (want_stdin_ && !io_->StdinWritable()) {
    const tv1::StdinMode mode = io_->stdin_mode();
    if (mode != tv1::STDIN_MODE_OPEN && mode != tv1::STDIN_MODE_ONCE) {
      return absl::FailedPreconditionError("stdin is not attachable (the process has no open stdin)");
    }
    // Stdin was open and has been closed since (an earlier client of a STDIN_MODE_ONCE
    // process, or close_stdin). Like `docker attach`, the client still attaches and sees the
    // output; what it types goes nowhere.
    drop_stdin_ = true;
  }
  {
    absl::MutexLock lock(&mu_);
    v1::AttachResponse attached;
    attached.mutable_attached()->set_pid(t->pid);
    attached.mutable_attached()->set_terminal(t->terminal);
    QueueLocked(std::move(attached));
    if (t->exited) exit_ = *t->exited;
  }
  started_ = true;
  io_->Subscribe(this);  // after `attached` is queued, so output follows it
  return absl::OkStatus();
}

void AttachReactor::OnReadDone(bool ok) {
  if (!ok) {
    // Half-close or cancel: the client detaches. STDIN_MODE_ONCE closes stdin with it.
    if (started_ && want_stdin_ && io_->stdin_mode() == tv1::STDIN_MODE_ONCE) {
      (void)io_->CloseStdin();
    }
    absl::MutexLock lock(&mu_);
    FinishOnceLocked(::grpc::Status::OK);
    return;
  }
  const v1::AttachRequest& req = request_;
  if (!started_) {
    if (req.frame_case() != v1::AttachRequest::kStart) {
      return FinishOnce(absl::InvalidArgumentError("first frame must be `start`"));
    }
    absl::Status s = HandleStart(req.start());
    if (!s.ok()) return FinishOnce(s);
    return ReadNext();
  }
  switch (req.frame_case()) {
    case v1::AttachRequest::kStart:
      return FinishOnce(absl::InvalidArgumentError("a second `start` frame"));
    case v1::AttachRequest::kStdin: {
      if (!want_stdin_) {
        return FinishOnce(absl::InvalidArgumentError("stdin frame without STDIO_STREAM_STDIN"));
      }
      if (drop_stdin_) return ReadNext();
      std::shared_ptr<Guard> guard = guard_;
      absl::Status s = io_->WriteStdin(req.stdin(), [guard] {
        absl::MutexLock lock(&guard->mu);
        if (guard->reactor != nullptr) guard->reactor->ReadNext();
      });
      if (!s.ok()) return FinishOnce(s);
      return;  // the callback reads the next frame
    }
    case v1::AttachRequest::kResize: {
      absl::Status s = io_->Resize(req.resize().width(), req.resize().height());
      if (!s.ok()) return FinishOnce(s);
      return ReadNext();
    }
    case v1::AttachRequest::kCloseStdin:
      if (!want_stdin_) {
        return FinishOnce(
            absl::InvalidArgumentError("close_stdin frame without STDIO_STREAM_STDIN"));
      }
      (void)io_->CloseStdin();
      return ReadNext();
    default:
      return FinishOnce(absl::InvalidArgumentError("empty frame"));
  }
}

void AttachReactor::OnOutput(io::StdioStream stream, absl::string_view data) {
  if ((stream == tv1::STDIO_STREAM_STDOUT && !want_stdout_) ||
      (stream == tv1::STDIO_STREAM_STDERR && !want_stderr_)) {
    return;
  }
  absl::MutexLock lock(&mu_);
  if (finished_ || exit_queued_ || finish_after_writes_) return;
  if (queued_bytes_ + data.size() > kMaxQueuedBytes) {
    // A slow client loses output; the process never waits for it.
    if (dropped_chunks_++ == 0) LOG(WARNING) << "attach client too slow, dropping output";
    return;
  }
  v1::AttachResponse frame;
  frame.mutable_output()->set_stream(stream);
  frame.mutable_output()->set_data(data.data(), data.size());
  QueueLocked(std::move(frame));
}

void AttachReactor::OnOutputDone() {
  absl::MutexLock lock(&mu_);
  output_done_ = true;
  MaybeEndLocked();
}

void AttachReactor::OnExit(const tv1::ProcessExit& exit) {
  absl::MutexLock lock(&mu_);
  exit_ = exit;
  MaybeEndLocked();
}

void AttachReactor::MaybeEndLocked() {
  if (finished_ || exit_queued_ || finish_after_writes_ || !exit_.has_value() || !output_done_) {
    return;
  }
  v1::AttachResponse frame;
  *frame.mutable_exit() = *exit_;
  QueueLocked(std::move(frame));
  exit_queued_ = true;
  finish_after_writes_ = true;
  final_status_ = ::grpc::Status::OK;
}

void AttachReactor::QueueLocked(v1::AttachResponse frame) {
  queued_bytes_ += frame.ByteSizeLong();
  queue_.push_back(std::move(frame));
  if (!writing_) {
    writing_ = true;
    StartWrite(&queue_.front());
  }
}

void AttachReactor::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  queued_bytes_ -= std::min(queued_bytes_, static_cast<size_t>(queue_.front().ByteSizeLong()));
  queue_.pop_front();
  writing_ = false;
  if (!ok) {
    // The client went away; OnReadDone(false) or OnDone follows.
    FinishOnceLocked(::grpc::Status::CANCELLED);
    return;
  }
  if (!queue_.empty() && !finished_) {
    writing_ = true;
    StartWrite(&queue_.front());
    return;
  }
  if (queue_.empty() && finish_after_writes_ && !finished_) {
    finished_ = true;
    Finish(final_status_);
  }
}

void AttachReactor::FinishOnce(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  FinishOnceLocked(grpc_util::ToGrpcStatus(status));
}

void AttachReactor::FinishOnceLocked(const ::grpc::Status& status) {
  if (finished_) return;
  if (writing_ && status.ok()) {
    // Let the queued frames go out first.
    finish_after_writes_ = true;
    final_status_ = status;
    return;
  }
  finished_ = true;
  Finish(status);
}

void AttachReactor::OnDone() {
  {
    absl::MutexLock lock(&guard_->mu);
    guard_->reactor = nullptr;
  }
  if (io_) io_->Unsubscribe(this);
  if (started_ && listener_ != 0) service_->EndAttach(exec_id_, listener_);
  delete this;
}

}  // namespace berth::shim::task
