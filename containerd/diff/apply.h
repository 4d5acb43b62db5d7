// Applying an image layer (a tar, tar+gzip or tar+zstd stream) to a directory: the "unpack" half
// of berth-containerd's diff service (proto/berth/containerd/diff/v1/diff.proto, Apply). The
// directory is normally the overlayfs upperdir of an active snapshot; a plain directory that
// accumulates layers one after another is supported too.
//
// Safety against hostile layers is the point of this package, so here is the full contract:
//   - Nothing is ever created, changed or removed outside `target_dir`. Entry names are cleaned
//     lexically; a leading '/' is dropped (the name is taken relative to the target, like
//     Docker's importer does), and a ".." that would climb above the target fails the whole
//     apply with FailedPrecondition.
//   - No symlink inside the target is ever followed: parents are opened with openat2(2)
//     RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV and entries are
//     created with *at() calls relative to those fds (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW). An entry
//     whose parent path runs through a symlink (`evil -> /` then `evil/etc/x`), through a
//     non-directory or across a mount point fails the apply with FailedPrecondition. (A symlink
//     *entry* may point anywhere: it is data, and is only resolved later inside the container.)
//   - A hardlink's target is cleaned like any entry name, so it always names a file inside the
//     target ("/etc/passwd" means <target>/etc/passwd); it must already exist there (earlier in
//     the layer, or from an earlier layer in plain-directory mode), must not be a directory, and
//     is reached without following symlinks. Otherwise FailedPrecondition.
//   - Device nodes (character and block) are created only with `allow_devices`; otherwise they
//     are skipped and counted in AppliedLayer::skipped_devices (skipping rather than failing
//     keeps old base images that ship /dev nodes usable: containers get their own /dev).
//   - Extended attributes in the trusted.* namespace are never applied: in an overlay upperdir
//     trusted.overlay.{opaque,redirect,metacopy,origin} would let a layer redirect lookups or
//     forge whiteouts. They are counted in skipped_xattrs. security.capability, user.*,
//     security.* and system.posix_acl_* are applied. (An xattr the file system does not support
//     is skipped and counted, as containerd does.)
//   - On any error Apply stops at once and returns it; the target is then left PARTIAL (some
//     entries written, directory metadata not finalized). The caller must discard it (remove the
//     active snapshot); Apply never tries to roll back, since a half-applied layer cannot be told
//     apart from what was there before.
//
// OCI whiteouts (image-spec layer.md, "Whiteouts"): `.wh.<name>` deletes <name> of lower layers;
// `.wh..wh..opq` makes its directory opaque (hides every lower entry in it). With
// `options.overlay` they become overlayfs whiteouts, which need CAP_MKNOD and CAP_SYS_ADMIN
// (trusted.* xattrs), i.e. root:
//   `.wh.<name>`   -> a 0/0 character device <name>,
//   `.wh..wh..opq` -> xattr trusted.overlay.opaque="y" on the directory;
// in plain-directory mode (overlay = false) <name> is removed, and an opaque directory loses all
// of its children that this layer did not itself create. As the spec requires, a whiteout never
// hides an entry of the same layer, whatever the order of entries in the tar. Other
// `.wh..wh.*` names (AUFS bookkeeping like `.wh..wh.plnk`) are ignored, as in Docker.
//
// Metadata: mode (incl. setuid/setgid/sticky), uid/gid (unless preserve_ownership is false),
// mtime and atime with nanoseconds when the tar has them (pax), xattrs, hardlinks, symlinks,
// fifos, devices (see above) and sparse files (holes are kept). Directory modes and times are
// set after the whole layer is written, so a read-only directory still gets its children and
// keeps the mtime the tar gave it. An existing entry is replaced by the tar's, except that a
// directory over a directory is merged (Docker and containerd semantics).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/digest/digest.h"
#include "containerd/diff/stream.h"

namespace berth::containerd::diff {

struct ApplyOptions {
  // true: `target_dir` is an overlayfs upperdir and whiteouts become overlay whiteouts.
  // false: a plain directory holding the merged result of all layers so far (vfs-style).
  bool overlay = true;
  // The overlay lowerdirs of the snapshot, topmost first, only read (never written): a
  // directory the layer needs but does not list (the layer has "a/b/c" but no "a/" entry) is
  // created in the upperdir, where its mode and owner would override the lower layers' in the
  // merged view; so Apply copies them from the topmost lower layer that has that directory
  // (0755 root:root, or the caller's ids, when none has). Ignored in plain-directory mode,
  // where such directories already exist in the target.
  std::vector<std::string> lower_dirs;
  // Create character and block devices. When false they are skipped (and counted).
  bool allow_devices = false;
  // chown entries to the tar's uid/gid. false leaves them owned by the caller: for unprivileged
  // callers and tests.
  bool preserve_ownership = true;
  // syncfs(2) the target's file system before returning, so the layer survives a crash once
  // Apply returns (the proto's ApplyRequest.sync_fs).
  bool sync = false;
};

struct AppliedLayer {
  // The OCI diff ID: sha256 of the uncompressed tar stream (what the image config lists in
  // rootfs.diff_ids), computed while the layer was read.
  digest::Digest diff_id;
  uint64_t size = 0;                             // bytes of the uncompressed tar
  uint64_t compressed_size = 0;                  // bytes read from the source
  Compression compression = Compression::kNone;  // as detected from the stream
  uint64_t entries = 0;                          // tar entries read (whiteouts included)
  uint64_t whiteouts = 0;                        // .wh.<name> and .wh..wh..opq entries applied
  uint64_t skipped_devices = 0;                  // device nodes not created (allow_devices false)
  uint64_t skipped_xattrs = 0;                   // trusted.* or unsupported xattrs not applied
};

// Unpacks the layer read from `layer` into `target_dir` (an existing directory) and returns its
// diff ID. Compression is detected from the stream's first bytes (gzip, zstd or none); a
// zero-byte stream is an empty layer. The stream is read once, to its end.
//
// Errors (every message names the entry it is about):
//   InvalidArgument: `target_dir` is not an existing directory.
//   FailedPrecondition: the data is not a valid tar / tar+gzip / tar+zstd stream, or is
//     truncated or corrupt ("read layer: decompress (gzip): truncated gzip input"); or an entry
//     is refused by the safety rules above.
//   PermissionDenied: an overlay whiteout, a chown or a trusted xattr needs privileges the
//     caller lacks.
//   ResourceExhausted (ENOSPC, EDQUOT) and other errno-derived codes from the target.
//   Whatever `layer` returned, with context.
// On error the target is partial and must be discarded by the caller (see above).
// Thread-safe: concurrent calls on different targets are independent (no process-wide state:
// no chdir, no umask change).
absl::StatusOr<AppliedLayer> Apply(const ReadFn& layer, const std::string& target_dir,
                                   const ApplyOptions& options);

// Apply reading from a file descriptor until end of file. The fd is not closed.
absl::StatusOr<AppliedLayer> ApplyFd(int fd, const std::string& target_dir,
                                     const ApplyOptions& options);

}  // namespace berth::containerd::diff
