// The overlayfs snapshotter ("overlayfs"): snapshots are directories on the host's file system,
// stacked by overlayfs; their records live in berth-containerd's metadata store.
//
// On disk, under <root>/snapshots/overlayfs/:
//   snapshots/<id>/fs     the snapshot's own files: the upper dir of an active snapshot, a layer
//                         once committed (unused, empty, for a view)
//   snapshots/<id>/work   overlayfs's work dir (active snapshots only)
//   trash/<id>-<nonce>    directories being deleted (moved here first, so deletion never races
//                         with a new snapshot or another deleter)
// <id> is the record's Snapshot::id (an SQLite AUTOINCREMENT key): never reused once a record is
// committed, and kept by Commit, so committing moves no files.
//
// Mounts (all paths absolute; mount_util::MountAll (common/mount) shortens long lowerdir lists):
//   active, no parent:     bind <id>/fs, rw
//   active, parents:       overlay lowerdir=<parent fs>:<grandparent fs>:... (topmost first),
//                                  upperdir=<id>/fs, workdir=<id>/work
//   view, no parent:       bind <id>/fs (empty), ro
//   view, one parent:      bind <parent>/fs, ro
//   view, several parents: overlay lowerdir=... only (overlayfs without an upper dir is
//                          read-only), plus "ro"
//
// Crash safety (file system first for creation, metadata store first for removal):
//  - Prepare/View: in ONE write transaction, insert the record (which yields the id), create
//    <id>/{fs,work} and fsync them, then commit. If creating the directories fails the
//    transaction rolls back (no record without a directory); if anything after them fails, or
//    the COMMIT does, the directories are removed again. A crash before the commit leaves a
//    directory without a record, whose id SQLite hands out again (a rolled-back AUTOINCREMENT
//    is reused): creation therefore moves a stale <id> it finds out of the way first, and
//    Cleanup removes such directories too. Stale data is never adopted by a new snapshot.
//  - Remove: commit the record's removal, then move <id> to trash/ and delete it. A crash in
//    between leaves only an orphan directory, for Cleanup.
//  - A record whose directory is missing (the file system lost it, or it was deleted by hand)
//    is found by Create: the directories of an active or view snapshot are made again, empty
//    (what a snapshot whose Prepare just returned holds); a committed one cannot be rebuilt and
//    is logged as an error (snapshots on top of it then fail with DataLoss).
//  - Cleanup moves, inside a write transaction (so no creation is half-way), every directory of
//    snapshots/ that no record names into trash/, then empties trash/.
//
// Requirements checked by Create: the snapshots directory must not be on overlayfs (an overlay
// upper dir cannot be on overlayfs: FailedPrecondition), its file system must report file types
// in directory entries (d_type; xfs without ftype does not), and, when running as root, a test
// overlay mount with two lower dirs must succeed there.
//
// Thread-safe. Does not own the Store, which must outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "containerd/metadata/store.h"
#include "containerd/snapshots/snapshotter.h"

namespace berth::containerd::snapshots {

struct OverlaySnapshotterOptions {
  // berth-containerd's root directory; the snapshotter keeps its files in
  // <root>/snapshots/overlayfs.
  std::string root;
  // When running as root, mount a small overlay at Create to prove overlayfs works on this file
  // system (the static checks run regardless).
  bool probe_mount = true;
  // Test hook: called inside the Prepare/View transaction once the directories exist, before the
  // commit (a test makes it _exit() to simulate a crash there). Never set in production.
  std::function<void(int64_t id)> before_commit_for_testing;
};

class OverlaySnapshotter final : public Snapshotter {
 public:
  // The snapshotter name in requests and in the metadata store.
  static constexpr char kName[] = "overlayfs";

  // Makes the directories, checks the file system (see above) and restores the directories of
  // records that lost them. Does not run Cleanup, which may take long: the daemon calls it after
  // Create (in the background) and after each garbage collection. FailedPrecondition when
  // overlayfs cannot work on options.root; InvalidArgument for an empty or relative root or a
  // null store.
  static absl::StatusOr<std::unique_ptr<OverlaySnapshotter>> Create(
      metadata::Store* store, OverlaySnapshotterOptions options);

