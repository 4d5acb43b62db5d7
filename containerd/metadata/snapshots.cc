// Transaction: the snapshots table, per snapshotter.
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "containerd/metadata/map_tables.h"
#include "containerd/metadata/sqlite.h"
#include "containerd/metadata/transaction.h"
#include "containerd/metadata/validation.h"

namespace berth::containerd::metadata {
namespace {

using internal::Quote;
using internal::Stmt;

// The parent's name comes from a self-join: rows store the parent's pk, which Commit keeps.
constexpr char kSelect[] =
    "SELECT s.pk, s.name, s.kind, p.name, s.usage_size, s.usage_inodes, s.created_at, "
    "s.updated_at FROM snapshots s LEFT JOIN snapshots p ON p.pk = s.parent ";

absl::StatusOr<SnapshotKind> ParseKind(absl::string_view kind) {
  if (kind == "view") return SnapshotKind::kView;
  if (kind == "active") return SnapshotKind::kActive;
  if (kind == "committed") return SnapshotKind::kCommitted;
  return absl::DataLossError(absl::StrCat("snapshot kind ", Quote(kind), " in the database"));
}

absl::StatusOr<Snapshot> ReadSnapshot(const Stmt& stmt) {
  Snapshot s;
  s.id = stmt.ColumnInt64(0);
  s.name = stmt.ColumnText(1);
  BERTH_ASSIGN_OR_RETURN(s.kind, ParseKind(stmt.ColumnText(2)));
  s.parent = stmt.ColumnText(3);
  if (!stmt.ColumnIsNull(4)) s.usage = SnapshotUsage{stmt.ColumnInt64(4), stmt.ColumnInt64(5)};
  s.created_at = stmt.ColumnTime(6);
  s.updated_at = stmt.ColumnTime(7);
  return s;
}

absl::Status NotFound(absl::string_view name) {
  return absl::NotFoundError(absl::StrCat("snapshot ", Quote(name), " not found"));
}

absl::Status ValidateKey(absl::string_view what, absl::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " must not be empty"));
  return absl::OkStatus();
}

absl::Status ValidateScope(absl::string_view ns, absl::string_view snapshotter) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  return ValidateSnapshotterName(snapshotter);
}

}  // namespace

absl::StatusOr<Snapshot> Transaction::LoadSnapshot(int64_t pk) {
  BERTH_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare(absl::StrCat(kSelect, "WHERE s.pk = ?1")));
  stmt.BindInt64(1, pk);
  BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::InternalError(absl::StrCat("snapshot row ", pk, " vanished"));
  BERTH_ASSIGN_OR_RETURN(Snapshot s, ReadSnapshot(stmt));
  BERTH_ASSIGN_OR_RETURN(s.labels, internal::LoadMap(*db_, "snapshot_labels", pk));
  return s;
}

absl::StatusOr<std::optional<Snapshot>> Transaction::FindSnapshot(absl::string_view ns,
                                                                  absl::string_view snapshotter,
                                                                  absl::string_view name) {
  BERTH_ASSIGN_OR_RETURN(
      std::optional<int64_t> pk,
      internal::QueryPk(*db_,
                        "SELECT pk FROM snapshots "
                        "WHERE namespace = ?1 AND snapshotter = ?2 AND name = ?3",
                        {std::string(ns), std::string(snapshotter), std::string(name)}));
  if (!pk) return std::optional<Snapshot>();
  BERTH_ASSIGN_OR_RETURN(Snapshot s, LoadSnapshot(*pk));
  return std::optional<Snapshot>(std::move(s));
}

