// V1Manager::Apply: linux.resources to cgroup v1 files (Documentation/admin-guide/cgroup-v1/),
// with runc's rules for which values mean "not set" and for the order of the writes.
#include <errno.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "runc/cgroups/device_filter.h"
#include "runc/cgroups/fs_ops.h"
#include "runc/cgroups/v1_manager.h"

namespace berth::runc::cgroups {
namespace {

using internal::JoinPath;

constexpr char kMem[] = "linux.resources.memory";
constexpr char kCpu[] = "linux.resources.cpu";
constexpr char kBlkio[] = "linux.resources.blockIO";

bool MemorySet(const spec::MemoryResources& m) {
  return m.limit || m.reservation || m.swap || m.swappiness || m.disable_oom_killer ||
         m.kernel_tcp || m.use_hierarchy;
}

bool CpuSet(const spec::CpuResources& c) {
  return (c.shares && *c.shares) || (c.quota && *c.quota) || (c.period && *c.period) ||
         (c.realtime_runtime && *c.realtime_runtime) || (c.realtime_period && *c.realtime_period) ||
         c.idle || c.burst;
}

bool BlkioSet(const spec::BlockIoResources& b) {
  return b.weight || b.leaf_weight || !b.weight_devices.empty() || !b.throttle_read_bps.empty() ||
         !b.throttle_write_bps.empty() || !b.throttle_read_iops.empty() ||
         !b.throttle_write_iops.empty();
}

absl::Status NoHierarchy(absl::string_view field, absl::string_view controller) {
  return absl::UnimplementedError(
      absl::StrCat(field, ": no cgroup v1 \"", controller, "\" hierarchy is mounted on this host"));
}

// Page sizes are names like "2MB"; they become part of a file name.
bool ValidPageSize(absl::string_view s) {
  if (s.size() < 3 || !absl::EndsWith(s, "B")) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool ValidName(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) || c == '\0') return false;
  }
  return true;
}

}  // namespace

absl::Status V1Manager::CheckSupport(const spec::Resources& r) const {
  if (r.memory && MemorySet(*r.memory) && !Dir("memory")) return NoHierarchy(kMem, "memory");
  if (r.cpu) {
    if (CpuSet(*r.cpu) && !Dir("cpu")) return NoHierarchy(kCpu, "cpu");
    if ((!r.cpu->cpus.empty() || !r.cpu->mems.empty()) && !Dir("cpuset")) {
      return NoHierarchy(absl::StrCat(kCpu, r.cpu->cpus.empty() ? ".mems" : ".cpus"), "cpuset");
    }
  }
  if (r.pids_limit && *r.pids_limit != 0 && !Dir("pids")) {
    return NoHierarchy("linux.resources.pids", "pids");
  }
  if (!r.devices.empty()) {
    BERTH_RETURN_IF_ERROR(ValidateDeviceRules(r.devices));
    if (!Dir("devices")) return NoHierarchy("linux.resources.devices", "devices");
  }
  if (r.block_io && BlkioSet(*r.block_io)) {
    const std::string* dir = Dir("blkio");
    if (dir == nullptr) return NoHierarchy(kBlkio, "blkio");
    const spec::BlockIoResources& b = *r.block_io;
    bool weights = false, leaf_weights = false;
    for (const spec::BlockIoDevice& d : b.weight_devices) {
      weights |= d.weight.has_value();
      leaf_weights |= d.leaf_weight.has_value();
    }
    CgroupFs& fs = *env_.fs;
    if ((b.weight || weights) && !fs.Exists(JoinPath(*dir, "blkio.weight")) &&
        !fs.Exists(JoinPath(*dir, "blkio.bfq.weight"))) {
      return absl::UnimplementedError(absl::StrCat(
          kBlkio, b.weight ? ".weight" : ".weightDevice",
          ": this kernel's blkio cgroup has no weight files (blkio.weight, blkio.bfq.weight): "
          "the block I/O scheduler in use has no proportional weights"));
    }
    if ((b.leaf_weight || leaf_weights) && !fs.Exists(JoinPath(*dir, "blkio.leaf_weight"))) {
      return absl::UnimplementedError(
          absl::StrCat(kBlkio, b.leaf_weight ? ".leafWeight" : ".weightDevice",
                       ": this kernel's blkio cgroup has no blkio.leaf_weight (CFQ only)"));
    }
  }
  if (!r.hugepage_limits.empty() && !Dir("hugetlb")) {
    return absl::UnimplementedError(
        "linux.resources.hugepageLimits: no cgroup v1 \"hugetlb\" hierarchy is mounted on this "
        "host (on a hybrid host hugetlb may be on the cgroup2 tree, which cgroup v1 containers "
        "do not use)");
  }
  if (r.net_class_id && !Dir("net_cls")) {
    return NoHierarchy("linux.resources.network.classID", "net_cls");
  }
  if (!r.net_priorities.empty() && !Dir("net_prio")) {
    return NoHierarchy("linux.resources.network.priorities", "net_prio");
  }
  if (!r.rdma.empty() && !Dir("rdma")) return NoHierarchy("linux.resources.rdma", "rdma");
  if (!r.unified.empty()) {
    return absl::UnimplementedError(
        "linux.resources.unified: needs cgroup v2, and this host uses cgroup v1");
  }
  return absl::OkStatus();
}

