#include "shim/process/reaper.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include <utility>

namespace berth::shim::process {

void BlockSigchld() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

Reaper::Reaper(ExitCallback on_exit) : on_exit_(std::move(on_exit)) {
  thread_ = std::thread([this] { Loop(); });
}

Reaper::~Reaper() { Stop(); }

void Reaper::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable())
    thread_.join();
}

absl::StatusOr<int> Reaper::Wait(pid_t pid) {
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> bool {
    return stopping_ || exited_.count(pid) > 0;
  };
  mu_.Await(absl::Condition(&ready));
  auto it = exited_.find(pid);
  if (it == exited_.end())
    return absl::UnavailableError("reaper stopped");
  const int status = it->second.wait_status;
  exited_.erase(it);
  return status;
}

absl::StatusOr<int> Reaper::TakeIfReaped(pid_t pid) {
  absl::MutexLock lock(&mu_);
  auto it = exited_.find(pid);
  if (it == exited_.end())
    return absl::NotFoundError("not reaped");
  const int status = it->second.wait_status;
  exited_.erase(it);
  return status;
}

void Reaper::Loop() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  const struct timespec tick = {0, 100 * 1000 * 1000};
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_)
        return;
    }
    // Reap everything that has exited, then sleep until the next SIGCHLD (or
    // the tick, which bounds how long Stop waits and covers a SIGCHLD merged
    // with an earlier one).
    for (;;) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) {
        if (pid < 0 && errno == EINTR)
          continue;
        break;
      }
      const absl::Time now = absl::Now();
      {
        absl::MutexLock lock(&mu_);
        exited_[pid] = Exit{status, now};
      }
      // After the status is stored, so an owner that learns the pid
      // concurrently finds it either here or through TakeIfReaped.
      if (on_exit_)
        on_exit_(pid, status, now);
    }
    {
      absl::MutexLock lock(&mu_);
      const absl::Time now = absl::Now();
      for (auto it = exited_.begin(); it != exited_.end();) {
        it = now - it->second.when > kUnclaimedLifetime ? exited_.erase(it)
                                                        : std::next(it);
      }
    }
    (void)::sigtimedwait(&set, nullptr, &tick);
  }
}

} // namespace berth::shim::process
