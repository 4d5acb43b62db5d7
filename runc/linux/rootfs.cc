#include "runc/linux/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "runc/linux/devices.h"
#include "runc/linux/mount_util.h"
#include "runc/linux/mounts.h"
#include "runc/linux/sysctl.h"

namespace berth::runc::linux {
namespace {

using spec::NamespaceType;

// "mounts[3] (/proc -> /tmp/x/rootfs/proc)"; after pivot_root, rootfs is "".
std::string MountLabel(size_t i, const spec::Mount& m, const std::string& rootfs) {
  const std::string dest = CleanPath(m.destination);
  if (rootfs.empty()) return absl::StrCat("mounts[", i, "] (", dest, ")");
  return absl::StrCat("mounts[", i, "] (", dest, " -> ",
                      rootfs == "/" ? dest : absl::StrCat(rootfs, dest), ")");
}

std::string IndexLabel(absl::string_view field, size_t i, absl::string_view path) {
  return absl::StrCat(field, "[", i, "] (", path, ")");
}

bool PathUnder(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir || absl::StartsWith(path, absl::StrCat(dir, "/"));
}

// The rootfs's real host path (symlinks resolved), which must be a directory.
absl::StatusOr<std::string> RootfsPath(const spec::Spec& spec, const RootfsOptions& opts) {
  std::string path = spec.root.path;
  const std::string label = absl::StrCat("root.path (", path, ")");
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(label, ": empty"));
  if (path[0] != '/' && !opts.bundle.empty()) path = absl::StrCat(opts.bundle, "/", path);
  char* real = realpath(path.c_str(), nullptr);
  if (real == nullptr) return absl::ErrnoToStatus(errno, absl::StrCat(label, ": resolve"));
  std::string out(real);
  free(real);
  struct stat st;
  if (stat(out.c_str(), &st) != 0) return absl::ErrnoToStatus(errno, absl::StrCat(label, ": stat"));
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(label, ": not a directory"));
  }
  return out;
}

// pivot_root(2) fails if the mount holding the new root is shared, and a bind mount of a path
// in a shared mount would propagate to its peers (the host): make that mount private first
// (runc's rootfsParentMountPrivate).
absl::Status MakeParentMountPrivate(const std::string& rootfs) {
  BERTH_ASSIGN_OR_RETURN(std::vector<MountInfo> mounts, ReadMountInfo());
  const MountInfo* parent = nullptr;
  for (const MountInfo& mi : mounts) {
    if (!PathUnder(rootfs, mi.mount_point)) continue;
    // The longest mount point wins; among equal ones the last (top of the stack).
    if (parent == nullptr || mi.mount_point.size() >= parent->mount_point.size()) parent = &mi;
  }
  if (parent == nullptr) {
    return absl::NotFoundError(absl::StrCat("no mount holds ", rootfs));
  }
  if (!parent->Shared()) return absl::OkStatus();
  return Mount("", parent->mount_point, "", MS_PRIVATE, "",
               absl::StrCat("make ", parent->mount_point, " private"));
}

absl::Status CreateDevices(const spec::Spec& spec, const RootfsOptions& opts, int root_fd) {
  for (const spec::Device& d : DefaultDevices()) {
    bool overridden = false;
    for (const spec::Device& s : spec.linux.devices) {
      if (CleanPath(s.path) == d.path) overridden = true;
    }
    if (overridden) continue;
    BERTH_RETURN_IF_ERROR(CreateDevice(root_fd, d, opts.in_user_namespace),
                          absl::StrCat("default device ", d.path));
  }
  for (size_t i = 0; i < spec.linux.devices.size(); ++i) {
    const spec::Device& d = spec.linux.devices[i];
    BERTH_RETURN_IF_ERROR(CreateDevice(root_fd, d, opts.in_user_namespace),
                          IndexLabel("linux.devices", i, d.path));
  }
  return SetupDevLinks(root_fd);
}

