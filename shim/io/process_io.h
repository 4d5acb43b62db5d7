// ProcessIo owns one container process's stdio (berth.types.v1.StdinMode, the stdio paths of
// Task.Create/Exec and the terminal): it makes the pipes (or the console socket that receives
// the pty master from the runtime), hands the process's ends to the runtime, and then, on the
// shim's EventLoop, copies
//   - output (stdout/stderr pipes, or the pty master as stdout) to the json-file log (init
//     process only), to the stdout/stderr paths and to every subscribed OutputSink (attach
//     clients);
//   - input from attach clients (WriteStdin) or from the stdin path (STDIN_MODE_PATH) to the
//     process's stdin, closing it on CloseStdin or at EOF of the path.
// Nothing here blocks the process: output goes out non-blocking, and a stdout/stderr FIFO or a
// sink that cannot take a chunk loses it (a sink decides that itself).
#pragma once

#include <sys/ioctl.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "berth/types/v1/task.pb.h"
#include "shim/io/event_loop.h"
#include "shim/io/json_file_logger.h"
#include "shim/process/runtime.h"

namespace berth::shim::io {

using ::berth::types::v1::StdinMode;
using ::berth::types::v1::StdioStream;

// Receives a process's output. Calls come from the loop thread, never concurrently, and must
// not block or call back into the ProcessIo.
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  virtual void OnOutput(StdioStream stream, absl::string_view data) = 0;
  // Every output stream reached EOF (all writers, the process and its children, are gone).
  // Called once, also at Subscribe when that already happened.
  virtual void OnOutputDone() = 0;
};

struct ProcessIoOptions {
  // Absolute paths or empty (see berth.shim.task.v1.CreateRequest).
  std::string stdin_path;
  std::string stdout_path;
  std::string stderr_path;
  bool terminal = false;
  // UNSPECIFIED is resolved: PATH when stdin_path is set, else NULL.
  StdinMode stdin_mode = ::berth::types::v1::STDIN_MODE_UNSPECIFIED;
  // The init process's json-file log; null for exec processes and LOG_DRIVER_NONE.
  std::shared_ptr<JsonFileLogger> logger;
  // Owner of the process's ends of the pipes (CreateOptions.io_uid/io_gid).
  uid_t uid = 0;
  gid_t gid = 0;
};

// STDIN_MODE_UNSPECIFIED resolved as the proto says.
StdinMode ResolveStdinMode(StdinMode mode, const std::string& stdin_path);

// Checks the stdio part of a Create/Exec request: InvalidArgument for a relative path, a
// stdin path without STDIN_MODE_PATH or STDIN_MODE_PATH without a path.
absl::Status ValidateStdio(const ProcessIoOptions& options);

class ProcessIo {
 public:
  // Makes the pipes / console socket and opens the stdio paths. Errors: InvalidArgument (see
  // ValidateStdio; a path in a missing directory), FailedPrecondition (a stdout/stderr FIFO
  // without a reader), errno-derived codes. `loop` must outlive the object.
  static absl::StatusOr<std::unique_ptr<ProcessIo>> Create(EventLoop* loop,
                                                           ProcessIoOptions options);
  // Shim upgrade (shim/main.cc): the fds a ProcessIo without a terminal hands over. -1 = none.
  struct HandedOver {
    int stdout_fd = -1, stderr_fd = -1, stdin_fd = -1;
  };
  // Takes over the fds of a process that a previous shim image started with `options` (no
  // terminal, no STDIN_MODE_PATH copying): reopens the stdout/stderr paths and starts copying.
  // InvalidArgument for a terminal. `loop` must outlive the object.
  static absl::StatusOr<std::unique_ptr<ProcessIo>> Adopt(EventLoop* loop,
                                                          ProcessIoOptions options,
                                                          HandedOver fds);
  // Stops copying (on the loop thread, so no chunk is half-handled) and gives up ownership of
  // the fds still open, which stay open and lose FD_CLOEXEC; the object is closed afterwards.
  // FailedPrecondition with a terminal or an active stdin path (neither is handed over), and
  // then nothing changed.
  absl::StatusOr<HandedOver> Detach();

  // Close()s.
  ~ProcessIo();
  ProcessIo(const ProcessIo&) = delete;
  ProcessIo& operator=(const ProcessIo&) = delete;

