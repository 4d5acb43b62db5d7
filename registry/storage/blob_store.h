// BlobStore: the registry's content-addressed blob files, shared by every repository
// (a repository only sees the blobs it links, see RepositoryStore). Layout under its dir:
//   <alg>/<first two hex chars>/<hex>
// A file appears under its digest only after its content was verified to hash to that digest,
// by a rename from the same file system, so a reader never sees a partial or wrong blob.
//
// Garbage collection and pushes meet here: every operation that makes a blob needed again
// (adopting an upload, linking it into a repository, a manifest referencing it) refreshes the
// blob's mtime under a shared lock, and the collector deletes only blobs older than its grace
// period under the exclusive lock, so an in-process collection never deletes a blob that a
// push in flight relies on. Thread-safe.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/digest/digest.h"
#include "common/fs/unique_fd.h"
#include "registry/storage/observer.h"

namespace berth::registry::storage {

class BlobStore {
 public:
  // Opens (creating if missing) the store in `dir`; `tmp_dir` (same file system, created if
  // missing, emptied now when `clear_tmp`) holds blobs being written. `fsync`: flush each blob
  // to disk before it becomes visible. `observer` may be null. Errors from creating or
  // scanning the dirs.
  static absl::StatusOr<std::unique_ptr<BlobStore>> Open(std::string dir, std::string tmp_dir,
                                                         bool fsync, bool clear_tmp,
                                                         StorageObserver* observer);

  std::string PathFor(const digest::Digest& d) const;

  // Size of blob `d`; NotFound when it is not stored.
  absl::StatusOr<uint64_t> Size(const digest::Digest& d) const;

  struct OpenBlob {
    fs::UniqueFd fd;
    uint64_t size = 0;
  };
  // Opens blob `d` for reading; NotFound when it is not stored.
  absl::StatusOr<OpenBlob> Open(const digest::Digest& d) const;
  // The whole blob; NotFound when absent, ResourceExhausted when larger than `max_bytes`.
  absl::StatusOr<std::string> Read(const digest::Digest& d, uint64_t max_bytes) const;

  // Makes the file at `path` the blob `d` by renaming it into place. The caller has verified
  // that the content hashes to `d`; `path` must be on this store's file system. When the blob
  // already exists, `path` is removed and the existing file is kept (and touched).
  absl::Status Adopt(const std::string& path, const digest::Digest& d);
  // Stores `data` as blob `d` after checking its digest (InvalidArgument on a mismatch).
  absl::Status Write(const digest::Digest& d, absl::string_view data);
  // Marks blob `d` as needed now, protecting it from a collection's sweep for the grace
  // period. NotFound when absent.
  absl::Status Touch(const digest::Digest& d);

  // Calls `fn` for every stored blob with its mtime. Files that are not named like a blob
  // are skipped.
  absl::Status ForEach(const std::function<void(const digest::Digest&, absl::Time mtime,
                                                uint64_t size)>& fn) const;
  // Deletes blob `d` if its mtime is before `cutoff`; returns whether it did. OK and false when
  // it is absent or newer.
  absl::StatusOr<bool> DeleteIfOlder(const digest::Digest& d, absl::Time cutoff);

  // Blobs stored, as counted at Open plus what this process added and removed since.
  int64_t count() const { return count_.load(); }

 private:
  BlobStore(std::string dir, std::string tmp_dir, bool fsync, StorageObserver* observer)
      : dir_(std::move(dir)), tmp_dir_(std::move(tmp_dir)), fsync_(fsync), observer_(observer) {}
  void CountChanged(int64_t delta);

  const std::string dir_;
  const std::string tmp_dir_;
  const bool fsync_;
  StorageObserver* const observer_;
  std::atomic<int64_t> count_{0};
  // Shared: operations that make a blob needed. Exclusive: a collector's check-and-delete.
  mutable absl::Mutex gc_mu_;
};

}  // namespace berth::registry::storage
