// Transaction: the images table.
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

constexpr char kColumns[] =
    "pk, name, target_media_type, target_digest, target_size, target_artifact_type, created_at, "
    "updated_at";

// Reads a row selected with kColumns; returns its pk.
int64_t ReadImage(const Stmt& stmt, Image* image) {
  image->name = stmt.ColumnText(1);
  image->target.media_type = stmt.ColumnText(2);
  image->target.digest = stmt.ColumnText(3);
  image->target.size = stmt.ColumnInt64(4);
  image->target.artifact_type = stmt.ColumnText(5);
  image->created_at = stmt.ColumnTime(6);
  image->updated_at = stmt.ColumnTime(7);
  return stmt.ColumnInt64(0);
}

absl::Status NotFound(absl::string_view name) {
  return absl::NotFoundError(absl::StrCat("image ", Quote(name), " not found"));
}

absl::Status ValidateName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("image name must not be empty");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::optional<int64_t>> Transaction::ImagePk(absl::string_view ns,
                                                            absl::string_view name) {
  return internal::QueryPk(*db_, "SELECT pk FROM images WHERE namespace = ?1 AND name = ?2",
                           {std::string(ns), std::string(name)});
}

absl::StatusOr<Image> Transaction::LoadImage(int64_t pk) {
  BERTH_ASSIGN_OR_RETURN(
      Stmt stmt, db_->Prepare(absl::StrCat("SELECT ", kColumns, " FROM images WHERE pk = ?1")));
  stmt.BindInt64(1, pk);
  BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::InternalError(absl::StrCat("image row ", pk, " vanished"));
  Image image;
  ReadImage(stmt, &image);
  BERTH_ASSIGN_OR_RETURN(image.labels, internal::LoadMap(*db_, "image_labels", pk));
  BERTH_ASSIGN_OR_RETURN(image.target.annotations,
                         internal::LoadMap(*db_, "image_annotations", pk));
  return image;
}

absl::StatusOr<Image> Transaction::CreateImage(absl::string_view ns, const Image& image) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  BERTH_RETURN_IF_ERROR(ValidateName(image.name));
  BERTH_RETURN_IF_ERROR(ValidateDescriptor(image.target));
  BERTH_RETURN_IF_ERROR(ValidateLabels(image.labels));
  BERTH_RETURN_IF_ERROR(CheckWritable());
  BERTH_RETURN_IF_ERROR(EnsureNamespace(ns));
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> existing, ImagePk(ns, image.name));
  if (existing) {
    return absl::AlreadyExistsError(absl::StrCat("image ", Quote(image.name), " already exists"));
  }
  BERTH_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_->Prepare("INSERT INTO images (namespace, name, target_media_type, target_digest, "
                   "target_size, target_artifact_type, created_at, updated_at) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) RETURNING pk"));
  stmt.BindText(1, ns)
      .BindText(2, image.name)
      .BindText(3, image.target.media_type)
      .BindText(4, image.target.digest)
      .BindInt64(5, image.target.size)
      .BindText(6, image.target.artifact_type)
      .BindTime(7, now_);
  BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::InternalError("insert image returned no row");
  const int64_t pk = stmt.ColumnInt64(0);
  BERTH_RETURN_IF_ERROR(stmt.Run());  // finish the statement before the next writes
  BERTH_RETURN_IF_ERROR(internal::ReplaceMap(*db_, "image_labels", pk, image.labels));
  BERTH_RETURN_IF_ERROR(
      internal::ReplaceMap(*db_, "image_annotations", pk, image.target.annotations));
  return LoadImage(pk);
}

absl::StatusOr<Image> Transaction::GetImage(absl::string_view ns, absl::string_view name) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  BERTH_RETURN_IF_ERROR(ValidateName(name));
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> pk, ImagePk(ns, name));
  if (!pk) return NotFound(name);
  return LoadImage(*pk);
}

