// OomWatcher tells the shim when the OOM killer kills a process in the container's memory
// cgroup, so it can publish /tasks/oom. It watches from the shim's one EventLoop thread instead
// of a thread of its own (one shim per container): on cgroup v1 an eventfd registered through
// `cgroup.event_control` on `memory.oom_control` (cgroup-v1 memory.txt, "OOM control"), on v2
// an inotify watch on `memory.events` (cgroup-v2.rst: the file "generates a file modified
// event" when a value changes). Both only say that something happened, and v1 also fires when
// the cgroup is removed, so each wake-up re-reads the `oom_kill` counter and reports only an
// increase, once per kill counted. v1 notifies before the victim is killed and counted, so after
// a wake-up that finds the counter unmoved a timerfd on the same loop re-reads it for a while.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "shim/io/event_loop.h"
#include "shim/process/cgroup_stats.h"

namespace berth::shim::process {

class OomWatcher {
 public:
  // Called on the loop thread, once per counted OOM kill.
  using Callback = std::function<void()>;

  // Starts watching the memory cgroup in `dirs` on `loop` (not owned; it must outlive the
  // watcher). FailedPrecondition when there is no memory controller or the kernel does not
  // count OOM kills; NotFound when the cgroup is gone; other codes from the syscalls.
  static absl::StatusOr<std::unique_ptr<OomWatcher>> Create(io::EventLoop* loop,
                                                            const CgroupDirs& dirs,
                                                            Callback on_oom);
  // Stops watching; `on_oom` is not called afterwards (unless from a call already running on
  // the loop thread when this runs on another thread).
  ~OomWatcher();
  OomWatcher(const OomWatcher&) = delete;
  OomWatcher& operator=(const OomWatcher&) = delete;

 private:
  struct Watch;
  OomWatcher(io::EventLoop* loop, std::shared_ptr<Watch> watch);

  io::EventLoop* const loop_;
  // Shared with the loop's handler, so the fds stay open while a handler call runs.
  const std::shared_ptr<Watch> watch_;
};

}  // namespace berth::shim::process
