// Transaction: the leases and lease_resources tables.
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "containerd/metadata/gc.h"
#include "containerd/metadata/map_tables.h"
#include "containerd/metadata/sqlite.h"
#include "containerd/metadata/transaction.h"
#include "containerd/metadata/validation.h"

namespace berth::containerd::metadata {
namespace {

using internal::Quote;
using internal::Stmt;

constexpr char kColumns[] = "pk, id, created_at, expires_at";

int64_t ReadLease(const Stmt& stmt, Lease* lease) {
  lease->id = stmt.ColumnText(1);
  lease->created_at = stmt.ColumnTime(2);
  if (!stmt.ColumnIsNull(3)) lease->expires_at = stmt.ColumnTime(3);
  return stmt.ColumnInt64(0);
}

absl::Status NotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("lease ", Quote(id), " not found"));
}

absl::Status CheckLeaseId(absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("lease id must not be empty");
  return absl::OkStatus();
}

// The effective expiry: `expires_at`, or the containerd-style `berth.io/gc.expire` label
// (RFC 3339), not both (leases.proto, CreateRequest).
absl::StatusOr<std::optional<absl::Time>> Expiry(const Lease& lease) {
  auto label = lease.labels.find(std::string(kGcExpireLabel));
  if (label == lease.labels.end()) return lease.expires_at;
  if (lease.expires_at.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("lease sets both an expiration and the ", kGcExpireLabel, " label"));
  }
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, label->second, &t, &err)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "label ", kGcExpireLabel, " ", Quote(label->second), " is not an RFC 3339 time: ", err));
  }
  return std::optional<absl::Time>(t);
}

}  // namespace

absl::StatusOr<std::optional<int64_t>> Transaction::LeasePk(absl::string_view ns,
                                                            absl::string_view id) {
  return internal::QueryPk(*db_, "SELECT pk FROM leases WHERE namespace = ?1 AND id = ?2",
                           {std::string(ns), std::string(id)});
}

absl::StatusOr<Lease> Transaction::LoadLease(int64_t pk) {
  BERTH_ASSIGN_OR_RETURN(
      Stmt stmt, db_->Prepare(absl::StrCat("SELECT ", kColumns, " FROM leases WHERE pk = ?1")));
  stmt.BindInt64(1, pk);
  BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::InternalError(absl::StrCat("lease row ", pk, " vanished"));
  Lease lease;
  ReadLease(stmt, &lease);
  BERTH_ASSIGN_OR_RETURN(lease.labels, internal::LoadMap(*db_, "lease_labels", pk));
  return lease;
}

absl::StatusOr<Lease> Transaction::CreateLease(absl::string_view ns, const Lease& lease) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  BERTH_RETURN_IF_ERROR(ValidateLeaseId(lease.id));
  BERTH_RETURN_IF_ERROR(ValidateLabels(lease.labels));
  BERTH_ASSIGN_OR_RETURN(std::optional<absl::Time> expires_at, Expiry(lease));
  BERTH_RETURN_IF_ERROR(CheckWritable());
  BERTH_RETURN_IF_ERROR(EnsureNamespace(ns));
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> existing, LeasePk(ns, lease.id));
  if (existing) {
    return absl::AlreadyExistsError(absl::StrCat("lease ", Quote(lease.id), " already exists"));
  }
  BERTH_ASSIGN_OR_RETURN(Stmt stmt,
                         db_->Prepare("INSERT INTO leases (namespace, id, created_at, expires_at) "
                                      "VALUES (?1, ?2, ?3, ?4) RETURNING pk"));
  stmt.BindText(1, ns).BindText(2, lease.id).BindTime(3, now_);
  if (expires_at) {
    stmt.BindTime(4, *expires_at);
  } else {
    stmt.BindNull(4);
  }
  BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::InternalError("insert lease returned no row");
  const int64_t pk = stmt.ColumnInt64(0);
  BERTH_RETURN_IF_ERROR(stmt.Run());
  BERTH_RETURN_IF_ERROR(internal::ReplaceMap(*db_, "lease_labels", pk, lease.labels));
  return LoadLease(pk);
}

