// Low-level helpers for the container init's file-system set-up (rootfs.h): an owned fd,
// lexical path cleaning, resolving (and creating) paths *inside* a rootfs with openat2(2)
// RESOLVE_IN_ROOT, /proc/self/mountinfo parsing, and the mount(2) flags a bind remount must
// keep. Internal to //runc/linux.
#pragma once

#include "common/fs/unique_fd.h"

#include <sys/mount.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::runc::linux {

using ::berth::fs::UniqueFd;

// Cleans a path lexically into an absolute one: collapses "//", drops "." and a trailing '/',
// applies ".." to the component before it and clamps at "/" ("/../a" -> "/a"). A relative
// path is taken as relative to "/". Never touches the file system.
std::string CleanPath(absl::string_view path);

// "/proc/self/fd/<fd>": a path that mount(2), statfs(2) etc. resolve to exactly what `fd`
// refers to, so the kernel never re-walks a path an attacker could have changed.
std::string ProcFdPath(int fd);

// The path the kernel reports for `fd` (readlink of /proc/self/fd/<fd>).
absl::StatusOr<std::string> FdPath(int fd);

enum class CreateMode {
  kNone,       // the path must exist
  kDirectory,  // create missing components as directories (mode 0755, less the umask)
  kFile,       // create missing parents as directories and a missing last component as an
               // empty regular file (mode 0644, less the umask)
};

// Opens `path` (absolute or not, taken as inside the root either way) with O_PATH | O_CLOEXEC,
// resolving every component inside the directory `root_fd` as if it were "/": symlinks,
// absolute or relative, and ".." never lead out of it (openat2 RESOLVE_IN_ROOT), and magic
// links (/proc/<pid>/fd/...) are refused (RESOLVE_NO_MAGICLINKS). With `create`, missing
// components are made one at a time with mkdirat/openat relative to their resolved parent;
// a dangling symlink met on the way is followed (inside the root) and its target created, as
// runc's securejoin does. The last component is followed if it is a symlink.
// Errors are errno-derived (NotFound, FailedPrecondition for ENOTDIR, ...) and name the
// container path ("mkdir /a/b: Permission denied").
absl::StatusOr<UniqueFd> OpenInRoot(int root_fd, absl::string_view path, CreateMode create);

// One line of /proc/<pid>/mountinfo (proc(5)), with octal escapes ("\040") decoded.
struct MountInfo {
  int id = 0;
  int parent_id = 0;
  std::string root;         // the mount's root within its file system ("/" for a full mount)
  std::string mount_point;  // as seen by the reading process
  std::string options;      // per-mount options ("rw,nosuid,relatime")
  std::vector<std::string> optional_fields;  // "shared:12", "master:3", ...
  std::string fs_type;
  std::string source;
  std::string super_options;  // per-superblock options ("rw,memory")

  bool Shared() const;
};

// Parses mountinfo text. InvalidArgument naming the line if a line is malformed.
absl::StatusOr<std::vector<MountInfo>> ParseMountInfo(absl::string_view text);

// Reads and parses /proc/self/mountinfo.
absl::StatusOr<std::vector<MountInfo>> ReadMountInfo();

// The mount(2) MS_* flags a MS_BIND | MS_REMOUNT call must pass to keep a mount's per-mount
// flags as they are, from statfs(2)'s f_flags: MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC,
// MS_NOSYMFOLLOW, MS_NODIRATIME and exactly one access-time setting (MS_NOATIME, MS_RELATIME
// or, when statfs reports neither, MS_STRICTATIME). Inside a user namespace the kernel refuses
// (EPERM) a remount that drops any of these when they are locked (inherited from a more
// privileged mount namespace), so remounts start from these and change only what was asked.
unsigned long MountFlagsFromStatfs(unsigned long f_flags);

// The per-mount flags of the mount `fd` is on (fstatfs + MountFlagsFromStatfs).
absl::StatusOr<unsigned long> MountFlagsOfFd(int fd);

// The flags a bind remount can change (everything else belongs to the superblock).
inline constexpr unsigned long kPerMountFlags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC |
                                                MS_NOSYMFOLLOW | MS_NOATIME | MS_NODIRATIME |
                                                MS_RELATIME | MS_STRICTATIME;
inline constexpr unsigned long kAtimeFlags = MS_NOATIME | MS_RELATIME | MS_STRICTATIME;

// The flags for a MS_BIND | MS_REMOUNT of a mount whose current per-mount flags are `current`
// so that it gets `set` and loses `clear` and keeps everything else (mount(8) semantics).
// An access-time flag in `set` or `clear` replaces the current access-time setting.
unsigned long BindRemountFlags(unsigned long current, unsigned long set, unsigned long clear);

// mount(2) returning 0 or the errno, for callers that fall back on particular errors.
int MountErrno(const std::string& source, const std::string& target, const std::string& fstype,
               unsigned long flags, const std::string& data);

// mount(2) returning a Status: ErrnoToStatus(errno, what) on failure. `source`, `fstype` and
// `data` may be empty (passed as NULL).
absl::Status Mount(const std::string& source, const std::string& target, const std::string& fstype,
                   unsigned long flags, const std::string& data, absl::string_view what);

}  // namespace berth::runc::linux
