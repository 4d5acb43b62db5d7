#include "common/executor/blocking_executor.h"

#include <vector>

namespace berth::executor {

BlockingExecutor::~BlockingExecutor() { Shutdown(); }

void BlockingExecutor::JoinFinished() {
  std::vector<std::thread> finished;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (it->done) {
        finished.push_back(std::move(it->thread));
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // The thread set done=true as its last action under mu_, so join returns at once.
  for (auto& t : finished) t.join();
}

bool BlockingExecutor::Run(std::function<void()> fn) {
  JoinFinished();
  absl::MutexLock lock(&mu_);
  if (shutdown_) return false;
  workers_.emplace_back();
  Worker* w = &workers_.back();
  w->thread = std::thread([this, w, fn = std::move(fn)] {
    fn();
    absl::MutexLock lock(&mu_);
    w->done = true;
  });
  return true;
}

void BlockingExecutor::Shutdown() {
  std::list<Worker> all;
  {
    absl::MutexLock lock(&mu_);
    shutdown_ = true;
  }
  // Tasks may still call Run (refused now) or finish; wait until the list is empty.
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (workers_.empty()) return;
      all.splice(all.end(), workers_);
    }
    for (auto& w : all) {
      if (w.thread.joinable()) w.thread.join();
    }
    all.clear();
  }
}

int BlockingExecutor::Running() const {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (const auto& w : workers_) n += w.done ? 0 : 1;
  return n;
}

}  // namespace berth::executor