absl::Status V1Manager::Apply(const spec::Resources& r) {
  BERTH_RETURN_IF_ERROR(CheckSupport(r));
  CgroupFs& fs = *env_.fs;
  // runc's order of subsystems: cpuset, devices, memory, cpu, pids, blkio, hugetlb, net_cls,
  // net_prio, rdma.
  if (r.cpu && (!r.cpu->cpus.empty() || !r.cpu->mems.empty())) {
    const std::string& dir = *Dir("cpuset");
    if (!r.cpu->cpus.empty()) {
      BERTH_RETURN_IF_ERROR(
          internal::WriteField(fs, absl::StrCat(kCpu, ".cpus"), dir, "cpuset.cpus", r.cpu->cpus));
    }
    if (!r.cpu->mems.empty()) {
      BERTH_RETURN_IF_ERROR(
          internal::WriteField(fs, absl::StrCat(kCpu, ".mems"), dir, "cpuset.mems", r.cpu->mems));
    }
  }
  if (!r.devices.empty()) BERTH_RETURN_IF_ERROR(ApplyDevices(*Dir("devices"), r.devices));
  if (r.memory && MemorySet(*r.memory))
    BERTH_RETURN_IF_ERROR(ApplyMemory(*Dir("memory"), *r.memory));
  if (r.memory && r.memory->kernel) {
    // Kernel memory limits are deprecated (Linux 5.4) and ignored by the kernel; runc 1.1 ignores
    // them too.
    env_.Warn("linux.resources.memory.kernel is ignored: kernel memory limits are deprecated");
  }
  if (r.cpu && CpuSet(*r.cpu)) BERTH_RETURN_IF_ERROR(ApplyCpu(*r.cpu));
  if (r.pids_limit && *r.pids_limit != 0) {
    // 0 means "not set" (runc); negative means no limit.
    BERTH_RETURN_IF_ERROR(
        internal::WriteField(fs, "linux.resources.pids.limit", *Dir("pids"), "pids.max",
                             *r.pids_limit > 0 ? absl::StrCat(*r.pids_limit) : std::string("max")));
  }
  if (r.block_io && BlkioSet(*r.block_io))
    BERTH_RETURN_IF_ERROR(ApplyBlkio(*Dir("blkio"), *r.block_io));
  for (size_t i = 0; i < r.hugepage_limits.size(); ++i) {
    const spec::HugepageLimit& h = r.hugepage_limits[i];
    std::string field = absl::StrCat("linux.resources.hugepageLimits[", i, "]");
    std::string file = absl::StrCat("hugetlb.", h.page_size, ".limit_in_bytes");
    if (!ValidPageSize(h.page_size) || !fs.Exists(JoinPath(*Dir("hugetlb"), file))) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".pageSize: \"", h.page_size,
                                                     "\" is not a huge page size of this host"));
    }
    BERTH_RETURN_IF_ERROR(
        internal::WriteField(fs, field, *Dir("hugetlb"), file, absl::StrCat(h.limit)));
  }
  if (r.net_class_id) {
    BERTH_RETURN_IF_ERROR(internal::WriteField(fs, "linux.resources.network.classID",
                                               *Dir("net_cls"), "net_cls.classid",
                                               absl::StrCat(*r.net_class_id)));
  }
  for (size_t i = 0; i < r.net_priorities.size(); ++i) {
    std::string field = absl::StrCat("linux.resources.network.priorities[", i, "]");
    const auto& [name, prio] = r.net_priorities[i];
    if (!ValidName(name)) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".name: \"", name, "\" is invalid"));
    }
    BERTH_RETURN_IF_ERROR(internal::WriteField(fs, field, *Dir("net_prio"), "net_prio.ifpriomap",
                                               absl::StrCat(name, " ", prio)));
  }
  for (const auto& [device, limit] : r.rdma) {
    std::string field = absl::StrCat("linux.resources.rdma[\"", device, "\"]");
    if (!ValidName(device))
      return absl::InvalidArgumentError(absl::StrCat(field, ": bad device name"));
    std::string line = device;
    if (limit.hca_handles) absl::StrAppend(&line, " hca_handle=", *limit.hca_handles);
    if (limit.hca_objects) absl::StrAppend(&line, " hca_object=", *limit.hca_objects);
    if (line == device) continue;
    BERTH_RETURN_IF_ERROR(internal::WriteField(fs, field, *Dir("rdma"), "rdma.max", line));
  }
  return absl::OkStatus();
}

