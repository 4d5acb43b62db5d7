#include "common/mount/mount.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status/status_macros.h"

namespace berth::mount_util {
namespace {

struct FlagOption {
  bool clear;
  unsigned long flag;
};

// mount(8) flag options (as containerd's parseMountOptions knows them).
const absl::flat_hash_map<std::string, FlagOption>& FlagOptions() {
  static const auto* const kFlags = new absl::flat_hash_map<std::string, FlagOption>{
      {"async", {true, MS_SYNCHRONOUS}},
      {"atime", {true, MS_NOATIME}},
      {"bind", {false, MS_BIND}},
      {"defaults", {false, 0}},
      {"dev", {true, MS_NODEV}},
      {"diratime", {true, MS_NODIRATIME}},
      {"dirsync", {false, MS_DIRSYNC}},
      {"exec", {true, MS_NOEXEC}},
      {"mand", {false, MS_MANDLOCK}},
      {"noatime", {false, MS_NOATIME}},
      {"nodev", {false, MS_NODEV}},
      {"nodiratime", {false, MS_NODIRATIME}},
      {"noexec", {false, MS_NOEXEC}},
      {"nomand", {true, MS_MANDLOCK}},
      {"norelatime", {true, MS_RELATIME}},
      {"nostrictatime", {true, MS_STRICTATIME}},
      {"nosuid", {false, MS_NOSUID}},
      {"rbind", {false, MS_BIND | MS_REC}},
      {"relatime", {false, MS_RELATIME}},
      {"remount", {false, MS_REMOUNT}},
      {"ro", {false, MS_RDONLY}},
      {"rw", {true, MS_RDONLY}},
      {"strictatime", {false, MS_STRICTATIME}},
      {"suid", {true, MS_NOSUID}},
      {"sync", {false, MS_SYNCHRONOUS}},
  };
  return *kFlags;
}

const absl::flat_hash_map<std::string, unsigned long>& PropagationOptions() {
  static const auto* const kPropagation = new absl::flat_hash_map<std::string, unsigned long>{
      {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
      {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
      {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
      {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
  };
  return *kPropagation;
}

// Flags a read-only (or nosuid, ...) bind mount needs a remount for: the first bind ignores them.
constexpr unsigned long kBindRemountFlags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC |
                                            MS_NOATIME | MS_NODIRATIME | MS_RELATIME |
                                            MS_STRICTATIME;

// "a/b" joined under `dir`; InvalidArgument for an absolute path or a ".." component, so a Mount
// can never land outside the directory being assembled.
absl::StatusOr<std::string> JoinTarget(const std::string& dir, const std::string& rel) {
  if (rel.empty()) return dir;
  if (rel[0] == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("mount target \"", rel, "\" must be relative to the rootfs"));
  }
  for (absl::string_view part : absl::StrSplit(rel, '/')) {
    if (part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("mount target \"", rel, "\" must not contain \"..\""));
    }
  }
  return absl::StrCat(dir, "/", rel);
}

// The directory part of an absolute path: everything up to its last '/', "/" for "/x".
std::string DirOf(absl::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == 0 || slash == absl::string_view::npos) return "/";
  return std::string(path.substr(0, slash));
}

// Whether `path` is `dir` or below it.
bool IsUnder(absl::string_view path, absl::string_view dir) {
  if (dir == "/") return absl::StartsWith(path, "/");
  return path == dir ||
         (absl::StartsWith(path, dir) && path.size() > dir.size() && path[dir.size()] == '/');
}

std::string RelativeTo(absl::string_view path, absl::string_view base) {
  if (path == base) return ".";
  return std::string(path.substr(base == "/" ? 1 : base.size() + 1));
}

struct MountAtArgs {
  const char* dir;
  const char* source;
  const char* target;
  const char* type;
  unsigned long flags;
  const char* data;
  int err = 0;
  const char* failed = nullptr;
};

// Runs on its own thread: a private fs_struct (cwd), then chdir and mount.
void* MountAtThread(void* arg) {
  auto* a = static_cast<MountAtArgs*>(arg);
  if (unshare(CLONE_FS) != 0) {
    a->err = errno;
    a->failed = "unshare(CLONE_FS)";
  } else if (chdir(a->dir) != 0) {
    a->err = errno;
    a->failed = "chdir";
  } else if (mount(a->source, a->target, a->type, a->flags, a->data) != 0) {
    a->err = errno;
    a->failed = "mount";
  }
  return nullptr;
}

// mount(2) with `dir` as the working directory, without moving any other thread's.
absl::Status MountAt(const std::string& dir, const std::string& source, const std::string& target,
                     const std::string& type, unsigned long flags, const std::string& data) {
  MountAtArgs args{dir.c_str(), source.c_str(), target.c_str(), type.c_str(), flags, data.c_str()};
  pthread_t thread;
  if (const int err = pthread_create(&thread, nullptr, &MountAtThread, &args); err != 0) {
    return absl::ErrnoToStatus(err, "start mount thread");
  }
  pthread_join(thread, nullptr);
  if (args.err != 0) {
    return absl::ErrnoToStatus(args.err, absl::StrCat(args.failed, " (from ", dir, ")"));
  }
  return absl::OkStatus();
}

// A path from /proc/*/mountinfo with its octal escapes (\040 for ' ', ...) decoded.
std::string Unescape(absl::string_view s) {
  auto is_octal = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && is_octal(s[i + 1]) && is_octal(s[i + 2]) &&
        is_octal(s[i + 3])) {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

// Mount points at or under `dir`, in mountinfo order (parents before children, older before
// newer). The calling thread's view: it may have setns'd into another mount namespace.
absl::StatusOr<std::vector<std::string>> MountPointsUnder(const std::string& dir) {
  std::ifstream in("/proc/thread-self/mountinfo");
  if (!in) return absl::ErrnoToStatus(errno, "open /proc/thread-self/mountinfo");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    // id parent major:minor root mount-point options ...
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    if (fields.size() < 5) continue;
    std::string mp = Unescape(fields[4]);
    if (IsUnder(mp, dir)) out.push_back(std::move(mp));
  }
  return out;
}

// Applies `propagation` (MS_PRIVATE, ...; 0: nothing) to the mount at `dest`; on failure
// unmounts it, so the caller sees all or nothing.
absl::Status SetPropagation(const std::string& dest, unsigned long propagation) {
  if (propagation == 0) return absl::OkStatus();
  if (mount("", dest.c_str(), nullptr, propagation, nullptr) != 0) {
    const int err = errno;
    umount2(dest.c_str(), MNT_DETACH);
    return absl::ErrnoToStatus(err, "set mount propagation");
  }
  return absl::OkStatus();
}

// Makes one mount at `dest`.
absl::Status MountOne(const Mount& m, const std::string& dest) {
  const MountArgs args = ParseMountOptions(m.options);
  const bool bind = m.type == "bind" || (args.flags & MS_BIND) != 0;
  if (bind) {
    const unsigned long flags = args.flags | MS_BIND;
    if (mount(m.source.c_str(), dest.c_str(), nullptr, flags & (MS_BIND | MS_REC), nullptr) != 0) {
      return absl::ErrnoToStatus(errno, "bind mount");
    }
    if ((flags & kBindRemountFlags) != 0) {
      const unsigned long remount = MS_REMOUNT | MS_BIND | (flags & kBindRemountFlags);
      if (mount("", dest.c_str(), nullptr, remount, nullptr) != 0) {
        const int err = errno;
        umount2(dest.c_str(), MNT_DETACH);
        return absl::ErrnoToStatus(err, "remount bind mount");
      }
    }
  } else {
    if (m.type == "overlay" && args.data.size() > CompactThreshold()) {
      absl::StatusOr<CompactedData> compact = CompactOverlayData(args.data);
      if (compact.ok() && compact->data.size() <= MountDataLimit()) {
        BERTH_RETURN_IF_ERROR(
            MountAt(compact->base, m.source, dest, m.type, args.flags, compact->data));
        return SetPropagation(dest, args.propagation);
      }
      if (args.data.size() > MountDataLimit()) {
        if (!compact.ok()) return compact.status();
        return absl::InvalidArgumentError(
            absl::StrCat("overlay options are ", compact->data.size(),
                         " bytes even with paths relative to ", compact->base, " (",
                         compact->layers, " layers): over mount(2)'s limit of ", MountDataLimit()));
      }
      // Cannot be shortened, but fits as it is.
    }
    if (args.data.size() > MountDataLimit()) {
      return absl::InvalidArgumentError(
          absl::StrCat(m.type, " mount options are ", args.data.size(),
                       " bytes: over mount(2)'s limit of ", MountDataLimit()));
    }
    if (mount(m.source.c_str(), dest.c_str(), m.type.c_str(), args.flags,
              args.data.empty() ? nullptr : args.data.c_str()) != 0) {
      return absl::ErrnoToStatus(errno, "mount");
    }
  }
  return SetPropagation(dest, args.propagation);
}

}  // namespace

MountArgs ParseMountOptions(const std::vector<std::string>& options) {
  MountArgs out;
  std::vector<absl::string_view> data;
  for (const std::string& o : options) {
    if (auto it = FlagOptions().find(o); it != FlagOptions().end()) {
      if (it->second.clear) {
        out.flags &= ~it->second.flag;
      } else {
        out.flags |= it->second.flag;
      }
    } else if (auto p = PropagationOptions().find(o); p != PropagationOptions().end()) {
      out.propagation = p->second;
    } else {
      data.push_back(o);
    }
  }
  out.data = absl::StrJoin(data, ",");
  return out;
}

size_t MountDataLimit() {
  const long page = sysconf(_SC_PAGESIZE);
  return (page > 0 ? static_cast<size_t>(page) : 4096) - 1;
}

size_t CompactThreshold() { return MountDataLimit() + 1 - 512; }

absl::StatusOr<CompactedData> CompactOverlayData(const std::string& data) {
  std::vector<std::string> opts = absl::StrSplit(data, ',');
  int lower_index = -1;
  for (size_t i = 0; i < opts.size(); ++i) {
    if (absl::StartsWith(opts[i], "lowerdir=")) lower_index = static_cast<int>(i);
  }
  if (lower_index < 0) return absl::InvalidArgumentError("overlay options have no lowerdir");
  const std::string lower_value = opts[lower_index].substr(strlen("lowerdir="));
  if (absl::StrContains(lower_value, '\\')) {
    return absl::InvalidArgumentError("cannot shorten a lowerdir that uses '\\' escapes");
  }
  std::vector<std::string> lowers = absl::StrSplit(lower_value, ':');
  // The longest directory every lowerdir is under.
  std::string base;
  for (const std::string& l : lowers) {
    if (l.empty() || l[0] != '/') {
      return absl::InvalidArgumentError(absl::StrCat("lowerdir \"", l, "\" is not absolute"));
    }
    std::string dir = DirOf(l);
    if (base.empty()) {
      base = dir;
      continue;
    }
    while (!IsUnder(dir, base)) base = DirOf(base);
  }
  for (std::string& l : lowers) l = RelativeTo(l, base);
  opts[lower_index] = absl::StrCat("lowerdir=", absl::StrJoin(lowers, ":"));
  for (std::string& o : opts) {
    for (absl::string_view key : {"upperdir=", "workdir="}) {
      if (!absl::StartsWith(o, key)) continue;
      const absl::string_view path = absl::string_view(o).substr(key.size());
      if (path.empty() || path[0] != '/') {
        // It would be resolved against the base instead of the caller's directory.
        return absl::InvalidArgumentError(absl::StrCat(key, "\"", path, "\" is not absolute"));
      }
      if (IsUnder(path, base) && path != base) o = absl::StrCat(key, RelativeTo(path, base));
    }
  }
  return CompactedData{base, absl::StrJoin(opts, ","), lowers.size()};
}

absl::Status MountAll(const std::vector<Mount>& mounts, const std::string& target) {
  if (target.empty()) return absl::InvalidArgumentError("mount target must not be empty");
  std::string root = target;
  if (root[0] != '/') {
    // MountAt changes directory: make the target independent of the working directory.
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == nullptr) return absl::ErrnoToStatus(errno, "getcwd");
    root = absl::StrCat(cwd, "/", target);
  }
  std::vector<std::string> done;
  absl::Cleanup undo = [&done] {
    for (auto it = done.rbegin(); it != done.rend(); ++it) umount2(it->c_str(), MNT_DETACH);
  };
  for (const Mount& m : mounts) {
    BERTH_ASSIGN_OR_RETURN(std::string dest, JoinTarget(root, m.target));
    BERTH_RETURN_IF_ERROR(MountOne(m, dest), absl::StrCat("mount ", m.type, " on ", dest));
    done.push_back(std::move(dest));
  }
  std::move(undo).Cancel();
  return absl::OkStatus();
}

absl::Status UnmountAll(const std::string& target, int flags) {
  char resolved[PATH_MAX];
  if (realpath(target.c_str(), resolved) == nullptr) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::ErrnoToStatus(errno, absl::StrCat("resolve ", target));
  }
  const absl::Time busy_deadline = absl::Now() + absl::Seconds(1);
  while (true) {
    BERTH_ASSIGN_OR_RETURN(std::vector<std::string> points, MountPointsUnder(resolved));
    if (points.empty()) return absl::OkStatus();
    // Newest first: a later mount may cover an earlier one (stacked, or over a parent).
    int unmounted = 0;
    int last_err = 0;
    std::string last_point;
    for (auto it = points.rbegin(); it != points.rend(); ++it) {
      if (umount2(it->c_str(), flags) == 0) {
        ++unmounted;
        break;  // re-read: what is visible has changed
      }
      last_err = errno;
      last_point = *it;
    }
    if (unmounted > 0) continue;
    if (last_err == EBUSY && absl::Now() < busy_deadline) {
      absl::SleepFor(absl::Milliseconds(20));
      continue;
    }
    if (last_err == EBUSY) {
      return absl::FailedPreconditionError(absl::StrCat("unmount ", last_point, ": still busy"));
    }
    return absl::ErrnoToStatus(last_err, absl::StrCat("unmount ", last_point));
  }
}

}  // namespace berth::mount_util