absl::StatusOr<Snapshot> Transaction::CreateSnapshot(absl::string_view ns,
                                                     absl::string_view snapshotter,
                                                     const Snapshot& snapshot) {
  BERTH_RETURN_IF_ERROR(ValidateScope(ns, snapshotter));
  BERTH_RETURN_IF_ERROR(ValidateKey("snapshot key", snapshot.name));
  if (snapshot.kind == SnapshotKind::kCommitted) {
    return absl::InvalidArgumentError(
        "a committed snapshot can only be made by committing an active one");
  }
  BERTH_RETURN_IF_ERROR(ValidateLabels(snapshot.labels));
  BERTH_RETURN_IF_ERROR(CheckWritable());
  BERTH_RETURN_IF_ERROR(EnsureNamespace(ns));
  BERTH_ASSIGN_OR_RETURN(std::optional<Snapshot> existing,
                         FindSnapshot(ns, snapshotter, snapshot.name));
  if (existing) {
    return absl::AlreadyExistsError(
        absl::StrCat("snapshot ", Quote(snapshot.name), " already exists"));
  }
  std::optional<int64_t> parent_pk;
  if (!snapshot.parent.empty()) {
    BERTH_ASSIGN_OR_RETURN(std::optional<Snapshot> parent,
                           FindSnapshot(ns, snapshotter, snapshot.parent));
    if (!parent) {
      return absl::NotFoundError(
          absl::StrCat("parent snapshot ", Quote(snapshot.parent), " not found"));
    }
    if (parent->kind != SnapshotKind::kCommitted) {
      return absl::FailedPreconditionError(absl::StrCat("parent snapshot ", Quote(snapshot.parent),
                                                        " is ", SnapshotKindName(parent->kind),
                                                        ", not committed"));
    }
    parent_pk = parent->id;
  }
  BERTH_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_->Prepare("INSERT INTO snapshots (namespace, snapshotter, name, kind, parent, created_at, "
                   "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) RETURNING pk"));
  stmt.BindText(1, ns)
      .BindText(2, snapshotter)
      .BindText(3, snapshot.name)
      .BindText(4, SnapshotKindName(snapshot.kind))
      .BindTime(6, now_);
  if (parent_pk) {
    stmt.BindInt64(5, *parent_pk);
  } else {
    stmt.BindNull(5);
  }
  BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::InternalError("insert snapshot returned no row");
  const int64_t pk = stmt.ColumnInt64(0);
  BERTH_RETURN_IF_ERROR(stmt.Run());
  BERTH_RETURN_IF_ERROR(internal::ReplaceMap(*db_, "snapshot_labels", pk, snapshot.labels));
  return LoadSnapshot(pk);
}

absl::StatusOr<Snapshot> Transaction::GetSnapshot(absl::string_view ns,
                                                  absl::string_view snapshotter,
                                                  absl::string_view name) {
  BERTH_RETURN_IF_ERROR(ValidateScope(ns, snapshotter));
  BERTH_RETURN_IF_ERROR(ValidateKey("snapshot key", name));
  BERTH_ASSIGN_OR_RETURN(std::optional<Snapshot> s, FindSnapshot(ns, snapshotter, name));
  if (!s) return NotFound(name);
  return std::move(*s);
}

absl::StatusOr<std::vector<Snapshot>> Transaction::ListSnapshots(
    absl::string_view ns, absl::string_view snapshotter,
    const std::function<bool(const Snapshot&)>& filter) {
  BERTH_RETURN_IF_ERROR(ValidateScope(ns, snapshotter));
  std::vector<Snapshot> all;
  absl::flat_hash_map<int64_t, size_t> index;
  {
    BERTH_ASSIGN_OR_RETURN(
        Stmt stmt, db_->Prepare(absl::StrCat(
                       kSelect, "WHERE s.namespace = ?1 AND s.snapshotter = ?2 ORDER BY s.name")));
    stmt.BindText(1, ns).BindText(2, snapshotter);
    while (true) {
      BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      BERTH_ASSIGN_OR_RETURN(Snapshot s, ReadSnapshot(stmt));
      index[s.id] = all.size();
      all.push_back(std::move(s));
    }
  }
  BERTH_RETURN_IF_ERROR(internal::LoadMaps(
      *db_, "snapshot_labels", "snapshots", "o.namespace = ?1 AND o.snapshotter = ?2",
      {std::string(ns), std::string(snapshotter)},
      [&](int64_t owner, std::string key, std::string value) {
        all[index.at(owner)].labels.emplace(std::move(key), std::move(value));
      }));
  if (!filter) return all;
  std::vector<Snapshot> out;
  for (Snapshot& s : all) {
    if (filter(s)) out.push_back(std::move(s));
  }
  return out;
}

