// Reaper is the shim's one place that collects exited children. The shim is a
// child subreaper, so besides the runtime commands it runs, every orphaned
// process of the container (the init process above all) becomes its child; a
// single thread reaps them all with waitpid(-1), and everybody else asks the
// reaper for a status instead of calling waitpid themselves (a second waitpid
// caller would steal statuses). SIGCHLD must be blocked in every thread
// (BlockSigchld before any thread starts); the reaping thread (the daemon's
// main thread, or one of the reaper's own) takes it with sigtimedwait.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace berth::shim::process {

// Blocks SIGCHLD in the calling thread (and so in threads it starts later).
void BlockSigchld();

class Reaper {
public:
  // Called on the thread that reaps (see Start and RunUntilSignal) for every
  // reaped pid, after its status is stored.
  using ExitCallback =
      std::function<void(pid_t pid, int wait_status, absl::Time when)>;

  // Statuses nobody claimed (orphans of the container) are dropped after this
  // long, so a recycled pid never gets an old status.
  static constexpr absl::Duration kUnclaimedLifetime = absl::Seconds(30);

  // Reaps nothing until Start or RunUntilSignal.
  explicit Reaper(ExitCallback on_exit);
  ~Reaper(); // Stop().
  Reaper(const Reaper &) = delete;
  Reaper &operator=(const Reaper &) = delete;

  // Reaps on a thread of its own until Stop.
  void Start();

  // Reaps on the calling thread until one of `signals` arrives and returns
  // that signal (they must be blocked in every thread, like SIGCHLD). Once the
  // shim has been quiet for `idle` after reaping something (a runtime command
  // or a container process ended, so the shim has just done work), calls
  // `on_idle` once. The daemon's main thread runs this instead of only waiting
  // for SIGTERM: one thread less in every shim.
  int RunUntilSignal(const sigset_t &signals, absl::Duration idle,
                     const std::function<void()> &on_idle);

  // Waits until `pid` (a child of this process) is reaped and returns its wait
  // status; a status reaped before the call (within kUnclaimedLifetime) is
  // returned at once, once. Unavailable when the reaper stops first.
  // Thread-safe.
  absl::StatusOr<int> Wait(pid_t pid);

  // The status of `pid` if it was reaped and not yet claimed (consumes it);
  // else nullopt-like NotFound. Thread-safe.
  absl::StatusOr<int> TakeIfReaped(pid_t pid);

  // Stops and joins the thread of Start; Wait returns Unavailable from then
  // on. Idempotent.
  void Stop();

private:
  struct Exit {
    int wait_status;
    absl::Time when;
  };
  void Loop();
  // Reaps every exited child and forgets stale unclaimed statuses. Returns
  // whether a child was reaped.
  bool ReapAll();

  const ExitCallback on_exit_;
  absl::Mutex mu_;
  std::map<pid_t, Exit> exited_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

} // namespace berth::shim::process