absl::Status V1Manager::ApplyMemory(const std::string& dir, const spec::MemoryResources& m) {
  CgroupFs& fs = *env_.fs;
  const std::string limit_field = absl::StrCat(kMem, ".limit");
  const std::string swap_field = absl::StrCat(kMem, ".swap");
  // 0 means "not set" for limit and swap (runc).
  std::optional<int64_t> limit = m.limit && *m.limit != 0 ? m.limit : std::nullopt;
  std::optional<int64_t> swap = m.swap && *m.swap != 0 ? m.swap : std::nullopt;
  if (limit && *limit < -1) {
    return absl::InvalidArgumentError(absl::StrCat(limit_field, ": ", *limit, " is negative"));
  }
  if (swap && *swap < -1) {
    return absl::InvalidArgumentError(absl::StrCat(swap_field, ": ", *swap, " is negative"));
  }
  bool have_memsw = fs.Exists(JoinPath(dir, "memory.memsw.limit_in_bytes"));
  if (swap && !have_memsw) {
    return absl::UnimplementedError(absl::StrCat(
        swap_field, ": swap accounting is off on this host (no memory.memsw.limit_in_bytes)"));
  }
  // An unlimited memory limit without a swap value also lifts the swap limit (runc).
  if (limit && *limit == -1 && !swap && have_memsw) swap = -1;
  if (limit && swap && *limit != -1 && *swap != -1 && *swap < *limit) {
    return absl::InvalidArgumentError(absl::StrCat(swap_field, ": memory+swap limit ", *swap,
                                                   " is below the memory limit ", *limit));
  }

  auto write_limit = [&]() -> absl::Status {
    std::string value = absl::StrCat(*limit);
    std::string path = JoinPath(dir, "memory.limit_in_bytes");
    int err = fs.WriteFile(path, value);
    if (err == EBUSY) {
      uint64_t usage = internal::ReadUintOrZero(fs, dir, "memory.usage_in_bytes");
      return absl::InvalidArgumentError(
          absl::StrCat(limit_field, ": cannot set the limit to ", *limit, ": the current usage ",
                       usage, " is above it and the kernel could not reclaim enough"));
    }
    return internal::WriteErrorStatus(err, limit_field, path, value);
  };
  auto write_swap = [&]() {
    return internal::WriteField(fs, swap_field, dir, "memory.memsw.limit_in_bytes",
                                absl::StrCat(*swap));
  };
  // The kernel keeps memory limit <= memory+swap limit at every step: raise memsw first when
  // it grows, lower the memory limit first when memsw shrinks.
  if (limit && swap) {
    absl::StatusOr<uint64_t> current = internal::ReadUint(fs, dir, "memory.limit_in_bytes");
    if (*swap == -1 || (current.ok() && *current < static_cast<uint64_t>(*swap))) {
      BERTH_RETURN_IF_ERROR(write_swap());
      BERTH_RETURN_IF_ERROR(write_limit());
    } else {
      BERTH_RETURN_IF_ERROR(write_limit());
      BERTH_RETURN_IF_ERROR(write_swap());
    }
  } else if (limit) {
    BERTH_RETURN_IF_ERROR(write_limit());
  } else if (swap) {
    BERTH_RETURN_IF_ERROR(write_swap());
  }
  if (m.reservation && *m.reservation != 0) {
    BERTH_RETURN_IF_ERROR(internal::WriteField(fs, absl::StrCat(kMem, ".reservation"), dir,
                                               "memory.soft_limit_in_bytes",
                                               absl::StrCat(*m.reservation)));
  }
  if (m.kernel_tcp && *m.kernel_tcp != 0) {
    BERTH_RETURN_IF_ERROR(internal::WriteField(fs, absl::StrCat(kMem, ".kernelTCP"), dir,
                                               "memory.kmem.tcp.limit_in_bytes",
                                               absl::StrCat(*m.kernel_tcp)));
  }
  if (m.swappiness) {
    if (*m.swappiness > 100) {
      return absl::InvalidArgumentError(
          absl::StrCat(kMem, ".swappiness: ", *m.swappiness, " is outside the range 0-100"));
    }
    BERTH_RETURN_IF_ERROR(internal::WriteField(fs, absl::StrCat(kMem, ".swappiness"), dir,
                                               "memory.swappiness", absl::StrCat(*m.swappiness)));
  }
  if (m.disable_oom_killer) {
    BERTH_RETURN_IF_ERROR(internal::WriteField(fs, absl::StrCat(kMem, ".disableOOMKiller"), dir,
                                               "memory.oom_control",
                                               *m.disable_oom_killer ? "1" : "0"));
  }
  if (m.use_hierarchy) {
    BERTH_RETURN_IF_ERROR(internal::WriteField(fs, absl::StrCat(kMem, ".useHierarchy"), dir,
                                               "memory.use_hierarchy",
                                               *m.use_hierarchy ? "1" : "0"));
  }
  return absl::OkStatus();
}

