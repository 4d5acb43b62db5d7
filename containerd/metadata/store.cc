#include "containerd/metadata/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"
#include "containerd/metadata/schema.h"
#include "containerd/metadata/sqlite.h"

namespace berth::containerd::metadata {
namespace {

// Creates `path` empty with mode 0600 if it does not exist. SQLite would create it with 0644
// (minus umask), and its -wal and -shm files copy the main file's mode.
absl::Status CreatePrivateFile(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return absl::OkStatus();
    return absl::ErrnoToStatus(errno, absl::StrCat("create ", path));
  }
  close(fd);
  return absl::OkStatus();
}

// Makes the directory entry of a newly created database durable, so a power loss right after
// the first commit cannot lose the whole file.
absl::Status SyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", dir));
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0) return absl::ErrnoToStatus(err, absl::StrCat("fsync ", dir));
  return absl::OkStatus();
}

}  // namespace

Store::Store(std::string path, StoreOptions options)
    : path_(std::move(path)), options_(std::move(options)) {}

Store::~Store() = default;

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& root, StoreOptions options) {
  if (root.empty()) return absl::InvalidArgumentError("metadata store root must not be empty");
  if (!options.clock) return absl::InvalidArgumentError("metadata store clock must be set");
  if (options.max_readers < 0) options.max_readers = 0;
  BERTH_RETURN_IF_ERROR(fs::MakeDirs(root, 0700), "open metadata store");
  const std::string path = absl::StrCat(root, "/", kFileName);
  const bool existed = access(path.c_str(), F_OK) == 0;
  BERTH_RETURN_IF_ERROR(CreatePrivateFile(path), "open metadata store");

  std::unique_ptr<Store> store(new Store(path, std::move(options)));
  internal::Db::Options db_options;
  db_options.create = true;
  db_options.busy_timeout = store->options_.busy_timeout;
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<internal::Db> db, internal::Db::Open(path, db_options),
                         "open metadata store");
  // WAL is a property of the file (it persists), but setting it on each open is cheap and
  // repairs a file some tool switched back to a rollback journal. It answers the mode it got.
  BERTH_ASSIGN_OR_RETURN(std::string mode, db->QueryText("PRAGMA journal_mode = WAL"),
                         "open metadata store");
  if (mode != "wal") {
    return absl::FailedPreconditionError(absl::StrCat(
        "open metadata store ", path, ": journal_mode is \"", mode, "\", WAL is required"));
  }
  BERTH_ASSIGN_OR_RETURN(store->opened_schema_version_,
                         internal::Migrate(*db, store->options_.clock()),
                         absl::StrCat("open metadata store ", path));
  if (!existed) BERTH_RETURN_IF_ERROR(SyncDir(root), "open metadata store");
  {
    absl::MutexLock lock(&store->write_mu_);
    store->writer_ = std::move(db);
  }
  return store;
}

absl::StatusOr<std::unique_ptr<internal::Db>> Store::AcquireReader() {
  {
    absl::MutexLock lock(&pool_mu_);
    auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool_mu_) {
      return !idle_readers_.empty() || open_readers_ < options_.max_readers;
    };
    pool_mu_.Await(absl::Condition(&available));
    if (!idle_readers_.empty()) {
      std::unique_ptr<internal::Db> db = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return db;
    }
    ++open_readers_;  // reserve the slot, then open outside the lock
  }
  internal::Db::Options db_options;
  db_options.read_only = true;
  db_options.busy_timeout = options_.busy_timeout;
  absl::StatusOr<std::unique_ptr<internal::Db>> db = internal::Db::Open(path_, db_options);
  if (!db.ok()) {
    absl::MutexLock lock(&pool_mu_);
    --open_readers_;
  }
  return db;
}

void Store::ReleaseReader(std::unique_ptr<internal::Db> db) {
  absl::MutexLock lock(&pool_mu_);
  idle_readers_.push_back(std::move(db));
}

absl::Status Store::RunOn(internal::Db& db, bool write,
                          absl::FunctionRef<absl::Status(Transaction&)> fn) {
  // IMMEDIATE takes the write lock now: a deferred transaction that reads and then writes can
  // fail with SQLITE_BUSY at the write, after fn has done half its work.
  BERTH_RETURN_IF_ERROR(db.Exec(write ? "BEGIN IMMEDIATE" : "BEGIN"), "begin transaction");
  Transaction tx(&db, /*read_only=*/!write, options_.clock());
  absl::Status s = fn(tx);
  if (s.ok()) s = Annotate(db.Exec("COMMIT"), "commit transaction");
  if (!s.ok() && db.InTransaction()) {
    // After some errors (disk full, I/O) SQLite has already rolled back on its own; otherwise
    // undo fn's writes. A failing ROLLBACK leaves nothing committed either, so it is not
    // reported over the original error.
    db.Exec("ROLLBACK").IgnoreError();
  }
  return s;
}

absl::Status Store::RunTransaction(bool write, absl::FunctionRef<absl::Status(Transaction&)> fn) {
  if (write || options_.max_readers == 0) {
    absl::MutexLock lock(&write_mu_);
    return RunOn(*writer_, write, fn);
  }
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<internal::Db> reader, AcquireReader(),
                         "open read connection");
  absl::Status s = RunOn(*reader, /*write=*/false, fn);
  ReleaseReader(std::move(reader));
  return s;
}

absl::StatusOr<GcSweepResult> Store::CollectGarbage() {
  return WithTransaction([](Transaction& tx) -> absl::StatusOr<GcSweepResult> {
    BERTH_ASSIGN_OR_RETURN(GcCandidates candidates, tx.CollectGarbageCandidates());
    return tx.SweepGarbage(candidates);
  });
}

absl::Status Store::CheckIntegrity() {
  absl::MutexLock lock(&write_mu_);
  std::vector<std::string> problems;
  {
    BERTH_ASSIGN_OR_RETURN(internal::Stmt stmt, writer_->Prepare("PRAGMA integrity_check(20)"));
    while (true) {
      BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      std::string line = stmt.ColumnText(0);
      if (line != "ok") problems.push_back(std::move(line));
    }
  }
  {
    BERTH_ASSIGN_OR_RETURN(internal::Stmt stmt, writer_->Prepare("PRAGMA foreign_key_check"));
    while (problems.size() < 40) {
      BERTH_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      problems.push_back(absl::StrCat("foreign key: table ", stmt.ColumnText(0), " rowid ",
                                      stmt.ColumnInt64(1), " -> ", stmt.ColumnText(2)));
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::DataLossError(
      absl::StrCat("metadata store ", path_, ": ", absl::StrJoin(problems, "; ")));
}

}  // namespace berth::containerd::metadata
