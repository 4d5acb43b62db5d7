// BlockingExecutor runs work that blocks (waiting for a container to stop, for a task to exit,
// for a remote call with a long deadline) off gRPC's callback threads, which must never block:
// each task gets its own thread, and finished threads are joined by the next Run or by the
// destructor, so no thread is ever detached and none outlives the executor.
//
// One thread per task suits berthd's load (a few hundred concurrent blocking calls at most);
// a pool with a queue would let 20 slow Stops starve every other request.
//
// Thread safety: Run may be called from any thread, also from inside a task.
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace berth::executor {

class BlockingExecutor {
 public:
  BlockingExecutor() = default;
  BlockingExecutor(const BlockingExecutor&) = delete;
  BlockingExecutor& operator=(const BlockingExecutor&) = delete;
  // Waits for every running task.
  ~BlockingExecutor();

  // Runs `fn` on a new thread. After Shutdown it runs nothing and returns false.
  bool Run(std::function<void()> fn);

  // Refuses new tasks and waits for the running ones.
  void Shutdown();

  // Tasks started and not yet finished.
  int Running() const;

 private:
  struct Worker {
    std::thread thread;
    bool done = false;
  };
  // Joins finished workers; called with mu_ not held.
  void JoinFinished();

  mutable absl::Mutex mu_;
  std::list<Worker> workers_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace berth::executor
