// Transaction: the containers table.
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
using internal::ValueType;

constexpr char kColumns[] =
    "pk, id, image, runtime_name, runtime_options, spec, snapshotter, snapshot_key, sandbox_id, "
    "created_at, updated_at";

int64_t ReadContainer(const Stmt& stmt, Container* c) {
  c->id = stmt.ColumnText(1);
  c->image = stmt.ColumnText(2);
  c->runtime.name = stmt.ColumnText(3);
  c->runtime.options = stmt.ColumnBlob(4);
  c->spec = stmt.ColumnBlob(5);
  c->snapshotter = stmt.ColumnText(6);
  c->snapshot_key = stmt.ColumnText(7);
  c->sandbox_id = stmt.ColumnText(8);
  c->created_at = stmt.ColumnTime(9);
  c->updated_at = stmt.ColumnTime(10);
  return stmt.ColumnInt64(0);
}

absl::Status NotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("container ", Quote(id), " not found"));
}

absl::Status ValidateExtensions(const std::map<std::string, std::string>& extensions) {
  for (const auto& [key, value] : extensions) {
    if (key.empty()) return absl::InvalidArgumentError("extension key must not be empty");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::optional<int64_t>> Transaction::ContainerPk(absl::string_view ns,
                                                                absl::string_view id) {
  return internal::QueryPk(*db_, "SELECT pk FROM containers WHERE namespace = ?1 AND id = ?2",
                           {std::string(ns), std::string(id)});
}

absl::StatusOr<Container> Transaction::LoadContainer(int64_t pk) {
  BERTH_ASSIGN_OR_RETURN(
      Stmt stmt, db_->Prepare(absl::StrCat("SELECT ", kColumns, " FROM containers WHERE pk = ?1")));
  stmt.BindInt64(1, pk);
  BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::InternalError(absl::StrCat("container row ", pk, " vanished"));
  Container c;
  ReadContainer(stmt, &c);
  BERTH_ASSIGN_OR_RETURN(c.labels, internal::LoadMap(*db_, "container_labels", pk));
  BERTH_ASSIGN_OR_RETURN(c.extensions,
                         internal::LoadMap(*db_, "container_extensions", pk, ValueType::kBlob));
  return c;
}

absl::StatusOr<Container> Transaction::CreateContainer(absl::string_view ns,
                                                       const Container& container) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  BERTH_RETURN_IF_ERROR(ValidateContainerId(container.id));
  BERTH_RETURN_IF_ERROR(ValidateLabels(container.labels));
  BERTH_RETURN_IF_ERROR(ValidateExtensions(container.extensions));
  if (!container.snapshotter.empty()) {
    BERTH_RETURN_IF_ERROR(ValidateSnapshotterName(container.snapshotter));
  }
  BERTH_RETURN_IF_ERROR(CheckSpec(container.spec));
  BERTH_RETURN_IF_ERROR(CheckWritable());
  BERTH_RETURN_IF_ERROR(EnsureNamespace(ns));
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> existing, ContainerPk(ns, container.id));
  if (existing) {
    return absl::AlreadyExistsError(
        absl::StrCat("container ", Quote(container.id), " already exists"));
  }
  BERTH_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_->Prepare("INSERT INTO containers (namespace, id, image, runtime_name, runtime_options, "
                   "spec, snapshotter, snapshot_key, sandbox_id, created_at, updated_at) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) RETURNING pk"));
  stmt.BindText(1, ns)
      .BindText(2, container.id)
      .BindText(3, container.image)
      .BindText(4, container.runtime.name)
      .BindBlob(5, container.runtime.options)
      .BindBlob(6, container.spec)
      .BindText(7, container.snapshotter)
      .BindText(8, container.snapshot_key)
      .BindText(9, container.sandbox_id)
      .BindTime(10, now_);
  BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::InternalError("insert container returned no row");
  const int64_t pk = stmt.ColumnInt64(0);
  BERTH_RETURN_IF_ERROR(stmt.Run());
  BERTH_RETURN_IF_ERROR(internal::ReplaceMap(*db_, "container_labels", pk, container.labels));
  BERTH_RETURN_IF_ERROR(internal::ReplaceMap(*db_, "container_extensions", pk, container.extensions,
                                             ValueType::kBlob));
  return LoadContainer(pk);
}

absl::StatusOr<Container> Transaction::GetContainer(absl::string_view ns, absl::string_view id) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  if (id.empty()) return absl::InvalidArgumentError("container id must not be empty");
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> pk, ContainerPk(ns, id));
  if (!pk) return NotFound(id);
  return LoadContainer(*pk);
}