absl::Status Transaction::WalkSnapshots(absl::string_view ns, absl::string_view snapshotter,
                                        const std::function<absl::Status(const Snapshot&)>& fn) {
  // Listing first means fn may call back into this transaction (e.g. Get a parent) without
  // reusing a statement that is still being stepped.
  BERTH_ASSIGN_OR_RETURN(std::vector<Snapshot> all, ListSnapshots(ns, snapshotter));
  for (const Snapshot& s : all) BERTH_RETURN_IF_ERROR(fn(s));
  return absl::OkStatus();
}

absl::StatusOr<Snapshot> Transaction::CommitSnapshot(absl::string_view ns,
                                                     absl::string_view snapshotter,
                                                     absl::string_view key, absl::string_view name,
                                                     const Labels& labels) {
  BERTH_RETURN_IF_ERROR(ValidateScope(ns, snapshotter));
  BERTH_RETURN_IF_ERROR(ValidateKey("snapshot key", key));
  BERTH_RETURN_IF_ERROR(ValidateKey("snapshot name", name));
  BERTH_RETURN_IF_ERROR(ValidateLabels(labels));
  BERTH_RETURN_IF_ERROR(CheckWritable());
  BERTH_ASSIGN_OR_RETURN(std::optional<Snapshot> active, FindSnapshot(ns, snapshotter, key));
  if (!active) return NotFound(key);
  if (active->kind != SnapshotKind::kActive) {
    return absl::FailedPreconditionError(absl::StrCat(
        "snapshot ", Quote(key), " is ", SnapshotKindName(active->kind), ", not active"));
  }
  BERTH_ASSIGN_OR_RETURN(std::optional<Snapshot> taken, FindSnapshot(ns, snapshotter, name));
  if (taken) {
    return absl::AlreadyExistsError(absl::StrCat("snapshot ", Quote(name), " already exists"));
  }
  // Same row, so the id (the directory) and the parent link stay; the key is consumed.
  BERTH_ASSIGN_OR_RETURN(Stmt stmt,
                         db_->Prepare("UPDATE snapshots SET name = ?2, kind = 'committed', "
                                      "created_at = ?3, updated_at = ?3 WHERE pk = ?1"));
  stmt.BindInt64(1, active->id).BindText(2, name).BindTime(3, now_);
  BERTH_RETURN_IF_ERROR(stmt.Run());
  BERTH_RETURN_IF_ERROR(internal::ReplaceMap(*db_, "snapshot_labels", active->id, labels));
  return LoadSnapshot(active->id);
}

absl::StatusOr<Snapshot> Transaction::RemoveSnapshot(absl::string_view ns,
                                                     absl::string_view snapshotter,
                                                     absl::string_view name) {
  BERTH_RETURN_IF_ERROR(ValidateScope(ns, snapshotter));
  BERTH_RETURN_IF_ERROR(ValidateKey("snapshot key", name));
  BERTH_RETURN_IF_ERROR(CheckWritable());
  BERTH_ASSIGN_OR_RETURN(std::optional<Snapshot> s, FindSnapshot(ns, snapshotter, name));
  if (!s) return NotFound(name);
  {
    BERTH_ASSIGN_OR_RETURN(Stmt stmt,
                           db_->Prepare("SELECT count(*) FROM snapshots WHERE parent = ?1"));
    stmt.BindInt64(1, s->id);
    BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
    const int64_t children = row ? stmt.ColumnInt64(0) : 0;
    if (children > 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("snapshot ", Quote(name), " is the parent of ", children,
                       children == 1 ? " snapshot" : " snapshots", "; remove them first"));
    }
  }
  BERTH_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare("DELETE FROM snapshots WHERE pk = ?1"));
  stmt.BindInt64(1, s->id);
  BERTH_RETURN_IF_ERROR(stmt.Run());
  return std::move(*s);
}

