// AttachReactor serves one Task.Attach stream (berth.shim.task.v1.Task.Attach, same semantics
// as berth.containerd.tasks.v1.Tasks.Attach): `start` first, `attached` back, then the
// process's output as `output` frames, then `exit` once the process has exited and its output
// has ended, then OK. Client frames `stdin`, `resize` and `close_stdin` go to the process.
//
// No thread per stream: output arrives from the shim's I/O thread (io::OutputSink) and is
// queued here, one write in flight at a time; a client whose queue holds more than
// kMaxQueuedBytes loses chunks instead of slowing the process down. Stdin frames are read one at
// a time, the next only once the process's stdin queue has room, which slows a fast client down
// instead.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "berth/shim/task/v1/task.grpc.pb.h"
#include "shim/io/process_io.h"
#include "shim/task/task_service.h"

namespace berth::shim::task {

class AttachReactor final : public ::grpc::ServerBidiReactor<v1::AttachRequest, v1::AttachResponse>,
                            public io::OutputSink {
 public:
  static constexpr size_t kMaxQueuedBytes = 1 << 20;

  // `service` must outlive the stream (the server is shut down before the service goes).
  AttachReactor(TaskService* service);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

  void OnOutput(io::StdioStream stream, absl::string_view data) override;
  void OnOutputDone() override;

 private:
  // Liveness shared with callbacks that may outlive the stream (a stdin write accepted later).
  struct Guard {
    absl::Mutex mu;
    AttachReactor* reactor ABSL_GUARDED_BY(mu);
  };

  absl::Status HandleStart(const v1::AttachStart& start);
  void ReadNext();
  void OnExit(const ::berth::types::v1::ProcessExit& exit);
  void QueueLocked(v1::AttachResponse frame) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeEndLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishOnceLocked(const ::grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishOnce(const absl::Status& status);

  TaskService* const service_;
  std::shared_ptr<Guard> guard_;
  v1::AttachRequest request_;

  // Set by HandleStart (on the reading thread, before anything else can use them).
  std::string exec_id_;
  std::shared_ptr<io::ProcessIo> io_;
  int listener_ = 0;
  bool started_ = false;
  bool want_stdin_ = false, want_stdout_ = false, want_stderr_ = false;
  // Stdin was asked for but has been closed: stdin frames are read and dropped.
  bool drop_stdin_ = false;

  absl::Mutex mu_;
  std::deque<v1::AttachResponse> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_chunks_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool output_done_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<::berth::types::v1::ProcessExit> exit_ ABSL_GUARDED_BY(mu_);
  bool exit_queued_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  ::grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
  bool finish_after_writes_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace berth::shim::task
