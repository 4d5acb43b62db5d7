#include "containerd/metadata/schema.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace berth::containerd::metadata::internal {
namespace {

// Version 1. Conventions (see store.h for the meaning of each table):
//  - every object table has `pk INTEGER PRIMARY KEY`, a surrogate the label tables point at,
//    plus a UNIQUE natural key that starts with the namespace;
//  - `namespace TEXT REFERENCES namespaces(name)` without ON DELETE: a namespace that still
//    holds objects cannot be deleted, even by a bug that skipped the check;
//  - label-like maps live in `<object>_<map>(owner, key, value)` tables with ON DELETE CASCADE,
//    so deleting an object deletes its maps in the same statement;
//  - times are INTEGER Unix nanoseconds; snapshots.pk is AUTOINCREMENT so an id is never
//    reused (it names the snapshot's directory on disk).
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE namespaces (
  pk         INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE namespace_labels (
  owner INTEGER NOT NULL REFERENCES namespaces(pk) ON DELETE CASCADE,
  key   TEXT    NOT NULL,
  value TEXT    NOT NULL,
  PRIMARY KEY (owner, key)
) WITHOUT ROWID;

CREATE TABLE images (
  pk                   INTEGER PRIMARY KEY,
  namespace            TEXT    NOT NULL REFERENCES namespaces(name),
  name                 TEXT    NOT NULL,
  target_media_type    TEXT    NOT NULL,
  target_digest        TEXT    NOT NULL,
  target_size          INTEGER NOT NULL,
  target_artifact_type TEXT    NOT NULL,
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL,
  UNIQUE (namespace, name)
);
CREATE TABLE image_labels (
  owner INTEGER NOT NULL REFERENCES images(pk) ON DELETE CASCADE,
  key   TEXT    NOT NULL,
  value TEXT    NOT NULL,
  PRIMARY KEY (owner, key)
) WITHOUT ROWID;
CREATE TABLE image_annotations (
  owner INTEGER NOT NULL REFERENCES images(pk) ON DELETE CASCADE,
  key   TEXT    NOT NULL,
  value TEXT    NOT NULL,
  PRIMARY KEY (owner, key)
) WITHOUT ROWID;

CREATE TABLE containers (
  pk              INTEGER PRIMARY KEY,
  namespace       TEXT    NOT NULL REFERENCES namespaces(name),
  id              TEXT    NOT NULL,
  image           TEXT    NOT NULL,
  runtime_name    TEXT    NOT NULL,
  runtime_options BLOB    NOT NULL,
  spec            BLOB    NOT NULL,
  snapshotter     TEXT    NOT NULL,
  snapshot_key    TEXT    NOT NULL,
  sandbox_id      TEXT    NOT NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  UNIQUE (namespace, id)
);
CREATE TABLE container_labels (
  owner INTEGER NOT NULL REFERENCES containers(pk) ON DELETE CASCADE,
  key   TEXT    NOT NULL,
  value TEXT    NOT NULL,
  PRIMARY KEY (owner, key)
) WITHOUT ROWID;
CREATE TABLE container_extensions (
  owner INTEGER NOT NULL REFERENCES containers(pk) ON DELETE CASCADE,
  key   TEXT    NOT NULL,
  value BLOB    NOT NULL,
  PRIMARY KEY (owner, key)
) WITHOUT ROWID;

CREATE TABLE blobs (
  pk         INTEGER PRIMARY KEY,
  namespace  TEXT    NOT NULL REFERENCES namespaces(name),
  digest     TEXT    NOT NULL,
  size       INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (namespace, digest)
);
CREATE INDEX blobs_by_digest ON blobs (digest);
CREATE TABLE blob_labels (
  owner INTEGER NOT NULL REFERENCES blobs(pk) ON DELETE CASCADE,
  key   TEXT    NOT NULL,
  value TEXT    NOT NULL,
  PRIMARY KEY (owner, key)
) WITHOUT ROWID;

CREATE TABLE snapshots (
  pk           INTEGER PRIMARY KEY AUTOINCREMENT,
  namespace    TEXT    NOT NULL REFERENCES namespaces(name),
  snapshotter  TEXT    NOT NULL,
  name         TEXT    NOT NULL,
  kind         TEXT    NOT NULL CHECK (kind IN ('view', 'active', 'committed')),
  parent       INTEGER REFERENCES snapshots(pk),
  usage_size   INTEGER,
  usage_inodes INTEGER,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  UNIQUE (namespace, snapshotter, name)
);
CREATE INDEX snapshots_by_parent ON snapshots (parent);
CREATE INDEX snapshots_by_snapshotter ON snapshots (snapshotter);
CREATE TABLE snapshot_labels (
  owner INTEGER NOT NULL REFERENCES snapshots(pk) ON DELETE CASCADE,
  key   TEXT    NOT NULL,
  value TEXT    NOT NULL,
  PRIMARY KEY (owner, key)
) WITHOUT ROWID;

CREATE TABLE leases (
  pk         INTEGER PRIMARY KEY,
  namespace  TEXT    NOT NULL REFERENCES namespaces(name),
  id         TEXT    NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  UNIQUE (namespace, id)
);
CREATE TABLE lease_labels (
  owner INTEGER NOT NULL REFERENCES leases(pk) ON DELETE CASCADE,
  key   TEXT    NOT NULL,
  value TEXT    NOT NULL,
  PRIMARY KEY (owner, key)
) WITHOUT ROWID;
CREATE TABLE lease_resources (
  owner INTEGER NOT NULL REFERENCES leases(pk) ON DELETE CASCADE,
  type  TEXT    NOT NULL,
  id    TEXT    NOT NULL,
  PRIMARY KEY (owner, type, id)
) WITHOUT ROWID;
)sql";

struct Migration {
  int version;  // the version the database has after this migration
  const char* sql;
};

// Append only: a released migration never changes, a new schema is a new entry (and
// kSchemaVersion moves with it).
const std::vector<Migration>& Migrations() {
  static const auto* migrations = new std::vector<Migration>{{1, kSchemaV1}};
  return *migrations;
}

absl::StatusOr<int> CurrentVersion(Db& db) {
  BERTH_ASSIGN_OR_RETURN(std::string has_table,
                         db.QueryText("SELECT count(*) FROM sqlite_master "
                                      "WHERE type = 'table' AND name = 'schema_version'"));
  if (has_table == "0") {
    // A file with other tables but no schema_version is not ours; adding tables to it would
    // mix two programs' data.
    BERTH_ASSIGN_OR_RETURN(std::string objects, db.QueryText("SELECT count(*) FROM sqlite_master"));
    if (objects != "0") {
      return absl::FailedPreconditionError(
          "database has tables but no schema_version: not a berth metadata database");
    }
    return 0;
  }
  BERTH_ASSIGN_OR_RETURN(std::string v,
                         db.QueryText("SELECT COALESCE(MAX(version), 0) FROM schema_version"));
  return std::stoi(v);  // an INTEGER column read as text: always digits
}

absl::Status MigrateLocked(Db& db, absl::Time now, int* found) {
  BERTH_ASSIGN_OR_RETURN(*found, CurrentVersion(db));
  if (*found > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database schema version ", *found, " is newer than this berth-containerd supports (",
        kSchemaVersion, "); refusing to downgrade"));
  }
  if (*found == 0) {
    BERTH_RETURN_IF_ERROR(
        db.Exec("CREATE TABLE schema_version ("
                "  version    INTEGER PRIMARY KEY,"
                "  applied_at INTEGER NOT NULL)"));
  }
  for (const Migration& m : Migrations()) {
    if (m.version <= *found) continue;
    BERTH_RETURN_IF_ERROR(db.Exec(m.sql), absl::StrCat("migrate to schema version ", m.version));
    BERTH_ASSIGN_OR_RETURN(
        Stmt stmt, db.Prepare("INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)"));
    stmt.BindInt64(1, m.version).BindTime(2, now);
    BERTH_RETURN_IF_ERROR(stmt.Run());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int> Migrate(Db& db, absl::Time now) {
  BERTH_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  int found = 0;
  absl::Status s = MigrateLocked(db, now, &found);
  if (s.ok()) s = db.Exec("COMMIT");
  if (!s.ok()) {
    if (db.InTransaction()) db.Exec("ROLLBACK").IgnoreError();
    return s;
  }
  return found;
}

}  // namespace berth::containerd::metadata::internal
