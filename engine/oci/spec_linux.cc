// Resources, devices, rlimits, sysctls and security options of the spec (Docker:
// daemon/oci_linux.go, daemon/daemon_unix.go verifyPlatformContainerResources).
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"
#include "engine/oci/seccomp_profile.h"
#include "engine/oci/spec_internal.h"

namespace berth::engine::oci::internal {
namespace {

constexpr int64_t kMinMemory = 6 * 1024 * 1024;  // Docker's linuxMinMemory
constexpr int64_t kCpuPeriod = 100000;           // CFS period Docker uses for --cpus
constexpr int64_t kMinCpuShares = 2;
constexpr int64_t kMaxCpuShares = 262144;

OJson DeviceRule(bool allow, const std::string& type, std::optional<int64_t> major,
                 std::optional<int64_t> minor, const std::string& access) {
  OJson r = {{"allow", allow}};
  if (!type.empty()) r["type"] = type;
  if (major) r["major"] = *major;
  if (minor) r["minor"] = *minor;
  r["access"] = access;
  return r;
}

// Docker's default device cgroup rules (oci/defaults.go): deny everything, then allow mknod of
// any device and use of the standard character devices.
OJson DefaultDeviceRules() {
  OJson rules = OJson::array();
  rules.push_back(DeviceRule(false, "", std::nullopt, std::nullopt, "rwm"));
  rules.push_back(DeviceRule(true, "c", std::nullopt, std::nullopt, "m"));
  rules.push_back(DeviceRule(true, "b", std::nullopt, std::nullopt, "m"));
  rules.push_back(DeviceRule(true, "c", 1, 3, "rwm"));      // /dev/null
  rules.push_back(DeviceRule(true, "c", 1, 8, "rwm"));      // /dev/random
  rules.push_back(DeviceRule(true, "c", 1, 7, "rwm"));      // /dev/full
  rules.push_back(DeviceRule(true, "c", 5, 0, "rwm"));      // /dev/tty
  rules.push_back(DeviceRule(true, "c", 1, 5, "rwm"));      // /dev/zero
  rules.push_back(DeviceRule(true, "c", 1, 9, "rwm"));      // /dev/urandom
  rules.push_back(DeviceRule(true, "c", 136, std::nullopt, "rwm"));  // /dev/pts/*
  rules.push_back(DeviceRule(true, "c", 5, 2, "rwm"));      // /dev/ptmx
  rules.push_back(DeviceRule(true, "c", 10, 200, "rwm"));   // /dev/net/tun
  return rules;
}

absl::Status CheckAccess(const std::string& access, absl::string_view what) {
  if (access.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": empty access"));
  for (char c : access) {
    if (c != 'r' && c != 'w' && c != 'm') {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": invalid access \"", access, "\" (want letters of rwm)"));
    }
  }
  return absl::OkStatus();
}

// "c 13:* rwm", "a *:* rwm", "b 8:0 r".
absl::StatusOr<OJson> ParseDeviceCgroupRule(const std::string& rule) {
  const absl::Status bad = absl::InvalidArgumentError(
      absl::StrCat("invalid device cgroup rule \"", rule, "\" (want e.g. \"c 13:* rwm\")"));
  std::vector<std::string> f = absl::StrSplit(rule, ' ', absl::SkipEmpty());
  if (f.size() != 3 || (f[0] != "a" && f[0] != "b" && f[0] != "c")) return bad;
  std::pair<std::string, std::string> mm = absl::StrSplit(f[1], absl::MaxSplits(':', 1));
  auto number = [](const std::string& s, std::optional<int64_t>* out) {
    if (s == "*") return true;
    int64_t v;
    if (!absl::SimpleAtoi(s, &v) || v < 0) return false;
    *out = v;
    return true;
  };
  std::optional<int64_t> major, minor;
  if (!number(mm.first, &major) || !number(mm.second, &minor)) return bad;
  BERTH_RETURN_IF_ERROR(CheckAccess(f[2], absl::StrCat("device cgroup rule \"", rule, "\"")));
  return DeviceRule(true, f[0], major, minor, f[2]);
}

