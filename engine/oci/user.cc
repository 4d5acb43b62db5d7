#include "engine/oci/user.h"

#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/fs/fs.h"

namespace berth::engine::oci {
namespace {

constexpr int kMaxSymlinks = 255;
constexpr int64_t kMaxId = 2147483647;  // runc: "uids and gids must be in range 0-2147483647"

struct PasswdEntry {
  std::string name;
  int64_t uid = 0;
  int64_t gid = 0;
  std::string home;
};

struct GroupEntry {
  std::string name;
  int64_t gid = 0;
  std::vector<std::string> members;
};

// The lines of a passwd/group-style file split at ':'; blank lines and comments skipped.
// Missing file: no lines.
absl::StatusOr<std::vector<std::vector<std::string>>> ReadColonFile(const std::string& rootfs,
                                                                    absl::string_view path) {
  absl::StatusOr<std::string> host_path = ResolveInRoot(rootfs, path);
  if (!host_path.ok()) return host_path.status();
  absl::StatusOr<std::string> text = fs::ReadFile(*host_path);
  if (absl::IsNotFound(text.status())) return std::vector<std::vector<std::string>>{};
  if (!text.ok()) return text.status();
  std::vector<std::vector<std::string>> lines;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    lines.push_back(absl::StrSplit(line, ':'));
  }
  return lines;
}

std::optional<int64_t> ParseId(absl::string_view s) {
  int64_t v;
  if (s.empty() || !absl::SimpleAtoi(s, &v) || v < 0) return std::nullopt;
  return v;
}

absl::StatusOr<std::vector<PasswdEntry>> ReadPasswd(const std::string& rootfs) {
  absl::StatusOr<std::vector<std::vector<std::string>>> lines =
      ReadColonFile(rootfs, "/etc/passwd");
  if (!lines.ok()) return lines.status();
  std::vector<PasswdEntry> out;
  for (const auto& f : *lines) {
    if (f.size() < 4) continue;  // malformed lines are ignored, as libc does
    std::optional<int64_t> uid = ParseId(f[2]);
    std::optional<int64_t> gid = ParseId(f[3]);
    if (!uid || !gid) continue;
    out.push_back({f[0], *uid, *gid, f.size() > 5 ? f[5] : ""});
  }
  return out;
}

absl::StatusOr<std::vector<GroupEntry>> ReadGroups(const std::string& rootfs) {
  absl::StatusOr<std::vector<std::vector<std::string>>> lines =
      ReadColonFile(rootfs, "/etc/group");
  if (!lines.ok()) return lines.status();
  std::vector<GroupEntry> out;
  for (const auto& f : *lines) {
    if (f.size() < 3) continue;
    std::optional<int64_t> gid = ParseId(f[2]);
    if (!gid) continue;
    GroupEntry g{f[0], *gid, {}};
    if (f.size() > 3 && !f[3].empty()) {
      g.members = absl::StrSplit(f[3], ',', absl::SkipWhitespace());
    }
    out.push_back(std::move(g));
  }
  return out;
}

absl::Status CheckRange(int64_t id) {
  if (id > kMaxId) {
    return absl::InvalidArgumentError("uids and gids must be in range 0-2147483647");
  }
  return absl::OkStatus();
}

// A group given by name or number: numbers need not exist in /etc/group.
absl::StatusOr<uint32_t> LookupGroup(const std::vector<GroupEntry>& groups,
                                     absl::string_view arg) {
  if (std::optional<int64_t> gid = ParseId(arg)) {
    if (absl::Status s = CheckRange(*gid); !s.ok()) return s;
    return static_cast<uint32_t>(*gid);
  }
  for (const GroupEntry& g : groups) {
    if (g.name == arg) return static_cast<uint32_t>(g.gid);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unable to find group ", arg, ": no matching entries in group file"));
}

}  // namespace

absl::StatusOr<std::string> ResolveInRoot(const std::string& rootfs, absl::string_view path) {
  // Components still to walk, in reverse order (the next one at the back).
  std::vector<std::string> todo;
  auto push_path = [&todo](absl::string_view p) {
    std::vector<std::string> parts = absl::StrSplit(p, '/', absl::SkipEmpty());
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) todo.push_back(*it);
  };
  push_path(path);
  std::vector<std::string> done;  // resolved components below rootfs
  int links = 0;
  while (!todo.empty()) {
    std::string part = std::move(todo.back());
    todo.pop_back();
    if (part == ".") continue;
    if (part == "..") {
      if (!done.empty()) done.pop_back();
      continue;
    }
    const std::string candidate =
        absl::StrCat(rootfs, "/", absl::StrJoin(done, "/"), done.empty() ? "" : "/", part);
    char buf[PATH_MAX];
    const ssize_t n = ::readlink(candidate.c_str(), buf, sizeof(buf));
    if (n < 0) {
      // Not a link (EINVAL), or missing: keep the name as written.
      done.push_back(std::move(part));
      continue;
    }
    if (++links > kMaxSymlinks) {
      return absl::InvalidArgumentError(
          absl::StrCat("resolve ", path, " in ", rootfs, ": too many levels of symbolic links"));
    }
    const absl::string_view target(buf, static_cast<size_t>(n));
    if (!target.empty() && target[0] == '/') done.clear();
    push_path(target);
  }
  return absl::StrCat(rootfs, "/", absl::StrJoin(done, "/"));
}

