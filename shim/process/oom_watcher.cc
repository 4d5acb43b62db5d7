#include "shim/process/oom_watcher.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status/status_macros.h"

namespace berth::shim::process {

struct OomWatcher::Watch {
  CgroupDirs dirs;
  Callback on_oom;
  int fd = -1;          // the eventfd (v1) or inotify fd (v2) the loop watches
  int control_fd = -1;  // v1: memory.oom_control, kept open while registered
  int timer_fd = -1;    // re-reads the counter for a while after a wake-up that did not move it
  // Loop thread only (after Create).
  uint64_t kills = 0;  // last oom_kill seen
  int rechecks_left = 0;
  absl::Mutex mu;
  bool stopped ABSL_GUARDED_BY(mu) = false;

  ~Watch() {
    for (int f : {fd, control_fd, timer_fd}) {
      if (f >= 0) ::close(f);
    }
  }

  // Reports what the counter added since the last look; whether it moved (or is gone).
  bool Check() {
    absl::StatusOr<uint64_t> now = ReadOomKills(dirs);
    if (!now.ok()) return true;  // the cgroup was removed: nothing more will come
    if (*now <= kills) return false;
    const uint64_t added = *now - kills;
    kills = *now;
    for (uint64_t i = 0; i < added; ++i) {
      absl::MutexLock lock(&mu);
      if (stopped) break;
      on_oom();
    }
    return true;
  }

  void Arm(bool on) {
    struct itimerspec t = {};
    if (on) {
      t.it_value.tv_nsec = kRecheckNanos;
      t.it_interval.tv_nsec = kRecheckNanos;
    }
    (void)::timerfd_settime(timer_fd, 0, &t, nullptr);
  }

  // On the loop thread: drain the wake-up, then look at the counter. v1 notifies from the OOM
  // path before the victim is chosen and counted, so a wake-up that finds the counter unmoved
  // keeps looking for a while (up to kRechecks times, kRecheckNanos apart).
  void OnWake() {
    char buf[4096];
    while (::read(fd, buf, sizeof(buf)) > 0) {
    }
    if (Check()) return;
    rechecks_left = kRechecks;
    Arm(true);
  }

  void OnTimer() {
    uint64_t n;
    (void)!::read(timer_fd, &n, sizeof(n));
    if (rechecks_left <= 0) return;
    if (Check() || --rechecks_left == 0) {
      rechecks_left = 0;
      Arm(false);
    }
  }

  static constexpr long kRecheckNanos = 20 * 1000 * 1000;
  static constexpr int kRechecks = 100;  // 2 s
};

absl::StatusOr<std::unique_ptr<OomWatcher>> OomWatcher::Create(io::EventLoop* loop,
                                                                const CgroupDirs& dirs,
                                                                Callback on_oom) {
  auto w = std::make_shared<Watch>();
  w->dirs = dirs;
  w->on_oom = std::move(on_oom);
  // The baseline first, so kills before the watch started are not reported as new.
  BERTH_ASSIGN_OR_RETURN(w->kills, ReadOomKills(dirs), "oom counter");
  if (dirs.version == 2) {
    w->fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) return absl::ErrnoToStatus(errno, "inotify_init1");
    const std::string file = dirs.memory + "/memory.events";
    if (::inotify_add_watch(w->fd, file.c_str(), IN_MODIFY) < 0) {
      return absl::ErrnoToStatus(errno, "watch " + file);
    }
  } else {
    w->fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->fd < 0) return absl::ErrnoToStatus(errno, "eventfd");
    const std::string control = dirs.memory + "/memory.oom_control";
    w->control_fd = ::open(control.c_str(), O_RDONLY | O_CLOEXEC);
    if (w->control_fd < 0) return absl::ErrnoToStatus(errno, "open " + control);
    const std::string events = dirs.memory + "/cgroup.event_control";
    const int ec = ::open(events.c_str(), O_WRONLY | O_CLOEXEC);
    if (ec < 0) return absl::ErrnoToStatus(errno, "open " + events);
    const std::string line = absl::StrCat(w->fd, " ", w->control_fd);
    const bool ok = ::write(ec, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    const int err = errno;
    ::close(ec);
    if (!ok) return absl::ErrnoToStatus(err, "register oom eventfd in " + events);
  }
  w->timer_fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (w->timer_fd < 0) return absl::ErrnoToStatus(errno, "timerfd_create");
  BERTH_RETURN_IF_ERROR(loop->Add(w->timer_fd, EPOLLIN, [w](uint32_t) { w->OnTimer(); }),
                        "watch oom");
  absl::Cleanup unwatch_timer = [&] { loop->Remove(w->timer_fd); };
  BERTH_RETURN_IF_ERROR(loop->Add(w->fd, EPOLLIN, [w](uint32_t) { w->OnWake(); }),
                        "watch oom");
  std::move(unwatch_timer).Cancel();
  // A kill between reading the baseline and the registration would otherwise wait for the
  // next one.
  std::weak_ptr<Watch> weak = w;
  loop->Post([weak] {
    if (auto w = weak.lock()) (void)w->Check();
  });
  return std::unique_ptr<OomWatcher>(new OomWatcher(loop, std::move(w)));
}

OomWatcher::OomWatcher(io::EventLoop* loop, std::shared_ptr<Watch> watch)
    : loop_(loop), watch_(std::move(watch)) {}

OomWatcher::~OomWatcher() {
  {
    absl::MutexLock lock(&watch_->mu);
    watch_->stopped = true;
  }
  loop_->Remove(watch_->fd);
  loop_->Remove(watch_->timer_fd);
}

}  // namespace berth::shim::process
