#include "runc/features.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "runc/seccomp/seccomp.h"
#include "runc/spec/default_spec.h"
#include "runc/spec/mount_options.h"
#include "runc/spec/names.h"

namespace berth::runc {

using nlohmann::json;

int CmdFeatures(const Globals& g, const std::vector<std::string>& args) {
  if (!args.empty()) {
    LogError(g, "\"features\" takes no arguments");
    return 1;
  }
  json caps = json::array();
  for (const auto& c : spec::CapabilityNames()) {
    if (c.value <= spec::KernelLastCap()) caps.push_back(std::string(c.name));
  }
  json namespaces = json::array();
  for (auto t : {spec::NamespaceType::kCgroup, spec::NamespaceType::kIpc,
                 spec::NamespaceType::kMount, spec::NamespaceType::kNetwork,
                 spec::NamespaceType::kPid, spec::NamespaceType::kTime,
                 spec::NamespaceType::kUser, spec::NamespaceType::kUts}) {
    namespaces.push_back(std::string(spec::NamespaceTypeName(t)));
  }
  json mount_options = json::array();
  for (auto o : spec::KnownMountOptions()) mount_options.push_back(std::string(o));
  json out = {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", std::string(spec::kOciVersion)},
      {"hooks",
       {"prestart", "createRuntime", "createContainer", "startContainer", "poststart",
        "poststop"}},
      {"mountOptions", mount_options},
      {"linux",
       {{"namespaces", namespaces},
        {"capabilities", caps},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
        {"seccomp",
         {{"enabled", true},
          {"actions", seccomp::KnownActions()},
          {"operators", seccomp::KnownOperators()},
          {"archs", seccomp::KnownArchitectures()},
          {"knownFlags", seccomp::KnownFlags()},
          {"supportedFlags", seccomp::SupportedFlags()}}},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}},
        {"intelRdt", {{"enabled", false}}}}},
      {"annotations", {{"org.opencontainers.runc.checkpoint.enabled", "false"}}},
  };
  std::cout << out.dump(4) << "\n";
  return 0;
}

std::string StatsEventJson(const std::string& id, const cgroups::Stats& s) {
  auto limit = [](uint64_t v) { return v == cgroups::kUnlimited ? json(nullptr) : json(v); };
  json blkio_read = json::array(), blkio_write = json::array();
  for (const auto& d : s.blkio) {
    blkio_read.push_back({{"major", d.major}, {"minor", d.minor}, {"op", "Read"},
                          {"value", d.read_bytes}});
    blkio_write.push_back({{"major", d.major}, {"minor", d.minor}, {"op", "Write"},
                           {"value", d.write_bytes}});
  }
  for (auto& w : blkio_write) blkio_read.push_back(std::move(w));
  json data = {
      {"cpu",
       {{"usage",
         {{"total", s.cpu.usage_ns},
          {"percpu", s.cpu.per_cpu_ns},
          {"kernel", s.cpu.system_ns},
          {"user", s.cpu.user_ns}}},
        {"throttling",
         {{"periods", s.cpu.periods},
          {"throttledPeriods", s.cpu.throttled_periods},
          {"throttledTime", s.cpu.throttled_ns}}}}},
      {"memory",
       {{"cache", s.memory.cache},
        {"usage",
         {{"limit", limit(s.memory.limit)},
          {"usage", s.memory.usage},
          {"max", s.memory.max_usage},
          {"failcnt", s.memory.failcnt}}},
        {"swap", {{"limit", limit(s.memory.swap_limit)}, {"usage", s.memory.swap_usage}}},
        {"raw", s.memory.raw}}},
      {"pids", {{"current", s.pids.current}, {"limit", s.pids.limit}}},
      {"blkio", {{"ioServiceBytesRecursive", blkio_read}}},
  };
  return json{{"type", "stats"}, {"id", id}, {"data", data}}.dump();
}

}  // namespace berth::runc
