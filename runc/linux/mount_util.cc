#include "runc/linux/mount_util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"

namespace berth::runc::linux {
namespace {

// Kernel value (include/linux/statfs.h); glibc 2.36 does not name it.
constexpr unsigned long kStNoSymFollow = 0x2000;

// Enough for any sane rootfs, like the kernel's MAXSYMLINKS.
constexpr int kMaxSymlinks = 40;

constexpr uint64_t kResolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

int OpenAt2(int dirfd, const std::string& path, uint64_t flags) {
  struct open_how how = {};
  how.flags = flags;
  how.resolve = kResolve;
  int fd;
  do {
    fd = static_cast<int>(syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof(how)));
  } while (fd < 0 && errno == EAGAIN);  // a concurrent rename in the tree: retry
  return fd;
}

// "/a/b" -> "a/b"; "/" -> ".": what openat2 takes relative to the root fd.
std::string Relative(const std::string& clean) {
  return clean == "/" ? std::string(".") : clean.substr(1);
}

std::string JoinComponents(const std::vector<std::string>& comps, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) absl::StrAppend(&out, "/", comps[i]);
  return out.empty() ? std::string("/") : out;
}

absl::StatusOr<std::string> ReadLinkAt(int dirfd, const std::string& name) {
  std::string buf(256, '\0');
  while (true) {
    ssize_t n = readlinkat(dirfd, name.c_str(), buf.data(), buf.size());
    if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("readlink ", name));
    if (static_cast<size_t>(n) < buf.size()) {
      buf.resize(n);
      return buf;
    }
    buf.resize(buf.size() * 2);
  }
}

// The container path of `fd`, a directory inside the root `root_fd`.
absl::StatusOr<std::string> InRootPath(int root_fd, int fd) {
  BERTH_ASSIGN_OR_RETURN(std::string root, FdPath(root_fd));
  BERTH_ASSIGN_OR_RETURN(std::string path, FdPath(fd));
  if (root == "/") return path;
  if (path == root) return std::string("/");
  if (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
      path[root.size()] == '/') {
    return path.substr(root.size());
  }
  return absl::InternalError(absl::StrCat(path, " is not inside the rootfs ", root));
}