absl::StatusOr<ExecUser> ResolveUser(const std::string& rootfs, absl::string_view user,
                                     const std::vector<std::string>& group_add) {
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(user, absl::MaxSplits(':', 1));
  const absl::string_view user_arg = parts.first;
  const absl::string_view group_arg = parts.second;

  absl::StatusOr<std::vector<PasswdEntry>> passwd = ReadPasswd(rootfs);
  if (!passwd.ok()) return passwd.status();
  ExecUser out;
  const PasswdEntry* matched = nullptr;
  const std::optional<int64_t> numeric_uid = ParseId(user_arg);
  if (user_arg.empty()) {
    for (const PasswdEntry& e : *passwd) {
      if (e.uid == 0) {
        matched = &e;
        break;
      }
    }
  } else if (numeric_uid) {
    if (absl::Status s = CheckRange(*numeric_uid); !s.ok()) return s;
    for (const PasswdEntry& e : *passwd) {
      if (e.uid == *numeric_uid) {
        matched = &e;
        break;
      }
    }
    out.uid = static_cast<uint32_t>(*numeric_uid);
  } else {
    for (const PasswdEntry& e : *passwd) {
      if (e.name == user_arg) {
        matched = &e;
        break;
      }
    }
    if (matched == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unable to find user ", user_arg, ": no matching entries in passwd file"));
    }
  }
  if (matched != nullptr) {
    if (absl::Status s = CheckRange(matched->uid); !s.ok()) return s;
    if (absl::Status s = CheckRange(matched->gid); !s.ok()) return s;
    out.uid = static_cast<uint32_t>(matched->uid);
    out.gid = static_cast<uint32_t>(matched->gid);
    if (!matched->home.empty()) out.home = matched->home;
  }

  std::vector<GroupEntry> groups;
  const bool need_groups = !group_arg.empty() || !group_add.empty() || matched != nullptr;
  if (need_groups) {
    absl::StatusOr<std::vector<GroupEntry>> g = ReadGroups(rootfs);
    if (!g.ok()) return g.status();
    groups = *std::move(g);
  }
  auto add_gid = [&out](uint32_t gid) {
    if (std::find(out.additional_gids.begin(), out.additional_gids.end(), gid) ==
        out.additional_gids.end()) {
      out.additional_gids.push_back(gid);
    }
  };
  if (!group_arg.empty()) {
    absl::StatusOr<uint32_t> gid = LookupGroup(groups, group_arg);
    if (!gid.ok()) return gid.status();
    out.gid = *gid;
  } else if (matched != nullptr) {
    // Implicit group: every group that lists the matched entry's name is a supplementary
    // group (so root in busybox is also in "wheel", as `docker run busybox id` shows).
    for (const GroupEntry& g : groups) {
      if (std::find(g.members.begin(), g.members.end(), matched->name) != g.members.end()) {
        if (g.gid <= kMaxId) add_gid(static_cast<uint32_t>(g.gid));
      }
    }
  }
  for (const std::string& extra : group_add) {
    absl::StatusOr<uint32_t> gid = LookupGroup(groups, extra);
    if (!gid.ok()) return gid.status();
    add_gid(*gid);
  }
  return out;
}

}  // namespace berth::engine::oci
