// Manager for cgroup v1 (and hybrid) hosts: one directory per mounted hierarchy, written the
// way runc's libcontainer/cgroups/fs driver writes them. Built by NewManager / LoadManager
// (manager.h).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "runc/cgroups/dirs.h"
#include "runc/cgroups/manager.h"

namespace berth::runc::cgroups {

class V1Manager final : public Manager {
 public:
  V1Manager(std::vector<internal::CgroupDir> dirs, internal::Env env)
      : dirs_(std::move(dirs)), env_(std::move(env)) {}

  absl::Status Create() override;
  absl::Status AddProcess(pid_t pid) override;
  absl::Status Apply(const spec::Resources& r) override;  // v1_resources.cc
  absl::Status Freeze() override;
  absl::Status Thaw() override;
  absl::StatusOr<bool> IsFrozen() override;
  absl::StatusOr<std::vector<pid_t>> Pids() override;
  absl::StatusOr<Stats> GetStats() override;
  absl::Status Kill(int signal) override;
  absl::Status Destroy() override;
  std::string Serialize() const override;
  std::vector<CgroupPath> Paths() const override;
  bool IsUnified() const override { return false; }

 private:
  // The container's directory in the hierarchy that has `controller` ("memory",
  // "name=systemd"), or nullptr when no such hierarchy is mounted.
  const std::string* Dir(absl::string_view controller) const;
  // Fills empty cpuset.cpus / cpuset.mems from the parent, top down (a new cpuset cgroup
  // starts empty, and a process cannot join an empty cpuset).
  absl::Status InitCpuset(const internal::CgroupDir& d);
  absl::Status CheckSupport(const spec::Resources& r) const;
  absl::Status ApplyMemory(const std::string& dir, const spec::MemoryResources& m);
  absl::Status ApplyCpu(const spec::CpuResources& c);
  absl::Status ApplyDevices(const std::string& dir,
                            const std::vector<spec::DeviceCgroupRule>& rules);
  absl::Status ApplyBlkio(const std::string& dir, const spec::BlockIoResources& b);
  absl::Status WaitFreezerState(const std::string& dir, absl::string_view state,
                                absl::Time deadline);

  std::vector<internal::CgroupDir> dirs_;
  internal::Env env_;
};

}  // namespace berth::runc::cgroups
