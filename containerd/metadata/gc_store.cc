// Transaction: loading the garbage-collection graph from the database and deleting what marking
// found (gc.h has the rules).
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "containerd/metadata/map_tables.h"
#include "containerd/metadata/sqlite.h"
#include "containerd/metadata/transaction.h"

namespace berth::containerd::metadata {
namespace {

using internal::Stmt;

// Only labels under berth.io/gc. matter to marking; '/' follows '.' in ASCII, so this range is
// exactly the keys with that prefix and uses the (owner, key) primary key order.
constexpr char kGcLabelsOnly[] = "m.key >= 'berth.io/gc.' AND m.key < 'berth.io/gc/'";

// Runs `sql` and calls row(stmt) for each result row.
absl::Status ForEachRow(internal::Db& db, absl::string_view sql,
                        const std::function<void(const Stmt&)>& row) {
  BERTH_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(sql));
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool more, stmt.Step());
    if (!more) return absl::OkStatus();
    row(stmt);
  }
}

// Loads the GC labels of every owner in `owner_table` into nodes[index[pk]].labels.
template <typename NodeT>
absl::Status LoadGcLabels(internal::Db& db, absl::string_view table, absl::string_view owner_table,
                          const absl::flat_hash_map<int64_t, size_t>& index,
                          std::vector<NodeT>* nodes) {
  return internal::LoadMaps(db, table, owner_table, kGcLabelsOnly, {},
                            [&](int64_t owner, std::string key, std::string value) {
                              if (auto it = index.find(owner); it != index.end()) {
                                (*nodes)[it->second].labels.emplace(std::move(key),
                                                                    std::move(value));
                              }
                            });
}

}  // namespace

absl::StatusOr<GcInput> Transaction::LoadGcInput() {
  GcInput in;
  absl::flat_hash_map<int64_t, size_t> index;

  BERTH_RETURN_IF_ERROR(
      ForEachRow(*db_, "SELECT pk, namespace, name, target_digest FROM images", [&](const Stmt& s) {
        index[s.ColumnInt64(0)] = in.images.size();
        in.images.push_back({s.ColumnText(1), s.ColumnText(2), s.ColumnText(3), {}});
      }));
  BERTH_RETURN_IF_ERROR(LoadGcLabels(*db_, "image_labels", "images", index, &in.images));

  index.clear();
  BERTH_RETURN_IF_ERROR(
      ForEachRow(*db_, "SELECT pk, namespace, id, snapshotter, snapshot_key FROM containers",
                 [&](const Stmt& s) {
                   index[s.ColumnInt64(0)] = in.containers.size();
                   in.containers.push_back(
                       {s.ColumnText(1), s.ColumnText(2), s.ColumnText(3), s.ColumnText(4), {}});
                 }));
  BERTH_RETURN_IF_ERROR(
      LoadGcLabels(*db_, "container_labels", "containers", index, &in.containers));

  index.clear();
  BERTH_RETURN_IF_ERROR(
      ForEachRow(*db_, "SELECT pk, namespace, digest FROM blobs", [&](const Stmt& s) {
        index[s.ColumnInt64(0)] = in.blobs.size();
        in.blobs.push_back({s.ColumnText(1), s.ColumnText(2), {}});
      }));
  BERTH_RETURN_IF_ERROR(LoadGcLabels(*db_, "blob_labels", "blobs", index, &in.blobs));

  index.clear();
  BERTH_RETURN_IF_ERROR(
      ForEachRow(*db_,
                 "SELECT s.pk, s.namespace, s.snapshotter, s.name, p.name FROM snapshots s "
                 "LEFT JOIN snapshots p ON p.pk = s.parent",
                 [&](const Stmt& s) {
                   index[s.ColumnInt64(0)] = in.snapshots.size();
                   in.snapshots.push_back(
                       {s.ColumnText(1), s.ColumnText(2), s.ColumnText(3), s.ColumnText(4), {}});
                 }));
  BERTH_RETURN_IF_ERROR(LoadGcLabels(*db_, "snapshot_labels", "snapshots", index, &in.snapshots));

  index.clear();
  BERTH_RETURN_IF_ERROR(
      ForEachRow(*db_, "SELECT pk, namespace, id, expires_at FROM leases", [&](const Stmt& s) {
        index[s.ColumnInt64(0)] = in.leases.size();
        GcInput::LeaseNode& lease = in.leases.emplace_back();
        lease.ns = s.ColumnText(1);
        lease.id = s.ColumnText(2);
        if (!s.ColumnIsNull(3)) lease.expires_at = s.ColumnTime(3);
      }));
  BERTH_RETURN_IF_ERROR(
      ForEachRow(*db_, "SELECT owner, type, id FROM lease_resources ORDER BY owner, type, id",
                 [&](const Stmt& s) {
                   if (auto it = index.find(s.ColumnInt64(0)); it != index.end()) {
                     in.leases[it->second].resources.push_back({s.ColumnText(1), s.ColumnText(2)});
                   }
                 }));
  return in;
}

absl::StatusOr<GcCandidates> Transaction::CollectGarbageCandidates() {
  BERTH_ASSIGN_OR_RETURN(GcInput input, LoadGcInput());
  return ComputeGarbage(input, now_);
}

absl::StatusOr<GcSweepResult> Transaction::SweepGarbage(const GcCandidates& candidates) {
  BERTH_RETURN_IF_ERROR(CheckWritable());
  GcSweepResult out;
  out.leased_ingests = candidates.leased_ingests;

  // Leases first: a lease is only a candidate once expired, and it holds no records itself.
  for (const NamedRef& lease : candidates.expired_leases) {
    absl::Status s = DeleteLease(lease.ns, lease.id);
    if (absl::IsNotFound(s)) continue;  // deleted since marking
    BERTH_RETURN_IF_ERROR(s, absl::StrCat("collect lease ", lease.id));
    out.removed_leases.push_back(lease);
  }

  std::set<std::string> removed_digests;
  for (const BlobRef& blob : candidates.blobs) {
    absl::Status s = DeleteBlob(blob.ns, blob.digest);
    if (absl::IsNotFound(s)) continue;
    BERTH_RETURN_IF_ERROR(s, absl::StrCat("collect content ", blob.digest));
    out.removed_blobs.push_back(blob);
    removed_digests.insert(blob.digest);
  }
  for (const std::string& digest : removed_digests) {
    BERTH_ASSIGN_OR_RETURN(bool held, BlobHeldByAnyNamespace(digest));
    if (!held) out.unreferenced_digests.push_back(digest);
  }

  // Candidates come children first, so each removal finds its children already gone; one that
  // gained a child since marking (only possible when marked in another transaction) stays.
  for (const SnapshotRef& snap : candidates.snapshots) {
    absl::StatusOr<Snapshot> removed = RemoveSnapshot(snap.ns, snap.snapshotter, snap.name);
    if (absl::IsNotFound(removed.status()) || absl::IsFailedPrecondition(removed.status())) {
      continue;
    }
    BERTH_RETURN_IF_ERROR(removed.status(), absl::StrCat("collect snapshot ", snap.name));
    out.removed_snapshots.push_back(snap);
    out.removed_snapshot_ids[snap.snapshotter].push_back(removed->id);
  }
  return out;
}

}  // namespace berth::containerd::metadata
