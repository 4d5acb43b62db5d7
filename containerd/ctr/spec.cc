#include "containerd/ctr/spec.h"

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace berth::containerd::ctr {
namespace {

using nlohmann::json;

// Docker's default capability set (moby's oci/caps/defaults.go lists the same 14).
const char* const kDefaultCaps[] = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",  "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",     "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",   "CAP_AUDIT_WRITE",
};

json Mount(const char* dest, const char* type, const char* source,
           std::initializer_list<const char*> options) {
  json m = {{"destination", dest}, {"type", type}, {"source", source}};
  m["options"] = json::array();
  for (const char* o : options) m["options"].push_back(o);
  return m;
}

bool HasEnv(const std::vector<std::string>& env, const char* key) {
  for (const auto& e : env) {
    if (absl::StartsWith(e, absl::StrCat(key, "="))) return true;
  }
  return false;
}

}  // namespace

std::string DefaultSpec(const SpecOptions& o) {
  json caps = json::array();
  for (const char* c : kDefaultCaps) caps.push_back(c);
  std::vector<std::string> env = o.env;
  if (!HasEnv(env, "PATH")) {
    env.insert(env.begin(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  }
  if (o.terminal && !HasEnv(env, "TERM")) env.push_back("TERM=xterm");

  json spec;
  spec["ociVersion"] = "1.0.2";
  spec["process"] = {
      {"terminal", o.terminal},
      {"user", {{"uid", 0}, {"gid", 0}}},
      {"args", o.args},
      {"env", env},
      {"cwd", o.cwd},
      {"capabilities",
       {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
      {"rlimits", json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}})},
      {"noNewPrivileges", true},
  };
  spec["root"] = {{"path", o.root_path}, {"readonly", o.read_only}};
  spec["hostname"] = o.id.substr(0, 12);
  spec["mounts"] = json::array({
      Mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      Mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      Mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      Mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      Mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      Mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      Mount("/run", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
  });
  json namespaces = json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}},
                                 {{"type", "mount"}}});
  if (!o.host_network) namespaces.push_back({{"type", "network"}});
  spec["linux"] = {
      {"cgroupsPath", absl::StrCat("/berth-ctr/", o.ns, "/", o.id)},
      {"namespaces", namespaces},
      {"maskedPaths",
       {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
        "/proc/scsi"}},
      {"readonlyPaths",
       {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}},
  };
  if (o.host_network) {
    // A host network needs the host's name resolution; bind it in read-only like ctr does.
    spec["mounts"].push_back(
        Mount("/etc/resolv.conf", "bind", "/etc/resolv.conf", {"rbind", "ro"}));
  }
  return spec.dump(2);
}

}  // namespace berth::containerd::ctr
