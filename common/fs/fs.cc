#include "common/fs/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace berth::fs {
namespace {

constexpr size_t kReadChunk = 64 * 1024;


// Walks and removes a tree by directory fd. Keeps the first error and goes on, so one
// undeletable entry does not leave the rest of a container's files behind.
class TreeRemover {
 public:
  explicit TreeRemover(const std::string& top) : top_(top) {}

  // Whether the directory open as `fd` is the root of a mount other than the one `top_` is on.
  // STATX_ATTR_MOUNT_ROOT (Linux 5.8) also catches bind mounts from the same file system,
  // which have the same device number; the device test covers kernels without it.
  absl::StatusOr<bool> IsMountRoot(int fd, const std::string& path, bool is_top) {
    struct statx st;
    if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_TYPE, &st) != 0) {
      return Error(errno, "statx", path);
    }
    if (is_top) {
      top_dev_major_ = st.stx_dev_major;
      top_dev_minor_ = st.stx_dev_minor;
    }
    if ((st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0 &&
        (st.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0) {
      return true;
    }
    return st.stx_dev_major != top_dev_major_ || st.stx_dev_minor != top_dev_minor_;
  }

  // Removes everything inside the directory open as `fd`, whose path is `path`.
  void RemoveContents(int fd, const std::string& path) {
    absl::StatusOr<std::vector<std::string>> names = ListDirAt(fd);
    if (!names.ok()) {
      Fail(Annotate(names.status(), absl::StrCat("remove ", top_, ": list ", path)));
      return;
    }
    for (const std::string& name : *names) {
      const std::string child = absl::StrCat(path, "/", name);
      struct stat st;
      if (fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) Fail(Error(errno, "stat", child));
        continue;
      }
      if (S_ISDIR(st.st_mode)) {
        RemoveDir(fd, name, child);
      } else if (unlinkat(fd, name.c_str(), 0) != 0 && errno != ENOENT) {
        Fail(Error(errno, "unlink", child));
      }
    }
  }

  absl::Status result() const { return first_error_; }
  void Fail(absl::Status s) {
    if (first_error_.ok()) first_error_ = std::move(s);
  }
  absl::Status Error(int err, absl::string_view op, const std::string& path) const {
    return absl::ErrnoToStatus(err, absl::StrCat("remove ", top_, ": ", op, " ", path));
  }
  absl::Status MountPointError(const std::string& path) const {
    return absl::FailedPreconditionError(
        absl::StrCat("remove ", top_, ": ", path, " is a mount point; not removing across it"));
  }

 private:
  void RemoveDir(int parent_fd, const std::string& name, const std::string& path) {
    // O_NOFOLLOW: if the entry was swapped for a symlink since fstatat, fail instead of
    // descending into wherever it points.
    const int fd = openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno != ENOENT) Fail(Error(errno, "open", path));
      return;
    }
    // Checked on the opened fd, so what is checked is what would be walked.
    absl::StatusOr<bool> mount_root = IsMountRoot(fd, path, /*is_top=*/false);
    if (!mount_root.ok() || *mount_root) {
      close(fd);
      Fail(mount_root.ok() ? MountPointError(path) : mount_root.status());
      return;
    }
    RemoveContents(fd, path);
    close(fd);
    if (unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      Fail(Error(errno, "rmdir", path));
    }
  }

  const std::string& top_;
  uint32_t top_dev_major_ = 0;
  uint32_t top_dev_minor_ = 0;
  absl::Status first_error_;
};

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("read ", path));
  absl::Cleanup close_fd = [fd] { close(fd); };
  // Sized from stat when it knows (one byte more, so end of file is seen without growing);
  // grown by doubling when it doesn't (/proc, pipes).
  struct stat st;
  const bool sized = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
  std::string out(sized ? static_cast<size_t>(st.st_size) + 1 : kReadChunk, '\0');
  size_t used = 0;
  while (true) {
    if (used == out.size()) out.resize(out.size() * 2);
    const ssize_t n = read(fd, out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("read ", path));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  out.resize(used);
  return out;
}

absl::StatusOr<std::vector<std::string>> ListDirAt(int dir_fd) {
  // A fresh open file description: a dup would share (and move) the caller's directory offset.
  const int list_fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (list_fd < 0) return absl::ErrnoToStatus(errno, "open directory for listing");
  DIR* d = fdopendir(list_fd);
  if (d == nullptr) {
    const int err = errno;
    close(list_fd);
    return absl::ErrnoToStatus(err, "fdopendir");
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = readdir(d)) {
    const absl::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
    errno = 0;
  }
  const int err = errno;
  closedir(d);
  if (err != 0) return absl::ErrnoToStatus(err, "readdir");
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("list ", path));
  absl::Cleanup close_fd = [fd] { close(fd); };
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirAt(fd),
                         absl::StrCat("list ", path));
  std::sort(names.begin(), names.end());
  return names;
}

absl::Status MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return absl::InvalidArgumentError("make dirs: empty path");
  if ((mode & ~static_cast<mode_t>(07777)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("make dirs ", path, ": invalid mode 0", absl::Hex(mode)));
  }
  // Each prefix ending before a '/' (and the whole path) names one component to ensure.
  for (size_t end = path.find('/', 1);; end = path.find('/', end + 1)) {
    const std::string prefix = path.substr(0, end);
    const bool last = end == std::string::npos;
    if (!prefix.empty() && prefix.back() != '/') {  // skip "//" runs and a trailing '/'
      if (mkdir(prefix.c_str(), mode) == 0) {
        if (chmod(prefix.c_str(), mode) != 0) {
          return absl::ErrnoToStatus(errno, absl::StrCat("make dirs ", path, ": chmod ", prefix));
        }
      } else if (errno == EEXIST) {
        // Something is there; stat follows symlinks, as mkdir -p does.
        struct stat st;
        if (stat(prefix.c_str(), &st) != 0) {
          return absl::ErrnoToStatus(errno, absl::StrCat("make dirs ", path, ": stat ", prefix));
        }
        if (!S_ISDIR(st.st_mode)) {
          return absl::FailedPreconditionError(
              absl::StrCat("make dirs ", path, ": ", prefix, " exists and is not a directory"));
        }
      } else {
        return absl::ErrnoToStatus(errno, absl::StrCat("make dirs ", path, ": mkdir ", prefix));
      }
    }
    if (last) break;
  }
  return absl::OkStatus();
}

absl::Status RemoveAll(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("remove: empty path");
  if (path.find_first_not_of('/') == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("remove ", path, ": refusing to remove /"));
  }
  // Without trailing slashes, so a symlink given as "link/" is itself removed rather than
  // resolved (a trailing slash makes the kernel follow the last component).
  const std::string top = path.substr(0, path.find_last_not_of('/') + 1);
  TreeRemover remover(top);
  struct stat st;
  if (lstat(top.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return remover.Error(errno, "stat", top);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (unlink(top.c_str()) != 0 && errno != ENOENT) return remover.Error(errno, "unlink", top);
    return absl::OkStatus();
  }
  const int fd = open(top.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return remover.Error(errno, "open", top);
  }
  absl::StatusOr<bool> mount_root = remover.IsMountRoot(fd, top, /*is_top=*/true);
  if (!mount_root.ok() || *mount_root) {
    close(fd);
    return mount_root.ok() ? remover.MountPointError(top) : mount_root.status();
  }
  remover.RemoveContents(fd, top);
  close(fd);
  if (rmdir(top.c_str()) != 0 && errno != ENOENT) remover.Fail(remover.Error(errno, "rmdir", top));
  return remover.result();
}

}  // namespace berth::fs