// A host device node as a linux.devices entry; NotFound/InvalidArgument if it is none.
absl::StatusOr<OJson> HostDevice(const std::string& host_path, const std::string& container_path,
                                 struct stat* st_out = nullptr) {
  struct stat st;
  if (::stat(host_path.c_str(), &st) != 0) {
    // User input naming a missing device: a bad request, not a server fault.
    return absl::InvalidArgumentError(
        absl::StrCat("error gathering device information while adding custom device \"",
                     host_path, "\": ", std::strerror(errno)));
  }
  if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("device ", host_path, " is not a device node"));
  }
  if (st_out != nullptr) *st_out = st;
  return OJson{{"path", container_path},
               {"type", S_ISCHR(st.st_mode) ? "c" : "b"},
               {"major", static_cast<int64_t>(major(st.st_rdev))},
               {"minor", static_cast<int64_t>(minor(st.st_rdev))},
               {"fileMode", st.st_mode & 07777},
               {"uid", st.st_uid},
               {"gid", st.st_gid}};
}

// Every device node under the host's /dev (privileged containers), skipping the directories
// the runtime mounts itself, as runc's HostDevices does.
void CollectHostDevices(const std::string& dir, const std::string& container_dir, OJson* out) {
  absl::StatusOr<std::vector<std::string>> names = fs::ListDir(dir);
  if (!names.ok()) return;
  for (const std::string& name : *names) {
    const std::string path = absl::StrCat(dir, "/", name);
    const std::string cpath = absl::StrCat(container_dir, "/", name);
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (name == "pts" || name == "shm" || name == "fd" || name == "mqueue" || name == ".lxc" ||
          name == ".lxd-mounts" || name == ".udev") {
        continue;
      }
      CollectHostDevices(path, cpath, out);
      continue;
    }
    if (cpath == "/dev/console") continue;  // the runtime sets up the console
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) continue;
    absl::StatusOr<OJson> d = HostDevice(path, cpath);
    if (d.ok()) out->push_back(*std::move(d));
  }
}

// Block device major/minor for the blkio per-device settings.
absl::StatusOr<std::pair<int64_t, int64_t>> BlockDevice(const std::string& path,
                                                        absl::string_view what) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", path, ": ", std::strerror(errno)));
  }
  if (!S_ISBLK(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", path, " is not a block device"));
  }
  return std::make_pair(static_cast<int64_t>(major(st.st_rdev)),
                        static_cast<int64_t>(minor(st.st_rdev)));
}

// "0-3,6" with every CPU/node below `limit` (when limit > 0).
absl::Status CheckCpuset(const std::string& list, int limit, absl::string_view what) {
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    std::pair<absl::string_view, absl::string_view> range =
        absl::StrSplit(part, absl::MaxSplits('-', 1));
    int lo, hi;
    if (!absl::SimpleAtoi(range.first, &lo) ||
        !absl::SimpleAtoi(range.second.empty() ? range.first : range.second, &hi) || lo < 0 ||
        hi < lo) {
      return absl::InvalidArgumentError(absl::StrCat("invalid value ", list, " for ", what));
    }
    if (limit > 0 && hi >= limit) {
      return absl::InvalidArgumentError(absl::StrCat("requested ", what, " are not available - requested ", list,
                                                     ", available: 0-", limit - 1));
    }
  }
  return absl::OkStatus();
}