absl::Status PivotRoot(const std::string& rootfs) {
  UniqueFd old_root(open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (!old_root.valid()) return absl::ErrnoToStatus(errno, "open /");
  UniqueFd new_root(open(rootfs.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (!new_root.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", rootfs));
  if (fchdir(new_root.get()) != 0) return absl::ErrnoToStatus(errno, "chdir to rootfs");
  // pivot_root(".", ".") stacks the old root under the new one, so no put_old directory is
  // needed in the rootfs (the LXC trick runc uses).
  if (syscall(SYS_pivot_root, ".", ".") != 0) return absl::ErrnoToStatus(errno, "pivot_root");
  if (fchdir(old_root.get()) != 0) return absl::ErrnoToStatus(errno, "chdir to old root");
  // rslave, so unmounting the old root cannot propagate to the host.
  BERTH_RETURN_IF_ERROR(Mount("", ".", "", MS_SLAVE | MS_REC, "", "make old root rslave"));
  if (umount2(".", MNT_DETACH) != 0) return absl::ErrnoToStatus(errno, "detach old root");
  if (chdir("/") != 0) return absl::ErrnoToStatus(errno, "chdir /");
  return absl::OkStatus();
}

// --no-pivot. chroot leaves the host's full procfs and sysfs mounts in the namespace, and the
// kernel lets a process mount procfs/sysfs if a full one is visible to it: detach them (or
// cover them when that is refused) first, as runc's msMoveRoot does.
absl::Status MoveRoot(const std::string& rootfs) {
  BERTH_ASSIGN_OR_RETURN(std::vector<MountInfo> mounts, ReadMountInfo());
  for (const MountInfo& mi : mounts) {
    if (mi.root != "/" || (mi.fs_type != "proc" && mi.fs_type != "sysfs") ||
        PathUnder(mi.mount_point, rootfs)) {
      continue;
    }
    int err = MountErrno("", mi.mount_point, "", MS_SLAVE | MS_REC, "");
    if (err == ENOENT) continue;  // already gone with a parent
    if (err != 0) {
      return absl::ErrnoToStatus(err, absl::StrCat("make ", mi.mount_point, " rslave"));
    }
    if (umount2(mi.mount_point.c_str(), MNT_DETACH) != 0) {
      if (errno != EINVAL && errno != EPERM) {
        return absl::ErrnoToStatus(errno, absl::StrCat("detach ", mi.mount_point));
      }
      BERTH_RETURN_IF_ERROR(
          Mount("tmpfs", mi.mount_point, "tmpfs", 0, "", absl::StrCat("cover ", mi.mount_point)));
    }
  }
  if (chdir(rootfs.c_str()) != 0) return absl::ErrnoToStatus(errno, "chdir to rootfs");
  BERTH_RETURN_IF_ERROR(Mount(rootfs, "/", "", MS_MOVE, "", "move rootfs onto /"));
  if (chroot(".") != 0) return absl::ErrnoToStatus(errno, "chroot");
  if (chdir("/") != 0) return absl::ErrnoToStatus(errno, "chdir /");
  return absl::OkStatus();
}

absl::Status ChrootOnly(const std::string& rootfs) {
  if (chdir(rootfs.c_str()) != 0) return absl::ErrnoToStatus(errno, "chdir to rootfs");
  if (chroot(".") != 0) return absl::ErrnoToStatus(errno, "chroot");
  if (chdir("/") != 0) return absl::ErrnoToStatus(errno, "chdir /");
  return absl::OkStatus();
}

// stdio that is /dev/null (the host's, opened before pivot_root) is pointed at the
// container's /dev/null, so /proc/self/fd/0 resolves inside the container (runc).
absl::Status ReopenDevNull() {
  UniqueFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null.valid()) return absl::ErrnoToStatus(errno, "open /dev/null");
  struct stat null_st;
  if (fstat(null.get(), &null_st) != 0) return absl::ErrnoToStatus(errno, "stat /dev/null");
  if (!S_ISCHR(null_st.st_mode)) return absl::OkStatus();
  for (int fd = 0; fd < 3; ++fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) continue;  // closed
    if (S_ISCHR(st.st_mode) && st.st_rdev == null_st.st_rdev && dup3(null.get(), fd, 0) < 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("reopen fd ", fd));
    }
  }
  return absl::OkStatus();
}

// Remounts the mount at `path` read-only, keeping its other per-mount flags.
absl::Status RemountReadonly(const std::string& path) {
  struct statfs st;
  if (statfs(path.c_str(), &st) != 0) return absl::ErrnoToStatus(errno, "statfs");
  unsigned long flags = MountFlagsFromStatfs(st.f_flags) | MS_RDONLY;
  return Mount("", path, "", MS_BIND | MS_REMOUNT | flags, "", "remount read-only");
}

absl::Status ReadonlyPath(const std::string& path) {
  int err = MountErrno(path, path, "", MS_BIND | MS_REC, "");
  if (err == ENOENT) return absl::OkStatus();
  if (err != 0) return absl::ErrnoToStatus(err, "bind onto itself");
  return RemountReadonly(path);
}

absl::Status MaskPath(const std::string& path) {
  int err = MountErrno("/dev/null", path, "", MS_BIND, "");
  if (err == 0 || err == ENOENT) return absl::OkStatus();
  if (err != ENOTDIR) return absl::ErrnoToStatus(err, "mount /dev/null over it");
  return Mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "",
               "mount read-only tmpfs over it");
}

}  // namespace

