// ChunkPipe: hands the data chunks of a client-streaming gRPC call (received on gRPC's
// callback threads) to a worker thread that reads them as a ByteSource. It holds at most
// `capacity` chunks: when full, Push returns false and the reactor stops reading until the
// worker has made room and calls the resume callback, so a fast client cannot make berthd
// buffer a whole archive in memory.
#pragma once

#include <deque>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "engine/images/byte_source.h"

namespace berth::engine::images {

class ChunkPipe final : public ByteSource {
 public:
  // `resume` is called (on the worker's thread, without the pipe's lock) when a Push
  // returned false and there is room again.
  ChunkPipe(size_t capacity, std::function<void()> resume)
      : capacity_(capacity), resume_(std::move(resume)) {}

  // Producer side. Returns whether the producer may read the next chunk right away.
  bool Push(std::string chunk);
  // The stream ended: OK for a normal end, an error (e.g. Cancelled) otherwise. The first
  // error wins over an earlier OK that the consumer has not reached yet.
  void Close(absl::Status status);

  // Consumer side: blocks until a chunk or the end is there.
  absl::StatusOr<absl::string_view> Next() override;

 private:
  const size_t capacity_;
  std::function<void()> resume_;
  absl::Mutex mu_;
  std::deque<std::string> chunks_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status end_ ABSL_GUARDED_BY(mu_);
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  std::string current_;  // consumer-owned: the chunk returned last
};

}  // namespace berth::engine::images