absl::Status BuildMemory(const Context& ctx, OJson* resources) {
  const auto& r = ctx.in.host_config.resources();
  OJson mem = OJson::object();
  if (r.memory() < 0) return absl::InvalidArgumentError("memory limit can not be negative");
  if (r.memory() > 0 && r.memory() < kMinMemory) {
    return absl::InvalidArgumentError("minimum memory limit allowed is 6MB");
  }
  if (r.memory() > 0) mem["limit"] = r.memory();
  if (r.memory_reservation() < 0) {
    return absl::InvalidArgumentError("memory reservation can not be negative");
  }
  if (r.memory_reservation() > 0) {
    if (r.memory() > 0 && r.memory_reservation() > r.memory()) {
      return absl::InvalidArgumentError(
          "minimum memory limit can not be less than memory reservation limit, see usage");
    }
    mem["reservation"] = r.memory_reservation();
  }
  int64_t swap = r.memory_swap();
  if (swap > 0 && r.memory() == 0) {
    return absl::InvalidArgumentError(
        "you should always set the memory limit when using memoryswap limit, see usage");
  }
  if (swap > 0 && swap < r.memory()) {
    return absl::InvalidArgumentError(
        "minimum memoryswap limit should be larger than memory limit, see usage");
  }
  if (swap < -1) return absl::InvalidArgumentError("invalid memory swap limit");
  if (swap == 0 && r.memory() > 0) swap = 2 * r.memory();  // Docker: swap defaults to memory
  if (swap != 0) {
    if (ctx.host.swap_limit_supported) {
      mem["swap"] = swap;
    } else if (swap > 0 && r.memory_swap() != 0) {
      ctx.warnings->push_back(
          "your kernel does not support swap limit capabilities or the cgroup is not mounted. "
          "Memory limited without swap.");
    }
  }
  if (r.has_memory_swappiness()) {
    if (r.memory_swappiness() < 0 || r.memory_swappiness() > 100) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid value: ", r.memory_swappiness(), ", valid memory swappiness range is 0-100"));
    }
    mem["swappiness"] = r.memory_swappiness();
  }
  if (r.has_oom_kill_disable() && r.oom_kill_disable()) {
    if (r.memory() == 0) {
      ctx.warnings->push_back(
          "OOM killer is disabled for the container, but no memory limit is set, this can "
          "result in the system running out of resources.");
    }
    mem["disableOOMKiller"] = true;
  }
  if (!mem.empty()) (*resources)["memory"] = std::move(mem);
  return absl::OkStatus();
}

