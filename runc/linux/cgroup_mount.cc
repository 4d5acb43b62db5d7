#include "runc/linux/cgroup_mount.h"

#include <errno.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"

namespace berth::runc::linux {
namespace {

constexpr unsigned long kCgroupTmpfsFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;

struct CgroupLine {
  std::string controllers;  // "" for the v2 line
  std::string path;
};

std::vector<CgroupLine> ParseProcCgroup(absl::string_view text) {
  std::vector<CgroupLine> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    // hierarchy-id:controller-list:cgroup-path (the path may contain ':').
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3) continue;
    out.push_back({std::string(f[1]), std::string(f[2])});
  }
  return out;
}

// The host directory of cgroup `path` in a mount of its hierarchy whose root is `root`, or
// "" if the mount does not contain it.
std::string DirInMount(const MountInfo& m, const std::string& path) {
  if (m.root == "/") return CleanPath(absl::StrCat(m.mount_point, "/", path));
  if (path == m.root) return m.mount_point;
  if (absl::StartsWith(path, absl::StrCat(m.root, "/"))) {
    return CleanPath(absl::StrCat(m.mount_point, "/", path.substr(m.root.size())));
  }
  return "";
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

absl::Status MountCgroupV2(const MountTarget& t, const spec::Mount& m) {
  BERTH_ASSIGN_OR_RETURN(UniqueFd dst,
                         OpenInRoot(t.root_fd, m.destination, CreateMode::kDirectory));
  int err = MountErrno(m.source.empty() ? "cgroup2" : m.source, ProcFdPath(dst.get()), "cgroup2",
                       m.flags & ~(MS_BIND | MS_REC), m.data);
  if (err == 0) return FinishMount(t, m.destination, m);
  if (err != EPERM && err != EBUSY) return absl::ErrnoToStatus(err, "mount cgroup2");

  // A user namespace without its own cgroup namespace may not mount cgroup2: bind instead.
  std::string source = "/sys/fs/cgroup";
  if (t.cgroup_namespace) {
    BERTH_ASSIGN_OR_RETURN(std::vector<MountInfo> mounts, ReadMountInfo());
    BERTH_ASSIGN_OR_RETURN(std::string cgroup, fs::ReadFile("/proc/self/cgroup"));
    std::string own = CgroupV2Dir(mounts, cgroup);
    if (!own.empty()) source = own;
  }
  spec::Mount b = m;
  b.type = "bind";
  b.source = source;
  b.bind = true;
  b.flags |= MS_BIND;
  b.data.clear();
  return Annotate(BindMountEntry(t, b),
                  absl::StrCat("mount cgroup2: ", strerror(err), "; bind ", source));
}

absl::Status MountCgroupV1(const MountTarget& t, const spec::Mount& m) {
  BERTH_ASSIGN_OR_RETURN(std::vector<MountInfo> mounts, ReadMountInfo());
  BERTH_ASSIGN_OR_RETURN(std::string cgroup, fs::ReadFile("/proc/self/cgroup"));
  std::vector<CgroupV1Hierarchy> hierarchies = CgroupV1Hierarchies(mounts, cgroup);

  BERTH_ASSIGN_OR_RETURN(UniqueFd dst,
                         OpenInRoot(t.root_fd, m.destination, CreateMode::kDirectory));
  BERTH_RETURN_IF_ERROR(
      Mount("tmpfs", ProcFdPath(dst.get()), "tmpfs", kCgroupTmpfsFlags, "mode=755", "mount tmpfs"));
  BERTH_ASSIGN_OR_RETURN(UniqueFd top, OpenInRoot(t.root_fd, m.destination, CreateMode::kNone));

  for (const CgroupV1Hierarchy& h : hierarchies) {
    const std::string sub = absl::StrCat(CleanPath(m.destination), "/", h.name);
    if (t.cgroup_namespace) {
      BERTH_ASSIGN_OR_RETURN(UniqueFd fd, OpenInRoot(t.root_fd, sub, CreateMode::kDirectory));
      BERTH_RETURN_IF_ERROR(Mount(h.name == "systemd" ? "systemd" : "cgroup", ProcFdPath(fd.get()),
                                  "cgroup", kCgroupTmpfsFlags | (m.flags & MS_RDONLY),
                                  h.controllers, absl::StrCat("mount cgroup ", h.controllers)));
    } else if (!h.source.empty()) {
      spec::Mount b;
      b.destination = sub;
      b.type = "bind";
      b.source = h.source;
      b.bind = true;
      b.recursive = true;
      b.flags = m.flags | MS_BIND | MS_REC;
      b.clear_flags = m.clear_flags;
      b.propagation = m.propagation;
      BERTH_RETURN_IF_ERROR(BindMountEntry(t, b), absl::StrCat("cgroup ", h.name));
    }
    if (absl::StrContains(h.name, ',')) {
      for (absl::string_view c : absl::StrSplit(h.name, ',')) {
        if (symlinkat(h.name.c_str(), top.get(), std::string(c).c_str()) != 0 && errno != EEXIST) {
          return absl::ErrnoToStatus(errno, absl::StrCat("symlink ", c, " -> ", h.name));
        }
      }
    }
  }
  BERTH_RETURN_IF_ERROR(FinishMount(t, m.destination, m));
  if (m.flags & MS_RDONLY) {
    BERTH_ASSIGN_OR_RETURN(top, OpenInRoot(t.root_fd, m.destination, CreateMode::kNone));
    BERTH_RETURN_IF_ERROR(Mount("", ProcFdPath(top.get()), "",
                                MS_BIND | MS_REMOUNT | MS_RDONLY | kCgroupTmpfsFlags, "",
                                "remount tmpfs read-only"));
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<CgroupV1Hierarchy> CgroupV1Hierarchies(const std::vector<MountInfo>& mounts,
                                                   absl::string_view proc_cgroup) {
  std::vector<CgroupLine> lines = ParseProcCgroup(proc_cgroup);
  std::vector<CgroupV1Hierarchy> out;
  std::set<std::string> names;
  for (const MountInfo& mi : mounts) {
    if (mi.fs_type != "cgroup") continue;
    std::set<absl::string_view> opts = absl::StrSplit(mi.super_options, ',');
    for (const CgroupLine& line : lines) {
      if (line.controllers.empty()) continue;
      bool all = true;
      for (absl::string_view c : absl::StrSplit(line.controllers, ',')) {
        if (opts.count(c) == 0) all = false;
      }
      if (!all) continue;
      std::string name = BaseName(mi.mount_point);
      if (name.empty() || !names.insert(name).second) break;
      out.push_back({name, DirInMount(mi, line.path), line.controllers});
      break;
    }
  }
  return out;
}

std::string CgroupV2Dir(const std::vector<MountInfo>& mounts, absl::string_view proc_cgroup) {
  for (const CgroupLine& line : ParseProcCgroup(proc_cgroup)) {
    if (!line.controllers.empty()) continue;
    for (const MountInfo& mi : mounts) {
      if (mi.fs_type != "cgroup2") continue;
      std::string dir = DirInMount(mi, line.path);
      if (!dir.empty()) return dir;
    }
  }
  return "";
}

absl::Status MountCgroup(const MountTarget& t, const spec::Mount& m) {
  struct statfs st;
  if (statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC) {
    return MountCgroupV2(t, m);
  }
  return MountCgroupV1(t, m);
}

}  // namespace berth::runc::linux
