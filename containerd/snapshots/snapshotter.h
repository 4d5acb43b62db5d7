// The snapshotter interface of berth-containerd: layered file systems for image layers and
// container root filesystems (proto/berth/containerd/snapshots/v1/snapshots.proto, which has the
// full semantics). Implementations: OverlaySnapshotter (overlay_snapshotter.h, "overlayfs"). The
// gRPC service is a thin adapter over this interface and a gRPC client implements it too, so the
// types here are plain C++ mirrors of the proto messages (Mount mirrors berth.types.v1.Mount field
// for field: converting is lossless).
//
// A snapshot is ACTIVE (writable, from Prepare), VIEW (read-only, from View) or COMMITTED
// (immutable, from Commit of an active one; only committed snapshots can be parents). Active and
// view snapshots are named by a key, committed ones by a name; keys and names share one space per
// namespace. Every method takes the namespace first (a namespace that does not exist is created by
// Prepare/View; reading one that does not exist finds nothing).
//
// Errors common to all methods: InvalidArgument for an invalid namespace or an empty key/name or
// labels over the limits (non-empty keys, key plus value <= 4096 bytes); Unavailable, DataLoss,
// ResourceExhausted or Internal from the metadata store or the file system.
//
// Thread safety: implementations are thread-safe; every method may be called concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/mount/mount_spec.h"

namespace berth::containerd::snapshots {

// One mount(2) to make (berth.types.v1.Mount). Mount them with mount_util::MountAll
// (common/mount/mount.h), which also handles option strings longer than the kernel's one-page
// limit. The type lives in common/ because berth-shim mounts the same lists.
using Mount = ::berth::mount_util::Mount;

// The state of a snapshot (snapshots.proto, Kind).
enum class Kind { kView, kActive, kCommitted };

// "view", "active" or "committed" (the List filter field `kind`).
inline absl::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kView:
      return "view";
    case Kind::kActive:
      return "active";
    case Kind::kCommitted:
      return "committed";
  }
  return "unknown";
}

using Labels = std::map<std::string, std::string>;

// The metadata of one snapshot (snapshots.proto, Info).
struct Info {
  // Key of an active or view snapshot, or name of a committed one.
  std::string name;
  // Name of the committed parent; empty for none.
  std::string parent;
  Kind kind = Kind::kActive;
  Labels labels;
  absl::Time created_at;
  absl::Time updated_at;
};

// Disk usage of a snapshot by itself, parents excluded (snapshots.proto, UsageResponse), counted
// like du(1): allocated blocks (st_blocks * 512) and inodes, each hard-linked inode once.
struct DiskUsage {
  int64_t size = 0;
  int64_t inodes = 0;

  friend bool operator==(const DiskUsage& a, const DiskUsage& b) {
    return a.size == b.size && a.inodes == b.inodes;
  }
};

class Snapshotter {
 public:
  virtual ~Snapshotter() = default;

  // The name requests use to pick this snapshotter ("overlayfs").
  virtual absl::string_view name() const = 0;

  // Creates active snapshot `key` on top of committed `parent` (empty: an empty file system) and
  // returns the mounts that assemble it, writable. AlreadyExists (key used by any snapshot),
  // NotFound (no such parent), FailedPrecondition (parent not committed). On any error nothing is
  // left behind (no record, no directory).
  virtual absl::StatusOr<std::vector<Mount>> Prepare(absl::string_view ns, absl::string_view key,
                                                     absl::string_view parent,
                                                     const Labels& labels = {}) = 0;

  // Like Prepare for a read-only view snapshot: writes through its mounts fail (EROFS), and it can
  // never be committed.
  virtual absl::StatusOr<std::vector<Mount>> View(absl::string_view ns, absl::string_view key,
                                                  absl::string_view parent,
                                                  const Labels& labels = {}) = 0;

  // The mounts of active or view snapshot `key` again. NotFound; FailedPrecondition for a committed
  // snapshot (those are only used as parents).
  virtual absl::StatusOr<std::vector<Mount>> Mounts(absl::string_view ns,
                                                    absl::string_view key) = 0;

  // Turns active snapshot `key` into committed snapshot `name` with `labels` (the active one's are
  // dropped); `key` no longer exists afterwards. Its mounts must be unmounted first. Records the
  // snapshot's disk usage, so Usage of a committed snapshot is cheap. NotFound (no key),
  // AlreadyExists (name taken), FailedPrecondition (key is a view or committed).
  virtual absl::Status Commit(absl::string_view ns, absl::string_view name, absl::string_view key,
                              const Labels& labels = {}) = 0;

  // Removes snapshot `key` (any kind, by key or committed name) and its data. Its mounts must be
  // unmounted first. NotFound; FailedPrecondition (a committed snapshot that is still the parent of
  // another one). Once the record is gone the call succeeds: data that cannot be deleted right away
  // (e.g. still mounted) is left for Cleanup.
  virtual absl::Status Remove(absl::string_view ns, absl::string_view key) = 0;

  // The metadata of snapshot `key` (key or committed name). NotFound.
  virtual absl::StatusOr<Info> Stat(absl::string_view ns, absl::string_view key) = 0;

  // Changes the labels of snapshot info.name. `paths`: `labels` replaces all labels with
  // info.labels; `labels.<key>` sets (or, when info.labels has no or an empty value, removes) one;
  // empty means `labels`. Returns the snapshot after the change. InvalidArgument (other paths),
  // NotFound.
  virtual absl::StatusOr<Info> Update(absl::string_view ns, const Info& info,
                                      std::vector<std::string> paths = {}) = 0;

  // Disk space and inodes snapshot `key` uses by itself. Walks the writable directory of an active
  // snapshot (slow on big trees); committed snapshots answer from the value recorded at Commit.
  // NotFound.
  virtual absl::StatusOr<DiskUsage> Usage(absl::string_view ns, absl::string_view key) = 0;

  // The snapshots of `ns` ordered by name, those for which `filter` (when set) returns true.
  virtual absl::StatusOr<std::vector<Info>> List(
      absl::string_view ns, const std::function<bool(const Info&)>& filter = nullptr) = 0;

  // Calls fn for every snapshot of `ns`, ordered by name, stopping at (and returning) fn's first
  // error. fn may call back into the snapshotter.
  virtual absl::Status Walk(absl::string_view ns,
                            const std::function<absl::Status(const Info&)>& fn) = 0;

  // Deletes on-disk data that no snapshot record (of any namespace) refers to any more: left by
  // Remove when deletion failed, by garbage collection (which drops only records) and by crashes.
  // Safe to call at any time, concurrently with everything else. Unimplemented when the snapshotter
  // keeps nothing on disk.
  virtual absl::Status Cleanup() = 0;
};

}  // namespace berth::containerd::snapshots