absl::Status BuildCpu(const Context& ctx, OJson* resources) {
  const auto& r = ctx.in.host_config.resources();
  OJson cpu = OJson::object();
  if (r.nano_cpus() != 0 && r.cpu_period() != 0) {
    return absl::InvalidArgumentError(
        "conflicting options: Nano CPUs and CPU Period cannot both be set");
  }
  if (r.nano_cpus() != 0 && r.cpu_quota() != 0) {
    return absl::InvalidArgumentError(
        "conflicting options: Nano CPUs and CPU Quota cannot both be set");
  }
  if (r.nano_cpus() < 0 || r.nano_cpus() > int64_t{ctx.host.cpus} * 1000000000) {
    return absl::InvalidArgumentError(absl::StrCat("range of CPUs is from 0.01 to ",
                                                   ctx.host.cpus, ".00, as there are only ",
                                                   ctx.host.cpus, " CPUs available"));
  }
  if (r.nano_cpus() > 0) {
    // --cpus N: N periods' worth of quota per 100ms period.
    const int64_t quota = r.nano_cpus() * kCpuPeriod / 1000000000;
    if (quota < 1000) {
      return absl::InvalidArgumentError("CPU cfs quota can not be less than 1ms (i.e. 1000)");
    }
    cpu["quota"] = quota;
    cpu["period"] = kCpuPeriod;
  }
  if (r.cpu_period() != 0) {
    if (r.cpu_period() < 1000 || r.cpu_period() > 1000000) {
      return absl::InvalidArgumentError(
          "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
    }
    cpu["period"] = r.cpu_period();
  }
  if (r.cpu_quota() > 0) {
    if (r.cpu_quota() < 1000) {
      return absl::InvalidArgumentError("CPU cfs quota can not be less than 1ms (i.e. 1000)");
    }
    cpu["quota"] = r.cpu_quota();
  }
  if (r.cpu_shares() < 0) return absl::InvalidArgumentError("CPU shares can not be negative");
  if (r.cpu_shares() > 0) {
    int64_t shares = r.cpu_shares();
    if (shares < kMinCpuShares || shares > kMaxCpuShares) {
      const int64_t adjusted = shares < kMinCpuShares ? kMinCpuShares : kMaxCpuShares;
      ctx.warnings->push_back(absl::StrCat("CPU shares ", shares, " out of range, changed to ",
                                           adjusted));
      shares = adjusted;
    }
    cpu["shares"] = shares;
  }
  if (r.cpu_realtime_period() > 0) cpu["realtimePeriod"] = r.cpu_realtime_period();
  if (r.cpu_realtime_runtime() > 0) cpu["realtimeRuntime"] = r.cpu_realtime_runtime();
  if (!r.cpuset_cpus().empty()) {
    BERTH_RETURN_IF_ERROR(CheckCpuset(r.cpuset_cpus(), ctx.host.cpus, "CPUs"));
    cpu["cpus"] = r.cpuset_cpus();
  }
  if (!r.cpuset_mems().empty()) {
    BERTH_RETURN_IF_ERROR(CheckCpuset(r.cpuset_mems(), 0, "memory nodes"));
    cpu["mems"] = r.cpuset_mems();
  }
  if (!cpu.empty()) (*resources)["cpu"] = std::move(cpu);
  return absl::OkStatus();
}

absl::Status BuildBlockIo(const Context& ctx, OJson* resources) {
  const auto& r = ctx.in.host_config.resources();
  OJson blkio = OJson::object();
  if (r.blkio_weight() != 0) {
    if (r.blkio_weight() < 10 || r.blkio_weight() > 1000) {
      return absl::InvalidArgumentError("range of blkio weight is from 10 to 1000");
    }
    blkio["weight"] = r.blkio_weight();
  }
  if (r.blkio_weight_devices_size() > 0) {
    OJson devs = OJson::array();
    for (const auto& d : r.blkio_weight_devices()) {
      if (d.weight() < 10 || d.weight() > 1000) {
        return absl::InvalidArgumentError("range of blkio weight is from 10 to 1000");
      }
      BERTH_ASSIGN_OR_RETURN(auto mm, BlockDevice(d.path(), "blkio weight device"));
      devs.push_back({{"major", mm.first}, {"minor", mm.second}, {"weight", d.weight()}});
    }
    blkio["weightDevice"] = std::move(devs);
  }
  const std::pair<const char*, const google::protobuf::RepeatedPtrField<
                                   berth::engine::v1::ThrottleDevice>*>
      throttles[] = {
          {"throttleReadBpsDevice", &r.blkio_read_bps_devices()},
          {"throttleWriteBpsDevice", &r.blkio_write_bps_devices()},
          {"throttleReadIOPSDevice", &r.blkio_read_iops_devices()},
          {"throttleWriteIOPSDevice", &r.blkio_write_iops_devices()},
      };
  for (const auto& [key, list] : throttles) {
    if (list->empty()) continue;
    OJson devs = OJson::array();
    for (const auto& d : *list) {
      if (d.rate() < 0) return absl::InvalidArgumentError(absl::StrCat(key, ": negative rate"));
      BERTH_ASSIGN_OR_RETURN(auto mm, BlockDevice(d.path(), key));
      devs.push_back({{"major", mm.first}, {"minor", mm.second}, {"rate", d.rate()}});
    }
    blkio[key] = std::move(devs);
  }
  if (!blkio.empty()) (*resources)["blockIO"] = std::move(blkio);
  return absl::OkStatus();
}

absl::Status BuildDevices(const Context& ctx, OJson* resources, OJson* linux_obj) {
  const auto& r = ctx.in.host_config.resources();
  OJson devices = OJson::array();
  OJson rules;
  if (ctx.privileged) {
    CollectHostDevices(ctx.host.dev_dir, "/dev", &devices);
    rules = OJson::array({DeviceRule(true, "", std::nullopt, std::nullopt, "rwm")});
  } else {
    rules = DefaultDeviceRules();
  }
  for (const auto& d : r.devices()) {
    const std::string in_container =
        d.path_in_container().empty() ? d.path_on_host() : d.path_in_container();
    const std::string access = d.cgroup_permissions().empty() ? "rwm" : d.cgroup_permissions();
    BERTH_RETURN_IF_ERROR(CheckAccess(access, absl::StrCat("device ", d.path_on_host())));
    if (in_container.empty() || in_container[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("device ", d.path_on_host(), ": container path must be absolute"));
    }
    BERTH_ASSIGN_OR_RETURN(OJson dev, HostDevice(d.path_on_host(), CleanPath(in_container)));
    rules.push_back(DeviceRule(true, dev["type"].get<std::string>(), dev["major"].get<int64_t>(),
                               dev["minor"].get<int64_t>(), access));
    devices.push_back(std::move(dev));
  }
  for (const std::string& rule : r.device_cgroup_rules()) {
    BERTH_ASSIGN_OR_RETURN(OJson parsed, ParseDeviceCgroupRule(rule));
    rules.push_back(std::move(parsed));
  }
  if (r.device_requests_size() > 0) {
    return absl::InvalidArgumentError("device requests (--gpus) are not supported");
  }
  (*resources)["devices"] = std::move(rules);
  if (!devices.empty()) (*linux_obj)["devices"] = std::move(devices);
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseSecurityOpts(Context* ctx) {
  for (const std::string& opt : ctx->in.host_config.security_opts()) {
    // Docker accepts "key=value" and the legacy "key:value".
    size_t sep = opt.find_first_of("=:");
    const std::string key = opt.substr(0, sep);
    const std::string value = sep == std::string::npos ? "" : opt.substr(sep + 1);
    if (key == "no-new-privileges") {
      if (value.empty() || value == "true") {
        ctx->no_new_privileges = true;
      } else if (value == "false") {
        ctx->no_new_privileges = false;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid --security-opt 2: \"", opt, "\""));
      }
    } else if (key == "seccomp") {
      if (value == "unconfined") {
        ctx->seccomp_unconfined = true;
      } else if (value.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("invalid --security-opt: \"", opt, "\""));
      } else if (value[0] == '{') {
        ctx->seccomp_profile_json = value;  // the CLI sends the file's content, as Docker's
      } else {
        absl::StatusOr<std::string> content = fs::ReadFile(value);
        if (!content.ok()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "opening seccomp profile (", value, ") failed: ", content.status().message()));
        }
        ctx->seccomp_profile_json = *std::move(content);
      }
    } else if (key == "systempaths") {
      if (value != "unconfined") {
        return absl::InvalidArgumentError(absl::StrCat("invalid --security-opt: \"", opt, "\""));
      }
      ctx->systempaths_unconfined = true;
    } else if (key == "apparmor") {
      ctx->warnings->push_back(
          absl::StrCat("security option \"", opt, "\" ignored: AppArmor is not supported"));
    } else if (key == "label") {
      if (value != "disable") {
        ctx->warnings->push_back(
            absl::StrCat("security option \"", opt, "\" ignored: SELinux is not supported"));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat("invalid --security-opt 1: \"", opt, "\""));
    }
  }
  return absl::OkStatus();
}

