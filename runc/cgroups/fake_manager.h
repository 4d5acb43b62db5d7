// FakeManager: a cgroups::Manager that keeps everything in memory, for tests of the packages
// that use one (container, commands). Its state is public so tests can arrange and inspect
// it; `fail_next` makes the next call (any method returning a status) fail once.
#pragma once

#include <signal.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "runc/cgroups/manager.h"

namespace berth::runc::cgroups::testing {

class FakeManager final : public Manager {
 public:
  explicit FakeManager(std::string path = "/berth-runc/fake", bool unified = false)
      : path_(std::move(path)), unified_(unified) {}

  // Arranged and inspected by tests.
  bool created = false;
  bool destroyed = false;
  bool frozen = false;
  std::vector<pid_t> pids;
  std::vector<spec::Resources> applied;  // every Apply, in order
  std::vector<int> signals;              // every Kill, in order
  Stats stats;
  absl::Status fail_next;

  absl::Status Create() override {
    if (absl::Status s = TakeFailure(); !s.ok()) return s;
    created = true;
    destroyed = false;
    return absl::OkStatus();
  }
  absl::Status AddProcess(pid_t pid) override {
    if (absl::Status s = TakeFailure(); !s.ok()) return s;
    if (!created) return absl::FailedPreconditionError("fake cgroup: not created");
    pids.push_back(pid);
    return absl::OkStatus();
  }
  absl::Status Apply(const spec::Resources& r) override {
    if (absl::Status s = TakeFailure(); !s.ok()) return s;
    applied.push_back(r);
    return absl::OkStatus();
  }
  absl::Status Freeze() override {
    if (absl::Status s = TakeFailure(); !s.ok()) return s;
    frozen = true;
    return absl::OkStatus();
  }
  absl::Status Thaw() override {
    if (absl::Status s = TakeFailure(); !s.ok()) return s;
    frozen = false;
    return absl::OkStatus();
  }
  absl::StatusOr<bool> IsFrozen() override {
    if (absl::Status s = TakeFailure(); !s.ok()) return s;
    return frozen;
  }
  absl::StatusOr<std::vector<pid_t>> Pids() override {
    if (absl::Status s = TakeFailure(); !s.ok()) return s;
    return pids;
  }
  absl::StatusOr<Stats> GetStats() override {
    if (absl::Status s = TakeFailure(); !s.ok()) return s;
    return stats;
  }
  absl::Status Kill(int signal) override {
    if (absl::Status s = TakeFailure(); !s.ok()) return s;
    signals.push_back(signal);
    if (signal == SIGKILL) pids.clear();
    return absl::OkStatus();
  }
  absl::Status Destroy() override {
    if (absl::Status s = TakeFailure(); !s.ok()) return s;
    if (!pids.empty()) return absl::FailedPreconditionError("fake cgroup: processes remain");
    destroyed = true;
    created = false;
    return absl::OkStatus();
  }
  std::string Serialize() const override { return absl::StrCat("fake ", path_, "\n"); }
  std::vector<CgroupPath> Paths() const override {
    return {CgroupPath{unified_ ? "" : "memory", "/fake", absl::StrCat("/fake", path_)}};
  }
  bool IsUnified() const override { return unified_; }

 private:
  absl::Status TakeFailure() { return std::exchange(fail_next, absl::OkStatus()); }

  std::string path_;
  bool unified_;
};

}  // namespace berth::runc::cgroups::testing
