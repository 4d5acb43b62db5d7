#include "engine/distribution/progress.h"

#include "absl/strings/match.h"

namespace berth::engine::distribution {

void ProgressQueue::Post(v1::TransferProgress p) {
  absl::MutexLock l(&mu_);
  const bool counting = p.current() > 0 && p.current() < p.total() &&
                        (p.phase() == v1::TRANSFER_PHASE_DOWNLOADING ||
                         p.phase() == v1::TRANSFER_PHASE_PUSHING ||
                         p.phase() == v1::TRANSFER_PHASE_EXTRACTING);
  const absl::Time now = clock_();
  auto it = last_.find(p.id());
  if (counting && it != last_.end() && it->second.phase == p.phase() &&
      now - it->second.at < min_interval_) {
    return;  // an intermediate byte count: the next one (or the phase change) says more
  }
  last_[p.id()] = Last{p.phase(), now};
  lines_.push_back(std::move(p));
}

void ProgressQueue::Post(const std::string& id, v1::TransferPhase phase,
                         const std::string& status, int64_t current, int64_t total) {
  v1::TransferProgress p;
  p.set_id(id);
  p.set_phase(phase);
  p.set_status(status);
  p.set_current(current);
  p.set_total(total);
  Post(std::move(p));
}

void ProgressQueue::Close() {
  absl::MutexLock l(&mu_);
  closed_ = true;
}

bool ProgressQueue::Next(v1::TransferProgress* p, absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !lines_.empty() || closed_; };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (lines_.empty()) return false;
  *p = std::move(lines_.front());
  lines_.pop_front();
  return true;
}

bool ProgressQueue::Drained() {
  absl::MutexLock l(&mu_);
  return closed_ && lines_.empty();
}

void ProgressQueue::Relay(const std::function<void()>& poll,
                          const std::function<void(v1::TransferProgress)>& send) {
  while (!Drained()) {
    poll();
    v1::TransferProgress p;
    if (Next(&p, absl::Milliseconds(50))) send(std::move(p));
  }
}

std::string ShortId(const std::string& digest) {
  size_t colon = digest.find(':');
  return digest.substr(colon == std::string::npos ? 0 : colon + 1, 12);
}

}  // namespace berth::engine::distribution