absl::StatusOr<unsigned long> RootPropagationFlags(const std::string& value) {
  struct Named {
    const char* name;
    unsigned long flags;
  };
  static constexpr Named kNames[] = {
      {"", MS_SLAVE | MS_REC},
      {"private", MS_PRIVATE},
      {"rprivate", MS_PRIVATE | MS_REC},
      {"slave", MS_SLAVE},
      {"rslave", MS_SLAVE | MS_REC},
      {"shared", MS_SHARED},
      {"rshared", MS_SHARED | MS_REC},
      {"unbindable", MS_UNBINDABLE},
      {"runbindable", MS_UNBINDABLE | MS_REC},
  };
  for (const Named& n : kNames) {
    if (value == n.name) return n.flags;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown propagation \"", value, "\""));
}

bool SetsUpDev(const spec::Spec& spec) {
  for (const spec::Mount& m : spec.mounts) {
    if (IsBindMount(m) && CleanPath(m.destination) == "/dev") return false;
  }
  return true;
}

absl::Status PrepareRootfs(const spec::Spec& spec, const RootfsOptions& opts) {
  // 1. Everything checkable without side effects.
  BERTH_RETURN_IF_ERROR(ValidateSysctls(spec));
  BERTH_ASSIGN_OR_RETURN(unsigned long propagation,
                         RootPropagationFlags(spec.linux.rootfs_propagation),
                         "linux.rootfsPropagation");
  for (size_t i = 0; i < spec.linux.devices.size(); ++i) {
    const spec::Device& d = spec.linux.devices[i];
    BERTH_RETURN_IF_ERROR(ValidateDevice(d), IndexLabel("linux.devices", i, d.path));
  }
  BERTH_ASSIGN_OR_RETURN(std::string rootfs, RootfsPath(spec, opts));

  // 2. Propagation, and the rootfs as a mount point of its own. Without a mount namespace of
  // its own the process is in the host's (or another container's): never change the
  // propagation of mounts there.
  if (spec.HasNamespace(NamespaceType::kMount)) {
    // An unbindable "/" would make the bind of the rootfs below fail (EINVAL), so until
    // pivot_root the mounts are made rslave (the default), and EnterRootfs makes the new "/"
    // unbindable (as crun does; runc fails here).
    if (propagation & MS_UNBINDABLE) propagation = MS_SLAVE | MS_REC;
    BERTH_RETURN_IF_ERROR(Mount("", "/", "", propagation, "", "set propagation of /"),
                          "linux.rootfsPropagation");
    BERTH_RETURN_IF_ERROR(MakeParentMountPrivate(rootfs), absl::StrCat("root.path (", rootfs, ")"));
  }
  BERTH_RETURN_IF_ERROR(Mount(rootfs, rootfs, "", MS_BIND | MS_REC, "", "bind onto itself"),
                        absl::StrCat("root.path (", rootfs, ")"));
  // Opened after the bind, so it names the new mount and everything lands on top of it.
  UniqueFd root(open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) {
    return absl::ErrnoToStatus(errno, absl::StrCat("root.path (", rootfs, "): open"));
  }

  // 3. The spec's mounts, in order.
  MountTarget target;
  target.root_fd = root.get();
  target.rootfs = rootfs;
  target.bundle = opts.bundle;
  target.in_user_namespace = opts.in_user_namespace;
  target.cgroup_namespace = spec.HasNamespace(NamespaceType::kCgroup);
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    BERTH_RETURN_IF_ERROR(MountEntry(target, spec.mounts[i]),
                          MountLabel(i, spec.mounts[i], rootfs));
  }

  // 4. /dev, unless the container brings its own.
  if (SetsUpDev(spec)) BERTH_RETURN_IF_ERROR(CreateDevices(spec, opts, root.get()));
  return absl::OkStatus();
}

