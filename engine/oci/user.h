// Resolves a container's user ("name", "uid", "name:group", "uid:gid", ...) and additional
// groups against the /etc/passwd and /etc/group files of the container's root filesystem,
// with runc's rules (libcontainer/user GetExecUser), which Docker uses:
//   - a numeric user is a uid even when it is not in passwd (primary gid 0 then); a name must
//     be found ("unable to find user foo: no matching entries in passwd file");
//   - without an explicit group the primary gid is the passwd entry's, and every group of
//     /etc/group that lists the user's name becomes a supplementary group;
//   - an explicit group is a gid (numeric) or a name that must be in /etc/group;
//   - ids must be in 0..2147483647.
// Paths are resolved inside the root filesystem: an /etc/passwd that is a symlink to
// "/elsewhere" reads <rootfs>/elsewhere, never a host file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::engine::oci {

struct ExecUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  // Supplementary groups from /etc/group membership, then the extra groups, without
  // duplicates.
  std::vector<uint32_t> additional_gids;
  // Home directory from passwd; "/" when the user has no entry.
  std::string home = "/";
};

// `user` as in ContainerConfig.user ("" means root); `group_add` as HostConfig.group_add
// (names or gids). `rootfs` is the host directory of the container's root filesystem; missing
// passwd/group files count as empty. InvalidArgument for a user or group that cannot be
// found or an id out of range; other codes for unreadable files.
absl::StatusOr<ExecUser> ResolveUser(const std::string& rootfs, absl::string_view user,
                                     const std::vector<std::string>& group_add);

// The host path of `path` (absolute, inside the container) under `rootfs`, with every symlink
// resolved as the container would see it: absolute link targets and ".." stay inside rootfs.
// Components that do not exist are kept as written. InvalidArgument after too many links.
absl::StatusOr<std::string> ResolveInRoot(const std::string& rootfs, absl::string_view path);

}  // namespace berth::engine::oci
