// Namespaces and mounts of the spec (Docker: daemon/oci_linux.go WithNamespaces, WithMounts;
// volume/mounts/linux_parser.go for the `-v` syntax).
#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/status/status_macros.h"
#include "engine/oci/spec_internal.h"

namespace berth::engine::oci::internal {
namespace {

constexpr int64_t kDefaultShmSize = 64 << 20;

bool IsContainerMode(const std::string& mode) { return absl::StartsWith(mode, "container:"); }

OJson Mount(const std::string& destination, const std::string& type, const std::string& source,
            std::vector<std::string> options) {
  OJson m = {{"destination", destination}, {"type", type}, {"source", source}};
  if (!options.empty()) m["options"] = std::move(options);
  return m;
}

// One user mount before it becomes JSON.
struct UserMount {
  std::string destination;
  std::string type;  // "bind" or "tmpfs"
  std::string source;
  std::vector<std::string> options;
  std::string propagation;  // for rootfsPropagation
};

// Number of path components: parents sort before their children.
size_t Depth(const std::string& path) {
  return static_cast<size_t>(std::count(path.begin(), path.end(), '/')) - (path == "/" ? 1 : 0);
}

bool IsVolumeName(absl::string_view s) {
  if (s.size() < 2 || !absl::ascii_isalnum(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

std::string PropagationName(berth::engine::v1::BindPropagation p) {
  switch (p) {
    case berth::engine::v1::BIND_PROPAGATION_PRIVATE:
      return "private";
    case berth::engine::v1::BIND_PROPAGATION_SHARED:
      return "shared";
    case berth::engine::v1::BIND_PROPAGATION_RSHARED:
      return "rshared";
    case berth::engine::v1::BIND_PROPAGATION_SLAVE:
      return "slave";
    case berth::engine::v1::BIND_PROPAGATION_RSLAVE:
      return "rslave";
    default:
      return "rprivate";
  }
}

absl::Status CheckDestination(const std::string& dest, absl::string_view what) {
  if (dest.empty() || dest[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("invalid mount config for ", what,
                                                   ": mount path must be absolute: \"", dest,
                                                   "\""));
  }
  if (CleanPath(dest) == "/") {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid mount config for ", what, ": destination can't be '/'"));
  }
  return absl::OkStatus();
}

// A host directory mounted into the container (bind mounts and volumes).
UserMount BindMount(const std::string& dest, const std::string& source, bool read_only,
                    bool recursive, const std::string& propagation) {
  UserMount m{CleanPath(dest), "bind", source, {recursive ? "rbind" : "bind"}, propagation};
  m.options.push_back(read_only ? "ro" : "rw");
  m.options.push_back(propagation);
  return m;
}

absl::StatusOr<std::string> NamedVolumePath(const SpecInput& in, const std::string& name) {
  auto it = in.named_volume_paths.find(name);
  if (it == in.named_volume_paths.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("volume \"", name, "\" has no prepared path"));
  }
  return it->second;
}

absl::StatusOr<std::string> AnonymousVolumePath(const SpecInput& in, const std::string& dest) {
  auto it = in.anonymous_volume_paths.find(CleanPath(dest));
  if (it == in.anonymous_volume_paths.end()) it = in.anonymous_volume_paths.find(dest);
  if (it == in.anonymous_volume_paths.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("anonymous volume at ", dest, " has no prepared path"));
  }
  return it->second;
}

// `-v` syntax: "src:dst[:opts]" or "dst" (an anonymous volume).
absl::StatusOr<UserMount> ParseBind(const SpecInput& in, const std::string& spec) {
  std::vector<std::string> parts = absl::StrSplit(spec, ':');
  if (parts.empty() || parts.size() > 3 || spec.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid volume specification: '", spec, "'"));
  }
  std::string source, dest, mode;
  if (parts.size() == 1) {
    dest = parts[0];
  } else {
    source = parts[0];
    dest = parts[1];
    if (parts.size() == 3) mode = parts[2];
  }
  BERTH_RETURN_IF_ERROR(CheckDestination(dest, absl::StrCat("volume '", spec, "'")));
  bool read_only = false;
  std::string propagation = "rprivate";
  for (absl::string_view opt : absl::StrSplit(mode, ',', absl::SkipEmpty())) {
    if (opt == "ro") {
      read_only = true;
    } else if (opt == "rw") {
      read_only = false;
    } else if (opt == "z" || opt == "Z" || opt == "nocopy" || opt == "copy") {
      // SELinux relabelling (no SELinux here) and volume content copying (berthd's job).
    } else if (opt == "private" || opt == "rprivate" || opt == "shared" || opt == "rshared" ||
               opt == "slave" || opt == "rslave") {
      propagation = std::string(opt);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid mode: ", opt, " in volume specification '", spec, "'"));
    }
  }
  if (source.empty()) {
    BERTH_ASSIGN_OR_RETURN(std::string path, AnonymousVolumePath(in, dest));
    return BindMount(dest, path, read_only, true, propagation);
  }
  if (source[0] == '/') return BindMount(dest, CleanPath(source), read_only, true, propagation);
  if (!IsVolumeName(source)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", source,
        "\" includes invalid characters for a local volume name, only "
        "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, "
        "use absolute path"));
  }
  BERTH_ASSIGN_OR_RETURN(std::string path, NamedVolumePath(in, source));
  return BindMount(dest, path, read_only, true, propagation);
}

absl::StatusOr<UserMount> ConvertMount(const SpecInput& in, const berth::engine::v1::Mount& m) {
  const std::string& dest = m.target();
  switch (m.type()) {
    case berth::engine::v1::MOUNT_TYPE_BIND: {
      BERTH_RETURN_IF_ERROR(CheckDestination(dest, "type \"bind\""));
      if (m.source().empty() || m.source()[0] != '/') {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid mount config for type \"bind\": source must be an absolute path: \"",
            m.source(), "\""));
      }
      return BindMount(dest, CleanPath(m.source()), m.read_only(),
                       !m.bind_options().non_recursive(),
                       PropagationName(m.bind_options().propagation()));
    }
    case berth::engine::v1::MOUNT_TYPE_VOLUME: {
      BERTH_RETURN_IF_ERROR(CheckDestination(dest, "type \"volume\""));
      std::string path;
      if (m.source().empty()) {
        BERTH_ASSIGN_OR_RETURN(path, AnonymousVolumePath(in, dest));
      } else {
        BERTH_ASSIGN_OR_RETURN(path, NamedVolumePath(in, m.source()));
      }
      if (!m.volume_options().subpath().empty()) {
        const std::string sub = CleanPath(m.volume_options().subpath());
        path = absl::StrCat(path, sub == "/" ? "" : sub);
      }
      return BindMount(dest, path, m.read_only(), true, "rprivate");
    }
    case berth::engine::v1::MOUNT_TYPE_TMPFS: {
      BERTH_RETURN_IF_ERROR(CheckDestination(dest, "type \"tmpfs\""));
      if (!m.source().empty()) {
        return absl::InvalidArgumentError(
            "invalid mount config for type \"tmpfs\": source must be empty");
      }
      UserMount t{CleanPath(dest), "tmpfs", "tmpfs", {"nosuid", "nodev", "noexec"}, ""};
      const auto& o = m.tmpfs_options();
      if (o.size_bytes() < 0) {
        return absl::InvalidArgumentError("invalid mount config for type \"tmpfs\": size < 0");
      }
      if (o.size_bytes() > 0) t.options.push_back(absl::StrCat("size=", o.size_bytes()));
      t.options.push_back(absl::StrFormat("mode=%o", o.mode() == 0 ? 01777u : o.mode()));
      t.options.insert(t.options.end(), o.options().begin(), o.options().end());
      if (m.read_only()) t.options.push_back("ro");
      return t;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("invalid mount config: unknown mount type for target \"", dest, "\""));
  }
}

}  // namespace

