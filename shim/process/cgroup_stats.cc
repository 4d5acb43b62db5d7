#include "shim/process/cgroup_stats.h"

#include <unistd.h>

#include <map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"

namespace berth::shim::process {
namespace {

namespace tv1 = ::berth::types::v1;

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// A file holding one number; 0 when missing, "max" or unparsable.
uint64_t ReadU64(const std::string& path) {
  absl::StatusOr<std::string> text = fs::ReadFile(path);
  uint64_t v = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &v)) return 0;
  return v;
}

// "key value" lines (memory.stat, cpu.stat, memory.events, cpuacct.stat).
std::map<std::string, uint64_t> ReadKeyed(const std::string& path) {
  std::map<std::string, uint64_t> out;
  absl::StatusOr<std::string> text = fs::ReadFile(path);
  if (!text.ok()) return out;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> kv = absl::StrSplit(line, ' ', absl::SkipEmpty());
    uint64_t v;
    if (kv.size() == 2 && absl::SimpleAtoi(kv[1], &v)) out[std::string(kv[0])] = v;
  }
  return out;
}

tv1::BlkioDeviceStats* Device(tv1::BlkioStats* b, std::map<std::pair<uint32_t, uint32_t>, int>* index,
                              absl::string_view majmin) {
  std::pair<absl::string_view, absl::string_view> mm = absl::StrSplit(majmin, ':');
  uint32_t major = 0, minor = 0;
  if (!absl::SimpleAtoi(mm.first, &major) || !absl::SimpleAtoi(mm.second, &minor)) return nullptr;
  auto [it, added] = index->try_emplace({major, minor}, b->devices_size());
  if (added) {
    tv1::BlkioDeviceStats* d = b->add_devices();
    d->set_major(major);
    d->set_minor(minor);
  }
  return b->mutable_devices(it->second);
}

// A v1 limit: the kernel's "unlimited" is a huge page-aligned number.
uint64_t V1Limit(uint64_t v) { return v >= (uint64_t{1} << 62) ? 0 : v; }

void ReadV1(const CgroupDirs& d, tv1::TaskMetrics* m) {
  tv1::CpuStats* cpu = m->mutable_cpu();
  if (!d.cpuacct.empty()) {
    cpu->set_usage_total_ns(ReadU64(d.cpuacct + "/cpuacct.usage"));
    const double ns_per_tick = 1e9 / static_cast<double>(::sysconf(_SC_CLK_TCK));
    auto st = ReadKeyed(d.cpuacct + "/cpuacct.stat");
    cpu->set_usage_user_ns(static_cast<uint64_t>(st["user"] * ns_per_tick));
    cpu->set_usage_system_ns(static_cast<uint64_t>(st["system"] * ns_per_tick));
    if (auto text = fs::ReadFile(d.cpuacct + "/cpuacct.usage_percpu"); text.ok()) {
      for (absl::string_view v : absl::StrSplit(*text, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
        uint64_t n;
        if (absl::SimpleAtoi(v, &n)) cpu->add_per_cpu_usages_ns(n);
      }
    }
  }
  if (!d.cpu.empty()) {
    auto st = ReadKeyed(d.cpu + "/cpu.stat");
    cpu->mutable_throttling()->set_periods(st["nr_periods"]);
    cpu->mutable_throttling()->set_throttled_periods(st["nr_throttled"]);
    cpu->mutable_throttling()->set_throttled_time_ns(st["throttled_time"]);
  }
  if (!d.memory.empty()) {
    tv1::MemoryStats* mem = m->mutable_memory();
    mem->set_usage_bytes(ReadU64(d.memory + "/memory.usage_in_bytes"));
    mem->set_limit_bytes(V1Limit(ReadU64(d.memory + "/memory.limit_in_bytes")));
    mem->set_max_usage_bytes(ReadU64(d.memory + "/memory.max_usage_in_bytes"));
    mem->set_failcnt(ReadU64(d.memory + "/memory.failcnt"));
    auto st = ReadKeyed(d.memory + "/memory.stat");
    mem->set_cache_bytes(st["cache"]);
    mem->set_rss_bytes(st["rss"]);
    mem->set_inactive_file_bytes(st["total_inactive_file"]);
    for (const auto& [k, v] : st) (*mem->mutable_raw())[k] = v;
    const uint64_t memsw = ReadU64(d.memory + "/memory.memsw.usage_in_bytes");
    if (memsw > mem->usage_bytes()) mem->set_swap_usage_bytes(memsw - mem->usage_bytes());
    mem->set_oom_kill_events(ReadKeyed(d.memory + "/memory.oom_control")["oom_kill"]);
  }
  if (!d.pids.empty()) {
    m->mutable_pids()->set_current(ReadU64(d.pids + "/pids.current"));
    m->mutable_pids()->set_limit(ReadU64(d.pids + "/pids.max"));
  }
  if (!d.blkio.empty()) {
    std::map<std::pair<uint32_t, uint32_t>, int> index;
    for (const char* file : {"io_service_bytes", "io_serviced"}) {
      const bool bytes = std::string(file) == "io_service_bytes";
      auto text = fs::ReadFile(absl::StrCat(d.blkio, "/blkio.throttle.", file));
      if (!text.ok()) continue;
      for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
        std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
        uint64_t v;
        if (f.size() != 3 || !absl::SimpleAtoi(f[2], &v)) continue;
        if (f[1] != "Read" && f[1] != "Write") continue;
        tv1::BlkioDeviceStats* dev = Device(m->mutable_blkio(), &index, f[0]);
        if (dev == nullptr) continue;
        if (f[1] == "Read") {
          bytes ? dev->set_read_bytes(v) : dev->set_read_ops(v);
        } else {
          bytes ? dev->set_write_bytes(v) : dev->set_write_ops(v);
        }
      }
    }
  }
}