  // What the runtime gives the process (valid until Start).
  process::RuntimeStdio runtime_stdio() const;
  // The runtime's --console-socket; empty without a terminal.
  const std::string& console_socket() const { return console_socket_; }

  // Call once the runtime's create/exec succeeded: closes the process's ends here, receives
  // the pty master (Internal when the runtime sent none) and starts copying.
  absl::Status Start();
  // Stops copying and closes every fd. Idempotent; must not be called from a sink.
  void Close();

  bool terminal() const { return options_.terminal; }
  // The json-file log, null without one.
  const std::shared_ptr<JsonFileLogger>& logger() const { return options_.logger; }
  StdinMode stdin_mode() const { return options_.stdin_mode; }
  // Whether stdin can still be written (OPEN/ONCE and not closed). Thread-safe.
  bool StdinWritable() const;

  // Adds/removes an output sink. After Unsubscribe returns the sink is never called again.
  // Thread-safe; not from a sink.
  void Subscribe(OutputSink* sink);
  void Unsubscribe(OutputSink* sink);

  // Queues `data` for stdin and calls `accepted` (on the loop thread, or at once) when the
  // queue is short again, which is how an attach client is slowed down. FailedPrecondition
  // when stdin is not writable. With a terminal and STDIN_MODE_NULL the data is dropped.
  // Thread-safe.
  absl::Status WriteStdin(std::string data, std::function<void()> accepted);
  // Closes stdin after what is queued has been written. OK when already closed. Thread-safe.
  absl::Status CloseStdin();
  // TIOCSWINSZ on the pty. FailedPrecondition without a terminal or once it is closed; a size
  // given before the runtime handed the console over is kept and applied when it arrives.
  absl::Status Resize(uint32_t width, uint32_t height);
  // Waits up to `timeout` for EOF on every output stream. Thread-safe.
  bool AwaitOutputDone(absl::Duration timeout);

 private:
  ProcessIo(EventLoop* loop, ProcessIoOptions options) : loop_(loop), options_(std::move(options)) {}
  absl::Status Setup();
  absl::Status ReceiveConsole();
  void OnOutputReadable(int fd, StdioStream stream) ABSL_LOCKS_EXCLUDED(mu_);
  void Emit(StdioStream stream, absl::string_view data) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CloseOutputLocked(int fd) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FlushStdinLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CloseStdinNowLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnStdinSourceReadable() ABSL_LOCKS_EXCLUDED(mu_);
  void CloseOnLoop() ABSL_LOCKS_EXCLUDED(mu_);

  EventLoop* const loop_;
  const ProcessIoOptions options_;
  std::string console_dir_, console_socket_;
  int console_listen_fd_ = -1;

  // The process's ends, closed by Start.
  int child_stdin_ = -1, child_stdout_ = -1, child_stderr_ = -1;

  mutable absl::Mutex mu_;
  // Output: read ends (pipes or the pty master) and where copies go.
  int out_fd_ ABSL_GUARDED_BY(mu_) = -1;
  int err_fd_ ABSL_GUARDED_BY(mu_) = -1;
  int out_path_fd_ ABSL_GUARDED_BY(mu_) = -1;
  int err_path_fd_ ABSL_GUARDED_BY(mu_) = -1;
  int master_fd_ ABSL_GUARDED_BY(mu_) = -1;  // the pty master, for resize
  bool had_master_ ABSL_GUARDED_BY(mu_) = false;  // the console was received (maybe closed since)
  // A resize asked for before the console arrived.
  std::optional<struct winsize> pending_size_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool output_done_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<OutputSink*> sinks_ ABSL_GUARDED_BY(mu_);
  // Input: the write end (pipe, or a dup of the pty master), its queue and the PATH source.
  int stdin_fd_ ABSL_GUARDED_BY(mu_) = -1;
  bool stdin_watched_ ABSL_GUARDED_BY(mu_) = false;  // EPOLLOUT registered
  bool stdin_closing_ ABSL_GUARDED_BY(mu_) = false;  // close once the queue is empty
  bool stdin_closed_ ABSL_GUARDED_BY(mu_) = false;
  std::string stdin_queue_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> stdin_waiters_ ABSL_GUARDED_BY(mu_);
  int stdin_source_fd_ ABSL_GUARDED_BY(mu_) = -1;  // STDIN_MODE_PATH, FIFO or file
  bool stdin_source_is_file_ = false;
};

}  // namespace berth::shim::io