std::string Unescape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    auto octal = [&](size_t k) { return s[k] >= '0' && s[k] <= '7'; };
    if (s[i] == '\\' && i + 3 < s.size() && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

std::string CleanPath(absl::string_view path) {
  std::vector<absl::string_view> out;
  for (absl::string_view c : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (c == ".") continue;
    if (c == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.push_back(c);
  }
  return absl::StrCat("/", absl::StrJoin(out, "/"));
}

std::string ProcFdPath(int fd) { return absl::StrCat("/proc/self/fd/", fd); }

absl::StatusOr<std::string> FdPath(int fd) {
  std::string link = ProcFdPath(fd);
  char buf[PATH_MAX + 1];
  ssize_t n = readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("readlink ", link));
  return std::string(buf, n);
}

absl::StatusOr<UniqueFd> OpenInRoot(int root_fd, absl::string_view path, CreateMode create) {
  std::string p = CleanPath(path);
  for (int hops = 0; hops <= kMaxSymlinks; ++hops) {
    int fd = OpenAt2(root_fd, Relative(p), O_PATH | O_CLOEXEC);
    if (fd >= 0) return UniqueFd(fd);
    if (errno != ENOENT || create == CreateMode::kNone) {
      return absl::ErrnoToStatus(errno, absl::StrCat("open ", p));
    }

    // Find the longest prefix that exists; "/" (the root itself) always does.
    std::vector<std::string> comps = absl::StrSplit(p, '/', absl::SkipEmpty());
    size_t first_missing = comps.size();
    UniqueFd parent;
    while (!parent.valid()) {
      --first_missing;
      std::string prefix = JoinComponents(comps, 0, first_missing);
      int pfd = OpenAt2(root_fd, Relative(prefix), O_PATH | O_CLOEXEC | O_DIRECTORY);
      if (pfd >= 0) {
        parent.reset(pfd);
      } else if (errno != ENOENT || first_missing == 0) {
        return absl::ErrnoToStatus(errno, absl::StrCat("open ", prefix));
      }
    }

    // Create the rest one component at a time, relative to the resolved parent.
    std::string redirect;  // set when a dangling symlink sends us elsewhere
    for (size_t j = first_missing; j < comps.size(); ++j) {
      const std::string& name = comps[j];
      const std::string here = JoinComponents(comps, 0, j + 1);
      const bool make_file = j + 1 == comps.size() && create == CreateMode::kFile;
      int rc;
      if (make_file) {
        int ffd = openat(parent.get(), name.c_str(),
                         O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        rc = ffd >= 0 ? 0 : -1;
        if (ffd >= 0) close(ffd);
      } else {
        rc = mkdirat(parent.get(), name.c_str(), 0755);
      }
      if (rc != 0 && errno != EEXIST) {
        return absl::ErrnoToStatus(errno, absl::StrCat(make_file ? "create " : "mkdir ", here));
      }
      if (rc != 0) {
        // It exists after all: created concurrently, or a symlink whose target is missing.
        struct stat st;
        if (fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
          return absl::ErrnoToStatus(errno, absl::StrCat("stat ", here));
        }
        if (S_ISLNK(st.st_mode)) {
          BERTH_ASSIGN_OR_RETURN(std::string target, ReadLinkAt(parent.get(), name));
          std::string base = "/";
          if (target.empty() || target[0] != '/') {
            BERTH_ASSIGN_OR_RETURN(base, InRootPath(root_fd, parent.get()));
          }
          redirect = CleanPath(
              absl::StrCat(base, "/", target, JoinComponents(comps, j + 1, comps.size())));
          break;
        }
      }
      int nfd = openat(parent.get(), name.c_str(),
                       O_PATH | O_NOFOLLOW | O_CLOEXEC | (make_file ? 0 : O_DIRECTORY));
      if (nfd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", here));
      parent.reset(nfd);
    }
    if (redirect.empty()) return parent;
    p = std::move(redirect);
  }
  return absl::ErrnoToStatus(ELOOP, absl::StrCat("resolve ", path));
}

bool MountInfo::Shared() const {
  for (const std::string& f : optional_fields) {
    if (absl::StartsWith(f, "shared:")) return true;
  }
  return false;
}

absl::StatusOr<std::vector<MountInfo>> ParseMountInfo(absl::string_view text) {
  std::vector<MountInfo> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    auto bad = [&] {
      return absl::InvalidArgumentError(absl::StrCat("malformed mountinfo line: ", line));
    };
    // id parent major:minor root mount-point options [optional...] - type source super
    if (f.size() < 10) return bad();
    MountInfo m;
    if (!absl::SimpleAtoi(f[0], &m.id) || !absl::SimpleAtoi(f[1], &m.parent_id)) return bad();
    m.root = Unescape(f[3]);
    m.mount_point = Unescape(f[4]);
    m.options = std::string(f[5]);
    size_t i = 6;
    while (i < f.size() && f[i] != "-") m.optional_fields.emplace_back(f[i++]);
    if (i + 2 >= f.size()) return bad();  // no " - type source"
    m.fs_type = Unescape(f[i + 1]);
    m.source = Unescape(f[i + 2]);
    m.super_options = i + 3 < f.size() ? std::string(f[i + 3]) : std::string();
    out.push_back(std::move(m));
  }
  return out;
}

absl::StatusOr<std::vector<MountInfo>> ReadMountInfo() {
  BERTH_ASSIGN_OR_RETURN(std::string text, fs::ReadFile("/proc/self/mountinfo"));
  return ParseMountInfo(text);
}

unsigned long MountFlagsFromStatfs(unsigned long f) {
  unsigned long flags = 0;
  if (f & ST_RDONLY) flags |= MS_RDONLY;
  if (f & ST_NOSUID) flags |= MS_NOSUID;
  if (f & ST_NODEV) flags |= MS_NODEV;
  if (f & ST_NOEXEC) flags |= MS_NOEXEC;
  if (f & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (f & kStNoSymFollow) flags |= MS_NOSYMFOLLOW;
  if (f & ST_NOATIME) {
    flags |= MS_NOATIME;
  } else if (f & ST_RELATIME) {
    flags |= MS_RELATIME;
  } else {
    flags |= MS_STRICTATIME;
  }
  return flags;
}

absl::StatusOr<unsigned long> MountFlagsOfFd(int fd) {
  struct statfs st;
  if (fstatfs(fd, &st) != 0) return absl::ErrnoToStatus(errno, "statfs");
  return MountFlagsFromStatfs(st.f_flags);
}

unsigned long BindRemountFlags(unsigned long current, unsigned long set, unsigned long clear) {
  unsigned long flags = current & kPerMountFlags & ~clear;
  if ((set | clear) & kAtimeFlags) flags &= ~kAtimeFlags;
  flags |= set & kPerMountFlags;
  return flags;
}

int MountErrno(const std::string& source, const std::string& target, const std::string& fstype,
               unsigned long flags, const std::string& data) {
  if (::mount(source.empty() ? nullptr : source.c_str(), target.c_str(),
              fstype.empty() ? nullptr : fstype.c_str(), flags,
              data.empty() ? nullptr : data.c_str()) != 0) {
    return errno;
  }
  return 0;
}

absl::Status Mount(const std::string& source, const std::string& target, const std::string& fstype,
                   unsigned long flags, const std::string& data, absl::string_view what) {
  int err = MountErrno(source, target, fstype, flags, data);
  if (err != 0) return absl::ErrnoToStatus(err, what);
  return absl::OkStatus();
}

}  // namespace berth::runc::linux
