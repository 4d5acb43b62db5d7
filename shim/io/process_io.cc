#include "shim/io/process_io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"

namespace berth::shim::io {
namespace {

namespace tv1 = ::berth::types::v1;

// Stdin queued beyond this slows attach clients down (their next frame is read later).
constexpr size_t kStdinQueueLimit = 64 * 1024;
constexpr size_t kReadChunk = 32 * 1024;
// How long the runtime may take to connect and send the pty master it already sent.
constexpr int kConsoleTimeoutMs = 5000;

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

absl::Status SetNonBlocking(int fd, bool on) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return absl::ErrnoToStatus(errno, "fcntl");
  if (::fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) != 0) {
    return absl::ErrnoToStatus(errno, "fcntl");
  }
  return absl::OkStatus();
}

// Opens a stdout/stderr path: a FIFO must already have a reader (containerd's model); anything
// else is created or appended to.
absl::StatusOr<int> OpenOutputPath(const std::string& path) {
  struct stat st;
  int fd;
  if (::stat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)) {
    fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENXIO) {
      return absl::FailedPreconditionError(absl::StrCat("fifo ", path, " has no reader"));
    }
  } else {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK | O_CLOEXEC, 0640);
  }
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::InvalidArgumentError(absl::StrCat("open ", path, ": directory missing"));
    }
    return absl::ErrnoToStatus(errno, "open " + path);
  }
  return fd;
}