absl::Status BuildResources(const Context& ctx, OJson* linux_obj) {
  const auto& r = ctx.in.host_config.resources();
  OJson resources = OJson::object();
  BERTH_RETURN_IF_ERROR(BuildDevices(ctx, &resources, linux_obj));
  BERTH_RETURN_IF_ERROR(BuildMemory(ctx, &resources));
  BERTH_RETURN_IF_ERROR(BuildCpu(ctx, &resources));
  std::optional<int64_t> pids =
      r.has_pids_limit() ? std::optional<int64_t>(r.pids_limit()) : ctx.in.default_pids_limit;
  if (pids) resources["pids"] = {{"limit", *pids > 0 ? *pids : -1}};
  BERTH_RETURN_IF_ERROR(BuildBlockIo(ctx, &resources));
  (*linux_obj)["resources"] = std::move(resources);
  return absl::OkStatus();
}

absl::StatusOr<OJson> BuildRlimits(const Context& ctx) {
  const std::map<std::string, int>& known = UlimitResources();
  std::map<std::string, std::pair<uint64_t, uint64_t>> limits;  // by name, last one wins
  for (const auto& u : ctx.in.host_config.resources().ulimits()) {
    if (known.count(u.name()) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("invalid ulimit type: ", u.name()));
    }
    const uint64_t soft = u.soft() < 0 ? kRlimitInfinity : static_cast<uint64_t>(u.soft());
    const uint64_t hard = u.hard() < 0 ? kRlimitInfinity : static_cast<uint64_t>(u.hard());
    if (soft > hard) {
      return absl::InvalidArgumentError(
          absl::StrCat("ulimit ", u.name(), ": soft limit must be less than or equal to hard "
                                            "limit: ", u.soft(), " > ", u.hard()));
    }
    auto host = ctx.host.hard_rlimits.find(u.name());
    if (host != ctx.host.hard_rlimits.end() && host->second != kRlimitInfinity &&
        hard > host->second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ulimit ", u.name(), ": hard limit ", hard == kRlimitInfinity ? "unlimited" : absl::StrCat(hard),
          " is above the host's hard limit ", host->second,
          " (raising a hard limit needs CAP_SYS_RESOURCE)"));
    }
    limits[u.name()] = {soft, hard};
  }
  OJson out = OJson::array();
  for (const auto& [name, sh] : limits) {
    std::string type = absl::StrCat("RLIMIT_", name);
    for (char& c : type) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    out.push_back({{"type", type}, {"hard", sh.second}, {"soft", sh.first}});
  }
  return out;
}

