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

Reaper::Reaper(ExitCallback on_exit) : on_exit_(std::move(on_exit)) {}

Reaper::~Reaper() { Stop(); }

void Reaper::Start() {
  if (!thread_.joinable())
    thread_ = std::thread([this] { Loop(); });
}

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

bool Reaper::ReapAll() {
  bool reaped = false;
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) {
      if (pid < 0 && errno == EINTR)
        continue;
      break;
    }
    reaped = true;
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
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  for (auto it = exited_.begin(); it != exited_.end();) {
    it = now - it->second.when > kUnclaimedLifetime ? exited_.erase(it)
                                                    : std::next(it);
  }
  return reaped;
}

void Reaper::Loop() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  // The tick bounds how long Stop waits. A SIGCHLD that arrives between
  // ReapAll and sigtimedwait stays pending (it is blocked), so none is missed.
  const struct timespec tick = {0, 100 * 1000 * 1000};
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_)
        return;
    }
    ReapAll();
    (void)::sigtimedwait(&set, nullptr, &tick);
  }
}

int Reaper::RunUntilSignal(const sigset_t &signals, absl::Duration idle,
                           const std::function<void()> &on_idle) {
  sigset_t set = signals;
  sigaddset(&set, SIGCHLD);
  absl::Time idle_at = absl::InfiniteFuture();
  for (;;) {
    if (ReapAll())
      idle_at = absl::Now() + idle;
    const absl::Time now = absl::Now();
    if (now >= idle_at) {
      idle_at = absl::InfiniteFuture();
      if (on_idle)
        on_idle();
    }
    // Without pending idle work, wake up now and then only to forget stale
    // unclaimed statuses.
    const absl::Duration wait = idle_at == absl::InfiniteFuture()
                                    ? kUnclaimedLifetime
                                    : idle_at - now;
    const struct timespec timeout = absl::ToTimespec(wait);
    const int sig = ::sigtimedwait(&set, nullptr, &timeout);
    if (sig > 0 && sig != SIGCHLD)
      return sig;
  }
}

} // namespace berth::shim::process
