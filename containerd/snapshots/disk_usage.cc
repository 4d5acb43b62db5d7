#include "containerd/snapshots/disk_usage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace berth::containerd::snapshots {
namespace {

class Walker {
 public:
  absl::Status Walk(int dir_fd, const std::string& path, dev_t dev) {
    const int list_fd = dup(dir_fd);
    if (list_fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("dup ", path));
    DIR* d = fdopendir(list_fd);
    if (d == nullptr) {
      const int err = errno;
      close(list_fd);
      return absl::ErrnoToStatus(err, absl::StrCat("read directory ", path));
    }
    std::vector<std::string> subdirs;
    absl::Status status;
    errno = 0;
    while (struct dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      errno = 0;
      if (name == "." || name == "..") continue;
      struct stat st;
      if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;
        status = absl::ErrnoToStatus(errno, absl::StrCat("stat ", path, "/", name));
        break;
      }
      Count(st);
      if (S_ISDIR(st.st_mode) && st.st_dev == dev) subdirs.push_back(name);
      errno = 0;
    }
    if (status.ok() && errno != 0) {
      status = absl::ErrnoToStatus(errno, absl::StrCat("read directory ", path));
    }
    closedir(d);
    BERTH_RETURN_IF_ERROR(status);
    for (const std::string& name : subdirs) {
      const std::string sub = absl::StrCat(path, "/", name);
      const int fd = openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) {
        if (errno == ENOENT) continue;
        return absl::ErrnoToStatus(errno, absl::StrCat("open ", sub));
      }
      absl::Status s = IsMountRoot(fd) ? absl::OkStatus() : Walk(fd, sub, dev);
      close(fd);
      BERTH_RETURN_IF_ERROR(s);
    }
    return absl::OkStatus();
  }

  void Count(const struct stat& st) {
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 &&
        !seen_.insert({static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)})
             .second) {
      return;  // another name of an inode already counted
    }
    usage_.inodes += 1;
    usage_.size += static_cast<int64_t>(st.st_blocks) * 512;
  }

  // A bind mount of the same file system has the same st_dev: statx tells (Linux 5.8+).
  static bool IsMountRoot(int fd) {
    struct statx stx;
    if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) != 0) return false;
    return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0 &&
           (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  }

  const DiskUsage& usage() const { return usage_; }

 private:
  DiskUsage usage_;
  absl::flat_hash_set<std::pair<uint64_t, uint64_t>> seen_;
};

}  // namespace

absl::StatusOr<DiskUsage> DirDiskUsage(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", dir));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return absl::ErrnoToStatus(err, absl::StrCat("stat ", dir));
  }
  if (!S_ISDIR(st.st_mode)) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat(dir, " is not a directory"));
  }
  Walker walker;
  walker.Count(st);
  absl::Status s = walker.Walk(fd, dir, st.st_dev);
  close(fd);
  BERTH_RETURN_IF_ERROR(s);
  return walker.usage();
}

}  // namespace berth::containerd::snapshots
