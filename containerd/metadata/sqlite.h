// A thin RAII layer over the SQLite C API for the metadata store: one connection (Db) with a
// cache of prepared statements, and a statement handle (Stmt) that binds, steps and reads
// columns, turning SQLite result codes into absl::Status. Internal to //containerd/metadata.
//
// Thread safety: a Db and its Stmts belong to one thread at a time; the Store serializes access
// with its mutexes (connections are opened with SQLITE_OPEN_NOMUTEX for that reason).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

struct sqlite3;
struct sqlite3_stmt;

namespace berth::containerd::metadata::internal {

// Maps a SQLite result code to a Status: BUSY/LOCKED -> Unavailable (another process holds the
// database; retry), FULL -> ResourceExhausted, CORRUPT/NOTADB -> DataLoss, PERM/AUTH ->
// PermissionDenied, CANTOPEN/READONLY -> FailedPrecondition, a UNIQUE/PRIMARY KEY constraint ->
// AlreadyExists, a FOREIGN KEY constraint -> FailedPrecondition, anything else -> Internal. The
// store checks its rules before writing, so a constraint error is a backstop, not the normal
// path. `db` may be null; otherwise its error message is included.
absl::Status SqliteError(int rc, sqlite3* db, absl::string_view what);

// Timestamps are stored as INTEGER Unix nanoseconds (exact, and ordered like the times).
int64_t TimeToColumn(absl::Time t);
absl::Time TimeFromColumn(int64_t nanos);

class Db;

// A prepared statement checked out of a Db's cache. Bind parameters (1-based, as SQLite counts),
// Step through rows, read columns; the destructor resets it and hands it back to the cache. A
// bind failure is remembered and returned by the next Step/Run.
class Stmt {
 public:
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  ~Stmt();

  // Text is copied (SQLITE_TRANSIENT). An empty view binds '' (never NULL).
  Stmt& BindText(int index, absl::string_view value);
  // Bytes are copied. An empty view binds a zero-length blob (never NULL).
  Stmt& BindBlob(int index, absl::string_view value);
  Stmt& BindInt64(int index, int64_t value);
  Stmt& BindTime(int index, absl::Time value) { return BindInt64(index, TimeToColumn(value)); }
  Stmt& BindNull(int index);

  // Steps once: true when a row is ready to read, false when the statement is done.
  absl::StatusOr<bool> Step();
  // Steps to completion, for statements that return no rows (INSERT, UPDATE, DELETE).
  absl::Status Run();

  // Column readers for the current row (0-based, as SQLite counts). NULL reads as "" / 0.
  std::string ColumnText(int index) const;
  std::string ColumnBlob(int index) const;
  int64_t ColumnInt64(int index) const;
  absl::Time ColumnTime(int index) const { return TimeFromColumn(ColumnInt64(index)); }
  bool ColumnIsNull(int index) const;

 private:
  friend class Db;
  Stmt(Db* db, std::string sql, sqlite3_stmt* stmt) : db_(db), sql_(std::move(sql)), stmt_(stmt) {}
  void NoteBind(int rc, int index);

  Db* db_;
  std::string sql_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = 0;  // first failing sqlite3_bind_* result, SQLITE_OK when none
  int bind_index_ = 0;
};

// One SQLite connection.
class Db {
 public:
  struct Options {
    bool create = false;     // create the file if missing
    bool read_only = false;  // PRAGMA query_only: the connection refuses to write
    absl::Duration busy_timeout = absl::Seconds(5);
  };
  // Opens `path` with the connection settings every berth connection uses: extended result
  // codes, foreign keys on, synchronous=FULL, the busy timeout.
  static absl::StatusOr<std::unique_ptr<Db>> Open(const std::string& path, const Options& options);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs one or more SQL statements that take no parameters and return no rows we need.
  absl::Status Exec(absl::string_view sql);
  // The cached prepared statement for `sql` (prepared on first use). If the cached one is in
  // use (a statement used while iterating itself), a fresh one is prepared.
  absl::StatusOr<Stmt> Prepare(absl::string_view sql);
  // Runs a query returning one text value (e.g. a PRAGMA); NotFound when it returns no row.
  absl::StatusOr<std::string> QueryText(absl::string_view sql);

  // Whether a transaction is open (SQLite rolls back on its own after some errors).
  bool InTransaction() const;
  sqlite3* raw() const { return db_; }

 private:
  friend class Stmt;
  explicit Db(sqlite3* db) : db_(db) {}
  void Release(std::string sql, sqlite3_stmt* stmt);

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> idle_;
};

}  // namespace berth::containerd::metadata::internal
