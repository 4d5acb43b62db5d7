// Relays the CLI's stdin, terminal size and signals to an Attach or Exec stream of berthd, and
// the stream's output to the CLI's stdout/stderr, until the process exits or the user detaches.
// Both streams share the message shapes (stdin/resize/close_stdin up; output/exit/detached
// down), so one template serves them.
#pragma once

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <functional>
#include <ostream>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/synchronization/mutex.h"
#include "berth/engine/v1/containers.pb.h"
#include "engine/cli/tty.h"

namespace berth::cli {

struct RelayOptions {
  // Relay this fd as the process's stdin (-1: none). EOF half-closes the stream, which the
  // server takes as close_stdin.
  int stdin_fd = -1;
  // Signals arrive here (may be null). SIGWINCH sends a resize when `tty`.
  SignalPipe* signals = nullptr;
  bool tty = false;
  // The terminal whose size is sent on SIGWINCH.
  int size_fd = STDOUT_FILENO;
  // Called with SIGINT/SIGTERM/SIGHUP/SIGQUIT when set (docker's --sig-proxy); when unset
  // those signals end the relay (the CLI detaches, the container is untouched).
  std::function<void(int)> proxy;
};

struct RelayResult {
  enum Kind { kExited, kDetached, kEnded };
  Kind kind = kEnded;
  int exit_code = 0;
  std::string exit_error;
  // The stream's final status (OK after exit/detached).
  ::grpc::Status status;
};

// Runs the relay on `stream`, whose first messages (options/config and attached/started) the
// caller has already exchanged. Blocks until the stream ends.
template <typename Req, typename Resp>
RelayResult RelayStream(::grpc::ClientContext& ctx, ::grpc::ClientReaderWriter<Req, Resp>& stream,
                        std::ostream& out, std::ostream& err, const RelayOptions& o) {
  absl::Mutex write_mu;
  bool writes_done = false;
  auto write = [&](const Req& r) {
    absl::MutexLock lock(&write_mu);
    if (!writes_done) stream.Write(r);
  };
  Wakeup wake;

  std::thread stdin_thread;
  if (o.stdin_fd >= 0) {
    stdin_thread = std::thread([&] {
      char buf[32 * 1024];
      for (;;) {
        pollfd p[2] = {{o.stdin_fd, POLLIN, 0}, {wake.fd(), POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
          if (errno == EINTR) continue;
          break;
        }
        if (p[1].revents != 0) return;
        ssize_t n = read(o.stdin_fd, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) break;
        Req r;
        r.set_stdin(std::string(buf, static_cast<size_t>(n)));
        write(r);
      }
      absl::MutexLock lock(&write_mu);
      if (!writes_done) {
        writes_done = true;
        stream.WritesDone();
      }
    });
  }

  std::thread signal_thread;
  if (o.signals != nullptr) {
    signal_thread = std::thread([&] {
      for (;;) {
        pollfd p[2] = {{o.signals->fd(), POLLIN, 0}, {wake.fd(), POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
          if (errno == EINTR) continue;
          return;
        }
        if (p[1].revents != 0) return;
        int sig = o.signals->Next();
        if (sig == SIGWINCH) {
          if (!o.tty) continue;
          auto size = GetWindowSize(o.size_fd);
          if (!size.has_value()) continue;
          Req r;
          r.mutable_resize()->set_height(size->height);
          r.mutable_resize()->set_width(size->width);
          write(r);
        } else if (sig != 0) {
          if (o.proxy) {
            o.proxy(sig);
          } else {
            ctx.TryCancel();
            return;
          }
        }
      }
    });
  }

  RelayResult result;
  Resp resp;
  while (stream.Read(&resp)) {
    if (resp.has_output()) {
      std::ostream& os = resp.output().stream() == engine::v1::STD_STREAM_STDERR ? err : out;
      os.write(resp.output().data().data(), static_cast<std::streamsize>(resp.output().data().size()));
      os.flush();
    } else if (resp.has_exit()) {
      result.kind = RelayResult::kExited;
      result.exit_code = resp.exit().exit_code();
      result.exit_error = resp.exit().error();
    } else if (resp.has_detached()) {
      result.kind = RelayResult::kDetached;
    }
  }
  wake.Notify();
  if (stdin_thread.joinable()) stdin_thread.join();
  if (signal_thread.joinable()) signal_thread.join();
  result.status = stream.Finish();
  return result;
}

}  // namespace berth::cli
