// The Writer of the local store: one held ingest directory (see ingest.h). Internal to the
// local store; users see it as a content::Writer.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/digest/digest.h"
#include "containerd/content/content_store.h"
#include "common/digest/hasher.h"
#include "containerd/content/ingest.h"

namespace berth::containerd::content::internal {

// What writers share with the store that made them. Writers keep it alive, so a Writer may
// outlive its LocalStore object.
struct StoreContext {
  std::string blobs_dir;   // <dir>/blobs
  std::string ingest_dir;  // <dir>/ingest
  std::function<absl::Time()> now;
  std::shared_ptr<RefLockTable> locks;

  // <dir>/blobs/<algorithm>/<hex>: the Digest was validated, so both parts are safe names.
  std::string BlobPath(const digest::Digest& d) const;
};

// Reconciles known expectations with new ones: 0 / nullopt leave a value as it is, a new value
// fills an unknown one, and a different value for a known one is InvalidArgument (proto Write
// rule 4: once set they cannot change).
absl::Status MergeExpectations(int64_t* total, std::optional<digest::Digest>* expected,
                               int64_t new_total,
                               const std::optional<digest::Digest>& new_expected);

class LocalWriter : public Writer {
 public:
  // Starts (when the directory has no complete ingest) or resumes the ingest whose lock is
  // `lock`. Resuming re-reads the data file to rebuild the running digest: OpenSSL's hash state
  // has no stable serialized form to persist, and re-hashing at ~1 GB/s is cheap next to the
  // network transfer being resumed. InvalidArgument if total/expected contradict the ingest's.
  static absl::StatusOr<std::unique_ptr<LocalWriter>> Open(
      std::shared_ptr<const StoreContext> ctx, IngestLock lock, absl::string_view ref,
      int64_t total, const std::optional<digest::Digest>& expected);

  ~LocalWriter() override;

  const std::string& ref() const override { return ref_; }
  int64_t offset() const override { return offset_; }
  IngestStatus Status() const override;
  absl::StatusOr<digest::Digest> Digest() const override;
  absl::Status SetExpected(int64_t total, const std::optional<digest::Digest>& expected) override;
  absl::Status Write(int64_t offset, absl::string_view data) override;
  absl::StatusOr<BlobInfo> Commit(int64_t size,
                                  const std::optional<digest::Digest>& expected) override;
  absl::Status Close() override;

 private:
  enum class State { kOpen, kCommitted, kClosed };

  LocalWriter(std::shared_ptr<const StoreContext> ctx, IngestLock lock, std::string ref)
      : ctx_(std::move(ctx)), lock_(std::move(lock)), ref_(std::move(ref)) {}

  std::string Path(absl::string_view name) const;
  absl::Status CheckOpen() const;
  // Opens the data file and loads or creates the `ingest` file.
  absl::Status Init(int64_t total, const std::optional<digest::Digest>& expected);
  // Replaces the `ingest` file with this writer's ref, expectations and start time.
  absl::Status WriteMeta(absl::Time updated_at) const;
  // A running digest in `algorithm` over data[0, offset_), read back from the file in 1 MiB
  // chunks: how a resumed ingest gets its digest back, and how it changes algorithm.
  absl::StatusOr<digest::Hasher> HashData(absl::string_view algorithm) const;
  // Starts (without waiting for) the writeback of what was written since the last call, once
  // that is a few MiB, so that the commit's fsync has little left to wait for.
  void StartWriteback();
  // Ends this writer after its data became a blob (or was found to be one already): removes
  // the ingest and releases the ref.
  void FinishCommitted();

  std::shared_ptr<const StoreContext> ctx_;
  IngestLock lock_;
  std::string ref_;
  State state_ = State::kOpen;
  int fd_ = -1;  // the data file, O_RDWR
  std::optional<digest::Hasher> digester_;
  int64_t offset_ = 0;
  int64_t writeback_from_ = 0;  // data before this offset has had its writeback started
  int64_t total_ = 0;
  std::optional<digest::Digest> expected_;
  absl::Time started_at_;
  absl::Time updated_at_;
};

}  // namespace berth::containerd::content::internal
