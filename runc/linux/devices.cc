#include "runc/linux/devices.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "runc/linux/mount_util.h"

namespace berth::runc::linux {
namespace {

spec::Device CharDevice(const char* path, int64_t major, int64_t minor) {
  spec::Device d;
  d.path = path;
  d.type = 'c';
  d.major = major;
  d.minor = minor;
  d.file_mode = 0666;
  d.uid = 0;
  d.gid = 0;
  return d;
}

// Splits a clean absolute path into its parent and last component.
void SplitPath(const std::string& clean, std::string* dir, std::string* base) {
  size_t slash = clean.rfind('/');
  *dir = slash == 0 ? "/" : clean.substr(0, slash);
  *base = clean.substr(slash + 1);
}

absl::Status BindHostNode(int parent_fd, const std::string& base, const std::string& host_path) {
  UniqueFd src(open(host_path.c_str(), O_PATH | O_CLOEXEC));
  if (!src.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open host node ", host_path));
  // O_EXCL: never open whatever node is already there (opening a tty could make it ours).
  int f =
      openat(parent_fd, base.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (f < 0 && errno != EEXIST) return absl::ErrnoToStatus(errno, "create mount point");
  if (f >= 0) close(f);
  UniqueFd dst(openat(parent_fd, base.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!dst.valid()) return absl::ErrnoToStatus(errno, "open mount point");
  return Mount(ProcFdPath(src.get()), ProcFdPath(dst.get()), "", MS_BIND, "",
               absl::StrCat("bind host node ", host_path));
}

}  // namespace

std::vector<spec::Device> DefaultDevices() {
  return {CharDevice("/dev/null", 1, 3),    CharDevice("/dev/zero", 1, 5),
          CharDevice("/dev/full", 1, 7),    CharDevice("/dev/random", 1, 8),
          CharDevice("/dev/urandom", 1, 9), CharDevice("/dev/tty", 5, 0)};
}

absl::Status ValidateDevice(const spec::Device& d) {
  if (d.type != 'c' && d.type != 'u' && d.type != 'b' && d.type != 'p') {
    return absl::InvalidArgumentError(
        absl::StrCat("type \"", std::string(1, d.type), "\" is not c, u, b or p"));
  }
  if (CleanPath(d.path) == "/") return absl::InvalidArgumentError("path must name a file");
  if (d.major < 0 || d.minor < 0) {
    return absl::InvalidArgumentError("major and minor must not be negative");
  }
  return absl::OkStatus();
}

absl::Status CreateDevice(int root_fd, const spec::Device& d, bool bind_host_node) {
  BERTH_RETURN_IF_ERROR(ValidateDevice(d));
  const std::string path = CleanPath(d.path);
  std::string dir, base;
  SplitPath(path, &dir, &base);
  BERTH_ASSIGN_OR_RETURN(UniqueFd parent, OpenInRoot(root_fd, dir, CreateMode::kDirectory));

  // runc strips the file-type bits from fileMode and uses 0666 when it is unset.
  const mode_t perm = d.file_mode.value_or(0666) & 07777;
  mode_t type = S_IFCHR;
  if (d.type == 'b') type = S_IFBLK;
  if (d.type == 'p') type = S_IFIFO;

  if (!bind_host_node || d.type == 'p') {
    const dev_t dev = d.type == 'p' ? 0 : makedev(d.major, d.minor);
    if (mknodat(parent.get(), base.c_str(), type | perm, dev) == 0) {
      if (fchownat(parent.get(), base.c_str(), d.uid.value_or(0), d.gid.value_or(0),
                   AT_SYMLINK_NOFOLLOW) != 0) {
        return absl::ErrnoToStatus(errno, "chown");
      }
      // mknod applied the umask; set the mode exactly (after chown, which may clear bits).
      if (fchmodat(parent.get(), base.c_str(), perm, 0) != 0) {
        return absl::ErrnoToStatus(errno, "chmod");
      }
      return absl::OkStatus();
    }
    if (errno == EEXIST) return absl::OkStatus();
    if (errno != EPERM || d.type == 'p') return absl::ErrnoToStatus(errno, "mknod");
  }
  return BindHostNode(parent.get(), base, path);
}

absl::Status SetupDevLinks(int root_fd) {
  BERTH_ASSIGN_OR_RETURN(UniqueFd dev, OpenInRoot(root_fd, "/dev", CreateMode::kDirectory));
  struct Link {
    const char* target;
    const char* name;
  };
  static constexpr Link kLinks[] = {{"/proc/self/fd", "fd"},
                                    {"/proc/self/fd/0", "stdin"},
                                    {"/proc/self/fd/1", "stdout"},
                                    {"/proc/self/fd/2", "stderr"},
                                    {"/proc/kcore", "core"}};
  for (const Link& l : kLinks) {
    // kcore depends on CONFIG_PROC_KCORE: link it only if the host has it (runc).
    if (std::string(l.name) == "core" && access("/proc/kcore", F_OK) != 0) continue;
    if (symlinkat(l.target, dev.get(), l.name) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno, absl::StrCat("symlink /dev/", l.name));
    }
  }
  if (unlinkat(dev.get(), "ptmx", 0) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, "remove /dev/ptmx");
  }
  if (symlinkat("pts/ptmx", dev.get(), "ptmx") != 0) {
    return absl::ErrnoToStatus(errno, "symlink /dev/ptmx");
  }
  if (mkdirat(dev.get(), "shm", 01777) == 0) {
    if (fchmodat(dev.get(), "shm", 01777, 0) != 0) {
      return absl::ErrnoToStatus(errno, "chmod /dev/shm");
    }
  } else if (errno != EEXIST) {
    return absl::ErrnoToStatus(errno, "mkdir /dev/shm");
  }
  return absl::OkStatus();
}

}  // namespace berth::runc::linux
