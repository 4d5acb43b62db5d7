#include "runc/linux/mounts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status/status_macros.h"
#include "runc/linux/cgroup_mount.h"

namespace berth::runc::linux {
namespace {

// The one level of /proc a mount may cover, and the files lxcfs emulates below it (runc's
// checkProcMount).
constexpr const char* kAllowedProcMounts[] = {
    "/proc/cpuinfo", "/proc/diskstats",
    "/proc/meminfo", "/proc/stat",
    "/proc/swaps",   "/proc/uptime",
    "/proc/loadavg", "/proc/slabinfo",
    "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",
};

// Refuses a mount on /proc (unless it is a procfs) or under it (unless lxcfs-style): a
// container must not be able to hide or replace the parts of /proc that masked and read-only
// paths protect. `dst` is the resolved destination, `src` the bind source (or -1).
absl::Status CheckProcDestination(const MountTarget& t, int dst, const spec::Mount& m, int src) {
  BERTH_ASSIGN_OR_RETURN(std::string host_path, FdPath(dst));
  absl::string_view rel = host_path;
  if (t.rootfs != "/") {
    if (!absl::ConsumePrefix(&rel, t.rootfs)) {
      return absl::InternalError(
          absl::StrCat("destination resolved to ", host_path, ", outside the rootfs"));
    }
  }
  std::string in_root = CleanPath(rel);
  if (in_root == "/proc") {
    if (!IsBindMount(m) && m.type == "proc") return absl::OkStatus();
    struct statfs st;
    if (IsBindMount(m) && src >= 0 && fstatfs(src, &st) == 0 && st.f_type == PROC_SUPER_MAGIC) {
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError("only a proc file system may be mounted on /proc");
  }
  if (!absl::StartsWith(in_root, "/proc/")) return absl::OkStatus();
  for (const char* allowed : kAllowedProcMounts) {
    if (in_root == allowed) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("destination ", in_root,
                                                 " is inside /proc, which only allows mounts on ",
                                                 "the files lxcfs emulates"));
}

bool HasOption(absl::string_view data, absl::string_view name) {
  for (absl::string_view o : absl::StrSplit(data, ',')) {
    if (o == name || absl::StartsWith(o, absl::StrCat(name, "="))) return true;
  }
  return false;
}

std::string AddOption(const std::string& data, absl::string_view option) {
  return data.empty() ? std::string(option) : absl::StrCat(data, ",", option);
}

absl::StatusOr<UniqueFd> OpenDirFd(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "open directory");
  return fd;
}

absl::Status CopyFile(int src_dir, int dst_dir, const char* name, const struct stat& st) {
  UniqueFd in(openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", name));
  UniqueFd out(openat(dst_dir, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("create ", name));
  char buf[65536];
  while (true) {
    ssize_t n = read(in.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("read ", name));
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(out.get(), buf + done, n - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return absl::ErrnoToStatus(errno, absl::StrCat("write ", name));
      done += w;
    }
  }
  if (fchown(out.get(), st.st_uid, st.st_gid) != 0 || fchmod(out.get(), st.st_mode & 07777) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("set owner and mode of ", name));
  }
  return absl::OkStatus();
}

// Copies the content of directory `src_dir` into `dst_dir` (tmpcopyup): files, directories,
// symlinks and special files with their owner and mode. Never follows a symlink.
absl::Status CopyTree(int src_dir, int dst_dir) {
  int dup_fd = fcntl(src_dir, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return absl::ErrnoToStatus(errno, "dup");
  DIR* dir = fdopendir(dup_fd);
  if (dir == nullptr) {
    close(dup_fd);
    return absl::ErrnoToStatus(errno, "opendir");
  }
  absl::Status status;
  while (status.ok()) {
    errno = 0;
    struct dirent* e = readdir(dir);
    if (e == nullptr) {
      if (errno != 0) status = absl::ErrnoToStatus(errno, "readdir");
      break;
    }
    const char* name = e->d_name;
    if (std::string_view(name) == "." || std::string_view(name) == "..") continue;
    struct stat st;
    if (fstatat(src_dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      status = absl::ErrnoToStatus(errno, absl::StrCat("stat ", name));
    } else if (S_ISREG(st.st_mode)) {
      status = CopyFile(src_dir, dst_dir, name, st);
    } else if (S_ISDIR(st.st_mode)) {
      if (mkdirat(dst_dir, name, 0700) != 0) {
        status = absl::ErrnoToStatus(errno, absl::StrCat("mkdir ", name));
        continue;
      }
      UniqueFd s(openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd d(openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!s.valid() || !d.valid()) {
        status = absl::ErrnoToStatus(errno, absl::StrCat("open ", name));
        continue;
      }
      status = Annotate(CopyTree(s.get(), d.get()), name);
      if (status.ok() && (fchown(d.get(), st.st_uid, st.st_gid) != 0 ||
                          fchmod(d.get(), st.st_mode & 07777) != 0)) {
        status = absl::ErrnoToStatus(errno, absl::StrCat("set owner and mode of ", name));
      }
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(st.st_size + 1, '\0');
      ssize_t n = readlinkat(src_dir, name, target.data(), target.size());
      if (n < 0) {
        status = absl::ErrnoToStatus(errno, absl::StrCat("readlink ", name));
        continue;
      }
      target.resize(n);
      if (symlinkat(target.c_str(), dst_dir, name) != 0 ||
          fchownat(dst_dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) {
        status = absl::ErrnoToStatus(errno, absl::StrCat("symlink ", name));
      }
    } else {
      if (mknodat(dst_dir, name, st.st_mode, st.st_rdev) != 0 ||
          fchownat(dst_dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0 ||
          fchmodat(dst_dir, name, st.st_mode & 07777, 0) != 0) {
        status = absl::ErrnoToStatus(errno, absl::StrCat("mknod ", name));
      }
    }
  }
  closedir(dir);
  return status;
}

// A new file system at m.destination (created as a directory).
absl::Status FreshMount(const MountTarget& t, const spec::Mount& m, const std::string& type,
                        unsigned long flags, const std::string& data, int* err) {
  BERTH_ASSIGN_OR_RETURN(UniqueFd dst,
                         OpenInRoot(t.root_fd, m.destination, CreateMode::kDirectory));
  BERTH_RETURN_IF_ERROR(CheckProcDestination(t, dst.get(), m, -1));
  const std::string source = m.source.empty() ? type : m.source;
  *err = MountErrno(source, ProcFdPath(dst.get()), type, flags, data);
  if (*err != 0) return absl::ErrnoToStatus(*err, absl::StrCat("mount ", type));
  return FinishMount(t, m.destination, m);
}

absl::Status TmpfsMount(const MountTarget& t, const spec::Mount& m, unsigned long flags) {
  std::string data = m.data;
  UniqueFd under_dir;  // the directory the tmpfs covers, for tmpcopyup
  absl::StatusOr<UniqueFd> existing = OpenInRoot(t.root_fd, m.destination, CreateMode::kNone);
  if (existing.ok()) {
    struct stat st;
    if (fstat(existing->get(), &st) != 0) return absl::ErrnoToStatus(errno, "stat destination");
    // Keep the directory's mode unless the data sets one (runc; later options win).
    char mode[16];
    snprintf(mode, sizeof(mode), "mode=%04o", st.st_mode & 07777);
    data = data.empty() ? std::string(mode) : absl::StrCat(mode, ",", data);
    if (m.tmpcopyup && S_ISDIR(st.st_mode)) {
      BERTH_ASSIGN_OR_RETURN(under_dir, OpenDirFd(ProcFdPath(existing->get())), "tmpcopyup");
    }
  } else if (!absl::IsNotFound(existing.status())) {
    return existing.status();
  }
  int err = 0;
  BERTH_RETURN_IF_ERROR(FreshMount(t, m, "tmpfs", flags, data, &err));
  if (under_dir.valid()) {
    BERTH_ASSIGN_OR_RETURN(UniqueFd top, OpenInRoot(t.root_fd, m.destination, CreateMode::kNone));
    BERTH_ASSIGN_OR_RETURN(UniqueFd top_dir, OpenDirFd(ProcFdPath(top.get())), "tmpcopyup");
    BERTH_RETURN_IF_ERROR(CopyTree(under_dir.get(), top_dir.get()), "tmpcopyup");
  }
  return absl::OkStatus();
}

// runc's fallback when a user namespace may not mount sysfs or mqueue itself: rbind the
// host's instance with the same options.
absl::Status BindHostInstance(const MountTarget& t, const spec::Mount& m,
                              const std::string& host_path) {
  spec::Mount b = m;
  b.type = "bind";
  b.source = host_path;
  b.bind = true;
  b.recursive = true;
  b.flags |= MS_BIND | MS_REC;
  b.data.clear();
  return Annotate(BindMountEntry(t, b), absl::StrCat("rbind host ", host_path));
}

}  // namespace

bool IsBindMount(const spec::Mount& m) {
  return m.bind || (m.flags & MS_BIND) != 0 || m.type == "bind";
}

bool DefersReadonly(const spec::Mount& m) {
  return !IsBindMount(m) && (m.flags & MS_RDONLY) != 0 &&
         (m.type == "tmpfs" || CleanPath(m.destination) == "/dev");
}

absl::Status FinishMount(const MountTarget& t, const std::string& destination,
                         const spec::Mount& m) {
  if (m.rec_attr_set == 0 && m.rec_attr_clr == 0 && m.propagation.empty()) {
    return absl::OkStatus();
  }
  // Re-resolve: the earlier fd names the directory under the new mount, not the mount.
  BERTH_ASSIGN_OR_RETURN(UniqueFd fd, OpenInRoot(t.root_fd, destination, CreateMode::kNone));
  if (m.rec_attr_set != 0 || m.rec_attr_clr != 0) {
    struct mount_attr attr = {};
    attr.attr_set = m.rec_attr_set;
    attr.attr_clr = m.rec_attr_clr;
    if (mount_setattr(fd.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) != 0) {
      return absl::ErrnoToStatus(errno, "set recursive mount attributes");
    }
  }
  for (unsigned long p : m.propagation) {
    BERTH_RETURN_IF_ERROR(Mount("", ProcFdPath(fd.get()), "", p, "", "set propagation"));
  }
  return absl::OkStatus();
}

absl::Status BindMountEntry(const MountTarget& t, const spec::Mount& m) {
  if (m.source.empty()) return absl::InvalidArgumentError("bind mount without a source");
  std::string source = m.source;
  if (source[0] != '/' && !t.bundle.empty()) source = absl::StrCat(t.bundle, "/", source);
  UniqueFd src(open(source.c_str(), O_PATH | O_CLOEXEC));
  if (!src.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open source ", source));
  struct stat st;
  if (fstat(src.get(), &st) != 0) return absl::ErrnoToStatus(errno, "stat source");

  BERTH_ASSIGN_OR_RETURN(
      UniqueFd dst, OpenInRoot(t.root_fd, m.destination,
                               S_ISDIR(st.st_mode) ? CreateMode::kDirectory : CreateMode::kFile));
  BERTH_RETURN_IF_ERROR(CheckProcDestination(t, dst.get(), m, src.get()));
  const bool recursive = m.recursive || (m.flags & MS_REC) != 0;
  BERTH_RETURN_IF_ERROR(Mount(ProcFdPath(src.get()), ProcFdPath(dst.get()), "",
                              MS_BIND | (recursive ? MS_REC : 0), "",
                              absl::StrCat(recursive ? "rbind " : "bind ", source)));

  // A bind mount ignores the other flags: apply them with a second call, on top of what the
  // new mount has (mount(8) semantics; keeps flags locked in a user namespace).
  if (((m.flags | m.clear_flags) & kPerMountFlags) != 0) {
    BERTH_ASSIGN_OR_RETURN(UniqueFd top, OpenInRoot(t.root_fd, m.destination, CreateMode::kNone));
    BERTH_ASSIGN_OR_RETURN(unsigned long current, MountFlagsOfFd(top.get()));
    unsigned long want = BindRemountFlags(current, m.flags, m.clear_flags);
    if (want != current) {
      BERTH_RETURN_IF_ERROR(Mount("", ProcFdPath(top.get()), "", MS_BIND | MS_REMOUNT | want, "",
                                  "remount bind mount with its options"));
    }
  }
  return FinishMount(t, m.destination, m);
}

absl::Status MountEntry(const MountTarget& t, const spec::Mount& m) {
  if (m.idmap) {
    return absl::UnimplementedError("id-mapped mounts (idmap, ridmap) are not supported");
  }
  if (IsBindMount(m)) return BindMountEntry(t, m);
  if (m.type.empty()) {
    return absl::InvalidArgumentError("no type, and the options have neither bind nor rbind");
  }
  if (m.type == "cgroup") return MountCgroup(t, m);

  unsigned long flags = m.flags & ~(MS_BIND | MS_REC);
  if (DefersReadonly(m)) flags &= ~MS_RDONLY;
  if (m.type == "tmpfs") return TmpfsMount(t, m, flags);
  if (m.tmpcopyup) return absl::InvalidArgumentError("tmpcopyup is only for tmpfs");

  std::string data = m.data;
  if (m.type == "devpts") {
    // Every devpts mount is its own instance since Linux 4.7; ptmxmode must let the
    // container open /dev/pts/ptmx (through the /dev/ptmx link).
    if (!HasOption(data, "newinstance")) data = AddOption(data, "newinstance");
    if (!HasOption(data, "ptmxmode")) data = AddOption(data, "ptmxmode=0666");
  }
  int err = 0;
  absl::Status status = FreshMount(t, m, m.type, flags, data, &err);
  if (err == EPERM && t.in_user_namespace) {
    if (m.type == "sysfs") return BindHostInstance(t, m, "/sys");
    if (m.type == "mqueue") return BindHostInstance(t, m, "/dev/mqueue");
  }
  return status;
}

}  // namespace berth::runc::linux
