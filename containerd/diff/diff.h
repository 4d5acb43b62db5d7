// Computing a layer from filesystem changes: the "diff" half of berth-containerd's diff service
// (proto/berth/containerd/diff/v1/diff.proto, Diff), used to commit a container and by builds.
//
// Diff reads an overlayfs upperdir, which holds exactly the changes of an active snapshot:
//   - every entry in it is an addition or modification and is written as is;
//   - an overlay whiteout (0/0 character device) becomes ".wh.<name>", an empty regular file of
//     mode 0600 with the whiteout's owner and mtime (what Docker writes);
//   - a directory with trusted.overlay.opaque="y" is written, followed at once by
//     "<dir>/.wh..wh..opq" (image-spec layer.md: opaque markers should precede the directory's
//     other entries).
// DiffDirs compares two plain trees instead (for snapshots that are not overlay uppers, or
// mounted views): entries only in `upper` or different from `lower` are written, entries only
// in `lower` become whiteouts.
//
// The tar (both functions):
//   - deterministic: entries in depth-first order, siblings sorted by byte value, directories
//     before their contents; no atime/ctime, no user/group names, no gzip timestamp. The same
//     tree gives the same bytes and digests;
//   - pax ("restricted": a ustar header, plus a pax header only where needed) for long names,
//     large ids or sizes, mtimes with nanoseconds, and xattrs as SCHILY.xattr.* (the records
//     Go's archive/tar, hence Docker and containerd, read);
//   - hardlinks: the first path of an inode with several links (in the walk order) carries the
//     data, later ones are hardlink entries to it. Only links between entries of this layer;
//   - xattrs: all except trusted.* (overlayfs' own bookkeeping, and not portable) and
//     security.selinux (a label of this host, not of the image);
//   - never follows a symlink: directories are walked by fd with O_NOFOLLOW, files opened
//     O_NOFOLLOW and checked to be the inode that was listed, so a container that swaps a file
//     for a symlink while a commit runs cannot get host files into the layer. A regular file
//     that changes size while read fails the diff (pause the container first, as docker commit
//     does by default).
//
// Compression goes through libarchive's write filters. gzip defaults to level 1 (kDefaultGzip
// Level): on a 400 MB mix of /usr here zlib gave 95 MB/s at level 1, 77 MB/s at 3 and 37 MB/s at
// 6 (Go's default, which Docker uses), for output 8% and 5% larger than level 6. Pushing is
// bound by this compression, so berth trades those few percent for ~2.5x the speed; callers that
// care about size pass a level, or use zstd, which beats gzip -6 on size at level 3 while far
// faster than gzip -1.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/digest/digest.h"
#include "containerd/diff/stream.h"

namespace berth::containerd::diff {

inline constexpr int kDefaultGzipLevel = 1;
inline constexpr int kDefaultZstdLevel = 3;

struct DiffOptions {
  Compression compression = Compression::kGzip;
  // Compressor level; nullopt means kDefaultGzipLevel / kDefaultZstdLevel. gzip takes 0-9,
  // zstd 1-22 (libarchive's range). Ignored for kNone.
  std::optional<int> level;
  // When set, mtimes later than this are written as this (SOURCE_DATE_EPOCH; the proto's
  // DiffRequest.source_date_epoch), so rebuilding the same changes gives the same digest.
  std::optional<absl::Time> source_date_epoch;
  // Keep sub-second mtimes (a pax record per entry that has them, ~1 KiB before compression).
  // false truncates to whole seconds, as Docker does.
  bool nanosecond_mtimes = true;
};

struct DiffResult {
  digest::Digest diff_id;  // sha256 of the uncompressed tar (the OCI diff ID)
  uint64_t uncompressed_size = 0;
  digest::Digest digest;  // sha256 of the bytes written (the blob digest)
  uint64_t size = 0;      // bytes written
  Compression compression = Compression::kNone;
  uint64_t entries = 0;    // tar entries written, whiteouts included
  uint64_t whiteouts = 0;  // .wh.<name> and .wh..wh..opq entries written
};

// Writes the changes held in the overlayfs upperdir `upper_dir` as a layer to `out`.
// `lower_dirs` are the snapshot's lowerdirs, topmost first (they may be empty for a first
// layer). They are only read, and only to find the data of a file that overlayfs copied up as
// metadata only (trusted.overlay.metacopy, when the snapshot was mounted with metacopy=on).
// The upperdir must not be in use by a mount whose redirect_dir feature renamed directories
// (trusted.overlay.redirect on a directory): such a rename cannot be expressed from the
// upperdir alone, and Diff fails rather than write a wrong layer; mount snapshots with
// redirect_dir=off (the kernel default here) or use DiffDirs on mounted views.
//
// Errors: InvalidArgument if a directory does not exist or a level is out of range;
// FailedPrecondition for a redirected directory, a metacopy file whose data is in no lower dir,
// a path that is a mount point, or a file that changed while it was read; Unimplemented if
// libarchive lacks the compressor; whatever `out` returns (with context); errno-derived codes
// for the file system. On error, `out` has received a prefix of the layer, which the caller
// discards (the content store's ingest is simply not committed).
// Thread-safe: concurrent calls are independent.
absl::StatusOr<DiffResult> Diff(const std::vector<std::string>& lower_dirs,
                                const std::string& upper_dir, const WriteFn& out,
                                const DiffOptions& options);

// Writes the changes from the plain tree `lower_dir` to the plain tree `upper_dir` as a layer.
// An entry is unchanged when type, mode, owner, size, mtime (with ns), device number, symlink
// target and xattrs are all equal: like rsync's quick check, contents are not compared, so a
// rewrite that keeps size and mtime is missed (tools that do that, like `touch -r`, are rare in
// image builds). `lower_dir` may be "" for an empty lower. Errors as for Diff.
absl::StatusOr<DiffResult> DiffDirs(const std::string& lower_dir, const std::string& upper_dir,
                                    const WriteFn& out, const DiffOptions& options);

}  // namespace berth::containerd::diff
