#include "runc/cgroups/layout.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "runc/cgroups/fs_ops.h"

namespace berth::runc::cgroups {
namespace {

constexpr absl::string_view kV1Controllers[] = {
    "blkio",  "cpu",  "cpuacct", "cpuset",   "devices",    "freezer", "hugetlb",
    "memory", "misc", "net_cls", "net_prio", "perf_event", "pids",    "rdma",
};

bool IsV1Controller(absl::string_view c) {
  return std::find(std::begin(kV1Controllers), std::end(kV1Controllers), c) !=
         std::end(kV1Controllers);
}

bool IsOctal(char c, char max = '7') { return c >= '0' && c <= max; }

// mountinfo escapes space, tab, newline and backslash as \ooo (proc(5)).
std::string Unescape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && IsOctal(s[i + 1], '3') && IsOctal(s[i + 2]) &&
        IsOctal(s[i + 3])) {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string SortedKey(absl::string_view comma_list) {
  std::vector<std::string> parts = absl::StrSplit(comma_list, ',', absl::SkipEmpty());
  std::sort(parts.begin(), parts.end());
  return absl::StrJoin(parts, ",");
}

}  // namespace

std::vector<Hierarchy> ParseCgroupMounts(absl::string_view mountinfo) {
  std::vector<Hierarchy> out;
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    // id parent major:minor root mount-point options [optional...] - fstype source superopts
    size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (f.size() < 7 || dash + 2 >= f.size()) continue;  // needs fstype and source
    absl::string_view fstype = f[dash + 1];
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    Hierarchy h;
    h.root = Unescape(f[3]);
    h.mount_point = Unescape(f[4]);
    if (fstype == "cgroup2") {
      h.unified = true;
      out.push_back(std::move(h));
      continue;
    }
    absl::string_view superopts = dash + 3 < f.size() ? f[dash + 3] : absl::string_view();
    std::vector<std::string> controllers;
    for (absl::string_view opt : absl::StrSplit(superopts, ',', absl::SkipEmpty())) {
      if (IsV1Controller(opt) || opt == "name=systemd") controllers.emplace_back(opt);
    }
    if (controllers.empty()) continue;
    std::sort(controllers.begin(), controllers.end());
    h.controllers = absl::StrJoin(controllers, ",");
    out.push_back(std::move(h));
  }
  return out;
}

absl::StatusOr<Layout> ChooseLayout(const std::vector<Hierarchy>& mounts) {
  Layout layout;
  for (const Hierarchy& h : mounts) {
    if (h.unified) continue;
    bool seen = false;  // the same hierarchy mounted twice: the first mount wins
    for (const Hierarchy& have : layout.hierarchies) seen |= have.controllers == h.controllers;
    if (!seen) layout.hierarchies.push_back(h);
  }
  if (!layout.hierarchies.empty()) return layout;
  for (const Hierarchy& h : mounts) {
    if (!h.unified) continue;
    layout.unified = true;
    layout.hierarchies.push_back(h);
    return layout;
  }
  return absl::FailedPreconditionError("no cgroup or cgroup2 file system is mounted");
}

std::map<std::string, std::string> ParseProcCgroup(absl::string_view text) {
  std::map<std::string, std::string> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    // hierarchy-ID:controller-list:cgroup-path; the path may itself contain ':'.
    size_t a = line.find(':');
    if (a == absl::string_view::npos) continue;
    size_t b = line.find(':', a + 1);
    if (b == absl::string_view::npos) continue;
    out[SortedKey(line.substr(a + 1, b - a - 1))] = std::string(line.substr(b + 1));
  }
  return out;
}

absl::StatusOr<std::string> CleanCgroupsPath(absl::string_view cgroups_path,
                                             absl::string_view container_id) {
  if (cgroups_path.empty()) {
    if (container_id.empty() || container_id == "." || container_id == ".." ||
        absl::StrContains(container_id, '/') ||
        container_id.find_first_of(absl::string_view("\0\n", 2)) != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("linux.cgroupsPath: not set, and container id \"", container_id,
                       "\" cannot name the default cgroup"));
    }
    return absl::StrCat("/berth-runc/", container_id);
  }
  if (cgroups_path.find_first_of(absl::string_view("\0\n", 2)) != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "linux.cgroupsPath: must not contain NUL or newline characters");
  }
  bool absolute = cgroups_path[0] == '/';
  std::vector<absl::string_view> parts;
  for (absl::string_view p : absl::StrSplit(cgroups_path, '/', absl::SkipEmpty())) {
    if (p == ".") continue;
    if (p == "..") {
      return absl::InvalidArgumentError(absl::StrCat("linux.cgroupsPath: \"", cgroups_path,
                                                     "\" must not contain \"..\" components"));
    }
    parts.push_back(p);
  }
  if (parts.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("linux.cgroupsPath: \"", cgroups_path, "\" names ",
                     absolute ? "the root cgroup" : "the runtime's own cgroup",
                     "; a container needs a cgroup of its own"));
  }
  return absl::StrCat(absolute ? "/" : "", absl::StrJoin(parts, "/"));
}

absl::StatusOr<std::string> ResolveDir(const Hierarchy& h, absl::string_view inner,
                                       const std::map<std::string, std::string>& own,
                                       absl::string_view root_prefix) {
  std::string base = absl::StrCat(root_prefix, h.mount_point);
  if (!inner.empty() && inner[0] == '/') return internal::JoinPath(base, inner.substr(1));
  auto it = own.find(h.controllers);
  if (it == own.end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "linux.cgroupsPath: relative path, but /proc/self/cgroup has no entry for the ",
        h.unified ? "cgroup2" : h.controllers, " hierarchy"));
  }
  absl::string_view mine = it->second;
  absl::string_view root = h.root;
  if (root != "/" && !root.empty()) {
    if (!absl::StartsWith(mine, root) || (mine.size() > root.size() && mine[root.size()] != '/')) {
      return absl::FailedPreconditionError(absl::StrCat(
          "linux.cgroupsPath: relative path, but the runtime's cgroup ", mine,
          " is outside the part of the tree mounted at ", h.mount_point, " (", root, ")"));
    }
    mine.remove_prefix(root.size());
  }
  while (!mine.empty() && mine[0] == '/') mine.remove_prefix(1);
  return internal::JoinPath(internal::JoinPath(base, mine), inner);
}

}  // namespace berth::runc::cgroups