// Best effort, non-blocking: a full FIFO loses the chunk rather than stall every process.
void WriteBestEffort(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

StdinMode ResolveStdinMode(StdinMode mode, const std::string& stdin_path) {
  if (mode != tv1::STDIN_MODE_UNSPECIFIED) return mode;
  return stdin_path.empty() ? tv1::STDIN_MODE_NULL : tv1::STDIN_MODE_PATH;
}

absl::Status ValidateStdio(const ProcessIoOptions& o) {
  for (const std::string* p : {&o.stdin_path, &o.stdout_path, &o.stderr_path}) {
    if (!p->empty() && (*p)[0] != '/') {
      return absl::InvalidArgumentError(absl::StrCat("stdio path ", *p, " is not absolute"));
    }
  }
  const StdinMode mode = ResolveStdinMode(o.stdin_mode, o.stdin_path);
  if (mode == tv1::STDIN_MODE_PATH && o.stdin_path.empty()) {
    return absl::InvalidArgumentError("STDIN_MODE_PATH needs a stdin path");
  }
  if (mode != tv1::STDIN_MODE_PATH && !o.stdin_path.empty()) {
    return absl::InvalidArgumentError("a stdin path needs STDIN_MODE_PATH");
  }
  if (!tv1::StdinMode_IsValid(mode)) return absl::InvalidArgumentError("unknown stdin mode");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ProcessIo>> ProcessIo::Create(EventLoop* loop,
                                                             ProcessIoOptions options) {
  BERTH_RETURN_IF_ERROR(ValidateStdio(options));
  options.stdin_mode = ResolveStdinMode(options.stdin_mode, options.stdin_path);
  std::unique_ptr<ProcessIo> io(new ProcessIo(loop, std::move(options)));
  BERTH_RETURN_IF_ERROR(io->Setup());  // the destructor closes what Setup made
  return io;
}

ProcessIo::~ProcessIo() { Close(); }

absl::Status ProcessIo::Setup() {
  absl::MutexLock lock(&mu_);
  const StdinMode mode = options_.stdin_mode;
  const bool tty = options_.terminal;
  auto chown_child = [&](int fd) {
    if ((options_.uid != 0 || options_.gid != 0) && ::fchown(fd, options_.uid, options_.gid) != 0) {
      return absl::ErrnoToStatus(errno, "chown stdio pipe");
    }
    return absl::OkStatus();
  };

  // Stdin.
  if (mode == tv1::STDIN_MODE_NULL) {
    stdin_closed_ = true;
  } else if (mode == tv1::STDIN_MODE_PATH) {
    stdin_source_fd_ = ::open(options_.stdin_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (stdin_source_fd_ < 0) {
      if (errno == ENOENT) {
        return absl::InvalidArgumentError("stdin path " + options_.stdin_path + " not found");
      }
      return absl::ErrnoToStatus(errno, "open " + options_.stdin_path);
    }
    struct stat st;
    if (::fstat(stdin_source_fd_, &st) != 0) return absl::ErrnoToStatus(errno, "stat stdin");
    stdin_source_is_file_ = S_ISREG(st.st_mode);
    if (stdin_source_is_file_ && !tty) {
      // A regular file needs no copying: the process reads it itself and sees its EOF.
      BERTH_RETURN_IF_ERROR(SetNonBlocking(stdin_source_fd_, false));
      child_stdin_ = stdin_source_fd_;
      stdin_source_fd_ = -1;
      stdin_closed_ = true;
    }
  }
  if (!tty && mode != tv1::STDIN_MODE_NULL && child_stdin_ < 0) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe");
    child_stdin_ = p[0];
    stdin_fd_ = p[1];
    BERTH_RETURN_IF_ERROR(SetNonBlocking(stdin_fd_, true));
    BERTH_RETURN_IF_ERROR(chown_child(child_stdin_));
  }

  // Output.
  if (tty) {
    char dir[] = "/tmp/berth-console-XXXXXX";
    if (::mkdtemp(dir) == nullptr) return absl::ErrnoToStatus(errno, "console socket dir");
    console_dir_ = dir;
    console_socket_ = console_dir_ + "/c.sock";
    console_listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (console_listen_fd_ < 0) return absl::ErrnoToStatus(errno, "console socket");
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, console_socket_.c_str(), sizeof(addr.sun_path) - 1);
    if (::bind(console_listen_fd_, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(console_listen_fd_, 1) != 0) {
      return absl::ErrnoToStatus(errno, "bind console socket");
    }
  } else {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe");
    out_fd_ = out[0];
    child_stdout_ = out[1];
    if (::pipe2(err, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe");
    err_fd_ = err[0];
    child_stderr_ = err[1];
    BERTH_RETURN_IF_ERROR(SetNonBlocking(out_fd_, true));
    BERTH_RETURN_IF_ERROR(SetNonBlocking(err_fd_, true));
    BERTH_RETURN_IF_ERROR(chown_child(child_stdout_));
    BERTH_RETURN_IF_ERROR(chown_child(child_stderr_));
  }
  if (!options_.stdout_path.empty()) {
    BERTH_ASSIGN_OR_RETURN(out_path_fd_, OpenOutputPath(options_.stdout_path));
  }
  if (!options_.stderr_path.empty()) {
    BERTH_ASSIGN_OR_RETURN(err_path_fd_, OpenOutputPath(options_.stderr_path));
  }
  return absl::OkStatus();
}

process::RuntimeStdio ProcessIo::runtime_stdio() const {
  process::RuntimeStdio s;
  s.stdin_fd = child_stdin_;
  s.stdout_fd = child_stdout_;
  s.stderr_fd = child_stderr_;
  return s;
}

absl::Status ProcessIo::ReceiveConsole() {
  struct pollfd p = {console_listen_fd_, POLLIN, 0};
  if (::poll(&p, 1, kConsoleTimeoutMs) <= 0) {
    return absl::InternalError("runtime did not connect to the console socket");
  }
  const int conn = ::accept4(console_listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (conn < 0) return absl::ErrnoToStatus(errno, "accept console socket");
  absl::Cleanup close_conn = [conn] { ::close(conn); };
  p = {conn, POLLIN, 0};
  if (::poll(&p, 1, kConsoleTimeoutMs) <= 0) {
    return absl::InternalError("runtime sent no pty master");
  }
  char name[256];
  struct iovec iov = {name, sizeof(name)};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  if (::recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) < 0) {
    return absl::ErrnoToStatus(errno, "receive pty master");
  }
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c == nullptr || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
    return absl::InternalError("runtime sent no pty master");
  }
  int master;
  std::memcpy(&master, CMSG_DATA(c), sizeof(int));
  absl::MutexLock lock(&mu_);
  master_fd_ = master;
  out_fd_ = master;
  had_master_ = true;
  if (pending_size_.has_value()) {
    // A resize that came before the runtime handed the console over (an exec's client sends
    // its window size as soon as it attaches, before Start).
    (void)::ioctl(master, TIOCSWINSZ, &*pending_size_);
    pending_size_.reset();
  }
  return SetNonBlocking(master, true);
}

absl::Status ProcessIo::Start() {
  CloseFd(child_stdin_);
  CloseFd(child_stdout_);
  CloseFd(child_stderr_);
  if (options_.terminal) {
    absl::Status s = ReceiveConsole();
    CloseFd(console_listen_fd_);
    ::unlink(console_socket_.c_str());
    ::rmdir(console_dir_.c_str());
    BERTH_RETURN_IF_ERROR(s);
  }
  absl::MutexLock lock(&mu_);
  if (options_.terminal && options_.stdin_mode != tv1::STDIN_MODE_NULL) {
    // Its own fd for writing, so that the loop can watch it for EPOLLOUT separately.
    stdin_fd_ = ::fcntl(master_fd_, F_DUPFD_CLOEXEC, 3);
    if (stdin_fd_ < 0) return absl::ErrnoToStatus(errno, "dup pty master");
  }
  const StdioStream kOut = tv1::STDIO_STREAM_STDOUT, kErr = tv1::STDIO_STREAM_STDERR;
  for (auto [fd, stream] : {std::pair{out_fd_, kOut}, std::pair{err_fd_, kErr}}) {
    if (fd < 0) continue;
    const int f = fd;
    const StdioStream s = stream;
    BERTH_RETURN_IF_ERROR(loop_->Add(f, EPOLLIN, [this, f, s](uint32_t) { OnOutputReadable(f, s); }),
                          "watch output");
  }
  if (stdin_fd_ >= 0) {
    BERTH_RETURN_IF_ERROR(loop_->Add(stdin_fd_, 0,
                                     [this](uint32_t events) {
                                       absl::MutexLock lock(&mu_);
                                       if (events & (EPOLLERR | EPOLLHUP)) {
                                         CloseStdinNowLocked();
                                       } else {
                                         FlushStdinLocked();
                                       }
                                     }),
                          "watch stdin");
  }
  if (stdin_source_fd_ >= 0 && !stdin_source_is_file_) {
    BERTH_RETURN_IF_ERROR(
        loop_->Add(stdin_source_fd_, EPOLLIN, [this](uint32_t) { OnStdinSourceReadable(); }),
        "watch stdin path");
  }
  started_ = true;
  FlushStdinLocked();
  return absl::OkStatus();
}

void ProcessIo::OnOutputReadable(int fd, StdioStream stream) {
  char buf[kReadChunk];
  const ssize_t n = ::read(fd, buf, sizeof(buf));
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  absl::MutexLock lock(&mu_);
  if (fd != out_fd_ && fd != err_fd_) return;  // closed meanwhile
  if (n > 0) {
    Emit(stream, absl::string_view(buf, static_cast<size_t>(n)));
  } else {
    // EOF, or EIO from a pty master whose slave side is gone.
    CloseOutputLocked(fd);
  }
}

void ProcessIo::Emit(StdioStream stream, absl::string_view data) {
  if (options_.logger) {
    absl::Status s = options_.logger->Write(
        stream == tv1::STDIO_STREAM_STDERR ? LogStream::kStderr : LogStream::kStdout, data);
    if (!s.ok()) LOG(WARNING) << "container log write failed error=\"" << s.message() << "\"";
  }
  const int path_fd =
      stream == tv1::STDIO_STREAM_STDERR && !options_.terminal ? err_path_fd_ : out_path_fd_;
  if (path_fd >= 0) WriteBestEffort(path_fd, data);
  for (OutputSink* sink : sinks_) sink->OnOutput(stream, data);
}

void ProcessIo::CloseOutputLocked(int fd) {
  loop_->Remove(fd);
  if (fd == master_fd_) master_fd_ = -1;
  if (fd == out_fd_) out_fd_ = -1;
  if (fd == err_fd_) err_fd_ = -1;
  ::close(fd);
  if (out_fd_ < 0 && err_fd_ < 0 && !output_done_) {
    output_done_ = true;
    for (OutputSink* sink : sinks_) sink->OnOutputDone();
  }
}

void ProcessIo::FlushStdinLocked() {
  if (!started_ || stdin_fd_ < 0) return;
  for (;;) {
    if (stdin_queue_.empty() && stdin_source_is_file_ && stdin_source_fd_ >= 0) {
      char buf[kReadChunk];
      const ssize_t n = ::read(stdin_source_fd_, buf, sizeof(buf));
      if (n > 0) {
        stdin_queue_.assign(buf, static_cast<size_t>(n));
      } else {
        CloseFd(stdin_source_fd_);
        stdin_closing_ = true;
      }
    }
    if (stdin_queue_.empty()) break;
    const ssize_t n = ::write(stdin_fd_, stdin_queue_.data(), stdin_queue_.size());
    if (n > 0) {
      stdin_queue_.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (!stdin_watched_) {
        stdin_watched_ = loop_->Modify(stdin_fd_, EPOLLOUT).ok();
      }
      break;
    }
    // EPIPE: nobody reads stdin any more.
    CloseStdinNowLocked();
    return;
  }
  if (stdin_queue_.empty()) {
    if (stdin_watched_) {
      (void)loop_->Modify(stdin_fd_, 0);
      stdin_watched_ = false;
    }
    if (stdin_closing_) {
      CloseStdinNowLocked();
      return;
    }
    if (stdin_source_fd_ >= 0 && !stdin_source_is_file_) {
      (void)loop_->Modify(stdin_source_fd_, EPOLLIN);
    }
  }
  if (stdin_queue_.size() < kStdinQueueLimit) {
    std::vector<std::function<void()>> waiters;
    waiters.swap(stdin_waiters_);
    for (auto& w : waiters) w();
  }
}

void ProcessIo::CloseStdinNowLocked() {
  if (stdin_fd_ >= 0) {
    loop_->Remove(stdin_fd_);
    CloseFd(stdin_fd_);
  }
  if (stdin_source_fd_ >= 0) {
    loop_->Remove(stdin_source_fd_);
    CloseFd(stdin_source_fd_);
  }
  stdin_closed_ = true;
  stdin_closing_ = false;
  stdin_queue_.clear();
  std::vector<std::function<void()>> waiters;
  waiters.swap(stdin_waiters_);
  for (auto& w : waiters) w();
}

void ProcessIo::OnStdinSourceReadable() {
  absl::MutexLock lock(&mu_);
  if (stdin_source_fd_ < 0) return;
  if (stdin_queue_.size() >= kStdinQueueLimit) {
    // Paused until the process has read what is queued (FlushStdinLocked resumes it).
    (void)loop_->Modify(stdin_source_fd_, 0);
    return;
  }
  char buf[kReadChunk];
  const ssize_t n = ::read(stdin_source_fd_, buf, sizeof(buf));
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n > 0) {
    stdin_queue_.append(buf, static_cast<size_t>(n));
  } else {
    // EOF of the path (its writer closed it): close the process's stdin once drained.
    loop_->Remove(stdin_source_fd_);
    CloseFd(stdin_source_fd_);
    stdin_closing_ = true;
  }
  FlushStdinLocked();
}

bool ProcessIo::StdinWritable() const {
  absl::MutexLock lock(&mu_);
  const StdinMode m = options_.stdin_mode;
  return (m == tv1::STDIN_MODE_OPEN || m == tv1::STDIN_MODE_ONCE) && !stdin_closed_ &&
         !stdin_closing_;
}

void ProcessIo::Subscribe(OutputSink* sink) {
  absl::MutexLock lock(&mu_);
  sinks_.push_back(sink);
  if (output_done_) sink->OnOutputDone();
}

void ProcessIo::Unsubscribe(OutputSink* sink) {
  absl::MutexLock lock(&mu_);
  sinks_.erase(std::remove(sinks_.begin(), sinks_.end(), sink), sinks_.end());
}

absl::Status ProcessIo::WriteStdin(std::string data, std::function<void()> accepted) {
  {
    absl::MutexLock lock(&mu_);
    const StdinMode m = options_.stdin_mode;
    if (options_.terminal && m == tv1::STDIN_MODE_NULL) {
      // A terminal's input without -i is dropped, as documented for STDIN_MODE_NULL.
    } else if (!(m == tv1::STDIN_MODE_OPEN || m == tv1::STDIN_MODE_ONCE) || stdin_closed_ ||
               stdin_closing_) {
      return absl::FailedPreconditionError("stdin is not open");
    } else {
      stdin_queue_.append(data);
      FlushStdinLocked();
      if (stdin_queue_.size() >= kStdinQueueLimit && !stdin_closed_) {
        stdin_waiters_.push_back(std::move(accepted));
        return absl::OkStatus();
      }
    }
  }
  if (accepted) accepted();
  return absl::OkStatus();
}

absl::Status ProcessIo::CloseStdin() {
  absl::MutexLock lock(&mu_);
  if (stdin_closed_) return absl::OkStatus();
  stdin_closing_ = true;
  if (started_ && stdin_queue_.empty()) CloseStdinNowLocked();
  return absl::OkStatus();
}

absl::Status ProcessIo::Resize(uint32_t width, uint32_t height) {
  absl::MutexLock lock(&mu_);
  if (!options_.terminal) return absl::FailedPreconditionError("process has no terminal");
  struct winsize ws = {};
  ws.ws_col = static_cast<unsigned short>(width);
  ws.ws_row = static_cast<unsigned short>(height);
  if (master_fd_ < 0 && !had_master_) {
    pending_size_ = ws;  // applied when the console arrives
    return absl::OkStatus();
  }
  if (master_fd_ < 0) return absl::FailedPreconditionError("terminal is closed");
  if (::ioctl(master_fd_, TIOCSWINSZ, &ws) != 0) return absl::ErrnoToStatus(errno, "resize pty");
  return absl::OkStatus();
}

bool ProcessIo::AwaitOutputDone(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&output_done_), timeout);
}

