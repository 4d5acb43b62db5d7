// EventLoop is the shim's one I/O thread: an epoll loop that moves the container's output into
// the log, the stdout/stderr paths and attach clients, and attach clients' input into stdin. One
// thread for every process of the container keeps an idle shim small (no thread per pipe or per
// attach stream), and since every fd handler runs on it, the handlers need no locks among
// themselves.
//
// Handlers must not block: fds they read or write are non-blocking.
#pragma once

#include <sys/epoll.h>

#include <functional>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace berth::shim::io {

class EventLoop {
 public:
  // Called on the loop thread with the epoll events (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR).
  using Handler = std::function<void(uint32_t events)>;

  // Starts the thread. Errors from epoll_create1/eventfd.
  static absl::StatusOr<std::unique_ptr<EventLoop>> Create();
  // Stops and joins the thread; pending posted tasks are dropped. Registered fds are not
  // closed (their owners do that).
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Watches `fd` for `events` (level-triggered). Errors from epoll_ctl (EPERM for a regular
  // file, which is always ready and cannot be watched). Thread-safe.
  absl::Status Add(int fd, uint32_t events, Handler handler);
  // Changes the events watched for `fd`. Thread-safe.
  absl::Status Modify(int fd, uint32_t events);
  // Stops watching `fd`; its handler is not called afterwards unless the call is made from
  // another thread while the loop is running that very handler. Call before closing `fd`.
  // Thread-safe.
  void Remove(int fd);
  // Runs `task` on the loop thread soon, after the handlers of the current round. Thread-safe.
  void Post(std::function<void()> task);
  // Whether the caller is the loop thread.
  bool InLoopThread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  EventLoop(int epoll_fd, int wake_fd);
  void Run();

  const int epoll_fd_;
  const int wake_fd_;  // eventfd: wakes epoll_wait for Post and the destructor
  absl::Mutex mu_;
  std::map<int, std::shared_ptr<Handler>> handlers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> posted_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace berth::shim::io