absl::StatusOr<std::vector<Image>> Transaction::ListImages(
    absl::string_view ns, const std::function<bool(const Image&)>& filter) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  std::vector<Image> all;
  absl::flat_hash_map<int64_t, size_t> index;
  {
    BERTH_ASSIGN_OR_RETURN(
        Stmt stmt, db_->Prepare(absl::StrCat("SELECT ", kColumns,
                                             " FROM images WHERE namespace = ?1 ORDER BY name")));
    stmt.BindText(1, ns);
    while (true) {
      BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      Image image;
      index[ReadImage(stmt, &image)] = all.size();
      all.push_back(std::move(image));
    }
  }
  const std::vector<std::string> params = {std::string(ns)};
  BERTH_RETURN_IF_ERROR(
      internal::LoadMaps(*db_, "image_labels", "images", "o.namespace = ?1", params,
                         [&](int64_t owner, std::string key, std::string value) {
                           all[index.at(owner)].labels.emplace(std::move(key), std::move(value));
                         }));
  BERTH_RETURN_IF_ERROR(internal::LoadMaps(
      *db_, "image_annotations", "images", "o.namespace = ?1", params,
      [&](int64_t owner, std::string key, std::string value) {
        all[index.at(owner)].target.annotations.emplace(std::move(key), std::move(value));
      }));
  if (!filter) return all;
  std::vector<Image> out;
  for (Image& image : all) {
    if (filter(image)) out.push_back(std::move(image));
  }
  return out;
}

absl::StatusOr<Image> Transaction::UpdateImage(absl::string_view ns, const Image& image,
                                               std::vector<std::string> paths) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  BERTH_RETURN_IF_ERROR(ValidateName(image.name));
  BERTH_RETURN_IF_ERROR(ValidateLabels(image.labels));
  if (paths.empty()) paths = {"labels", "target"};
  MapUpdate labels;
  BERTH_RETURN_IF_ERROR(TakeMapPaths("labels", &paths, &labels));
  bool target = false;
  std::vector<std::string> unknown;
  for (std::string& path : paths) {
    if (path == "target") {
      target = true;
    } else {
      unknown.push_back(std::move(path));
    }
  }
  BERTH_RETURN_IF_ERROR(internal::UnknownPaths("image", unknown));
  if (target) BERTH_RETURN_IF_ERROR(ValidateDescriptor(image.target));
  BERTH_RETURN_IF_ERROR(CheckWritable());

  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> pk, ImagePk(ns, image.name));
  if (!pk) return NotFound(image.name);
  BERTH_RETURN_IF_ERROR(internal::ApplyMapUpdate(*db_, "image_labels", *pk, labels, image.labels));
  if (target) {
    BERTH_ASSIGN_OR_RETURN(
        Stmt stmt, db_->Prepare("UPDATE images SET target_media_type = ?2, target_digest = ?3, "
                                "target_size = ?4, target_artifact_type = ?5 WHERE pk = ?1"));
    stmt.BindInt64(1, *pk)
        .BindText(2, image.target.media_type)
        .BindText(3, image.target.digest)
        .BindInt64(4, image.target.size)
        .BindText(5, image.target.artifact_type);
    BERTH_RETURN_IF_ERROR(stmt.Run());
    BERTH_RETURN_IF_ERROR(
        internal::ReplaceMap(*db_, "image_annotations", *pk, image.target.annotations));
  }
  BERTH_ASSIGN_OR_RETURN(Stmt stmt,
                         db_->Prepare("UPDATE images SET updated_at = ?2 WHERE pk = ?1"));
  stmt.BindInt64(1, *pk).BindTime(2, now_);
  BERTH_RETURN_IF_ERROR(stmt.Run());
  return LoadImage(*pk);
}

absl::Status Transaction::DeleteImage(absl::string_view ns, absl::string_view name,
                                      absl::string_view if_target_digest) {
  BERTH_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  BERTH_RETURN_IF_ERROR(ValidateName(name));
  BERTH_RETURN_IF_ERROR(CheckWritable());
  BERTH_ASSIGN_OR_RETURN(std::optional<int64_t> pk, ImagePk(ns, name));
  if (!pk) return NotFound(name);
  if (!if_target_digest.empty()) {
    BERTH_ASSIGN_OR_RETURN(Stmt stmt,
                           db_->Prepare("SELECT target_digest FROM images WHERE pk = ?1"));
    stmt.BindInt64(1, *pk);
    BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
    std::string current = row ? stmt.ColumnText(0) : "";
    if (current != if_target_digest) {
      return absl::FailedPreconditionError(absl::StrCat("image ", Quote(name), " now points at ",
                                                        current, ", not ", if_target_digest));
    }
  }
  BERTH_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare("DELETE FROM images WHERE pk = ?1"));
  stmt.BindInt64(1, *pk);
  return stmt.Run();
}

}  // namespace berth::containerd::metadata