absl::StatusOr<std::vector<Container>> Transaction::ListContainers(
    absl::string_view ns, const std::function<bool(const Container&)>& filter) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  std::vector<Container> all;
  absl::flat_hash_map<int64_t, size_t> index;
  {
    BERTH_ASSIGN_OR_RETURN(
        Stmt stmt, db_->Prepare(absl::StrCat("SELECT ", kColumns,
                                             " FROM containers WHERE namespace = ?1 ORDER BY id")));
    stmt.BindText(1, ns);
    while (true) {
      BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      Container c;
      index[ReadContainer(stmt, &c)] = all.size();
      all.push_back(std::move(c));
    }
  }
  const std::vector<std::string> params = {std::string(ns)};
  BERTH_RETURN_IF_ERROR(
      internal::LoadMaps(*db_, "container_labels", "containers", "o.namespace = ?1", params,
                         [&](int64_t owner, std::string key, std::string value) {
                           all[index.at(owner)].labels.emplace(std::move(key), std::move(value));
                         }));
  BERTH_RETURN_IF_ERROR(internal::LoadMaps(
      *db_, "container_extensions", "containers", "o.namespace = ?1", params,
      [&](int64_t owner, std::string key, std::string value) {
        all[index.at(owner)].extensions.emplace(std::move(key), std::move(value));
      },
      ValueType::kBlob));
  if (!filter) return all;
  std::vector<Container> out;
  for (Container& c : all) {
    if (filter(c)) out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<Container> Transaction::UpdateContainer(absl::string_view ns,
                                                       const Container& container,
                                                       std::vector<std::string> paths) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  if (container.id.empty()) return absl::InvalidArgumentError("container id must not be empty");
  BERTH_RETURN_IF_ERROR(ValidateLabels(container.labels));
  BERTH_RETURN_IF_ERROR(ValidateExtensions(container.extensions));
  if (paths.empty()) {
    paths = {"labels", "image", "runtime", "spec", "snapshot_key", "extensions", "sandbox_id"};
  }
  MapUpdate labels;
  MapUpdate extensions;
  BERTH_RETURN_IF_ERROR(TakeMapPaths("labels", &paths, &labels));
  BERTH_RETURN_IF_ERROR(TakeMapPaths("extensions", &paths, &extensions));
  bool image = false, runtime = false, spec = false, snapshot_key = false, sandbox_id = false;
  std::vector<std::string> unknown;
  for (std::string& path : paths) {
    if (path == "image") {
      image = true;
    } else if (path == "runtime") {
      runtime = true;
    } else if (path == "spec") {
      spec = true;
    } else if (path == "snapshot_key") {
      snapshot_key = true;
    } else if (path == "sandbox_id") {
      sandbox_id = true;
    } else if (path == "id" || path == "snapshotter" || path == "created_at" ||
               path == "updated_at") {
      return absl::InvalidArgumentError(
          absl::StrCat("container field ", Quote(path), " cannot be changed"));
    } else {
      unknown.push_back(std::move(path));
    }
  }
  BERTH_RETURN_IF_ERROR(internal::UnknownPaths("container", unknown));
  if (spec) BERTH_RETURN_IF_ERROR(CheckSpec(container.spec));
  BERTH_RETURN_IF_ERROR(CheckWritable());

  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> pk, ContainerPk(ns, container.id));
  if (!pk) return NotFound(container.id);
  BERTH_ASSIGN_OR_RETURN(Container current, LoadContainer(*pk));
  // Scalars: start from the stored row and overwrite the masked fields, then write them all in
  // one statement.
  if (image) current.image = container.image;
  if (runtime) current.runtime = container.runtime;
  if (spec) current.spec = container.spec;
  if (snapshot_key) current.snapshot_key = container.snapshot_key;
  if (sandbox_id) current.sandbox_id = container.sandbox_id;
  {
    BERTH_ASSIGN_OR_RETURN(
        Stmt stmt,
        db_->Prepare("UPDATE containers SET image = ?2, runtime_name = ?3, runtime_options = ?4, "
                     "spec = ?5, snapshot_key = ?6, sandbox_id = ?7, updated_at = ?8 "
                     "WHERE pk = ?1"));
    stmt.BindInt64(1, *pk)
        .BindText(2, current.image)
        .BindText(3, current.runtime.name)
        .BindBlob(4, current.runtime.options)
        .BindBlob(5, current.spec)
        .BindText(6, current.snapshot_key)
        .BindText(7, current.sandbox_id)
        .BindTime(8, now_);
    BERTH_RETURN_IF_ERROR(stmt.Run());
  }
  BERTH_RETURN_IF_ERROR(
      internal::ApplyMapUpdate(*db_, "container_labels", *pk, labels, container.labels));
  BERTH_RETURN_IF_ERROR(internal::ApplyMapUpdate(*db_, "container_extensions", *pk, extensions,
                                                 container.extensions, ValueType::kBlob));
  return LoadContainer(*pk);
}

absl::Status Transaction::DeleteContainer(absl::string_view ns, absl::string_view id) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  if (id.empty()) return absl::InvalidArgumentError("container id must not be empty");
  BERTH_RETURN_IF_ERROR(CheckWritable());
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> pk, ContainerPk(ns, id));
  if (!pk) return NotFound(id);
  BERTH_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare("DELETE FROM containers WHERE pk = ?1"));
  stmt.BindInt64(1, *pk);
  return stmt.Run();
}

}  // namespace berth::containerd::metadata