absl::StatusOr<NamespacePlan> PlanNamespaces(const SpecInput& in) {
  const auto& hc = in.host_config;
  NamespacePlan p;
  const std::string& net = hc.network_mode();
  p.host_network = net == "host" && !in.config.network_disabled();
  const std::string& pid = hc.pid_mode();
  if (pid == "host") {
    p.host_pid = true;
  } else if (!pid.empty() && !IsContainerMode(pid)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid PID mode: ", pid));
  }
  const std::string& ipc = hc.ipc_mode();
  if (ipc == "host") {
    p.host_ipc = true;
  } else if (ipc == "none") {
    p.no_ipc_shm = true;
  } else if (!ipc.empty() && ipc != "private" && ipc != "shareable" && !IsContainerMode(ipc)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid IPC mode: ", ipc));
  }
  const std::string& uts = hc.uts_mode();
  if (uts == "host") {
    p.host_uts = true;
  } else if (!uts.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid UTS mode: ", uts));
  }
  if (!hc.userns_mode().empty() && hc.userns_mode() != "host") {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid USER mode: ", hc.userns_mode(), " (user namespaces are not supported)"));
  }
  switch (hc.cgroupns_mode()) {
    case berth::engine::v1::CGROUPNS_MODE_PRIVATE:
      p.private_cgroupns = true;
      break;
    case berth::engine::v1::CGROUPNS_MODE_HOST:
      p.private_cgroupns = false;
      break;
    default:
      p.private_cgroupns = in.default_cgroupns_private;
  }
  return p;
}

