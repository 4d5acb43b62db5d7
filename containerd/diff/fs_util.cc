#include "containerd/diff/fs_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status/status_macros.h"

namespace berth::containerd::diff::internal {
namespace {

// Set once openat2 turned out to be missing (kernel < 5.6, or a seccomp filter that answers
// ENOSYS/EPERM for unknown syscalls, as container runtimes' default profiles do).
std::atomic<bool> openat2_unavailable{false};

constexpr uint64_t kBeneathResolve =
    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;

// Maps the errors of a no-symlink, no-mount-crossing open to statuses that say why.
absl::Status OpenError(int err, absl::string_view rel) {
  switch (err) {
    case ELOOP:
      return absl::FailedPreconditionError(
          absl::StrCat("open ", rel, ": a path component is a symlink (never followed)"));
    case ENOTDIR:
      return absl::FailedPreconditionError(
          absl::StrCat("open ", rel, ": a path component is not a directory"));
    case EXDEV:
      return absl::FailedPreconditionError(
          absl::StrCat("open ", rel, ": path crosses a mount point or leaves the root"));
    default:
      return PathError(err, "open", rel);
  }
}

// The component walk used where openat2 is missing: one O_NOFOLLOW open per component, with a
// device check standing in for RESOLVE_NO_XDEV (bind mounts of the same file system are not
// detected, which openat2 would catch; kernels that old are not berth's target).
absl::StatusOr<UniqueFd> WalkBeneath(int root_fd, absl::string_view rel) {
  struct stat root_st;
  if (fstat(root_fd, &root_st) != 0) return absl::ErrnoToStatus(errno, "fstat root");
  UniqueFd cur(fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  if (!cur.valid()) return absl::ErrnoToStatus(errno, "dup root");
  for (absl::string_view comp : absl::StrSplit(rel, '/', absl::SkipEmpty())) {
    if (comp == "." || comp == "..") {
      return absl::FailedPreconditionError(absl::StrCat("open ", rel, ": \"..\" or \".\""));
    }
    UniqueFd next(openat(cur.get(), std::string(comp).c_str(),
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) return OpenError(errno, rel);
    struct stat st;
    if (fstat(next.get(), &st) != 0) return PathError(errno, "fstat", rel);
    if (st.st_dev != root_st.st_dev) return OpenError(EXDEV, rel);
    cur = std::move(next);
  }
  return cur;
}

}  // namespace

absl::Status PathError(int err, absl::string_view op, absl::string_view path) {
  return absl::ErrnoToStatus(err, absl::StrCat(op, " ", path.empty() ? "." : path));
}

absl::StatusOr<std::vector<std::string>> CleanEntryPath(absl::string_view name) {
  std::vector<std::string> out;
  for (absl::string_view comp : absl::StrSplit(name, '/', absl::SkipEmpty())) {
    if (comp == ".") continue;
    if (comp == "..") {
      if (out.empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat("entry \"", name, "\" points outside the layer root"));
      }
      out.pop_back();
      continue;
    }
    out.emplace_back(comp);
  }
  return out;
}

std::string JoinComponents(const std::vector<std::string>& components, size_t count) {
  std::string out;
  for (size_t i = 0; i < count && i < components.size(); ++i) {
    if (i > 0) out.push_back('/');
    out.append(components[i]);
  }
  return out;
}

absl::StatusOr<UniqueFd> OpenDirectory(const std::string& path, absl::string_view what) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.valid()) return fd;
  const int err = errno;
  if (err == ENOENT || err == ENOTDIR) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", path, " is not an existing directory"));
  }
  return absl::ErrnoToStatus(err, absl::StrCat("open ", what, " ", path));
}

absl::StatusOr<UniqueFd> OpenDirBeneath(int root_fd, absl::string_view rel) {
  if (rel.empty()) {
    UniqueFd fd(openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return PathError(errno, "open", ".");
    return fd;
  }
  if (!openat2_unavailable.load(std::memory_order_relaxed)) {
    struct open_how how = {};
    how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
    how.resolve = kBeneathResolve;
    const std::string path(rel);
    int fd;
    do {
      fd = static_cast<int>(syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof(how)));
      // EAGAIN: a concurrent rename raced the lookup (RESOLVE_BENEATH refuses to guess); retry.
    } while (fd < 0 && errno == EAGAIN);
    if (fd >= 0) return UniqueFd(fd);
    if (errno != ENOSYS && errno != EPERM) return OpenError(errno, rel);
    openat2_unavailable.store(true, std::memory_order_relaxed);
  }
  return WalkBeneath(root_fd, rel);
}