void ReadV2(const std::string& dir, tv1::TaskMetrics* m) {
  auto cpu_stat = ReadKeyed(dir + "/cpu.stat");
  tv1::CpuStats* cpu = m->mutable_cpu();
  cpu->set_usage_total_ns(cpu_stat["usage_usec"] * 1000);
  cpu->set_usage_user_ns(cpu_stat["user_usec"] * 1000);
  cpu->set_usage_system_ns(cpu_stat["system_usec"] * 1000);
  cpu->mutable_throttling()->set_periods(cpu_stat["nr_periods"]);
  cpu->mutable_throttling()->set_throttled_periods(cpu_stat["nr_throttled"]);
  cpu->mutable_throttling()->set_throttled_time_ns(cpu_stat["throttled_usec"] * 1000);
  tv1::MemoryStats* mem = m->mutable_memory();
  mem->set_usage_bytes(ReadU64(dir + "/memory.current"));
  mem->set_limit_bytes(ReadU64(dir + "/memory.max"));
  mem->set_max_usage_bytes(ReadU64(dir + "/memory.peak"));
  auto st = ReadKeyed(dir + "/memory.stat");
  mem->set_cache_bytes(st["file"]);
  mem->set_rss_bytes(st["anon"]);
  mem->set_inactive_file_bytes(st["inactive_file"]);
  for (const auto& [k, v] : st) (*mem->mutable_raw())[k] = v;
  mem->set_swap_usage_bytes(ReadU64(dir + "/memory.swap.current"));
  mem->set_swap_limit_bytes(ReadU64(dir + "/memory.swap.max"));
  auto events = ReadKeyed(dir + "/memory.events");
  mem->set_oom_events(events["oom"]);
  mem->set_oom_kill_events(events["oom_kill"]);
  mem->set_failcnt(events["max"]);
  m->mutable_pids()->set_current(ReadU64(dir + "/pids.current"));
  m->mutable_pids()->set_limit(ReadU64(dir + "/pids.max"));
  std::map<std::pair<uint32_t, uint32_t>, int> index;
  if (auto text = fs::ReadFile(dir + "/io.stat"); text.ok()) {
    for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
      std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (f.empty()) continue;
      tv1::BlkioDeviceStats* dev = Device(m->mutable_blkio(), &index, f[0]);
      if (dev == nullptr) continue;
      for (size_t i = 1; i < f.size(); ++i) {
        std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(f[i], '=');
        uint64_t v;
        if (!absl::SimpleAtoi(kv.second, &v)) continue;
        if (kv.first == "rbytes") dev->set_read_bytes(v);
        if (kv.first == "wbytes") dev->set_write_bytes(v);
        if (kv.first == "rios") dev->set_read_ops(v);
        if (kv.first == "wios") dev->set_write_ops(v);
      }
    }
  }
}

}  // namespace

absl::StatusOr<CgroupDirs> FindCgroupDirs(pid_t pid, const CgroupRoots& roots) {
  const std::string file = absl::StrCat(roots.proc, "/", pid, "/cgroup");
  absl::StatusOr<std::string> text = fs::ReadFile(file);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) return absl::NotFoundError("process is gone");
    return text.status();
  }
  CgroupDirs d;
  const bool v2 = Exists(roots.cgroup + "/cgroup.controllers");
  d.version = v2 ? 2 : 1;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3) return absl::InternalError(absl::StrCat(file, ": bad line: ", line));
    const std::string path(f[2]);
    if (v2) {
      if (f[0] == "0" && f[1].empty()) {
        const std::string dir = roots.cgroup + (path == "/" ? "" : path);
        d.cpu = d.cpuacct = d.memory = d.pids = d.blkio = dir;
      }
      continue;
    }
    for (absl::string_view c : absl::StrSplit(f[1], ',')) {
      std::string* slot = c == "cpu"       ? &d.cpu
                          : c == "cpuacct" ? &d.cpuacct
                          : c == "memory"  ? &d.memory
                          : c == "pids"    ? &d.pids
                          : c == "blkio"   ? &d.blkio
                                           : nullptr;
      if (slot == nullptr) continue;
      const std::string dir = absl::StrCat(roots.cgroup, "/", c, path == "/" ? "" : path);
      if (Exists(dir)) *slot = dir;
    }
  }
  return d;
}

absl::StatusOr<tv1::TaskMetrics> ReadCgroupMetrics(const CgroupDirs& dirs) {
  tv1::TaskMetrics m;
  m.set_cgroup_version(static_cast<uint32_t>(dirs.version));
  if (dirs.version == 2) {
    if (!dirs.memory.empty()) ReadV2(dirs.memory, &m);
  } else {
    ReadV1(dirs, &m);
  }
  return m;
}

absl::StatusOr<uint64_t> ReadOomKills(const CgroupDirs& dirs) {
  if (dirs.memory.empty()) return absl::FailedPreconditionError("no memory cgroup");
  const std::string file =
      dirs.memory + (dirs.version == 2 ? "/memory.events" : "/memory.oom_control");
  if (!Exists(file)) return absl::NotFoundError(file + " is gone");
  std::map<std::string, uint64_t> keyed = ReadKeyed(file);
  auto it = keyed.find("oom_kill");
  if (it == keyed.end()) return absl::FailedPreconditionError(file + " has no oom_kill");
  return it->second;
}

}  // namespace berth::shim::process