absl::StatusOr<OJson> BuildNamespaces(const Context& ctx) {
  const SpecInput& in = ctx.in;
  const auto& hc = in.host_config;
  OJson out = OJson::array();
  auto add = [&out](const char* type, const std::string& path) {
    OJson ns = {{"type", type}};
    if (!path.empty()) ns["path"] = path;
    out.push_back(std::move(ns));
  };
  auto need_path = [](const std::string& mode, const std::string& path,
                      const char* what) -> absl::Status {
    if (path.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " mode \"", mode, "\" needs the other container's namespace path"));
    }
    return absl::OkStatus();
  };
  if (!ctx.ns.host_pid) {
    if (IsContainerMode(hc.pid_mode())) {
      BERTH_RETURN_IF_ERROR(need_path(hc.pid_mode(), in.pid_namespace_path, "PID"));
      add("pid", in.pid_namespace_path);
    } else {
      add("pid", "");
    }
  }
  const std::string& net = hc.network_mode();
  if (in.config.network_disabled() || net == "none") {
    add("network", "");
  } else if (IsContainerMode(net)) {
    BERTH_RETURN_IF_ERROR(need_path(net, in.network_namespace_path, "network"));
    add("network", in.network_namespace_path);
  } else if (!ctx.ns.host_network) {
    add("network", in.network_namespace_path);
  }
  if (!ctx.ns.host_ipc) {
    if (IsContainerMode(hc.ipc_mode())) {
      BERTH_RETURN_IF_ERROR(need_path(hc.ipc_mode(), in.ipc_namespace_path, "IPC"));
      add("ipc", in.ipc_namespace_path);
    } else {
      add("ipc", "");
    }
  }
  if (!ctx.ns.host_uts) add("uts", "");
  add("mount", "");
  if (ctx.ns.private_cgroupns) add("cgroup", "");
  return out;
}

