#include "runc/spec/default_spec.h"

#include <unistd.h>

#include "absl/strings/match.h"
#include "nlohmann/json.hpp"

namespace berth::runc::spec {
namespace {

using OJson = nlohmann::ordered_json;

OJson Mount(const char* destination, const char* type, const char* source,
            std::vector<std::string> options) {
  OJson m = {{"destination", destination}, {"type", type}, {"source", source}};
  if (!options.empty()) m["options"] = std::move(options);
  return m;
}

}  // namespace

std::string DefaultSpecJson(bool rootless) {
  const std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};

  OJson process = {
      {"terminal", true},
      {"user", {{"uid", 0}, {"gid", 0}}},
      {"args", {"sh"}},
      {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
      {"cwd", "/"},
      {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
      {"rlimits", OJson::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}})},
      {"noNewPrivileges", true},
  };

  OJson mounts = OJson::array({
      Mount("/proc", "proc", "proc", {}),
      Mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      Mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      Mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      Mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      Mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      Mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}),
  });

  OJson namespaces = OJson::array();
  for (const char* t : {"pid", "network", "ipc", "uts", "mount", "cgroup"}) {
    if (rootless && absl::string_view(t) == "network") continue;
    namespaces.push_back({{"type", t}});
  }

  OJson linux_obj = OJson::object();
  if (rootless) {
    namespaces.push_back({{"type", "user"}});
    linux_obj["uidMappings"] =
        OJson::array({{{"containerID", 0}, {"hostID", geteuid()}, {"size", 1}}});
    linux_obj["gidMappings"] =
        OJson::array({{{"containerID", 0}, {"hostID", getegid()}, {"size", 1}}});
    // A new sysfs needs a network namespace of the user namespace's own; bind the host's.
    mounts[5] = Mount("/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"});
    // An unprivileged user cannot map ids other than its own: drop uid=/gid= options.
    for (OJson& m : mounts) {
      if (!m.contains("options")) continue;
      OJson kept = OJson::array();
      for (const OJson& o : m["options"]) {
        const std::string& s = o.get_ref<const std::string&>();
        if (!absl::StartsWith(s, "uid=") && !absl::StartsWith(s, "gid=")) kept.push_back(o);
      }
      m["options"] = std::move(kept);
    }
  } else {
    linux_obj["resources"] = {{"devices", OJson::array({{{"allow", false}, {"access", "rwm"}}})}};
  }
  linux_obj["namespaces"] = std::move(namespaces);
  linux_obj["maskedPaths"] = {
      "/proc/acpi",
      "/proc/asound",
      "/proc/kcore",
      "/proc/keys",
      "/proc/latency_stats",
      "/proc/timer_list",
      "/proc/timer_stats",
      "/proc/sched_debug",
      "/sys/firmware",
      "/proc/scsi",
      "/sys/devices/virtual/tpm",
  };
  linux_obj["readonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                "/proc/sysrq-trigger"};

  OJson spec = {
      {"ociVersion", kOciVersion},
      {"process", std::move(process)},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "berth"},
      {"mounts", std::move(mounts)},
      {"linux", std::move(linux_obj)},
  };
  // ASCII only, so dump cannot meet invalid UTF-8; `replace` makes that certain.
  std::string out = spec.dump(2, ' ', false, OJson::error_handler_t::replace);
  out.push_back('\n');
  return out;
}

}  // namespace berth::runc::spec
