// V2Manager::Apply: linux.resources to cgroup v2 files
// (Documentation/admin-guide/cgroup-v2.rst), converted from the v1-shaped OCI fields as runc's
// fs2 driver does:
//   memory.limit -> memory.max, reservation -> memory.low, swap (memory+swap) -> memory.swap.max
//   (swap alone); cpu.shares -> cpu.weight (SharesToWeight); quota/period -> cpu.max;
//   blockIO.weight -> io.bfq.weight (or io.weight, converted); throttle* -> io.max;
//   pids.limit -> pids.max; hugepageLimits -> hugetlb.<size>.max; devices -> eBPF program;
//   unified -> the named files, last.
#include <errno.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status/status_macros.h"
#include "runc/cgroups/device_filter.h"
#include "runc/cgroups/fs_ops.h"
#include "runc/cgroups/v2_manager.h"

namespace berth::runc::cgroups {
namespace {

using internal::JoinPath;

constexpr char kMem[] = "linux.resources.memory";
constexpr char kCpu[] = "linux.resources.cpu";
constexpr char kBlkio[] = "linux.resources.blockIO";

std::string MaxOr(int64_t v) { return v == -1 ? std::string("max") : absl::StrCat(v); }

bool Has(const std::vector<std::string>& available, absl::string_view c) {
  return std::find(available.begin(), available.end(), c) != available.end();
}

absl::Status NeedController(const std::vector<std::string>& available, absl::string_view c,
                            absl::string_view field, const std::string& dir) {
  if (Has(available, c)) return absl::OkStatus();
  return absl::UnimplementedError(
      absl::StrCat(field, ": the \"", c, "\" controller is not available in cgroup ", dir,
                   " (cgroup.controllers: \"", absl::StrJoin(available, " "), "\")"));
}

bool ValidName(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) || c == '\0') return false;
  }
  return true;
}

}  // namespace