absl::StatusOr<Snapshot> Transaction::UpdateSnapshot(absl::string_view ns,
                                                     absl::string_view snapshotter,
                                                     const Snapshot& snapshot,
                                                     std::vector<std::string> paths) {
  BERTH_RETURN_IF_ERROR(ValidateScope(ns, snapshotter));
  BERTH_RETURN_IF_ERROR(ValidateKey("snapshot key", snapshot.name));
  BERTH_RETURN_IF_ERROR(ValidateLabels(snapshot.labels));
  if (paths.empty()) paths = {"labels"};
  MapUpdate labels;
  BERTH_RETURN_IF_ERROR(TakeMapPaths("labels", &paths, &labels));
  BERTH_RETURN_IF_ERROR(internal::UnknownPaths("snapshot", paths));
  BERTH_RETURN_IF_ERROR(CheckWritable());
  BERTH_ASSIGN_OR_RETURN(std::optional<Snapshot> s, FindSnapshot(ns, snapshotter, snapshot.name));
  if (!s) return NotFound(snapshot.name);
  BERTH_RETURN_IF_ERROR(
      internal::ApplyMapUpdate(*db_, "snapshot_labels", s->id, labels, snapshot.labels));
  BERTH_ASSIGN_OR_RETURN(Stmt stmt,
                         db_->Prepare("UPDATE snapshots SET updated_at = ?2 WHERE pk = ?1"));
  stmt.BindInt64(1, s->id).BindTime(2, now_);
  BERTH_RETURN_IF_ERROR(stmt.Run());
  return LoadSnapshot(s->id);
}

absl::Status Transaction::SetSnapshotUsage(absl::string_view ns, absl::string_view snapshotter,
                                           absl::string_view name, const SnapshotUsage& usage) {
  BERTH_RETURN_IF_ERROR(ValidateScope(ns, snapshotter));
  BERTH_RETURN_IF_ERROR(ValidateKey("snapshot key", name));
  if (usage.size < 0 || usage.inodes < 0) {
    return absl::InvalidArgumentError("snapshot usage must not be negative");
  }
  BERTH_RETURN_IF_ERROR(CheckWritable());
  BERTH_ASSIGN_OR_RETURN(
      std::optional<int64_t> pk,
      internal::QueryPk(*db_,
                        "SELECT pk FROM snapshots "
                        "WHERE namespace = ?1 AND snapshotter = ?2 AND name = ?3",
                        {std::string(ns), std::string(snapshotter), std::string(name)}));
  if (!pk) return NotFound(name);
  BERTH_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_->Prepare("UPDATE snapshots SET usage_size = ?2, usage_inodes = ?3 WHERE pk = ?1"));
  stmt.BindInt64(1, *pk).BindInt64(2, usage.size).BindInt64(3, usage.inodes);
  return stmt.Run();
}

absl::StatusOr<std::vector<int64_t>> Transaction::SnapshotChainIds(absl::string_view ns,
                                                                   absl::string_view snapshotter,
                                                                   absl::string_view name) {
  BERTH_RETURN_IF_ERROR(ValidateScope(ns, snapshotter));
  BERTH_RETURN_IF_ERROR(ValidateKey("snapshot key", name));
  BERTH_ASSIGN_OR_RETURN(Stmt stmt,
                         db_->Prepare("WITH RECURSIVE chain (pk, parent, depth) AS ("
                                      "  SELECT pk, parent, 0 FROM snapshots"
                                      "    WHERE namespace = ?1 AND snapshotter = ?2 AND name = ?3"
                                      "  UNION ALL"
                                      "  SELECT s.pk, s.parent, c.depth + 1 FROM snapshots s"
                                      "    JOIN chain c ON s.pk = c.parent"
                                      ") SELECT pk FROM chain ORDER BY depth"));
  stmt.BindText(1, ns).BindText(2, snapshotter).BindText(3, name);
  std::vector<int64_t> out;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    out.push_back(stmt.ColumnInt64(0));
  }
  if (out.empty()) return NotFound(name);
  return out;
}

absl::StatusOr<std::vector<int64_t>> Transaction::ListAllSnapshotIds(
    absl::string_view snapshotter) {
  BERTH_RETURN_IF_ERROR(ValidateSnapshotterName(snapshotter));
  BERTH_ASSIGN_OR_RETURN(
      Stmt stmt, db_->Prepare("SELECT pk FROM snapshots WHERE snapshotter = ?1 ORDER BY pk"));
  stmt.BindText(1, snapshotter);
  std::vector<int64_t> out;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    out.push_back(stmt.ColumnInt64(0));
  }
  return out;
}

}  // namespace berth::containerd::metadata