absl::Status EnterRootfs(const spec::Spec& spec, const RootfsOptions& opts) {
  BERTH_ASSIGN_OR_RETURN(std::string rootfs, RootfsPath(spec, opts));
  const bool own_mount_ns = spec.HasNamespace(NamespaceType::kMount);
  if (!own_mount_ns) {
    BERTH_RETURN_IF_ERROR(ChrootOnly(rootfs), "enter rootfs");
  } else if (opts.no_pivot) {
    BERTH_RETURN_IF_ERROR(MoveRoot(rootfs), "enter rootfs (no pivot)");
  } else {
    BERTH_RETURN_IF_ERROR(PivotRoot(rootfs), "enter rootfs");
  }
  if (own_mount_ns && !spec.linux.rootfs_propagation.empty()) {
    BERTH_ASSIGN_OR_RETURN(unsigned long flags, RootPropagationFlags(spec.linux.rootfs_propagation),
                           "linux.rootfsPropagation");
    if ((flags & MS_PRIVATE) == 0) {
      BERTH_RETURN_IF_ERROR(Mount("", "/", "", flags, "", "set propagation of /"),
                            "linux.rootfsPropagation");
    }
  }
  if (SetsUpDev(spec)) BERTH_RETURN_IF_ERROR(ReopenDevNull());
  return absl::OkStatus();
}

absl::Status FinalizeRootfs(const spec::Spec& spec, const RootfsOptions& opts) {
  BERTH_RETURN_IF_ERROR(WriteSysctls(spec));
  const spec::Linux& l = spec.linux;
  for (size_t i = 0; i < l.readonly_paths.size(); ++i) {
    BERTH_RETURN_IF_ERROR(ReadonlyPath(CleanPath(l.readonly_paths[i])),
                          IndexLabel("linux.readonlyPaths", i, l.readonly_paths[i]));
  }
  for (size_t i = 0; i < l.masked_paths.size(); ++i) {
    BERTH_RETURN_IF_ERROR(MaskPath(CleanPath(l.masked_paths[i])),
                          IndexLabel("linux.maskedPaths", i, l.masked_paths[i]));
  }
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const spec::Mount& m = spec.mounts[i];
    if (!DefersReadonly(m)) continue;
    BERTH_RETURN_IF_ERROR(RemountReadonly(CleanPath(m.destination)), MountLabel(i, m, ""));
  }
  if (spec.root.readonly) BERTH_RETURN_IF_ERROR(RemountReadonly("/"), "root.readonly");
  return absl::OkStatus();
}

absl::Status MountConsole(const std::string& pts_path) {
  UniqueFd pts(open(pts_path.c_str(), O_PATH | O_CLOEXEC));
  if (!pts.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", pts_path));
  UniqueFd root(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return absl::ErrnoToStatus(errno, "open /");
  BERTH_ASSIGN_OR_RETURN(UniqueFd console,
                         OpenInRoot(root.get(), "/dev/console", CreateMode::kFile), "/dev/console");
  return Mount(ProcFdPath(pts.get()), ProcFdPath(console.get()), "", MS_BIND, "",
               absl::StrCat("bind ", pts_path, " over /dev/console"));
}

}  // namespace berth::runc::linux
