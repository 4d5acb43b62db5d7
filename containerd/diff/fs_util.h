// File-system helpers for applying and computing layers, all working on directory fds so that no
// path from a layer (or from a running container's rootfs) is ever resolved through a symlink or
// across a mount: an owned fd, lexical cleaning of tar entry names, opening a directory beneath a
// root, listing, recursive removal, and xattr access by (directory fd, name). Internal to
// //containerd/diff.
#pragma once

#include "common/fs/fs.h"
#include "common/fs/unique_fd.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::containerd::diff::internal {

using ::berth::fs::UniqueFd;

// Splits a tar entry name into clean components relative to the layer root: leading '/' and
// "./" are dropped (an absolute name is taken as relative to the root, as tar -P archives and
// Docker's own importer do), "//", "." and a trailing '/' vanish, and ".." removes the component
// before it. An empty result means the root itself ("./", "/").
// FailedPrecondition if a ".." climbs above the root ("../x", "a/../../x"): such an entry can only
// be an attempt to write outside the target, so it is refused rather than silently clamped.
absl::StatusOr<std::vector<std::string>> CleanEntryPath(absl::string_view name);

// "a/b/c" from components; "" for the root.
std::string JoinComponents(const std::vector<std::string>& components, size_t count);
inline std::string JoinComponents(const std::vector<std::string>& components) {
  return JoinComponents(components, components.size());
}

// Opens `path`, a directory named by the caller (a target, upper or lower dir: trusted, so
// followed like open(2) does). InvalidArgument ("<what> <path> is not an existing directory")
// if it is missing or not a directory; other errno-derived codes.
absl::StatusOr<UniqueFd> OpenDirectory(const std::string& path, absl::string_view what);

// Opens the directory `rel` ("a/b", "" for `root_fd` itself) beneath `root_fd` for reading
// (O_RDONLY|O_DIRECTORY), following no symlink, no "..", and crossing no mount point on the way
// (openat2(2) with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV;
// on kernels without openat2 a component-by-component O_NOFOLLOW walk that checks st_dev).
// Errors: NotFound if a component is missing; FailedPrecondition if a component is a symlink,
// not a directory, or a mount point; other errno-derived codes.
absl::StatusOr<UniqueFd> OpenDirBeneath(int root_fd, absl::string_view rel);

// Opens the single component `name` inside the directory `dir_fd` as a directory, refusing
// symlinks and mount points (same errors as OpenDirBeneath). `name` must not contain '/'.
absl::StatusOr<UniqueFd> OpenChildDir(int dir_fd, const std::string& name);

// lstat of `name` in `dir_fd` (never follows it). A missing entry is not an error: `*exists`
// says whether it was found.
absl::Status StatAt(int dir_fd, const std::string& name, struct stat* st, bool* exists);

using ::berth::fs::ListDirAt;

// Removes `name` in `dir_fd` and, if it is a directory, everything below it. Never follows a
// symlink and never descends into a directory on another device or that is a mount root: such a
// directory fails the call with FailedPrecondition and is left alone. OK if `name` is missing.
absl::Status RemoveAllAt(int dir_fd, const std::string& name);

// "/proc/self/fd/<dir_fd>/<name>": a path that reaches `name` through the already-opened (and
// already checked) directory, without re-resolving the directory's own path. The last component
// is a plain name, so the l* xattr calls act on it without following it even if it is a symlink.
std::string ProcPathAt(int dir_fd, absl::string_view name);

// All extended attributes of `name` in `dir_fd` (not followed), as (name, value) sorted by name.
// An empty list where the file system has no xattr support (ENOTSUP).
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ListXattrsAt(
    int dir_fd, const std::string& name);

// One xattr of `name` in `dir_fd` (not followed); `*found` false if it is not set.
absl::Status GetXattrAt(int dir_fd, const std::string& name, const char* key, std::string* value,
                        bool* found);

// Whether `st` is an overlayfs whiteout: a character device with device number 0/0
// (Documentation/filesystems/overlayfs.rst, "whiteouts and opaque directories").
inline bool IsOverlayWhiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && st.st_rdev == 0;
}

// An errno status whose message names the operation and the layer-relative path:
// "<op> <path>: <strerror>".
absl::Status PathError(int err, absl::string_view op, absl::string_view path);

}  // namespace berth::containerd::diff::internal
