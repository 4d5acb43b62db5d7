// Transaction: shared checks and the namespaces table.
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/status_macros.h"
#include "containerd/metadata/map_tables.h"
#include "containerd/metadata/sqlite.h"
#include "containerd/metadata/transaction.h"
#include "containerd/metadata/validation.h"

namespace berth::containerd::metadata {

using internal::Quote;
using internal::Stmt;

absl::Status Transaction::CheckWritable() const {
  if (read_only_) return absl::FailedPreconditionError("write in a read-only transaction");
  return absl::OkStatus();
}

absl::Status Transaction::CheckSpec(absl::string_view spec) {
  if (spec.empty()) return absl::OkStatus();
  // SQLite's JSON parser saves a dependency; json_type would raise an error on malformed text,
  // hence the json_valid guard.
  BERTH_ASSIGN_OR_RETURN(
      Stmt stmt, db_->Prepare("SELECT CASE WHEN json_valid(?1) THEN json_type(?1) ELSE '' END"));
  stmt.BindText(1, spec);
  BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
  std::string type = row ? stmt.ColumnText(0) : "";
  if (type.empty()) return absl::InvalidArgumentError("spec is not valid JSON");
  if (type != "object") {
    return absl::InvalidArgumentError(absl::StrCat("spec is a JSON ", type, ", not an object"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<int64_t>> Transaction::NamespacePk(absl::string_view name) {
  return internal::QueryPk(*db_, "SELECT pk FROM namespaces WHERE name = ?1", {std::string(name)});
}

absl::Status Transaction::EnsureNamespace(absl::string_view ns) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  BERTH_RETURN_IF_ERROR(CheckWritable());
  BERTH_ASSIGN_OR_RETURN(Stmt stmt,
                         db_->Prepare("INSERT INTO namespaces (name, created_at, updated_at) "
                                      "VALUES (?1, ?2, ?2) ON CONFLICT (name) DO NOTHING"));
  stmt.BindText(1, ns).BindTime(2, now_);
  return stmt.Run();
}

absl::StatusOr<Namespace> Transaction::CreateNamespace(const Namespace& ns) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns.name));
  BERTH_RETURN_IF_ERROR(ValidateLabels(ns.labels));
  BERTH_RETURN_IF_ERROR(CheckWritable());
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> existing, NamespacePk(ns.name));
  if (existing) {
    return absl::AlreadyExistsError(absl::StrCat("namespace ", Quote(ns.name), " already exists"));
  }
  BERTH_RETURN_IF_ERROR(EnsureNamespace(ns.name));
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> pk, NamespacePk(ns.name));
  BERTH_RETURN_IF_ERROR(internal::ReplaceMap(*db_, "namespace_labels", *pk, ns.labels));
  return GetNamespace(ns.name);
}

absl::StatusOr<Namespace> Transaction::GetNamespace(absl::string_view name) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(name));
  BERTH_ASSIGN_OR_RETURN(
      Stmt stmt, db_->Prepare("SELECT pk, created_at, updated_at FROM namespaces WHERE name = ?1"));
  stmt.BindText(1, name);
  BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("namespace ", Quote(name), " not found"));
  Namespace out;
  out.name = std::string(name);
  out.created_at = stmt.ColumnTime(1);
  out.updated_at = stmt.ColumnTime(2);
  BERTH_ASSIGN_OR_RETURN(out.labels,
                         internal::LoadMap(*db_, "namespace_labels", stmt.ColumnInt64(0)));
  return out;
}

absl::StatusOr<std::vector<Namespace>> Transaction::ListNamespaces(
    const std::function<bool(const Namespace&)>& filter) {
  std::vector<Namespace> all;
  absl::flat_hash_map<int64_t, size_t> index;
  {
    BERTH_ASSIGN_OR_RETURN(
        Stmt stmt,
        db_->Prepare("SELECT pk, name, created_at, updated_at FROM namespaces ORDER BY name"));
    while (true) {
      BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      index[stmt.ColumnInt64(0)] = all.size();
      Namespace& ns = all.emplace_back();
      ns.name = stmt.ColumnText(1);
      ns.created_at = stmt.ColumnTime(2);
      ns.updated_at = stmt.ColumnTime(3);
    }
  }
  BERTH_RETURN_IF_ERROR(internal::LoadMaps(*db_, "namespace_labels", "namespaces", "1", {},
                                           [&](int64_t owner, std::string key, std::string value) {
                                             if (auto it = index.find(owner); it != index.end()) {
                                               all[it->second].labels.emplace(std::move(key),
                                                                              std::move(value));
                                             }
                                           }));
  if (!filter) return all;
  std::vector<Namespace> out;
  for (Namespace& ns : all) {
    if (filter(ns)) out.push_back(std::move(ns));
  }
  return out;
}

absl::StatusOr<Namespace> Transaction::UpdateNamespace(const Namespace& ns,
                                                       std::vector<std::string> paths) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns.name));
  BERTH_RETURN_IF_ERROR(ValidateLabels(ns.labels));
  if (paths.empty()) paths = {"labels"};
  MapUpdate labels;
  BERTH_RETURN_IF_ERROR(TakeMapPaths("labels", &paths, &labels));
  BERTH_RETURN_IF_ERROR(internal::UnknownPaths("namespace", paths));
  BERTH_RETURN_IF_ERROR(CheckWritable());
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> pk, NamespacePk(ns.name));
  if (!pk) return absl::NotFoundError(absl::StrCat("namespace ", Quote(ns.name), " not found"));
  BERTH_RETURN_IF_ERROR(internal::ApplyMapUpdate(*db_, "namespace_labels", *pk, labels, ns.labels));
  BERTH_ASSIGN_OR_RETURN(Stmt stmt,
                         db_->Prepare("UPDATE namespaces SET updated_at = ?2 WHERE pk = ?1"));
  stmt.BindInt64(1, *pk).BindTime(2, now_);
  BERTH_RETURN_IF_ERROR(stmt.Run());
  return GetNamespace(ns.name);
}

absl::Status Transaction::DeleteNamespace(absl::string_view name) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(name));
  BERTH_RETURN_IF_ERROR(CheckWritable());
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> pk, NamespacePk(name));
  if (!pk) return absl::NotFoundError(absl::StrCat("namespace ", Quote(name), " not found"));
  // Say what is left, so the caller knows what to delete first.
  std::vector<std::string> held;
  for (const char* table : {"images", "containers", "blobs", "snapshots", "leases"}) {
    BERTH_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare(absl::StrCat("SELECT count(*) FROM ", table,
                                                                " WHERE namespace = ?1")));
    stmt.BindText(1, name);
    BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
    int64_t n = row ? stmt.ColumnInt64(0) : 0;
    if (n > 0) held.push_back(absl::StrCat(n, " ", table));
  }
  if (!held.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "namespace ", Quote(name), " is not empty: it holds ", absl::StrJoin(held, ", ")));
  }
  BERTH_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare("DELETE FROM namespaces WHERE pk = ?1"));
  stmt.BindInt64(1, *pk);
  return stmt.Run();
}

}  // namespace berth::containerd::metadata
