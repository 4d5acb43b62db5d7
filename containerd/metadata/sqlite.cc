#include "containerd/metadata/sqlite.h"

#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace berth::containerd::metadata::internal {

absl::Status SqliteError(int rc, sqlite3* db, absl::string_view what) {
  std::string msg = absl::StrCat(what, ": ", sqlite3_errstr(rc));
  if (db != nullptr && sqlite3_extended_errcode(db) == rc) {
    // errmsg is more specific ("UNIQUE constraint failed: images.namespace, images.name"), but
    // only when it belongs to this error rather than to an earlier one.
    absl::string_view detail = sqlite3_errmsg(db);
    if (!detail.empty() && detail != sqlite3_errstr(rc)) absl::StrAppend(&msg, " (", detail, ")");
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(msg);
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(msg);
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return absl::PermissionDeniedError(msg);
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return absl::FailedPreconditionError(msg);
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return absl::AlreadyExistsError(msg);
      }
      if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return absl::FailedPreconditionError(msg);
      return absl::InternalError(msg);
    default:
      return absl::InternalError(msg);
  }
}

int64_t TimeToColumn(absl::Time t) {
  // ToUnixNanos saturates at the int64 range, so InfiniteFuture/Past stay ordered.
  return absl::ToUnixNanos(t);
}

absl::Time TimeFromColumn(int64_t nanos) { return absl::FromUnixNanos(nanos); }

// --- Stmt ---

Stmt::Stmt(Stmt&& other) noexcept
    : db_(other.db_),
      sql_(std::move(other.sql_)),
      stmt_(other.stmt_),
      bind_rc_(other.bind_rc_),
      bind_index_(other.bind_index_) {
  other.stmt_ = nullptr;
}

Stmt::~Stmt() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  db_->Release(std::move(sql_), stmt_);
}

void Stmt::NoteBind(int rc, int index) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) {
    bind_rc_ = rc;
    bind_index_ = index;
  }
}

Stmt& Stmt::BindText(int index, absl::string_view value) {
  // A null pointer would bind NULL, which NOT NULL columns reject; "" is a valid empty text.
  const char* data = value.data() != nullptr ? value.data() : "";
  NoteBind(sqlite3_bind_text64(stmt_, index, data, value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
           index);
  return *this;
}

Stmt& Stmt::BindBlob(int index, absl::string_view value) {
  const char* data = value.data() != nullptr ? value.data() : "";
  NoteBind(sqlite3_bind_blob64(stmt_, index, data, value.size(), SQLITE_TRANSIENT), index);
  return *this;
}

Stmt& Stmt::BindInt64(int index, int64_t value) {
  NoteBind(sqlite3_bind_int64(stmt_, index, value), index);
  return *this;
}

Stmt& Stmt::BindNull(int index) {
  NoteBind(sqlite3_bind_null(stmt_, index), index);
  return *this;
}

absl::StatusOr<bool> Stmt::Step() {
  if (bind_rc_ != SQLITE_OK) {
    return SqliteError(bind_rc_, nullptr, absl::StrCat("bind parameter ", bind_index_));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(rc, db_->raw(), "sqlite step");
}

absl::Status Stmt::Run() {
  while (true) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

std::string Stmt::ColumnText(int index) const {
  const unsigned char* text = sqlite3_column_text(stmt_, index);
  if (text == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, index)));
}

std::string Stmt::ColumnBlob(int index) const {
  const void* blob = sqlite3_column_blob(stmt_, index);
  if (blob == nullptr) return "";
  return std::string(static_cast<const char*>(blob),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, index)));
}

int64_t Stmt::ColumnInt64(int index) const { return sqlite3_column_int64(stmt_, index); }

bool Stmt::ColumnIsNull(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

// --- Db ---

absl::StatusOr<std::unique_ptr<Db>> Db::Open(const std::string& path, const Options& options) {
  // NOMUTEX: the Store already serializes each connection, so SQLite's own per-connection
  // mutex would only cost time. EXRESCODE: extended codes tell UNIQUE from FOREIGN KEY.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  if (options.create) flags |= SQLITE_OPEN_CREATE;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status s = SqliteError(rc, raw, absl::StrCat("open ", path));
    sqlite3_close_v2(raw);  // a handle is returned even on failure
    return s;
  }
  std::unique_ptr<Db> db(new Db(raw));
  sqlite3_extended_result_codes(raw, 1);
  const int64_t timeout_ms = absl::ToInt64Milliseconds(options.busy_timeout);
  sqlite3_busy_timeout(
      raw, static_cast<int>(std::min<int64_t>(timeout_ms, std::numeric_limits<int>::max())));
  // Per-connection settings (none of them is stored in the file):
  //  - foreign_keys: SQLite leaves them off by default; the schema relies on them to cascade
  //    label rows and to refuse dangling references.
  //  - synchronous=FULL: see "Durability" in store.h.
  //  - query_only for read connections: a read transaction can never write by mistake.
  std::string pragmas = "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;";
  if (options.read_only) pragmas += " PRAGMA query_only = ON;";
  if (absl::Status s = db->Exec(pragmas); !s.ok()) return s;
  return db;
}

Db::~Db() {
  for (auto& [sql, stmt] : idle_) sqlite3_finalize(stmt);
  // close_v2 so that a statement somehow still out does not leak the connection.
  sqlite3_close_v2(db_);
}

absl::Status Db::Exec(absl::string_view sql) {
  std::string copy(sql);  // sqlite3_exec needs a NUL-terminated string
  char* err = nullptr;
  int rc = sqlite3_exec(db_, copy.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    absl::Status s = SqliteError(rc, db_, absl::StrCat("exec ", copy.substr(0, 60)));
    sqlite3_free(err);
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<Stmt> Db::Prepare(absl::string_view sql) {
  std::string key(sql);
  auto it = idle_.find(key);
  if (it != idle_.end()) {
    sqlite3_stmt* stmt = it->second;
    idle_.erase(it);
    return Stmt(this, std::move(key), stmt);
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, key.data(), static_cast<int>(key.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteError(rc, db_, absl::StrCat("prepare ", key.substr(0, 60)));
  if (stmt == nullptr) return absl::InternalError("prepare: empty statement");
  return Stmt(this, std::move(key), stmt);
}

absl::StatusOr<std::string> Db::QueryText(absl::string_view sql) {
  absl::StatusOr<Stmt> stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  absl::StatusOr<bool> row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::NotFoundError(absl::StrCat("no result from ", sql));
  return stmt->ColumnText(0);
}

bool Db::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

void Db::Release(std::string sql, sqlite3_stmt* stmt) {
  auto [it, inserted] = idle_.emplace(std::move(sql), stmt);
  if (!inserted) sqlite3_finalize(stmt);  // a second copy was made while the first was out
}

}  // namespace berth::containerd::metadata::internal
