#include "runc/cgroups/dirs.h"

#include <errno.h>
#include <signal.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runc/cgroups/device_filter.h"
#include "runc/cgroups/fs_ops.h"

namespace berth::runc::cgroups::internal {
namespace {

constexpr absl::string_view kMagic = "berth-cgroups";

std::string Escape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case ' ':
        out += "\\040";
        break;
      case '\t':
        out += "\\011";
        break;
      case '\n':
        out += "\\012";
        break;
      case '\\':
        out += "\\134";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

bool Unescape(absl::string_view s, std::string* out) {
  out->clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out->push_back(s[i]);
      continue;
    }
    if (i + 3 >= s.size()) return false;
    int v = 0;
    for (int k = 1; k <= 3; ++k) {
      char c = s[i + k];
      if (c < '0' || c > '7') return false;
      v = v * 8 + (c - '0');
    }
    if (v > 255) return false;
    out->push_back(static_cast<char>(v));
    i += 3;
  }
  return true;
}

// The components of `path` below `mount_point`; false if it is not strictly below.
bool Below(absl::string_view path, absl::string_view mount_point,
           std::vector<absl::string_view>* parts) {
  if (!absl::StartsWith(path, mount_point)) return false;
  absl::string_view rest = path.substr(mount_point.size());
  if (!mount_point.empty() && mount_point.back() != '/') {
    if (rest.empty() || rest[0] != '/') return false;
  }
  *parts = absl::StrSplit(rest, '/', absl::SkipEmpty());
  for (absl::string_view p : *parts) {
    if (p == "." || p == "..") return false;
  }
  return !parts->empty();
}

}  // namespace

Env Env::From(const Options& options) {
  Env env;
  env.fs = options.fs != nullptr ? options.fs : &RealCgroupFs();
  env.device_filter_installer = options.device_filter_installer != nullptr
                                    ? options.device_filter_installer
                                    : &KernelDeviceFilterInstaller();
  env.warn = options.warn;
  env.freeze_timeout = options.freeze_timeout;
  env.destroy_timeout = options.destroy_timeout;
  return env;
}

absl::Status MakeDir(CgroupFs& fs, CgroupDir* d, std::vector<std::string>* made) {
  std::vector<absl::string_view> parts;
  if (!Below(d->where.path, d->where.mount_point, &parts)) {
    return absl::InternalError(
        absl::StrCat("cgroup ", d->where.path, " is not below ", d->where.mount_point));
  }
  // A concurrent Destroy of a sibling container may remove a shared parent (e.g.
  // /berth-runc) between our mkdirs: then mkdir says ENOENT and we start over.
  for (int attempt = 0;; ++attempt) {
    std::string cur = d->where.mount_point;
    int made_here = 0;
    int err = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
      cur = JoinPath(cur, parts[i]);
      err = fs.Mkdir(cur);
      if (err == EEXIST) {
        err = 0;
        continue;
      }
      if (err != 0) break;
      made->push_back(cur);
      made_here = static_cast<int>(parts.size() - i);
      if (made_here > d->created) d->created = made_here;
    }
    if (err == 0) return absl::OkStatus();
    if (err != ENOENT || attempt >= 3) {
      return ErrnoStatus(err, "", absl::StrCat("create cgroup ", cur));
    }
  }
}

absl::Status RemoveDir(CgroupFs& fs, const CgroupDir& d, absl::Duration timeout) {
  if (d.created <= 0) return absl::OkStatus();
  absl::Status s = RemoveCgroupTree(fs, d.where.path, timeout);
  if (!s.ok()) return s;
  std::string parent = d.where.path;
  for (int i = 1; i < d.created; ++i) {
    size_t slash = parent.rfind('/');
    if (slash == std::string::npos || slash == 0) break;
    parent.resize(slash);
    if (parent.size() <= d.where.mount_point.size()) break;  // never the mount point itself
    int err = fs.Rmdir(parent);
    if (err != 0 && err != ENOENT) break;  // in use by another container: leave it
  }
  return absl::OkStatus();
}

std::string SerializeDirs(bool unified, const std::vector<CgroupDir>& dirs) {
  std::string out = absl::StrCat(kMagic, unified ? " v2\n" : " v1\n");
  for (const CgroupDir& d : dirs) {
    absl::StrAppend(&out, d.where.controllers.empty() ? "-" : d.where.controllers, " ", d.created,
                    " ", Escape(d.where.mount_point), " ", Escape(d.where.path), "\n");
  }
  return out;
}

absl::Status ParseDirs(absl::string_view text, bool* unified, std::vector<CgroupDir>* dirs) {
  auto bad = [](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("cgroup state: ", why));
  };
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  if (lines.empty()) return bad("empty");
  if (lines[0] == absl::StrCat(kMagic, " v1")) {
    *unified = false;
  } else if (lines[0] == absl::StrCat(kMagic, " v2")) {
    *unified = true;
  } else {
    return bad(absl::StrCat("unknown header \"", lines[0], "\""));
  }
  dirs->clear();
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<absl::string_view> f = absl::StrSplit(lines[i], ' ');
    if (f.size() != 4) return bad(absl::StrCat("line ", i + 1, " does not have 4 fields"));
    CgroupDir d;
    d.where.controllers = f[0] == "-" ? "" : std::string(f[0]);
    if (!absl::SimpleAtoi(f[1], &d.created) || d.created < 0) {
      return bad(absl::StrCat("line ", i + 1, ": bad count \"", f[1], "\""));
    }
    if (!Unescape(f[2], &d.where.mount_point) || !Unescape(f[3], &d.where.path)) {
      return bad(absl::StrCat("line ", i + 1, ": bad escape"));
    }
    std::vector<absl::string_view> parts;
    if (d.where.mount_point.empty() || d.where.mount_point[0] != '/' ||
        !Below(d.where.path, d.where.mount_point, &parts) ||
        d.created > static_cast<int>(parts.size())) {
      return bad(absl::StrCat("line ", i + 1, ": ", d.where.path, " is not a cgroup below ",
                              d.where.mount_point));
    }
    if (*unified != d.where.controllers.empty()) {
      return bad(absl::StrCat("line ", i + 1, ": controllers do not match the version"));
    }
    dirs->push_back(std::move(d));
  }
  if (dirs->empty() || (*unified && dirs->size() != 1)) {
    return bad(*unified ? "v2 needs exactly one directory" : "no directories");
  }
  return absl::OkStatus();
}

absl::Status SignalAll(Manager& m, int signal, bool can_freeze) {
  bool was_frozen = false;
  if (can_freeze) {
    absl::StatusOr<bool> f = m.IsFrozen();
    was_frozen = f.ok() && *f;
  }
  bool froze = can_freeze && !was_frozen && m.Freeze().ok();
  absl::StatusOr<std::vector<pid_t>> pids = m.Pids();
  absl::Status result = pids.status();
  if (pids.ok()) {
    for (pid_t pid : *pids) {
      if (kill(pid, signal) != 0 && errno != ESRCH && result.ok()) {
        result = ErrnoStatus(errno, "", absl::StrCat("kill ", pid));
      }
    }
  }
  if (froze || (was_frozen && signal == SIGKILL)) {
    absl::Status t = m.Thaw();
    if (result.ok()) result = t;
  }
  return result;
}

}  // namespace berth::runc::cgroups::internal
