#include "runc/cgroups/v1_manager.h"

#include <errno.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/status/status_macros.h"
#include "runc/cgroups/fs_ops.h"

namespace berth::runc::cgroups {

using internal::CgroupDir;
using internal::JoinPath;

namespace {

bool HasController(absl::string_view controllers, absl::string_view c) {
  for (absl::string_view have : absl::StrSplit(controllers, ',')) {
    if (have == c) return true;
  }
  return false;
}

// v1 shows "no limit" as the largest page-aligned counter (0x7ffffffffffff000 on 4 KiB
// pages); report it as kUnlimited, like v2's "max".
uint64_t V1Limit(uint64_t v) { return v >= 0x7ffffffffffff000ull ? kUnlimited : v; }

// "8:0 Read 1234" lines of blkio.*_recursive files into per-device totals.
void ParseBlkio(absl::string_view text, bool bytes,
                std::map<std::pair<uint32_t, uint32_t>, BlkioDeviceStats>* out) {
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() != 3) continue;
    std::pair<absl::string_view, absl::string_view> mm = absl::StrSplit(f[0], ':');
    uint32_t major, minor;
    uint64_t v;
    if (!absl::SimpleAtoi(mm.first, &major) || !absl::SimpleAtoi(mm.second, &minor) ||
        !absl::SimpleAtoi(f[2], &v)) {
      continue;
    }
    BlkioDeviceStats& d = (*out)[{major, minor}];
    d.major = major;
    d.minor = minor;
    if (f[1] == "Read") (bytes ? d.read_bytes : d.read_ios) = v;
    if (f[1] == "Write") (bytes ? d.write_bytes : d.write_ios) = v;
  }
}

}  // namespace

const std::string* V1Manager::Dir(absl::string_view controller) const {
  for (const CgroupDir& d : dirs_) {
    if (HasController(d.where.controllers, controller)) return &d.where.path;
  }
  return nullptr;
}

absl::Status V1Manager::Create() {
  std::vector<int> created_before;
  for (const CgroupDir& d : dirs_) created_before.push_back(d.created);
  std::vector<std::string> made;
  absl::Cleanup undo = [&] {
    for (auto it = made.rbegin(); it != made.rend(); ++it) env_.fs->Rmdir(*it);
    for (size_t i = 0; i < dirs_.size(); ++i) dirs_[i].created = created_before[i];
  };
  for (CgroupDir& d : dirs_) {
    BERTH_RETURN_IF_ERROR(internal::MakeDir(*env_.fs, &d, &made));
    if (HasController(d.where.controllers, "cpuset")) BERTH_RETURN_IF_ERROR(InitCpuset(d));
  }
  std::move(undo).Cancel();
  return absl::OkStatus();
}

absl::Status V1Manager::InitCpuset(const CgroupDir& d) {
  static constexpr absl::string_view kFiles[] = {"cpuset.cpus", "cpuset.mems"};
  std::string parent_values[2];
  for (int i = 0; i < 2; ++i) {
    BERTH_ASSIGN_OR_RETURN(parent_values[i],
                           internal::ReadTrimmed(*env_.fs, d.where.mount_point, kFiles[i]),
                           "create cgroup");
  }
  std::string cur = d.where.mount_point;
  absl::string_view rest = absl::string_view(d.where.path).substr(d.where.mount_point.size());
  for (absl::string_view part : absl::StrSplit(rest, '/', absl::SkipEmpty())) {
    cur = JoinPath(cur, part);
    for (int i = 0; i < 2; ++i) {
      BERTH_ASSIGN_OR_RETURN(std::string value, internal::ReadTrimmed(*env_.fs, cur, kFiles[i]),
                             "create cgroup");
      if (value.empty()) {
        if (parent_values[i].empty()) {
          return absl::FailedPreconditionError(absl::StrCat("create cgroup: ", kFiles[i], " of ",
                                                            cur, " and of its parent are empty"));
        }
        BERTH_RETURN_IF_ERROR(internal::WriteField(*env_.fs, "", cur, kFiles[i], parent_values[i]),
                              absl::StrCat("create cgroup: initialise ", kFiles[i], " of ", cur));
        value = parent_values[i];
      }
      parent_values[i] = std::move(value);
    }
  }
  return absl::OkStatus();
}