absl::Status V1Manager::ApplyCpu(const spec::CpuResources& c) {
  CgroupFs& fs = *env_.fs;
  const std::string& dir = *Dir("cpu");
  if (c.shares && *c.shares != 0) {
    const std::string field = absl::StrCat(kCpu, ".shares");
    BERTH_RETURN_IF_ERROR(
        internal::WriteField(fs, field, dir, "cpu.shares", absl::StrCat(*c.shares)));
    // The kernel clamps out-of-range shares silently (2..262144); say so instead.
    absl::StatusOr<uint64_t> got = internal::ReadUint(fs, dir, "cpu.shares");
    if (got.ok() && *got != *c.shares) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": ", *c.shares,
                                                     " is outside the kernel's range (it set ",
                                                     *got, "; allowed 2-262144)"));
    }
  }
  const std::string period_field = absl::StrCat(kCpu, ".period");
  const std::string quota_field = absl::StrCat(kCpu, ".quota");
  bool quota_done = false;
  if (c.period && *c.period != 0) {
    absl::Status s =
        internal::WriteField(fs, period_field, dir, "cpu.cfs_period_us", absl::StrCat(*c.period));
    // A shorter period can be refused while the old quota does not fit it: set the quota
    // first, then the period again (runc).
    if (s.code() == absl::StatusCode::kInvalidArgument && c.quota && *c.quota != 0) {
      BERTH_RETURN_IF_ERROR(
          internal::WriteField(fs, quota_field, dir, "cpu.cfs_quota_us", absl::StrCat(*c.quota)));
      quota_done = true;
      s = internal::WriteField(fs, period_field, dir, "cpu.cfs_period_us", absl::StrCat(*c.period));
    }
    BERTH_RETURN_IF_ERROR(s);
  }
  if (c.quota && *c.quota != 0 && !quota_done) {
    BERTH_RETURN_IF_ERROR(
        internal::WriteField(fs, quota_field, dir, "cpu.cfs_quota_us", absl::StrCat(*c.quota)));
  }
  if (c.burst) {
    BERTH_RETURN_IF_ERROR(internal::WriteField(fs, absl::StrCat(kCpu, ".burst"), dir,
                                               "cpu.cfs_burst_us", absl::StrCat(*c.burst)));
  }
  if (c.realtime_period && *c.realtime_period != 0) {
    BERTH_RETURN_IF_ERROR(internal::WriteField(fs, absl::StrCat(kCpu, ".realtimePeriod"), dir,
                                               "cpu.rt_period_us",
                                               absl::StrCat(*c.realtime_period)));
  }
  if (c.realtime_runtime && *c.realtime_runtime != 0) {
    BERTH_RETURN_IF_ERROR(internal::WriteField(fs, absl::StrCat(kCpu, ".realtimeRuntime"), dir,
                                               "cpu.rt_runtime_us",
                                               absl::StrCat(*c.realtime_runtime)));
  }
  if (c.idle) {
    BERTH_RETURN_IF_ERROR(internal::WriteField(fs, absl::StrCat(kCpu, ".idle"), dir, "cpu.idle",
                                               absl::StrCat(*c.idle)));
  }
  return absl::OkStatus();
}