absl::Status V2Manager::Apply(const spec::Resources& r) {
  CgroupFs& fs = *env_.fs;
  const std::string& dir = path();
  BERTH_ASSIGN_OR_RETURN(std::string controllers,
                         internal::ReadTrimmed(fs, dir, "cgroup.controllers"), "apply resources");
  std::vector<std::string> available = absl::StrSplit(controllers, ' ', absl::SkipEmpty());

  // What this host or kernel cannot do, before anything is written.
  if (r.memory && (r.memory->limit || r.memory->reservation || r.memory->swap)) {
    BERTH_RETURN_IF_ERROR(NeedController(available, "memory", kMem, dir));
  }
  if (r.cpu) {
    const spec::CpuResources& c = *r.cpu;
    if ((c.realtime_runtime && *c.realtime_runtime != 0) ||
        (c.realtime_period && *c.realtime_period != 0)) {
      return absl::UnimplementedError(
          absl::StrCat(kCpu, c.realtime_runtime ? ".realtimeRuntime" : ".realtimePeriod",
                       ": cgroup v2 has no real-time group scheduling"));
    }
    if ((c.shares && *c.shares) || (c.quota && *c.quota) || (c.period && *c.period) || c.burst ||
        c.idle) {
      BERTH_RETURN_IF_ERROR(NeedController(available, "cpu", kCpu, dir));
    }
    if (!c.cpus.empty() || !c.mems.empty()) {
      BERTH_RETURN_IF_ERROR(NeedController(available, "cpuset", kCpu, dir));
    }
  }
  if (r.pids_limit && *r.pids_limit != 0) {
    BERTH_RETURN_IF_ERROR(NeedController(available, "pids", "linux.resources.pids", dir));
  }
  if (r.block_io) {
    const spec::BlockIoResources& b = *r.block_io;
    if (b.weight || !b.weight_devices.empty() || !b.throttle_read_bps.empty() ||
        !b.throttle_write_bps.empty() || !b.throttle_read_iops.empty() ||
        !b.throttle_write_iops.empty()) {
      BERTH_RETURN_IF_ERROR(NeedController(available, "io", kBlkio, dir));
    }
    bool leaf = b.leaf_weight.has_value();
    for (const auto& d : b.weight_devices) leaf |= d.leaf_weight.has_value();
    if (leaf) {
      return absl::UnimplementedError(
          absl::StrCat(kBlkio, ".leafWeight: cgroup v2 has no leaf weights"));
    }
  }
  if (!r.hugepage_limits.empty()) {
    BERTH_RETURN_IF_ERROR(
        NeedController(available, "hugetlb", "linux.resources.hugepageLimits", dir));
  }
  if (!r.rdma.empty()) {
    BERTH_RETURN_IF_ERROR(NeedController(available, "rdma", "linux.resources.rdma", dir));
  }
  if (r.net_class_id || !r.net_priorities.empty()) {
    return absl::UnimplementedError(
        absl::StrCat("linux.resources.network.", r.net_class_id ? "classID" : "priorities",
                     ": net_cls and net_prio exist only in cgroup v1, and this host uses v2"));
  }
  if (!r.devices.empty()) BERTH_RETURN_IF_ERROR(ValidateDeviceRules(r.devices));

  // runc's order: pids, memory, io, cpu, cpuset, hugetlb, rdma, devices, unified last.
  if (r.pids_limit && *r.pids_limit != 0) {
    BERTH_RETURN_IF_ERROR(
        internal::WriteField(fs, "linux.resources.pids.limit", dir, "pids.max",
                             *r.pids_limit > 0 ? absl::StrCat(*r.pids_limit) : std::string("max")));
  }
  if (r.memory) BERTH_RETURN_IF_ERROR(ApplyMemory(*r.memory));
  if (r.block_io) BERTH_RETURN_IF_ERROR(ApplyIo(*r.block_io));
  if (r.cpu) {
    BERTH_RETURN_IF_ERROR(ApplyCpu(*r.cpu));
    if (!r.cpu->cpus.empty()) {
      BERTH_RETURN_IF_ERROR(
          internal::WriteField(fs, absl::StrCat(kCpu, ".cpus"), dir, "cpuset.cpus", r.cpu->cpus));
    }
    if (!r.cpu->mems.empty()) {
      BERTH_RETURN_IF_ERROR(
          internal::WriteField(fs, absl::StrCat(kCpu, ".mems"), dir, "cpuset.mems", r.cpu->mems));
    }
  }
  for (size_t i = 0; i < r.hugepage_limits.size(); ++i) {
    const spec::HugepageLimit& h = r.hugepage_limits[i];
    std::string field = absl::StrCat("linux.resources.hugepageLimits[", i, "]");
    std::string file = absl::StrCat("hugetlb.", h.page_size, ".max");
    bool valid = h.page_size.size() >= 3 && absl::EndsWith(h.page_size, "B") &&
                 std::all_of(h.page_size.begin(), h.page_size.end(),
                             [](char c) { return absl::ascii_isalnum(c); });
    if (!valid || !fs.Exists(JoinPath(dir, file))) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".pageSize: \"", h.page_size,
                                                     "\" is not a huge page size of this host"));
    }
    BERTH_RETURN_IF_ERROR(internal::WriteField(fs, field, dir, file, absl::StrCat(h.limit)));
  }
  for (const auto& [device, limit] : r.rdma) {
    std::string field = absl::StrCat("linux.resources.rdma[\"", device, "\"]");
    if (!ValidName(device))
      return absl::InvalidArgumentError(absl::StrCat(field, ": bad device name"));
    std::string line = device;
    if (limit.hca_handles) absl::StrAppend(&line, " hca_handle=", *limit.hca_handles);
    if (limit.hca_objects) absl::StrAppend(&line, " hca_object=", *limit.hca_objects);
    if (line == device) continue;
    BERTH_RETURN_IF_ERROR(internal::WriteField(fs, field, dir, "rdma.max", line));
  }
  if (!r.devices.empty()) {
    BERTH_RETURN_IF_ERROR(
        env_.device_filter_installer->Install(dir, CompileDeviceFilter(r.devices)),
        "linux.resources.devices");
  }
  if (!r.unified.empty()) BERTH_RETURN_IF_ERROR(ApplyUnified(r.unified, available));
  return absl::OkStatus();
}

