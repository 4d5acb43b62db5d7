#include "shim/io/event_loop.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <utility>

namespace berth::shim::io {

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create() {
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return absl::ErrnoToStatus(errno, "epoll_create1");
  const int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    const int err = errno;
    ::close(ep);
    return absl::ErrnoToStatus(err, "eventfd");
  }
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.fd = wake;
  if (::epoll_ctl(ep, EPOLL_CTL_ADD, wake, &ev) != 0) {
    const int err = errno;
    ::close(ep);
    ::close(wake);
    return absl::ErrnoToStatus(err, "epoll_ctl");
  }
  return std::unique_ptr<EventLoop>(new EventLoop(ep, wake));
}

EventLoop::EventLoop(int epoll_fd, int wake_fd) : epoll_fd_(epoll_fd), wake_fd_(wake_fd) {
  thread_ = std::thread([this] { Run(); });
}

EventLoop::~EventLoop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

absl::Status EventLoop::Add(int fd, uint32_t events, Handler handler) {
  absl::MutexLock lock(&mu_);
  struct epoll_event ev = {};
  ev.events = events;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return absl::ErrnoToStatus(errno, "epoll_ctl add");
  }
  handlers_[fd] = std::make_shared<Handler>(std::move(handler));
  return absl::OkStatus();
}

absl::Status EventLoop::Modify(int fd, uint32_t events) {
  struct epoll_event ev = {};
  ev.events = events;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) {
    return absl::ErrnoToStatus(errno, "epoll_ctl mod");
  }
  return absl::OkStatus();
}

void EventLoop::Remove(int fd) {
  absl::MutexLock lock(&mu_);
  if (handlers_.erase(fd) > 0) (void)::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::Post(std::function<void()> task) {
  {
    absl::MutexLock lock(&mu_);
    posted_.push_back(std::move(task));
  }
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
}

void EventLoop::Run() {
  struct epoll_event events[32];
  for (;;) {
    const int n = ::epoll_wait(epoll_fd_, events, 32, -1);
    if (n < 0 && errno != EINTR) return;
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        uint64_t v;
        (void)!::read(wake_fd_, &v, sizeof(v));
        continue;
      }
      std::shared_ptr<Handler> h;
      {
        absl::MutexLock lock(&mu_);
        auto it = handlers_.find(fd);
        if (it == handlers_.end()) continue;  // removed by an earlier handler this round
        h = it->second;
      }
      (*h)(events[i].events);
    }
    std::vector<std::function<void()>> tasks;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      tasks.swap(posted_);
    }
    for (auto& t : tasks) t();
  }
}

}  // namespace berth::shim::io
