#include "common/testing/leftovers.h"

#include <dirent.h>
#include <glob.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/fs/fs.h"
#include "common/mount/mount.h"

namespace berth::testing {
namespace {

bool IsOctal(char c) { return c >= '0' && c <= '7'; }

// Removes cgroup directory `path` and everything under it, deepest first. The directories below
// `path` that existed, and any that could not be removed, go to `left`.
void RemoveCgroupTree(const std::string& path, bool is_parent, std::vector<std::string>& left) {
  if (DIR* d = opendir(path.c_str())) {
    std::vector<std::string> children;
    while (dirent* e = readdir(d)) {
      if (e->d_type == DT_DIR && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
        children.push_back(absl::StrCat(path, "/", e->d_name));
      }
    }
    closedir(d);
    for (const std::string& child : children) RemoveCgroupTree(child, false, left);
  }
  if (!is_parent) left.push_back(path);
  if (rmdir(path.c_str()) != 0 && errno != ENOENT) {
    left.push_back(absl::StrCat(path, " (rmdir: ", strerror(errno), ")"));
  }
}

}  // namespace

absl::StatusOr<std::vector<std::string>> MountsUnder(const std::string& dir) {
  absl::StatusOr<std::string> info = fs::ReadFile("/proc/self/mountinfo");
  if (!info.ok()) return info.status();
  const std::string prefix = std::string(absl::StripSuffix(dir, "/")) + "/";
  std::vector<std::string> found;
  for (absl::string_view line : absl::StrSplit(*info, '\n', absl::SkipEmpty())) {
    // mountinfo: id parent major:minor root mount-point options ... (proc(5)).
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    if (fields.size() < 5) continue;
    std::string point;
    const absl::string_view raw = fields[4];
    for (size_t i = 0; i < raw.size(); ++i) {
      // Octal escapes for space, tab, newline and backslash: \040, \011, \012, \134.
      if (raw[i] == '\\' && i + 3 < raw.size() && IsOctal(raw[i + 1]) && IsOctal(raw[i + 2]) &&
          IsOctal(raw[i + 3])) {
        point.push_back(static_cast<char>((raw[i + 1] - '0') * 64 + (raw[i + 2] - '0') * 8 +
                                          (raw[i + 3] - '0')));
        i += 3;
      } else {
        point.push_back(raw[i]);
      }
    }
    if (point + "/" == prefix || absl::StartsWith(point, prefix)) found.push_back(point);
  }
  return found;
}

std::vector<std::string> UnmountLeftovers(const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> left = MountsUnder(dir);
  if (!left.ok() || left->empty()) return {};
  berth::mount_util::UnmountAll(dir, MNT_DETACH).IgnoreError();
  return *left;
}

std::vector<std::string> RemoveCgroupParent(const std::string& parent) {
  std::vector<std::string> left;
  glob_t g;
  if (glob(absl::StrCat("/sys/fs/cgroup/*", parent).c_str(), GLOB_ONLYDIR, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) RemoveCgroupTree(g.gl_pathv[i], true, left);
    globfree(&g);
  }
  const std::string v2 = "/sys/fs/cgroup" + parent;
  struct stat st;
  if (lstat(v2.c_str(), &st) == 0) RemoveCgroupTree(v2, true, left);
  return left;
}

}  // namespace berth::testing
