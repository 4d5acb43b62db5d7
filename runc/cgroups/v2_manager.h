// Manager for cgroup v2 (unified) hosts: one directory in the cgroup2 tree, written the way
// runc's libcontainer/cgroups/fs2 driver writes it (the OCI resources are cgroup v1 shaped;
// conversions as in runc, see v2_resources.cc). Device rules become an eBPF program
// (device_filter.h). Built by NewManager / LoadManager (manager.h).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "runc/cgroups/dirs.h"
#include "runc/cgroups/manager.h"

namespace berth::runc::cgroups {

// cpu.shares (v1, 2..262144, default 1024) as cpu.weight (v2, 1..10000, default 100): the
// quadratic in log2(shares) that the OCI cgroups library (opencontainers/cgroups), runc >= 1.3
// and crun >= 1.23 use, which maps the defaults onto each other (runc 1.1's linear formula
// mapped 1024 to 39). 0 means "not set".
uint64_t SharesToWeight(uint64_t shares);

// blkio.weight (10..1000) as io.weight (1..10000): runc's linear map. 0 means "not set".
uint64_t BlkioWeightToIoWeight(uint64_t weight);

class V2Manager final : public Manager {
 public:
  V2Manager(internal::CgroupDir dir, internal::Env env)
      : dirs_{std::move(dir)}, env_(std::move(env)) {}

  absl::Status Create() override;
  absl::Status AddProcess(pid_t pid) override;
  absl::Status Apply(const spec::Resources& r) override;  // v2_resources.cc
  absl::Status Freeze() override;
  absl::Status Thaw() override;
  absl::StatusOr<bool> IsFrozen() override;
  absl::StatusOr<std::vector<pid_t>> Pids() override;
  absl::StatusOr<Stats> GetStats() override;
  absl::Status Kill(int signal) override;
  absl::Status Destroy() override;
  std::string Serialize() const override;
  std::vector<CgroupPath> Paths() const override;
  bool IsUnified() const override { return true; }

 private:
  const std::string& path() const { return dirs_[0].where.path; }
  // Writes "+cpu +memory ..." (the controllers the tree root offers) to cgroup.subtree_control
  // from the mount point down to the parent of our directory, so that ours gets them. Errors
  // are ignored, as in runc: what is missing is reported by Apply.
  void EnableControllers();
  absl::Status WaitFrozen(bool frozen, absl::Time deadline);
  absl::Status ApplyMemory(const spec::MemoryResources& m);
  absl::Status ApplyCpu(const spec::CpuResources& c);
  absl::Status ApplyIo(const spec::BlockIoResources& b);
  absl::Status ApplyUnified(const std::map<std::string, std::string>& unified,
                            const std::vector<std::string>& available);

  std::vector<internal::CgroupDir> dirs_;  // exactly one
  internal::Env env_;
};

}  // namespace berth::runc::cgroups
