// Transaction: the blobs table (which namespaces hold which content, with labels).
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

using internal::Stmt;

constexpr char kColumns[] = "pk, digest, size, created_at, updated_at";

int64_t ReadBlob(const Stmt& stmt, BlobInfo* info) {
  info->digest = stmt.ColumnText(1);
  info->size = stmt.ColumnInt64(2);
  info->created_at = stmt.ColumnTime(3);
  info->updated_at = stmt.ColumnTime(4);
  return stmt.ColumnInt64(0);
}

absl::Status NotFound(absl::string_view digest) {
  return absl::NotFoundError(absl::StrCat("content ", digest, " not found"));
}

}  // namespace

absl::StatusOr<std::optional<int64_t>> Transaction::BlobPk(absl::string_view ns,
                                                           absl::string_view digest) {
  return internal::QueryPk(*db_, "SELECT pk FROM blobs WHERE namespace = ?1 AND digest = ?2",
                           {std::string(ns), std::string(digest)});
}

absl::StatusOr<BlobInfo> Transaction::LoadBlob(int64_t pk) {
  BERTH_ASSIGN_OR_RETURN(
      Stmt stmt, db_->Prepare(absl::StrCat("SELECT ", kColumns, " FROM blobs WHERE pk = ?1")));
  stmt.BindInt64(1, pk);
  BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::InternalError(absl::StrCat("blob row ", pk, " vanished"));
  BlobInfo info;
  ReadBlob(stmt, &info);
  BERTH_ASSIGN_OR_RETURN(info.labels, internal::LoadMap(*db_, "blob_labels", pk));
  return info;
}

absl::StatusOr<BlobInfo> Transaction::AddBlob(absl::string_view ns, const BlobInfo& info) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  BERTH_RETURN_IF_ERROR(ValidateDigest(info.digest));
  if (info.size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("content size must not be negative, got ", info.size));
  }
  BERTH_RETURN_IF_ERROR(ValidateLabels(info.labels));
  BERTH_RETURN_IF_ERROR(CheckWritable());
  BERTH_RETURN_IF_ERROR(EnsureNamespace(ns));
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> existing, BlobPk(ns, info.digest));
  if (existing) {
    return absl::AlreadyExistsError(absl::StrCat("content ", info.digest, " already exists"));
  }
  BERTH_ASSIGN_OR_RETURN(
      Stmt stmt, db_->Prepare("INSERT INTO blobs (namespace, digest, size, created_at, updated_at) "
                              "VALUES (?1, ?2, ?3, ?4, ?4) RETURNING pk"));
  stmt.BindText(1, ns).BindText(2, info.digest).BindInt64(3, info.size).BindTime(4, now_);
  BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::InternalError("insert blob returned no row");
  const int64_t pk = stmt.ColumnInt64(0);
  BERTH_RETURN_IF_ERROR(stmt.Run());
  BERTH_RETURN_IF_ERROR(internal::ReplaceMap(*db_, "blob_labels", pk, info.labels));
  return LoadBlob(pk);
}

absl::StatusOr<BlobInfo> Transaction::GetBlob(absl::string_view ns, absl::string_view digest) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  BERTH_RETURN_IF_ERROR(ValidateDigest(digest));
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> pk, BlobPk(ns, digest));
  if (!pk) return NotFound(digest);
  return LoadBlob(*pk);
}

absl::StatusOr<std::vector<BlobInfo>> Transaction::ListBlobs(
    absl::string_view ns, const std::function<bool(const BlobInfo&)>& filter) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  std::vector<BlobInfo> all;
  absl::flat_hash_map<int64_t, size_t> index;
  {
    BERTH_ASSIGN_OR_RETURN(
        Stmt stmt, db_->Prepare(absl::StrCat("SELECT ", kColumns,
                                             " FROM blobs WHERE namespace = ?1 ORDER BY digest")));
    stmt.BindText(1, ns);
    while (true) {
      BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      BlobInfo info;
      index[ReadBlob(stmt, &info)] = all.size();
      all.push_back(std::move(info));
    }
  }
  BERTH_RETURN_IF_ERROR(
      internal::LoadMaps(*db_, "blob_labels", "blobs", "o.namespace = ?1", {std::string(ns)},
                         [&](int64_t owner, std::string key, std::string value) {
                           all[index.at(owner)].labels.emplace(std::move(key), std::move(value));
                         }));
  if (!filter) return all;
  std::vector<BlobInfo> out;
  for (BlobInfo& info : all) {
    if (filter(info)) out.push_back(std::move(info));
  }
  return out;
}

absl::StatusOr<BlobInfo> Transaction::UpdateBlob(absl::string_view ns, const BlobInfo& info,
                                                 std::vector<std::string> paths) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  BERTH_RETURN_IF_ERROR(ValidateDigest(info.digest));
  BERTH_RETURN_IF_ERROR(ValidateLabels(info.labels));
  if (paths.empty()) paths = {"labels"};
  MapUpdate labels;
  BERTH_RETURN_IF_ERROR(TakeMapPaths("labels", &paths, &labels));
  BERTH_RETURN_IF_ERROR(internal::UnknownPaths("content", paths));
  BERTH_RETURN_IF_ERROR(CheckWritable());
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> pk, BlobPk(ns, info.digest));
  if (!pk) return NotFound(info.digest);
  BERTH_RETURN_IF_ERROR(internal::ApplyMapUpdate(*db_, "blob_labels", *pk, labels, info.labels));
  BERTH_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare("UPDATE blobs SET updated_at = ?2 WHERE pk = ?1"));
  stmt.BindInt64(1, *pk).BindTime(2, now_);
  BERTH_RETURN_IF_ERROR(stmt.Run());
  return LoadBlob(*pk);
}

absl::Status Transaction::DeleteBlob(absl::string_view ns, absl::string_view digest) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  BERTH_RETURN_IF_ERROR(ValidateDigest(digest));
  BERTH_RETURN_IF_ERROR(CheckWritable());
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> pk, BlobPk(ns, digest));
  if (!pk) return NotFound(digest);
  BERTH_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare("DELETE FROM blobs WHERE pk = ?1"));
  stmt.BindInt64(1, *pk);
  return stmt.Run();
}

absl::StatusOr<bool> Transaction::BlobHeldByAnyNamespace(absl::string_view digest) {
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> pk,
                         internal::QueryPk(*db_, "SELECT pk FROM blobs WHERE digest = ?1 LIMIT 1",
                                           {std::string(digest)}));
  return pk.has_value();
}

absl::StatusOr<std::vector<std::string>> Transaction::ListAllBlobDigests() {
  BERTH_ASSIGN_OR_RETURN(Stmt stmt,
                         db_->Prepare("SELECT DISTINCT digest FROM blobs ORDER BY digest"));
  std::vector<std::string> out;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    out.push_back(stmt.ColumnText(0));
  }
  return out;
}

}  // namespace berth::containerd::metadata