absl::Status V1Manager::AddProcess(pid_t pid) {
  std::string value = absl::StrCat(pid);
  for (const CgroupDir& d : dirs_) {
    std::string path = JoinPath(d.where.path, "cgroup.procs");
    int err = 0;
    // EINVAL can mean the task is still being forked (TASK_NEW): try again shortly, as runc.
    for (int attempt = 0; attempt < 5; ++attempt) {
      err = env_.fs->WriteFile(path, value);
      if (err != EINVAL) break;
      absl::SleepFor(absl::Milliseconds(1 << attempt));
    }
    if (err == 0) continue;
    std::string what = absl::StrCat("add process ", pid, " to cgroup ", d.where.path);
    if (err == ESRCH) return absl::NotFoundError(absl::StrCat(what, ": no such process"));
    if (err == ENOSPC || err == EBUSY) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": the kernel refused it (", std::strerror(err),
                       err == ENOSPC ? "; is the cpuset empty?)" : ")"));
    }
    return internal::ErrnoStatus(err, "", what);
  }
  return absl::OkStatus();
}

absl::Status V1Manager::WaitFreezerState(const std::string& dir, absl::string_view state,
                                         absl::Time deadline) {
  int step = 0;
  for (;;) {
    BERTH_ASSIGN_OR_RETURN(std::string now, internal::ReadTrimmed(*env_.fs, dir, "freezer.state"));
    if (now == state) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("cgroup ", dir, " is still ", now, ", not ", state));
    }
    // Writing again nudges tasks that were forking when the freeze started.
    if (step > 0 && step % 8 == 0) {
      BERTH_RETURN_IF_ERROR(internal::WriteField(*env_.fs, "", dir, "freezer.state", state));
    }
    internal::Backoff(&step);
  }
}

absl::Status V1Manager::Freeze() {
  const std::string* dir = Dir("freezer");
  if (dir == nullptr) {
    return absl::UnimplementedError("freeze: no freezer cgroup hierarchy is mounted");
  }
  BERTH_RETURN_IF_ERROR(internal::WriteField(*env_.fs, "", *dir, "freezer.state", "FROZEN"),
                        "freeze");
  absl::Status s = WaitFreezerState(*dir, "FROZEN", absl::Now() + env_.freeze_timeout);
  if (!s.ok()) {
    (void)internal::WriteField(*env_.fs, "", *dir, "freezer.state", "THAWED");
    return Annotate(s, "freeze");
  }
  return absl::OkStatus();
}

absl::Status V1Manager::Thaw() {
  const std::string* dir = Dir("freezer");
  if (dir == nullptr) return absl::OkStatus();
  BERTH_RETURN_IF_ERROR(internal::WriteField(*env_.fs, "", *dir, "freezer.state", "THAWED"),
                        "thaw");
  return Annotate(WaitFreezerState(*dir, "THAWED", absl::Now() + env_.freeze_timeout), "thaw");
}

absl::StatusOr<bool> V1Manager::IsFrozen() {
  const std::string* dir = Dir("freezer");
  if (dir == nullptr) return false;
  BERTH_ASSIGN_OR_RETURN(std::string state, internal::ReadTrimmed(*env_.fs, *dir, "freezer.state"));
  return state == "FROZEN";
}

absl::StatusOr<std::vector<pid_t>> V1Manager::Pids() {
  const std::string* dir = nullptr;
  for (absl::string_view c : {"pids", "freezer", "devices", "memory", "cpu"}) {
    if ((dir = Dir(c)) != nullptr) break;
  }
  if (dir == nullptr && !dirs_.empty()) dir = &dirs_.front().where.path;
  std::vector<pid_t> pids;
  if (dir != nullptr) BERTH_RETURN_IF_ERROR(internal::CollectPids(*env_.fs, *dir, &pids));
  return pids;
}

