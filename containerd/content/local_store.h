// The content store on the local file system, as berth-containerd runs it:
//
//   <dir>/blobs/<algorithm>/<hex>   committed blobs, read-only (0444), named by their digest
//   <dir>/ingest/<sha256(ref)>/     one in-progress ingest each (layout in ingest.h)
//
// A blob appears only by rename(2) of a fully written, fsynced and verified ingest data file
// into blobs/ (ingest and blobs are on one file system by construction), so a crash at any
// moment, kill -9 included, leaves either no blob or the whole blob, plus possibly a resumable
// ingest. A writer holds its ref with an in-process lock table and flock(2) on the ingest
// directory, so two berth-containerd processes sharing a root (or a tool next to it) exclude
// each other too, and a dead holder's lock vanishes with it.
//
// An ingest's offset is its data file's size, so there is no separate offset to go stale.
// Resuming re-reads the data file to rebuild the running digest rather than persisting the
// hash state: OpenSSL's state has no stable serialized form, and re-hashing is cheap next to
// the transfer being resumed.
//
// Sharing across namespaces, labels and leases are the metadata layer's; this store knows
// blobs and ingests only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/digest/digest.h"
#include "containerd/content/content_store.h"

namespace berth::containerd::content {

namespace internal {
struct StoreContext;
}  // namespace internal

struct LocalStoreOptions {
  // The content directory, created if missing; berth-containerd passes <--root>/content.
  std::string dir;
  // The clock for ingest times and commit times (a blob's created_at). Tests inject one.
  std::function<absl::Time()> now = [] { return absl::Now(); };
};

class LocalStore : public ContentStore {
 public:
  // Opens (creating if needed) the store in options.dir and cleans what crashed writers left:
  // temp files inside ingests and ingest directories whose start or removal was cut short.
  // Ingests that a live writer holds (another process on the same dir) are left alone.
  // InvalidArgument for an empty dir; I/O errors naming the path.
  static absl::StatusOr<std::unique_ptr<LocalStore>> Create(LocalStoreOptions options);

  ~LocalStore() override;

  absl::StatusOr<BlobInfo> Info(const digest::Digest& digest) override;
  absl::Status Walk(const WalkCallback& fn) override;
  absl::Status Delete(const digest::Digest& digest) override;
  absl::StatusOr<std::unique_ptr<ReaderAt>> OpenReader(const digest::Digest& digest) override;
  absl::Status Read(const digest::Digest& digest, int64_t offset, int64_t size,
                    const ReadCallback& fn) override;
  absl::StatusOr<std::unique_ptr<Writer>> OpenWriter(
      absl::string_view ref, int64_t total, const std::optional<digest::Digest>& expected) override;
  absl::StatusOr<IngestStatus> Status(absl::string_view ref) override;
  absl::StatusOr<std::vector<IngestStatus>> ListStatuses(absl::string_view ref_prefix) override;
  absl::Status Abort(absl::string_view ref) override;

  // Removes every ingest that no writer holds and that has not been written for longer than
  // `max_age` (proto Write rule 5; berth-containerd's default is 24 hours), except those for
  // which `keep` (may be null) returns true: garbage collection passes the ingests leases
  // hold. Incomplete ingest directories are removed whatever their age. Returns how many
  // ingests it removed; goes on past a failed one and then returns the first error.
  absl::StatusOr<int> RemoveStaleIngests(
      absl::Duration max_age, const std::function<bool(const IngestStatus&)>& keep = nullptr);

  // Where the blob `digest` is (or would be) stored. For code that must hand a file path to a
  // library (e.g. an archive reader); the file is read-only and must never be modified.
  std::string BlobPath(const digest::Digest& digest) const;
  std::string LocalPath(const digest::Digest& digest) const override { return BlobPath(digest); }

 private:
  explicit LocalStore(std::shared_ptr<const internal::StoreContext> ctx);
  absl::StatusOr<std::string> IngestPath(absl::string_view ref) const;
  // The startup cleanup described at Create. Returns how many directories it removed.
  absl::StatusOr<int> CleanIngests();

  std::shared_ptr<const internal::StoreContext> ctx_;
};

}  // namespace berth::containerd::content