void ProcessIo::Close() {
  bool registered;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    registered = started_;
  }
  if (!registered || loop_->InLoopThread()) {
    CloseOnLoop();
    return;
  }
  // Handlers run on the loop thread: closing there means none is running meanwhile.
  absl::Notification done;
  loop_->Post([this, &done] {
    CloseOnLoop();
    done.Notify();
  });
  done.WaitForNotification();
}

absl::StatusOr<std::unique_ptr<ProcessIo>> ProcessIo::Adopt(EventLoop* loop,
                                                            ProcessIoOptions options,
                                                            HandedOver fds) {
  if (options.terminal) return absl::InvalidArgumentError("a terminal is not handed over");
  options.stdin_mode = ResolveStdinMode(options.stdin_mode, options.stdin_path);
  std::unique_ptr<ProcessIo> io(new ProcessIo(loop, std::move(options)));
  {
    absl::MutexLock lock(&io->mu_);
    // Owned from here on (the destructor closes them), with FD_CLOEXEC again.
    for (auto [from, to] : {std::pair{fds.stdout_fd, &io->out_fd_},
                            std::pair{fds.stderr_fd, &io->err_fd_},
                            std::pair{fds.stdin_fd, &io->stdin_fd_}}) {
      if (from < 0) continue;
      *to = from;
      if (::fcntl(from, F_SETFD, FD_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "fcntl");
    }
    if (io->stdin_fd_ < 0) io->stdin_closed_ = true;
    if (io->out_fd_ < 0 && io->err_fd_ < 0) io->output_done_ = true;
    if (!io->options_.stdout_path.empty()) {
      BERTH_ASSIGN_OR_RETURN(io->out_path_fd_, OpenOutputPath(io->options_.stdout_path));
    }
    if (!io->options_.stderr_path.empty()) {
      BERTH_ASSIGN_OR_RETURN(io->err_path_fd_, OpenOutputPath(io->options_.stderr_path));
    }
  }
  BERTH_RETURN_IF_ERROR(io->Start(), "adopt stdio");
  return io;
}

absl::StatusOr<ProcessIo::HandedOver> ProcessIo::Detach() {
  {
    absl::MutexLock lock(&mu_);
    if (options_.terminal) return absl::FailedPreconditionError("a terminal is not handed over");
    if (stdin_source_fd_ >= 0) {
      return absl::FailedPreconditionError("a stdin path being copied is not handed over");
    }
    if (closed_) return absl::FailedPreconditionError("stdio already closed");
  }
  absl::StatusOr<HandedOver> result;
  auto detach = [this, &result] {
    absl::MutexLock lock(&mu_);
    HandedOver h;
    for (auto [fd, out] : {std::pair{&out_fd_, &h.stdout_fd}, std::pair{&err_fd_, &h.stderr_fd},
                           std::pair{&stdin_fd_, &h.stdin_fd}}) {
      if (*fd < 0) continue;
      if (started_) loop_->Remove(*fd);
      if (::fcntl(*fd, F_SETFD, 0) != 0) {
        result = absl::ErrnoToStatus(errno, "fcntl");
        return;
      }
      *out = *fd;
      *fd = -1;
    }
    result = h;
  };
  bool registered;
  {
    absl::MutexLock lock(&mu_);
    registered = started_;
  }
  if (!registered || loop_->InLoopThread()) {
    detach();
  } else {
    absl::Notification done;
    loop_->Post([&] {
      detach();
      done.Notify();
    });
    done.WaitForNotification();
  }
  // What is left (the stdout/stderr path fds) is this object's to close.
  Close();
  return result;
}

void ProcessIo::CloseOnLoop() {
  CloseFd(child_stdin_);
  CloseFd(child_stdout_);
  CloseFd(child_stderr_);
  if (console_listen_fd_ >= 0) {
    CloseFd(console_listen_fd_);
    ::unlink(console_socket_.c_str());
    ::rmdir(console_dir_.c_str());
  }
  absl::MutexLock lock(&mu_);
  closed_ = true;
  for (int* fd : {&out_fd_, &err_fd_, &stdin_fd_, &stdin_source_fd_}) {
    if (*fd >= 0) loop_->Remove(*fd);
    CloseFd(*fd);
  }
  master_fd_ = -1;
  CloseFd(out_path_fd_);
  CloseFd(err_path_fd_);
  stdin_closed_ = true;
  if (!output_done_) {
    output_done_ = true;
    for (OutputSink* sink : sinks_) sink->OnOutputDone();
  }
  std::vector<std::function<void()>> waiters;
  waiters.swap(stdin_waiters_);
  for (auto& w : waiters) w();
}

}  // namespace berth::shim::io