absl::StatusOr<OJson> BuildMounts(const Context& ctx, const ImageConfig& image,
                                  std::string* rootfs_propagation) {
  const SpecInput& in = ctx.in;
  const auto& hc = in.host_config;

  // The user's mounts first, to know which defaults they replace.
  std::vector<UserMount> user;
  std::set<std::string> taken;
  auto add_user = [&](UserMount m) -> absl::Status {
    if (!taken.insert(m.destination).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate mount point: ", m.destination));
    }
    user.push_back(std::move(m));
    return absl::OkStatus();
  };
  for (const std::string& b : hc.binds()) {
    BERTH_ASSIGN_OR_RETURN(UserMount m, ParseBind(in, b));
    BERTH_RETURN_IF_ERROR(add_user(std::move(m)));
  }
  for (const auto& m : hc.mounts()) {
    BERTH_ASSIGN_OR_RETURN(UserMount um, ConvertMount(in, m));
    BERTH_RETURN_IF_ERROR(add_user(std::move(um)));
  }
  for (const auto& [dest, data] : hc.tmpfs()) {
    BERTH_RETURN_IF_ERROR(CheckDestination(dest, "tmpfs"));
    UserMount t{CleanPath(dest), "tmpfs", "tmpfs", {"noexec", "nosuid", "nodev"}, ""};
    for (absl::string_view o : absl::StrSplit(data, ',', absl::SkipEmpty())) {
      t.options.emplace_back(o);
    }
    BERTH_RETURN_IF_ERROR(add_user(std::move(t)));
  }
  // Anonymous volumes of the image and the config, unless something is mounted there.
  std::vector<std::string> volumes = image.volumes;
  volumes.insert(volumes.end(), in.config.volumes().begin(), in.config.volumes().end());
  for (const std::string& v : volumes) {
    if (v.empty() || v[0] != '/') {
      return absl::InvalidArgumentError(absl::StrCat("invalid volume path: \"", v, "\""));
    }
    const std::string dest = CleanPath(v);
    if (taken.count(dest)) continue;
    absl::StatusOr<std::string> path = AnonymousVolumePath(in, dest);
    if (!path.ok()) {
      ctx.warnings->push_back(absl::StrCat("volume ", dest,
                                           ": no volume prepared, the image's content at that "
                                           "path is used as is"));
      continue;
    }
    taken.insert(dest);
    user.push_back(BindMount(dest, *path, false, true, "rprivate"));
  }
  // The generated network files.
  const std::pair<const char*, const std::string*> files[] = {
      {"/etc/resolv.conf", &in.resolv_conf_path},
      {"/etc/hostname", &in.hostname_path},
      {"/etc/hosts", &in.hosts_path},
  };
  for (const auto& [dest, path] : files) {
    if (path->empty() || taken.count(dest)) continue;
    taken.insert(dest);
    user.push_back({dest,
                    "bind",
                    *path,
                    {"rbind", "rprivate", ctx.read_only_rootfs ? "ro" : "rw"},
                    "rprivate"});
  }

  // Docker's defaults (oci/defaults.go), unless replaced by a user mount.
  OJson out = OJson::array();
  auto add_default = [&](OJson m) {
    if (taken.count(m["destination"].get<std::string>()) == 0) out.push_back(std::move(m));
  };
  const bool rw_sys = ctx.privileged && !ctx.read_only_rootfs;
  add_default(Mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}));
  add_default(Mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}));
  add_default(Mount("/dev/pts", "devpts", "devpts",
                    {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}));
  add_default(Mount("/sys", "sysfs", "sysfs",
                    {"nosuid", "noexec", "nodev", rw_sys ? "rw" : "ro"}));
  add_default(Mount("/sys/fs/cgroup", "cgroup", "cgroup",
                    {"nosuid", "noexec", "nodev", "relatime", rw_sys ? "rw" : "ro"}));
  if (ctx.ns.host_ipc) {
    // Sharing the host's IPC namespace means sharing its POSIX message queues and shm too.
    add_default(Mount("/dev/mqueue", "bind", "/dev/mqueue", {"rbind", "nosuid", "noexec", "nodev"}));
    add_default(Mount("/dev/shm", "bind", "/dev/shm", {"rbind", "rprivate"}));
  } else {
    add_default(Mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}));
    if (!ctx.ns.no_ipc_shm) {
      if (hc.shm_size() < 0) {
        return absl::InvalidArgumentError("SHM size can not be less than 0");
      }
      const int64_t shm = hc.shm_size() > 0 ? hc.shm_size() : kDefaultShmSize;
      add_default(Mount("/dev/shm", "tmpfs", "shm",
                        {"nosuid", "noexec", "nodev", "mode=1777", absl::StrCat("size=", shm)}));
    }
  }

  std::stable_sort(user.begin(), user.end(), [](const UserMount& a, const UserMount& b) {
    return Depth(a.destination) < Depth(b.destination);
  });
  for (UserMount& m : user) {
    if (m.propagation == "shared" || m.propagation == "rshared") {
      *rootfs_propagation = "rshared";
    } else if ((m.propagation == "slave" || m.propagation == "rslave") &&
               *rootfs_propagation != "rshared") {
      *rootfs_propagation = "rslave";
    }
    out.push_back(Mount(m.destination, m.type, m.source, std::move(m.options)));
  }
  return out;
}

}  // namespace berth::engine::oci::internal