absl::StatusOr<Lease> Transaction::GetLease(absl::string_view ns, absl::string_view id) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  BERTH_RETURN_IF_ERROR(CheckLeaseId(id));
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> pk, LeasePk(ns, id));
  if (!pk) return NotFound(id);
  return LoadLease(*pk);
}

absl::StatusOr<std::vector<Lease>> Transaction::ListLeases(
    absl::string_view ns, const std::function<bool(const Lease&)>& filter) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  std::vector<Lease> all;
  absl::flat_hash_map<int64_t, size_t> index;
  {
    BERTH_ASSIGN_OR_RETURN(
        Stmt stmt, db_->Prepare(absl::StrCat("SELECT ", kColumns,
                                             " FROM leases WHERE namespace = ?1 ORDER BY id")));
    stmt.BindText(1, ns);
    while (true) {
      BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      Lease lease;
      index[ReadLease(stmt, &lease)] = all.size();
      all.push_back(std::move(lease));
    }
  }
  BERTH_RETURN_IF_ERROR(
      internal::LoadMaps(*db_, "lease_labels", "leases", "o.namespace = ?1", {std::string(ns)},
                         [&](int64_t owner, std::string key, std::string value) {
                           all[index.at(owner)].labels.emplace(std::move(key), std::move(value));
                         }));
  if (!filter) return all;
  std::vector<Lease> out;
  for (Lease& lease : all) {
    if (filter(lease)) out.push_back(std::move(lease));
  }
  return out;
}

absl::Status Transaction::DeleteLease(absl::string_view ns, absl::string_view id) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  BERTH_RETURN_IF_ERROR(CheckLeaseId(id));
  BERTH_RETURN_IF_ERROR(CheckWritable());
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> pk, LeasePk(ns, id));
  if (!pk) return NotFound(id);
  // lease_labels and lease_resources go with it (ON DELETE CASCADE).
  BERTH_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare("DELETE FROM leases WHERE pk = ?1"));
  stmt.BindInt64(1, *pk);
  return stmt.Run();
}

absl::Status Transaction::AddLeaseResource(absl::string_view ns, absl::string_view lease_id,
                                           const LeaseResource& resource) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  BERTH_RETURN_IF_ERROR(CheckLeaseId(lease_id));
  BERTH_RETURN_IF_ERROR(ValidateLeaseResource(resource));
  BERTH_RETURN_IF_ERROR(CheckWritable());
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> pk, LeasePk(ns, lease_id));
  if (!pk) return NotFound(lease_id);
  BERTH_ASSIGN_OR_RETURN(
      Stmt stmt, db_->Prepare("INSERT INTO lease_resources (owner, type, id) VALUES (?1, ?2, ?3) "
                              "ON CONFLICT DO NOTHING"));
  stmt.BindInt64(1, *pk).BindText(2, resource.type).BindText(3, resource.id);
  return stmt.Run();
}

absl::Status Transaction::DeleteLeaseResource(absl::string_view ns, absl::string_view lease_id,
                                              const LeaseResource& resource) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  BERTH_RETURN_IF_ERROR(CheckLeaseId(lease_id));
  BERTH_RETURN_IF_ERROR(ValidateLeaseResource(resource));
  BERTH_RETURN_IF_ERROR(CheckWritable());
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> pk, LeasePk(ns, lease_id));
  if (!pk) return NotFound(lease_id);
  BERTH_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_->Prepare("DELETE FROM lease_resources WHERE owner = ?1 AND type = ?2 AND id = ?3"));
  stmt.BindInt64(1, *pk).BindText(2, resource.type).BindText(3, resource.id);
  return stmt.Run();
}

absl::StatusOr<std::vector<LeaseResource>> Transaction::ListLeaseResources(
    absl::string_view ns, absl::string_view lease_id) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  BERTH_RETURN_IF_ERROR(CheckLeaseId(lease_id));
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> pk, LeasePk(ns, lease_id));
  if (!pk) return NotFound(lease_id);
  BERTH_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_->Prepare("SELECT type, id FROM lease_resources WHERE owner = ?1 ORDER BY type, id"));
  stmt.BindInt64(1, *pk);
  std::vector<LeaseResource> out;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    out.push_back(LeaseResource{stmt.ColumnText(0), stmt.ColumnText(1)});
  }
  return out;
}

}  // namespace berth::containerd::metadata