absl::StatusOr<Stats> V1Manager::GetStats() {
  CgroupFs& fs = *env_.fs;
  Stats st;
  std::string text;
  if (const std::string* dir = Dir("cpuacct")) {
    st.cpu.usage_ns = internal::ReadUintOrZero(fs, *dir, "cpuacct.usage");
    if (fs.ReadFile(JoinPath(*dir, "cpuacct.usage_percpu"), &text) == 0) {
      for (absl::string_view v : absl::StrSplit(text, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
        uint64_t n;
        if (absl::SimpleAtoi(v, &n)) st.cpu.per_cpu_ns.push_back(n);
      }
    }
    if (fs.ReadFile(JoinPath(*dir, "cpuacct.stat"), &text) == 0) {
      // In USER_HZ ticks.
      long hz = sysconf(_SC_CLK_TCK);
      uint64_t ns_per_tick = hz > 0 ? 1000000000ull / static_cast<uint64_t>(hz) : 10000000ull;
      internal::ForEachKeyValue(text, [&](absl::string_view k, uint64_t v) {
        if (k == "user") st.cpu.user_ns = v * ns_per_tick;
        if (k == "system") st.cpu.system_ns = v * ns_per_tick;
      });
    }
  }
  if (const std::string* dir = Dir("cpu");
      dir && fs.ReadFile(JoinPath(*dir, "cpu.stat"), &text) == 0) {
    internal::ForEachKeyValue(text, [&](absl::string_view k, uint64_t v) {
      if (k == "nr_periods") st.cpu.periods = v;
      if (k == "nr_throttled") st.cpu.throttled_periods = v;
      if (k == "throttled_time") st.cpu.throttled_ns = v;
    });
  }
  if (const std::string* dir = Dir("memory")) {
    MemoryStats& m = st.memory;
    m.usage = internal::ReadUintOrZero(fs, *dir, "memory.usage_in_bytes");
    m.max_usage = internal::ReadUintOrZero(fs, *dir, "memory.max_usage_in_bytes");
    m.limit = V1Limit(internal::ReadUintOrZero(fs, *dir, "memory.limit_in_bytes"));
    m.failcnt = internal::ReadUintOrZero(fs, *dir, "memory.failcnt");
    m.swap_usage = internal::ReadUintOrZero(fs, *dir, "memory.memsw.usage_in_bytes");
    m.swap_limit = V1Limit(internal::ReadUintOrZero(fs, *dir, "memory.memsw.limit_in_bytes"));
    if (fs.ReadFile(JoinPath(*dir, "memory.stat"), &text) == 0) {
      internal::ForEachKeyValue(
          text, [&](absl::string_view k, uint64_t v) { m.raw.emplace(std::string(k), v); });
      if (auto it = m.raw.find("cache"); it != m.raw.end()) m.cache = it->second;
      if (auto it = m.raw.find("rss"); it != m.raw.end()) m.rss = it->second;
    }
    if (fs.ReadFile(JoinPath(*dir, "memory.oom_control"), &text) == 0) {
      internal::ForEachKeyValue(text, [&](absl::string_view k, uint64_t v) {
        if (k == "oom_kill") m.oom_kill_events = v;
      });
    }
  }
  if (const std::string* dir = Dir("pids")) {
    st.pids.current = internal::ReadUintOrZero(fs, *dir, "pids.current");
    uint64_t max = internal::ReadUintOrZero(fs, *dir, "pids.max");
    st.pids.limit = max == kUnlimited ? 0 : max;
  }
  if (const std::string* dir = Dir("blkio")) {
    // The first family with data, in runc's order: CFQ (old kernels), BFQ, throttling.
    std::map<std::pair<uint32_t, uint32_t>, BlkioDeviceStats> devices;
    for (absl::string_view prefix : {"blkio.", "blkio.bfq.", "blkio.throttle."}) {
      std::string bytes, ios;
      if (fs.ReadFile(JoinPath(*dir, absl::StrCat(prefix, "io_service_bytes_recursive")), &bytes) !=
          0) {
        continue;
      }
      fs.ReadFile(JoinPath(*dir, absl::StrCat(prefix, "io_serviced_recursive")), &ios);
      ParseBlkio(bytes, true, &devices);
      ParseBlkio(ios, false, &devices);
      if (!devices.empty()) break;
    }
    for (auto& [key, d] : devices) st.blkio.push_back(d);
  }
  return st;
}

absl::Status V1Manager::Kill(int signal) {
  return Annotate(internal::SignalAll(*this, signal, Dir("freezer") != nullptr),
                  "signal the container's processes");
}

absl::Status V1Manager::Destroy() {
  absl::Status first;
  for (const CgroupDir& d : dirs_) {
    absl::Status s = internal::RemoveDir(*env_.fs, d, env_.destroy_timeout);
    if (first.ok()) first = s;
  }
  return first;
}

std::string V1Manager::Serialize() const { return internal::SerializeDirs(false, dirs_); }

std::vector<CgroupPath> V1Manager::Paths() const {
  std::vector<CgroupPath> out;
  for (const CgroupDir& d : dirs_) out.push_back(d.where);
  return out;
}

}  // namespace berth::runc::cgroups
