#include "runc/cgroups/v2_manager.h"

#include <errno.h>
#include <signal.h>

#include <cmath>
#include <cstring>
#include <map>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/status/status_macros.h"
#include "runc/cgroups/fs_ops.h"

namespace berth::runc::cgroups {

using internal::JoinPath;

uint64_t SharesToWeight(uint64_t shares) {
  if (shares == 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  double l = std::log2(static_cast<double>(shares));
  double exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
  return static_cast<uint64_t>(std::ceil(std::pow(10.0, exponent)));
}

uint64_t BlkioWeightToIoWeight(uint64_t weight) {
  if (weight == 0) return 0;
  return 1 + (weight - 10) * 9999 / 990;
}

absl::Status V2Manager::Create() {
  int created_before = dirs_[0].created;
  std::vector<std::string> made;
  absl::Cleanup undo = [&] {
    for (auto it = made.rbegin(); it != made.rend(); ++it) env_.fs->Rmdir(*it);
    dirs_[0].created = created_before;
  };
  BERTH_RETURN_IF_ERROR(internal::MakeDir(*env_.fs, &dirs_[0], &made));
  EnableControllers();
  std::move(undo).Cancel();
  return absl::OkStatus();
}

void V2Manager::EnableControllers() {
  CgroupFs& fs = *env_.fs;
  const std::string& root = dirs_[0].where.mount_point;
  absl::StatusOr<std::string> available = internal::ReadTrimmed(fs, root, "cgroup.controllers");
  if (!available.ok() || available->empty()) return;
  std::vector<std::string> enable;
  for (absl::string_view c : absl::StrSplit(*available, ' ', absl::SkipEmpty())) {
    enable.push_back(absl::StrCat("+", c));
  }
  std::string all = absl::StrJoin(enable, " ");
  std::string cur = root;
  std::vector<absl::string_view> parts =
      absl::StrSplit(absl::string_view(path()).substr(root.size()), '/', absl::SkipEmpty());
  for (absl::string_view part : parts) {  // every ancestor of our directory, not itself
    std::string file = JoinPath(cur, "cgroup.subtree_control");
    if (fs.WriteFile(file, all) != 0) {
      for (const std::string& one : enable) fs.WriteFile(file, one);  // what can be had
    }
    cur = JoinPath(cur, part);
  }
}

absl::Status V2Manager::AddProcess(pid_t pid) {
  std::string value = absl::StrCat(pid);
  std::string file = JoinPath(path(), "cgroup.procs");
  int err = 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    err = env_.fs->WriteFile(file, value);
    if (err != EINVAL) break;  // EINVAL: still being forked (TASK_NEW); try again, as runc
    absl::SleepFor(absl::Milliseconds(1 << attempt));
  }
  if (err == 0) return absl::OkStatus();
  std::string what = absl::StrCat("add process ", pid, " to cgroup ", path());
  if (err == ESRCH) return absl::NotFoundError(absl::StrCat(what, ": no such process"));
  if (err == EBUSY || err == EOPNOTSUPP || err == ENOSPC) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, ": the kernel refused it (", std::strerror(err),
        err == EBUSY ? "; cgroup v2 allows no processes in a cgroup whose children have "
                       "controllers enabled)"
                     : ")"));
  }
  return internal::ErrnoStatus(err, "", what);
}

absl::Status V2Manager::WaitFrozen(bool frozen, absl::Time deadline) {
  int step = 0;
  for (;;) {
    absl::StatusOr<bool> now = IsFrozen();
    if (!now.ok()) return now.status();
    if (*now == frozen) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("cgroup ", path(), " did not become ",
                                                      frozen ? "frozen" : "thawed", " in time"));
    }
    internal::Backoff(&step);
  }
}

absl::Status V2Manager::Freeze() {
  if (!env_.fs->Exists(JoinPath(path(), "cgroup.freeze"))) {
    return absl::UnimplementedError(
        absl::StrCat("freeze: ", path(), "/cgroup.freeze does not exist (needs Linux 5.2)"));
  }
  BERTH_RETURN_IF_ERROR(internal::WriteField(*env_.fs, "", path(), "cgroup.freeze", "1"), "freeze");
  absl::Status s = WaitFrozen(true, absl::Now() + env_.freeze_timeout);
  if (!s.ok()) {
    (void)internal::WriteField(*env_.fs, "", path(), "cgroup.freeze", "0");
    return Annotate(s, "freeze");
  }
  return absl::OkStatus();
}

absl::Status V2Manager::Thaw() {
  if (!env_.fs->Exists(JoinPath(path(), "cgroup.freeze"))) return absl::OkStatus();
  BERTH_RETURN_IF_ERROR(internal::WriteField(*env_.fs, "", path(), "cgroup.freeze", "0"), "thaw");
  return Annotate(WaitFrozen(false, absl::Now() + env_.freeze_timeout), "thaw");
}

absl::StatusOr<bool> V2Manager::IsFrozen() {
  std::string text;
  std::string file = JoinPath(path(), "cgroup.events");
  if (int err = env_.fs->ReadFile(file, &text); err != 0) {
    return internal::ErrnoStatus(err, "", absl::StrCat("read ", file));
  }
  bool frozen = false;
  internal::ForEachKeyValue(text, [&](absl::string_view k, uint64_t v) {
    if (k == "frozen") frozen = v == 1;
  });
  return frozen;
}

