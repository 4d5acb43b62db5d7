#include "engine/images/chunk_pipe.h"

namespace berth::engine::images {

bool ChunkPipe::Push(std::string chunk) {
  absl::MutexLock l(&mu_);
  if (closed_) return false;
  chunks_.push_back(std::move(chunk));
  if (chunks_.size() >= capacity_) {
    paused_ = true;
    return false;
  }
  return true;
}

void ChunkPipe::Close(absl::Status status) {
  absl::MutexLock l(&mu_);
  if (closed_ && !(end_.ok() && !status.ok())) return;
  closed_ = true;
  end_ = std::move(status);
  if (!end_.ok()) chunks_.clear();
}

absl::StatusOr<absl::string_view> ChunkPipe::Next() {
  bool resume = false;
  {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](ChunkPipe* p)
             ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) { return !p->chunks_.empty() || p->closed_; },
        this));
    if (chunks_.empty()) {
      if (!end_.ok()) return end_;
      current_.clear();
      return absl::string_view();
    }
    current_ = std::move(chunks_.front());
    chunks_.pop_front();
    if (paused_ && chunks_.size() < capacity_) {
      paused_ = false;
      resume = true;
    }
  }
  if (resume && resume_) resume_();
  if (current_.empty()) return Next();  // an empty data message is not the end
  return absl::string_view(current_);
}

}  // namespace berth::engine::images