absl::StatusOr<OJson> BuildSysctls(const Context& ctx) {
  static const std::set<std::string> kIpcKeys = {
      "kernel.msgmax", "kernel.msgmnb",    "kernel.msgmni", "kernel.sem",
      "kernel.shmall", "kernel.shmmax",    "kernel.shmmni", "kernel.shm_rmid_forced"};
  OJson out = OJson::object();
  // proto maps have no order; sort for a stable spec.
  std::map<std::string, std::string> sorted(ctx.in.host_config.sysctls().begin(),
                                            ctx.in.host_config.sysctls().end());
  for (const auto& [key, value] : sorted) {
    if (kIpcKeys.count(key) || absl::StartsWith(key, "fs.mqueue.")) {
      if (ctx.ns.host_ipc) {
        return absl::InvalidArgumentError(
            absl::StrCat("sysctl \"", key, "\" is not allowed in the host's IPC namespace"));
      }
    } else if (absl::StartsWith(key, "net.")) {
      if (ctx.ns.host_network) {
        return absl::InvalidArgumentError(
            absl::StrCat("sysctl \"", key, "\" is not allowed in the host's network namespace"));
      }
    } else if (key == "kernel.domainname" || key == "kernel.hostname") {
      if (ctx.ns.host_uts) {
        return absl::InvalidArgumentError(
            absl::StrCat("sysctl \"", key, "\" is not allowed in the host's UTS namespace"));
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("sysctl \"", key, "\" is not namespaced and not allowed in a container"));
    }
    out[key] = value;
  }
  return out;
}

absl::StatusOr<OJson> BuildSeccomp(const Context& ctx) {
  if (ctx.privileged || ctx.seccomp_unconfined) return OJson();
  SeccompContext sc{ctx.capabilities, ctx.host.arch, ctx.host.kernel_major, ctx.host.kernel_minor};
  if (ctx.seccomp_profile_json.empty()) return ToOciSeccomp(DefaultSeccompProfile(), sc);
  BERTH_ASSIGN_OR_RETURN(SeccompProfile profile, ParseSeccompProfile(ctx.seccomp_profile_json));
  return ToOciSeccomp(profile, sc);
}

}  // namespace berth::engine::oci::internal
