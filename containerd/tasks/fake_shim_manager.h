// FakeShimManager: a ShimManager whose shims are in-process fakes of
// berth.shim.task.v1.Task, each served on its own unix socket, so the Tasks
// service is tested through real gRPC calls without processes, runtimes or
// root. A fake shim keeps one init process and exec processes in memory; tests
// make processes exit (ExitInit), shims die (KillShim, like kill -9) or stop
// answering (SetUnresponsive), and check what the service asked for (Cleanup
// calls, requests).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "berth/shim/task/v1/task.grpc.pb.h"
#include "common/grpc/server.h"
#include "containerd/tasks/shim_manager.h"

namespace berth::containerd::tasks {

class FakeShim;

class FakeShimManager final : public ShimManager {
public:
  // Sockets go under `socket_dir` (a short temp dir).
  explicit FakeShimManager(std::string socket_dir);
  ~FakeShimManager() override;

  absl::StatusOr<ShimConnection> Start(const ShimSpec &spec) override;
  absl::StatusOr<ShimConnection> Reconnect(const ShimSpec &spec) override;
  absl::StatusOr<bool>
  IsAlive(const ::berth::shim::task::v1::BootstrapParams &params) override;
  absl::StatusOr<TaskExit> Cleanup(const ShimSpec &spec) override;

  // The next Start fails with `status`.
  void FailNextStart(absl::Status status);
  // The init process of `id`'s shim exits with `status` (Wait callers are
  // answered).
  void ExitInit(const std::string &id, uint32_t status);
  // The shim of `id` dies: its socket stops answering and IsAlive says false.
  // Its init process's recorded exit (if any) survives for Cleanup, as
  // exit.json does.
  void KillShim(const std::string &id);
  // The shim of `id` stays alive but does not answer calls.
  void SetUnresponsive(const std::string &id, bool unresponsive);
  // The shim's Create fails with `status` (for the next shim started).
  void FailNextCreate(absl::Status status);

  // What the fakes saw.
  std::vector<ShimSpec> started() const;
  std::vector<ShimSpec> cleanups() const;
  // The last Create request the shim of `id` got.
  std::optional<::berth::shim::task::v1::CreateRequest>
  last_create(const std::string &id) const;
  // Live (not killed, not shut down) shims.
  int live_shims() const;

private:
  struct Entry {
    ShimSpec spec;
    ::berth::shim::task::v1::BootstrapParams params;
    std::unique_ptr<FakeShim> shim;
    std::unique_ptr<grpc_util::UnixGrpcServer> server;
    bool killed = false;
  };
  absl::StatusOr<ShimConnection> Connect(Entry &e)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Entry *FindById(const std::string &id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Alive(const Entry &e) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string socket_dir_;
  mutable absl::Mutex mu_;
  // By bundle path.
  std::map<std::string, Entry> shims_ ABSL_GUARDED_BY(mu_);
  uint32_t next_pid_ ABSL_GUARDED_BY(mu_) = 4000;
  std::optional<absl::Status> fail_start_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> fail_create_ ABSL_GUARDED_BY(mu_);
  std::vector<ShimSpec> started_ ABSL_GUARDED_BY(mu_);
  std::vector<ShimSpec> cleanups_ ABSL_GUARDED_BY(mu_);
};

} // namespace berth::containerd::tasks