  absl::string_view name() const override { return kName; }
  absl::StatusOr<std::vector<Mount>> Prepare(absl::string_view ns, absl::string_view key,
                                             absl::string_view parent,
                                             const Labels& labels = {}) override;
  absl::StatusOr<std::vector<Mount>> View(absl::string_view ns, absl::string_view key,
                                          absl::string_view parent,
                                          const Labels& labels = {}) override;
  absl::StatusOr<std::vector<Mount>> Mounts(absl::string_view ns, absl::string_view key) override;
  absl::Status Commit(absl::string_view ns, absl::string_view name, absl::string_view key,
                      const Labels& labels = {}) override;
  absl::Status Remove(absl::string_view ns, absl::string_view key) override;
  absl::StatusOr<Info> Stat(absl::string_view ns, absl::string_view key) override;
  absl::StatusOr<Info> Update(absl::string_view ns, const Info& info,
                              std::vector<std::string> paths = {}) override;
  absl::StatusOr<DiskUsage> Usage(absl::string_view ns, absl::string_view key) override;
  absl::StatusOr<std::vector<Info>> List(
      absl::string_view ns, const std::function<bool(const Info&)>& filter = nullptr) override;
  absl::Status Walk(absl::string_view ns,
                    const std::function<absl::Status(const Info&)>& fn) override;
  absl::Status Cleanup() override;

  // <root>/snapshots/overlayfs/snapshots: the base MountAll mounts long overlays from.
  const std::string& snapshots_dir() const { return snapshots_dir_; }
  // snapshots_dir()/<id>.
  std::string SnapshotDir(int64_t id) const;
  // The record id behind a key or name (for tests and diagnostics). NotFound.
  absl::StatusOr<int64_t> SnapshotId(absl::string_view ns, absl::string_view key);

 private:
  OverlaySnapshotter(metadata::Store* store, OverlaySnapshotterOptions options);

  // Removes scratch entries an interrupted Create left in base_dir_.
  absl::Status RemoveCheckLeftovers();
  absl::Status CheckFileSystem();
  absl::Status ProbeOverlayMount();
  absl::Status RestoreMissingDirs();

  absl::StatusOr<std::vector<Mount>> CreateSnapshot(metadata::SnapshotKind kind,
                                                    absl::string_view ns, absl::string_view key,
                                                    absl::string_view parent, const Labels& labels);
  // Makes <id>/fs (owner and mode copied from the parent's fs, when there is one) and, for an
  // active snapshot, <id>/work; removes a stale <id> first; fsyncs.
  absl::Status MakeSnapshotDirs(int64_t id, metadata::SnapshotKind kind,
                                std::optional<int64_t> parent_id);
  // DirDiskUsage of <id>/fs; DataLoss when it is missing.
  absl::StatusOr<DiskUsage> MeasureFs(int64_t id) const;
  std::vector<Mount> MountsFor(metadata::SnapshotKind kind,
                               const std::vector<int64_t>& chain) const;
  // Moves snapshots/<name> into trash/ and returns the new trash entry, claimed by the caller (who
  // must DeleteClaimedTrash it), or "" when there was nothing to move (already moved).
  absl::StatusOr<std::string> MoveToTrash(const std::string& name);
  // Claims trash/<entry> for deletion; false if another call is deleting it.
  bool ClaimTrash(const std::string& entry);
  // Deletes a claimed trash/<entry> and releases the claim (also on failure: Cleanup retries).
  absl::Status DeleteClaimedTrash(const std::string& entry);

  metadata::Store* const store_;
  const OverlaySnapshotterOptions options_;
  const std::string base_dir_;       // <root>/snapshots/overlayfs
  const std::string snapshots_dir_;  // base_dir_/snapshots
  const std::string trash_dir_;      // base_dir_/trash

  absl::Mutex trash_mu_;
  // Claimed trash entries: some call is moving or deleting them; nobody else touches them.
  absl::flat_hash_set<std::string> trash_busy_ ABSL_GUARDED_BY(trash_mu_);
  uint64_t trash_counter_ ABSL_GUARDED_BY(trash_mu_) = 0;
};

}  // namespace berth::containerd::snapshots
