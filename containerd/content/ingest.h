// The on-disk form of one ingest and the lock that makes its writer exclusive. Internal to the
// local store.
//
// An ingest lives in <dir>/ingest/<hex sha256 of its ref>/ (hashing makes any ref, "../../x"
// included, a safe fixed-length name) and holds two files:
//   data    the bytes received so far; its size is the ingest's offset
//   ingest  the bookkeeping, one small file (see EncodeIngestMeta): the ref, the expected size
//           and digest, when the ingest started and when a writer last closed it (the data
//           file's mtime counts as an update too)
// `ingest` is replaced whole (temp file + rename) when an ingest starts, when its expectations
// change and when a writer closes, and is removed first when the ingest ends, so its presence
// marks a complete, visible ingest: a directory without it is a start or removal that a crash
// interrupted, and is cleaned up.
//
// Durability: nothing here is fsynced. An ingest is a cache of a transfer in progress, and what
// a crash may cost is bytes to send again, never a wrong blob: the commit (LocalWriter::Commit)
// verifies size and digest and fsyncs the data and the blob directory before it returns. After
// a kill -9 the page cache still holds every write and a resume continues exactly; after a
// power cut `ingest` may be missing, empty or cut short (the rename was not synced), and such a
// directory simply counts as incomplete: the ingest is dropped and the client starts over. The
// data file may lose its unsynced tail; a resumed writer continues from the size the file has,
// and a damaged prefix fails the commit's digest check (the client then restarts at offset 0).
// An ingest directory of an older berth-containerd (bookkeeping in files `ref`, `total`, ...)
// has no `ingest` file and is dropped the same way.
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
inline constexpr absl::string_view kMetaFile = "ingest";

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

// The bookkeeping of an ingest (the `ingest` file).
struct IngestMeta {
  std::string ref;
  int64_t total = 0;  // 0: unknown
  std::optional<digest::Digest> expected;
  absl::Time started_at;
  absl::Time updated_at;
};

// The `ingest` file's text: a version line, then `total`, `expected` (only when known),
// `startedat` and `updatedat` lines, and last the ref as "ref <byte count>\n<bytes>\n" (refs
// are arbitrary bytes, newlines included). The count and the final newline let DecodeIngestMeta
// tell a file cut short from a whole one.
std::string EncodeIngestMeta(const IngestMeta& meta);
// DataLoss, saying what is wrong, for anything but a whole file EncodeIngestMeta made.
absl::StatusOr<IngestMeta> DecodeIngestMeta(absl::string_view text);

// Replaces the `ingest` file of `dir` atomically (temp file + rename), without fsync (see the
// header comment).
absl::Status WriteIngestMeta(const std::string& dir, const IngestMeta& meta);

// Reads the `ingest` file of `dir`. NotFound when there is none, or when it is damaged (what a
// crash can leave, see above: the message says which); either way the directory holds no
// usable ingest. Other errors for a file that cannot be read.
absl::StatusOr<IngestMeta> ReadIngestMeta(const std::string& dir);

// The status of the ingest in `dir` without locking it: metadata plus the data file's size
// (offset) and mtime (a later updated_at). NotFound for an incomplete or vanished ingest.
absl::StatusOr<IngestStatus> ReadIngestStatus(const std::string& dir);

// Removes the ingest in `dir`, whose lock the caller holds: `ingest` first, so that from then
// on the ingest is invisible and a crash leaves only an incomplete directory for cleanup, then
// the rest.
absl::Status RemoveIngestDir(const std::string& dir);

}  // namespace berth::containerd::content::internal
