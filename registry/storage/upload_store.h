// UploadStore: blob upload sessions (distribution spec "Pushing a blob in chunks"), kept on
// disk so that they survive a restart of the registry:
//   <dir>/<id>/repository   the repository the session belongs to
//   <dir>/<id>/data         the bytes received so far; its size is the session's offset
// The running digest is kept in memory only while this process has seen every byte; after a
// restart (or a failed write) it is recomputed by reading the data file when the session is
// committed. Sessions idle for longer than the TTL (by the data file's mtime) are removed by
// SweepExpired. Thread-safe; a session is written by one request at a time (Acquire).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/digest/digest.h"
#include "common/digest/hasher.h"
#include "common/fs/unique_fd.h"
#include "common/id/id.h"
#include "registry/storage/blob_store.h"
#include "registry/storage/observer.h"
#include "registry/storage/repository_store.h"

namespace berth::registry::storage {

struct UploadOptions {
  // Sessions whose data was last written longer ago than this are expired.
  absl::Duration ttl = absl::Hours(24);
  // Clock for expiry; absl::Now when empty.
  std::function<absl::Time()> clock;
  // Where session ids come from (64 hex characters, formatted as a UUID); random when null.
  // Not owned.
  id::IdSource* ids = nullptr;
  StorageObserver* observer = nullptr;  // not owned; may be null
};

class UploadStore;

// Exclusive write access to one session, released when the object dies. Move-only.
class UploadSession {
 public:
  UploadSession(UploadSession&& other) noexcept;
  UploadSession& operator=(UploadSession&&) = delete;
  ~UploadSession();

  const std::string& id() const { return id_; }
  const std::string& repository() const { return repository_; }
  // Bytes received so far.
  uint64_t offset() const { return offset_; }

  // Appends `data` to the session. Errors are I/O errors; the offset then reflects what
  // reached the file.
  absl::Status Append(absl::string_view data);
  // Checks that everything received hashes to `expected`; if so stores it as that blob, links
  // it into the repository and ends the session. A mismatch is InvalidArgument and ends the
  // session too (nothing is stored). Other errors leave the session as it was.
  absl::Status Commit(const digest::Digest& expected);
  // Ends the session, deleting what it received.
  absl::Status Cancel();

 private:
  friend class UploadStore;
  UploadSession(UploadStore* store, std::string id, std::string repository, fs::UniqueFd fd,
                uint64_t offset)
      : store_(store), id_(std::move(id)), repository_(std::move(repository)),
        fd_(std::move(fd)), offset_(offset) {}

  UploadStore* store_;
  std::string id_;
  std::string repository_;
  fs::UniqueFd fd_;
  uint64_t offset_;
  bool ended_ = false;
};

class UploadStore {
 public:
  // Opens (creating if missing) the sessions in `dir`, which must be on the same file system
  // as the blob store. `blobs` and `repositories` must outlive the store.
  static absl::StatusOr<std::unique_ptr<UploadStore>> Open(std::string dir, BlobStore* blobs,
                                                           RepositoryStore* repositories,
                                                           UploadOptions options);

  // Starts a session for `repository` and returns it, already acquired.
  absl::StatusOr<UploadSession> Create(absl::string_view repository);
  // Takes session `id` of `repository` for writing. NotFound when there is no such session
  // (or it belongs to another repository); FailedPrecondition while another request holds it.
  absl::StatusOr<UploadSession> Acquire(absl::string_view repository, absl::string_view id);
  // Bytes received by session `id`; NotFound as for Acquire.
  absl::StatusOr<uint64_t> Offset(absl::string_view repository, absl::string_view id) const;

  // Removes sessions idle for longer than the TTL, except ones being written. Returns how many.
  absl::StatusOr<int> SweepExpired();
  // Sessions on disk.
  int64_t count() const;

 private:
  friend class UploadSession;
  struct Entry {
    bool busy = false;
    // The running hash of data[0, hashed); only meaningful while `hasher` is set.
    std::optional<digest::Hasher> hasher;
    uint64_t hashed = 0;
  };

  UploadStore(std::string dir, BlobStore* blobs, RepositoryStore* repositories,
              UploadOptions options)
      : dir_(std::move(dir)), blobs_(blobs), repositories_(repositories),
        options_(std::move(options)) {}
  std::string SessionDir(absl::string_view id) const;
  absl::Time Now() const;
  // Ends a session (entry and files). Called by the holder.
  void Remove(const std::string& id);
  void Release(const std::string& id);
  Entry* EntryFor(const std::string& id);
  absl::StatusOr<std::string> NewId();

  const std::string dir_;
  BlobStore* const blobs_;
  RepositoryStore* const repositories_;
  const UploadOptions options_;
  mutable absl::Mutex mu_;
  // Sessions this process has touched; entries are created on demand (after a restart).
  absl::flat_hash_map<std::string, std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
  int64_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

// Whether `id` has the shape of a session id this store hands out (a lowercase UUID), so a
// request path never names anything else under the uploads directory.
bool IsValidUploadId(absl::string_view id);

}  // namespace berth::registry::storage