absl::Status V1Manager::ApplyDevices(const std::string& dir,
                                     const std::vector<spec::DeviceCgroupRule>& rules) {
  // Deny everything, then the rules in order: the kernel's list then equals the rules.
  BERTH_RETURN_IF_ERROR(
      internal::WriteField(*env_.fs, "linux.resources.devices", dir, "devices.deny", "a"));
  for (size_t i = 0; i < rules.size(); ++i) {
    BERTH_RETURN_IF_ERROR(internal::WriteField(
        *env_.fs, absl::StrCat("linux.resources.devices[", i, "]"), dir,
        rules[i].allow ? "devices.allow" : "devices.deny", DeviceRuleLine(rules[i])));
  }
  return absl::OkStatus();
}

absl::Status V1Manager::ApplyBlkio(const std::string& dir, const spec::BlockIoResources& b) {
  CgroupFs& fs = *env_.fs;
  // BFQ's files when the CFQ ones are gone (Linux 5.0 removed CFQ), as runc does.
  const bool cfq_weight = fs.Exists(JoinPath(dir, "blkio.weight"));
  if (b.weight) {
    BERTH_RETURN_IF_ERROR(internal::WriteField(fs, absl::StrCat(kBlkio, ".weight"), dir,
                                               cfq_weight ? "blkio.weight" : "blkio.bfq.weight",
                                               absl::StrCat(*b.weight)));
  }
  if (b.leaf_weight) {
    BERTH_RETURN_IF_ERROR(internal::WriteField(fs, absl::StrCat(kBlkio, ".leafWeight"), dir,
                                               "blkio.leaf_weight", absl::StrCat(*b.leaf_weight)));
  }
  for (size_t i = 0; i < b.weight_devices.size(); ++i) {
    const spec::BlockIoDevice& d = b.weight_devices[i];
    std::string field = absl::StrCat(kBlkio, ".weightDevice[", i, "]");
    if (d.weight) {
      BERTH_RETURN_IF_ERROR(internal::WriteField(
          fs, field, dir, cfq_weight ? "blkio.weight_device" : "blkio.bfq.weight_device",
          absl::StrCat(d.major, ":", d.minor, " ", *d.weight)));
    }
    if (d.leaf_weight) {
      BERTH_RETURN_IF_ERROR(
          internal::WriteField(fs, field, dir, "blkio.leaf_weight_device",
                               absl::StrCat(d.major, ":", d.minor, " ", *d.leaf_weight)));
    }
  }
  struct Throttle {
    const std::vector<spec::BlockIoDevice>* devices;
    const char* field;
    const char* file;
  };
  for (const Throttle& t :
       {Throttle{&b.throttle_read_bps, "throttleReadBpsDevice", "blkio.throttle.read_bps_device"},
        Throttle{&b.throttle_write_bps, "throttleWriteBpsDevice",
                 "blkio.throttle.write_bps_device"},
        Throttle{&b.throttle_read_iops, "throttleReadIOPSDevice",
                 "blkio.throttle.read_iops_device"},
        Throttle{&b.throttle_write_iops, "throttleWriteIOPSDevice",
                 "blkio.throttle.write_iops_device"}}) {
    for (size_t i = 0; i < t.devices->size(); ++i) {
      const spec::BlockIoDevice& d = (*t.devices)[i];
      BERTH_RETURN_IF_ERROR(
          internal::WriteField(fs, absl::StrCat(kBlkio, ".", t.field, "[", i, "]"), dir, t.file,
                               absl::StrCat(d.major, ":", d.minor, " ", d.rate)));
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::runc::cgroups
