#include "containerd/gc/scheduler.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "glog/logging.h"

namespace berth::containerd::gc {

Scheduler::Scheduler(Collector* collector, SchedulerOptions options)
    : collector_(collector), options_(std::move(options)), started_(absl::Now()) {
  CHECK(options_.max_pause_fraction > 0 && options_.max_pause_fraction <= 1)
      << "max_pause_fraction must be in (0, 1]";
  if (options_.collect_at_start) {
    requested_ = true;
    requested_at_ = started_;
  }
  thread_ = std::thread([this] { Loop(); });
}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    cv_.Signal();
  }
  if (thread_.joinable()) thread_.join();
}

void Scheduler::RequestCollection() {
  absl::MutexLock lock(&mu_);
  if (!requested_) {
    requested_ = true;
    requested_at_ = absl::Now();
    cv_.Signal();
  }
}

absl::Status Scheduler::CollectNow() { return RunCollection(); }

Scheduler::State Scheduler::state() const {
  absl::MutexLock lock(&mu_);
  State s;
  s.runs = runs_;
  s.failures = failures_;
  s.requested = requested_;
  s.last_end = last_end_;
  s.last_duration = last_duration_;
  s.next_due = NextDueLocked();
  return s;
}

absl::Time Scheduler::NextDueLocked() const {
  // The earliest the spacing rules allow.
  absl::Time earliest = started_;
  if (last_end_ != absl::InfinitePast()) {
    const absl::Duration pause_spacing = last_duration_ * (1.0 / options_.max_pause_fraction - 1.0);
    earliest = last_end_ + std::max(options_.min_interval, pause_spacing);
  }
  if (requested_) return std::max(requested_at_ + options_.delay, earliest);
  if (options_.period == absl::InfiniteDuration()) return absl::InfiniteFuture();
  const absl::Time base = last_end_ == absl::InfinitePast() ? started_ : last_end_;
  return std::max(base + options_.period, earliest);
}

void Scheduler::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    const absl::Time due = NextDueLocked();
    if (absl::Now() < due) {
      cv_.WaitWithDeadline(&mu_, due);
      continue;
    }
    mu_.Unlock();
    // Errors are logged by the collector; the next trigger or period tries again.
    RunCollection().IgnoreError();
    mu_.Lock();
  }
}

absl::Status Scheduler::RunCollection() {
  absl::MutexLock collecting(&collect_mu_);
  {
    // This collection starts after every request made so far, so it answers them.
    absl::MutexLock lock(&mu_);
    requested_ = false;
  }
  const absl::Time start = absl::Now();
  const absl::Status status = collector_->Collect().status();
  const absl::Time end = absl::Now();
  absl::MutexLock lock(&mu_);
  ++runs_;
  if (!status.ok()) ++failures_;
  last_end_ = end;
  last_duration_ = end - start;
  return status;
}

}  // namespace berth::containerd::gc