absl::Status V2Manager::ApplyMemory(const spec::MemoryResources& m) {
  CgroupFs& fs = *env_.fs;
  const std::string& dir = path();
  int64_t limit = m.limit.value_or(0);  // 0: not set
  int64_t swap = m.swap.value_or(0);
  if (limit < -1) {
    return absl::InvalidArgumentError(absl::StrCat(kMem, ".limit: ", limit, " is negative"));
  }
  // OCI's swap is memory+swap (v1); memory.swap.max is swap alone.
  int64_t swap_max = 0;
  if (limit == -1 && swap == 0) {
    swap_max = -1;  // unlimited memory lifts the swap limit too (runc)
  } else if (swap == -1 || swap == 0) {
    swap_max = swap;
  } else if (swap < -1) {
    return absl::InvalidArgumentError(absl::StrCat(kMem, ".swap: ", swap, " is negative"));
  } else if (limit == 0 || limit == -1) {
    return absl::InvalidArgumentError(
        absl::StrCat(kMem, ".swap: a memory+swap limit needs a memory limit on cgroup v2"));
  } else if (swap < limit) {
    return absl::InvalidArgumentError(absl::StrCat(kMem, ".swap: memory+swap limit ", swap,
                                                   " is below the memory limit ", limit));
  } else {
    swap_max = swap - limit;
  }
  if (swap_max != 0) {
    if (!fs.Exists(JoinPath(dir, "memory.swap.max"))) {
      if (m.swap && swap != 0) {
        return absl::UnimplementedError(
            absl::StrCat(kMem, ".swap: swap accounting is off on this host (no memory.swap.max)"));
      }
    } else {
      BERTH_RETURN_IF_ERROR(internal::WriteField(fs, absl::StrCat(kMem, ".swap"), dir,
                                                 "memory.swap.max", MaxOr(swap_max)));
    }
  }
  if (limit != 0) {
    if (m.check_before_update.value_or(false) && limit > 0) {
      // runtime-spec 1.2: refuse a limit below the current usage instead of OOM-killing.
      absl::StatusOr<uint64_t> usage = internal::ReadUint(fs, dir, "memory.current");
      if (usage.ok() && *usage > static_cast<uint64_t>(limit)) {
        return absl::InvalidArgumentError(
            absl::StrCat(kMem, ".limit: ", limit, " is below the current usage ", *usage));
      }
    }
    BERTH_RETURN_IF_ERROR(
        internal::WriteField(fs, absl::StrCat(kMem, ".limit"), dir, "memory.max", MaxOr(limit)));
  }
  if (m.reservation && *m.reservation != 0) {
    BERTH_RETURN_IF_ERROR(internal::WriteField(fs, absl::StrCat(kMem, ".reservation"), dir,
                                               "memory.low", MaxOr(*m.reservation)));
  }
  // v1-only knobs: cgroup v2 has no equivalent file; runc ignores them too.
  if (m.swappiness) env_.Warn("linux.resources.memory.swappiness is ignored on cgroup v2");
  if (m.kernel || m.kernel_tcp) env_.Warn("linux.resources.memory.kernel* is ignored on cgroup v2");
  if (m.disable_oom_killer.value_or(false)) {
    env_.Warn("linux.resources.memory.disableOOMKiller is ignored on cgroup v2");
  }
  return absl::OkStatus();
}

absl::Status V2Manager::ApplyCpu(const spec::CpuResources& c) {
  CgroupFs& fs = *env_.fs;
  const std::string& dir = path();
  if (c.shares && *c.shares != 0) {
    if (*c.shares < 2 || *c.shares > 262144) {
      return absl::InvalidArgumentError(
          absl::StrCat(kCpu, ".shares: ", *c.shares, " is outside the range 2-262144"));
    }
    BERTH_RETURN_IF_ERROR(internal::WriteField(fs, absl::StrCat(kCpu, ".shares"), dir, "cpu.weight",
                                               absl::StrCat(SharesToWeight(*c.shares))));
  }
  int64_t quota = c.quota.value_or(0);
  uint64_t period = c.period.value_or(0);
  if (quota != 0 || period != 0) {
    // "$MAX $PERIOD": a quota of -1 (or none) is "max"; the period is kept when not given.
    std::string value = quota > 0 ? absl::StrCat(quota) : std::string("max");
    if (period != 0) absl::StrAppend(&value, " ", period);
    BERTH_RETURN_IF_ERROR(internal::WriteField(
        fs, absl::StrCat(kCpu, quota != 0 ? ".quota" : ".period"), dir, "cpu.max", value));
  }
  if (c.burst) {
    BERTH_RETURN_IF_ERROR(internal::WriteField(fs, absl::StrCat(kCpu, ".burst"), dir,
                                               "cpu.max.burst", absl::StrCat(*c.burst)));
  }
  if (c.idle) {
    BERTH_RETURN_IF_ERROR(internal::WriteField(fs, absl::StrCat(kCpu, ".idle"), dir, "cpu.idle",
                                               absl::StrCat(*c.idle)));
  }
  return absl::OkStatus();
}