absl::StatusOr<UniqueFd> OpenChildDir(int dir_fd, const std::string& name) {
  return OpenDirBeneath(dir_fd, name);
}

absl::Status StatAt(int dir_fd, const std::string& name, struct stat* st, bool* exists) {
  if (fstatat(dir_fd, name.c_str(), st, AT_SYMLINK_NOFOLLOW) == 0) {
    *exists = true;
    return absl::OkStatus();
  }
  *exists = false;
  if (errno == ENOENT) return absl::OkStatus();
  return PathError(errno, "lstat", name);
}


absl::Status RemoveAllAt(int dir_fd, const std::string& name) {
  if (unlinkat(dir_fd, name.c_str(), 0) == 0 || errno == ENOENT) return absl::OkStatus();
  if (errno != EISDIR) return PathError(errno, "remove", name);
  // A directory: empty it through an fd opened without following anything, then remove it.
  absl::StatusOr<UniqueFd> sub = OpenChildDir(dir_fd, name);
  if (!sub.ok()) return Annotate(sub.status(), "remove");
  struct stat parent_st, st;
  if (fstat(dir_fd, &parent_st) != 0 || fstat(sub->get(), &st) != 0) {
    return PathError(errno, "fstat", name);
  }
  if (parent_st.st_dev != st.st_dev) {
    return absl::FailedPreconditionError(absl::StrCat("remove ", name, ": is a mount point"));
  }
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> children, ListDirAt(sub->get()));
  for (const std::string& child : children) {
    BERTH_RETURN_IF_ERROR(RemoveAllAt(sub->get(), child), absl::StrCat("in ", name));
  }
  if (unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return PathError(errno, "rmdir", name);
  }
  return absl::OkStatus();
}

std::string ProcPathAt(int dir_fd, absl::string_view name) {
  return absl::StrCat("/proc/self/fd/", dir_fd, "/", name);
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ListXattrsAt(
    int dir_fd, const std::string& name) {
  const std::string path = ProcPathAt(dir_fd, name);
  std::vector<std::pair<std::string, std::string>> out;
  std::string names;
  for (;;) {
    const ssize_t n = llistxattr(path.c_str(), nullptr, 0);
    if (n < 0) {
      if (errno == ENOTSUP) return out;
      return PathError(errno, "list xattrs of", name);
    }
    if (n == 0) return out;
    names.resize(static_cast<size_t>(n));
    const ssize_t got = llistxattr(path.c_str(), names.data(), names.size());
    if (got >= 0) {
      names.resize(static_cast<size_t>(got));
      break;
    }
    if (errno != ERANGE) return PathError(errno, "list xattrs of", name);
    // ERANGE: an xattr was added between the two calls; ask for the size again.
  }
  for (absl::string_view key : absl::StrSplit(names, '\0', absl::SkipEmpty())) {
    std::string value;
    bool found = false;
    const std::string k(key);
    BERTH_RETURN_IF_ERROR(GetXattrAt(dir_fd, name, k.c_str(), &value, &found));
    if (found) out.emplace_back(k, std::move(value));
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status GetXattrAt(int dir_fd, const std::string& name, const char* key, std::string* value,
                        bool* found) {
  const std::string path = ProcPathAt(dir_fd, name);
  *found = false;
  for (;;) {
    const ssize_t n = lgetxattr(path.c_str(), key, nullptr, 0);
    if (n < 0) {
      if (errno == ENODATA || errno == ENOTSUP) return absl::OkStatus();
      return PathError(errno, absl::StrCat("get xattr ", key, " of"), name);
    }
    value->resize(static_cast<size_t>(n));
    if (n == 0) break;
    const ssize_t got = lgetxattr(path.c_str(), key, value->data(), value->size());
    if (got >= 0) {
      value->resize(static_cast<size_t>(got));
      break;
    }
    if (errno != ERANGE) return PathError(errno, absl::StrCat("get xattr ", key, " of"), name);
  }
  *found = true;
  return absl::OkStatus();
}

}  // namespace berth::containerd::diff::internal
