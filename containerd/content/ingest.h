// The on-disk form of one ingest and the lock that makes its writer exclusive. Internal to the
// local store.
//
// An ingest lives in <dir>/ingest/<hex sha256 of its ref>/ (hashing makes any ref, "../../x"
// included, a safe fixed-length name) and holds:
//   data       the bytes received so far; its size is the ingest's offset
//   ref        the ref itself
//   total      expected size in decimal, "0" when unknown
//   expected   expected digest; absent when unknown
//   startedat  RFC 3339 times, written when the ingest starts (or restarts at offset 0) and
//   updatedat  when a writer closes; the data file's mtime counts as an update too
// The small files are written with WriteFileAtomically, and `ref` is written last when an
// ingest starts and removed first when it ends, so `ref` marks a complete, visible ingest: a
// directory without it is a start or removal that a crash interrupted, and is cleaned up.
#pragma once

#include <time.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "containerd/content/content_store.h"

namespace berth::containerd::content::internal {

inline constexpr absl::string_view kDataFile = "data";
inline constexpr absl::string_view kRefFile = "ref";
inline constexpr absl::string_view kTotalFile = "total";
inline constexpr absl::string_view kExpectedFile = "expected";
inline constexpr absl::string_view kStartedAtFile = "startedat";
inline constexpr absl::string_view kUpdatedAtFile = "updatedat";

// The directory name of the ingest for `ref`: the hex sha256 of the ref's bytes. Internal only
// if hashing fails (a broken OpenSSL).
absl::StatusOr<std::string> IngestDirName(absl::string_view ref);

// Whether `name` has the form IngestDirName makes (64 lowercase hex characters); anything else
// under ingest/ was not made by the store and is left alone.
bool IsIngestDirName(absl::string_view name);

// `ref` for messages and logs: quoted, C-escaped (refs are arbitrary bytes) and cut to a few
// hundred characters.
std::string QuoteRef(absl::string_view ref);

absl::Time FromTimespec(const struct timespec& ts);

// The refs that writers of one store object hold. flock alone would exclude them too (two
// open file descriptions conflict even within one process), but the table answers without
// touching the disk and covers the window before the ingest directory exists. Thread-safe.
class RefLockTable {
 public:
  bool TryLock(absl::string_view ref) ABSL_LOCKS_EXCLUDED(mu_);
  void Unlock(absl::string_view ref) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Mutex mu_;
  absl::flat_hash_set<std::string> held_ ABSL_GUARDED_BY(mu_);
};

// An exclusive lock on one ingest directory: flock(LOCK_EX) on an open descriptor of the
// directory, which also excludes other processes and goes away by itself if the holder dies,
// plus, when taken for a ref, that ref's entry in the store's RefLockTable. Everything that
// changes or removes an ingest holds one. Move-only; released on destruction.
class IngestLock {
 public:
  // Locks the ingest directory `dir` of `ref` without waiting. With `create`, the directory is
  // made if missing. Unavailable if someone holds it ("ingest ref \"...\" is locked");
  // NotFound if it does not exist and !create.
  static absl::StatusOr<IngestLock> ForRef(std::shared_ptr<RefLockTable> table,
                                           absl::string_view ref, const std::string& dir,
                                           bool create);
  // Locks an existing ingest directory found by scanning, for cleanup: no ref is known, so
  // only the flock is taken. Unavailable if held, NotFound if it is gone.
  static absl::StatusOr<IngestLock> ForDir(const std::string& dir);

  IngestLock(IngestLock&& other) noexcept;
  IngestLock& operator=(IngestLock&& other) noexcept;
  IngestLock(const IngestLock&) = delete;
  IngestLock& operator=(const IngestLock&) = delete;
  ~IngestLock() { Release(); }

  const std::string& dir() const { return dir_; }
  void Release();

 private:
  IngestLock() = default;
  static absl::StatusOr<int> LockDirFd(const std::string& dir, bool create, absl::string_view what);

  std::shared_ptr<RefLockTable> table_;  // null when taken with ForDir
  std::string ref_;
  std::string dir_;
  int fd_ = -1;
};

// Writes/reads a time file (RFC 3339 with nanoseconds, UTC).
absl::Status WriteTimeFile(const std::string& path, absl::Time t);
absl::StatusOr<absl::Time> ReadTimeFile(const std::string& path);

// The metadata files of an ingest, as read from disk.
struct IngestMeta {
  std::string ref;
  int64_t total = 0;
  std::optional<digest::Digest> expected;
  absl::Time started_at;
  absl::Time updated_at;
};

// Reads ref, total, expected, startedat and updatedat from ingest directory `dir`. NotFound if
// there is no `ref` file (an incomplete ingest); Internal naming the file if one is corrupt.
absl::StatusOr<IngestMeta> ReadIngestMeta(const std::string& dir);

// Writes total and expected (removing `expected` when unknown).
absl::Status WriteExpectations(const std::string& dir, int64_t total,
                               const std::optional<digest::Digest>& expected);

// The status of the ingest in `dir` without locking it: metadata plus the data file's size
// (offset) and mtime (a later updated_at). NotFound for an incomplete or vanished ingest.
absl::StatusOr<IngestStatus> ReadIngestStatus(const std::string& dir);

// Removes the ingest in `dir`, whose lock the caller holds: `ref` first, so that from then on
// the ingest is invisible and a crash leaves only an incomplete directory for cleanup, then
// the rest.
absl::Status RemoveIngestDir(const std::string& dir);

}  // namespace berth::containerd::content::internal