absl::Status V2Manager::ApplyIo(const spec::BlockIoResources& b) {
  CgroupFs& fs = *env_.fs;
  const std::string& dir = path();
  // BFQ takes blkio's weights as they are; otherwise io.weight, converted (runc).
  const bool bfq = fs.Exists(JoinPath(dir, "io.bfq.weight"));
  auto check = [](absl::string_view field, uint16_t w) {
    if (w >= 10 && w <= 1000) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", w, " is outside the range 10-1000"));
  };
  if (b.weight) {
    std::string field = absl::StrCat(kBlkio, ".weight");
    BERTH_RETURN_IF_ERROR(check(field, *b.weight));
    BERTH_RETURN_IF_ERROR(
        internal::WriteField(fs, field, dir, bfq ? "io.bfq.weight" : "io.weight",
                             absl::StrCat(bfq ? *b.weight : BlkioWeightToIoWeight(*b.weight))));
  }
  for (size_t i = 0; i < b.weight_devices.size(); ++i) {
    const spec::BlockIoDevice& d = b.weight_devices[i];
    if (!d.weight) continue;
    std::string field = absl::StrCat(kBlkio, ".weightDevice[", i, "]");
    BERTH_RETURN_IF_ERROR(check(field, *d.weight));
    BERTH_RETURN_IF_ERROR(
        internal::WriteField(fs, field, dir, bfq ? "io.bfq.weight" : "io.weight",
                             absl::StrCat(d.major, ":", d.minor, " ",
                                          bfq ? *d.weight : BlkioWeightToIoWeight(*d.weight))));
  }
  struct Throttle {
    const std::vector<spec::BlockIoDevice>* devices;
    const char* field;
    const char* key;
  };
  for (const Throttle& t : {Throttle{&b.throttle_read_bps, "throttleReadBpsDevice", "rbps"},
                            Throttle{&b.throttle_write_bps, "throttleWriteBpsDevice", "wbps"},
                            Throttle{&b.throttle_read_iops, "throttleReadIOPSDevice", "riops"},
                            Throttle{&b.throttle_write_iops, "throttleWriteIOPSDevice", "wiops"}}) {
    for (size_t i = 0; i < t.devices->size(); ++i) {
      const spec::BlockIoDevice& d = (*t.devices)[i];
      BERTH_RETURN_IF_ERROR(
          internal::WriteField(fs, absl::StrCat(kBlkio, ".", t.field, "[", i, "]"), dir, "io.max",
                               absl::StrCat(d.major, ":", d.minor, " ", t.key, "=", d.rate)));
    }
  }
  return absl::OkStatus();
}

absl::Status V2Manager::ApplyUnified(const std::map<std::string, std::string>& unified,
                                     const std::vector<std::string>& available) {
  CgroupFs& fs = *env_.fs;
  const std::string& dir = path();
  for (const auto& [key, value] : unified) {
    std::string field = absl::StrCat("linux.resources.unified[\"", key, "\"]");
    std::pair<absl::string_view, absl::string_view> parts =
        absl::StrSplit(key, absl::MaxSplits('.', 1));
    if (key.find('/') != std::string::npos || parts.first.empty() || parts.second.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": must be a file name of the form <controller>.<setting>"));
    }
    // Membership and lifecycle files are berth's business, not configuration.
    if (key == "cgroup.procs" || key == "cgroup.threads" || key == "cgroup.kill" ||
        key == "cgroup.freeze" || key == "cgroup.subtree_control") {
      return absl::InvalidArgumentError(absl::StrCat(field, ": cannot be set"));
    }
    if (parts.first != "cgroup") {
      BERTH_RETURN_IF_ERROR(NeedController(available, parts.first, field, dir));
    }
    std::string file = JoinPath(dir, key);
    int err = fs.WriteFile(file, value);
    if (err == ENOENT) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": ", file, " does not exist"));
    }
    BERTH_RETURN_IF_ERROR(internal::WriteErrorStatus(err, field, file, value));
  }
  return absl::OkStatus();
}

}  // namespace berth::runc::cgroups