absl::StatusOr<std::vector<pid_t>> V2Manager::Pids() {
  std::vector<pid_t> pids;
  BERTH_RETURN_IF_ERROR(internal::CollectPids(*env_.fs, path(), &pids));
  return pids;
}

absl::StatusOr<Stats> V2Manager::GetStats() {
  CgroupFs& fs = *env_.fs;
  const std::string& dir = path();
  Stats st;
  std::string text;
  if (fs.ReadFile(JoinPath(dir, "cpu.stat"), &text) == 0) {
    internal::ForEachKeyValue(text, [&](absl::string_view k, uint64_t v) {
      if (k == "usage_usec") st.cpu.usage_ns = v * 1000;
      if (k == "user_usec") st.cpu.user_ns = v * 1000;
      if (k == "system_usec") st.cpu.system_ns = v * 1000;
      if (k == "nr_periods") st.cpu.periods = v;
      if (k == "nr_throttled") st.cpu.throttled_periods = v;
      if (k == "throttled_usec") st.cpu.throttled_ns = v * 1000;
    });
  }
  MemoryStats& m = st.memory;
  if (fs.Exists(JoinPath(dir, "memory.current"))) {
    m.usage = internal::ReadUintOrZero(fs, dir, "memory.current");
    m.limit = internal::ReadUintOrZero(fs, dir, "memory.max");
    m.max_usage = internal::ReadUintOrZero(fs, dir, "memory.peak");
    // Memory plus swap, like v1's memsw (and runc's v2 statistics).
    uint64_t swap = internal::ReadUintOrZero(fs, dir, "memory.swap.current");
    m.swap_usage = m.usage + swap;
    absl::StatusOr<uint64_t> swap_max = internal::ReadUint(fs, dir, "memory.swap.max");
    m.swap_limit = (!swap_max.ok() || *swap_max == kUnlimited || m.limit == kUnlimited)
                       ? kUnlimited
                       : m.limit + *swap_max;
    if (fs.ReadFile(JoinPath(dir, "memory.stat"), &text) == 0) {
      internal::ForEachKeyValue(
          text, [&](absl::string_view k, uint64_t v) { m.raw.emplace(std::string(k), v); });
      if (auto it = m.raw.find("file"); it != m.raw.end()) m.cache = it->second;
      if (auto it = m.raw.find("anon"); it != m.raw.end()) m.rss = it->second;
    }
    if (fs.ReadFile(JoinPath(dir, "memory.events"), &text) == 0) {
      internal::ForEachKeyValue(text, [&](absl::string_view k, uint64_t v) {
        if (k == "oom") m.oom_events = v;
        if (k == "oom_kill") m.oom_kill_events = v;
        if (k == "max") m.failcnt = v;
      });
    }
  }
  if (fs.Exists(JoinPath(dir, "pids.current"))) {
    st.pids.current = internal::ReadUintOrZero(fs, dir, "pids.current");
    uint64_t max = internal::ReadUintOrZero(fs, dir, "pids.max");
    st.pids.limit = max == kUnlimited ? 0 : max;
  }
  if (fs.ReadFile(JoinPath(dir, "io.stat"), &text) == 0) {
    // "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0"
    std::map<std::pair<uint32_t, uint32_t>, BlkioDeviceStats> devices;
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (f.empty()) continue;
      std::pair<absl::string_view, absl::string_view> mm = absl::StrSplit(f[0], ':');
      uint32_t major, minor;
      if (!absl::SimpleAtoi(mm.first, &major) || !absl::SimpleAtoi(mm.second, &minor)) continue;
      BlkioDeviceStats& d = devices[{major, minor}];
      d.major = major;
      d.minor = minor;
      for (size_t i = 1; i < f.size(); ++i) {
        std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(f[i], '=');
        uint64_t v;
        if (!absl::SimpleAtoi(kv.second, &v)) continue;
        if (kv.first == "rbytes") d.read_bytes = v;
        if (kv.first == "wbytes") d.write_bytes = v;
        if (kv.first == "rios") d.read_ios = v;
        if (kv.first == "wios") d.write_ios = v;
      }
    }
    for (auto& [key, d] : devices) st.blkio.push_back(d);
  }
  return st;
}

absl::Status V2Manager::Kill(int signal) {
  // cgroup.kill (Linux 5.14) kills the whole subtree at once, with no pid to race on.
  if (signal == SIGKILL && env_.fs->Exists(JoinPath(path(), "cgroup.kill"))) {
    return internal::WriteField(*env_.fs, "", path(), "cgroup.kill", "1");
  }
  return Annotate(
      internal::SignalAll(*this, signal, env_.fs->Exists(JoinPath(path(), "cgroup.freeze"))),
      "signal the container's processes");
}

absl::Status V2Manager::Destroy() {
  return internal::RemoveDir(*env_.fs, dirs_[0], env_.destroy_timeout);
}

std::string V2Manager::Serialize() const { return internal::SerializeDirs(true, dirs_); }

std::vector<CgroupPath> V2Manager::Paths() const { return {dirs_[0].where}; }

}  // namespace berth::runc::cgroups
