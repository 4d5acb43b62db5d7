// NamespacedStore: the content store as the Content API sees it, one namespace at a time. It
// joins the blob files of a ContentStore (shared by every namespace, each blob stored once)
// with the metadata store's blob records ("namespace N holds blob D, with these labels") and
// leases, and implements the namespace, label and lease rules of
// proto/berth/containerd/content/v1/content.proto. The gRPC adapter (content_service.h) only
// converts messages; other in-process users (the Diff service writing layers) use this class
// directly so they get the same rules.
//
// Rules:
//  - Visibility: a namespace sees a blob only if it holds a record for it. Info, Read, Update
//    and Delete of a blob recorded only for another namespace are NotFound, even though the
//    bytes are on disk.
//  - Committing: a Writer's Commit verifies the bytes (ContentStore::Writer::Commit), then
//    records the blob for the namespace with its labels. If the bytes were already on disk
//    (another namespace committed them) the client still had to send them all: a namespace
//    gains access to a blob only by proving it has the content, never by naming a digest
//    (containerd's "isolated" sharing policy). Only when the namespace itself already holds the
//    blob is the write refused early with AlreadyExists.
//  - Ingests are per namespace: ref R of namespace N is the ContentStore ingest "N/R"
//    (namespace names cannot contain '/', so the mapping is unambiguous), so two namespaces
//    using the same ref never meet.
//  - Leases: a Writer opened with a lease adds ("ingests", R) to it at once; Commit swaps that
//    for ("content", D) in the transaction that records the blob, so the blob is protected
//    from the moment it is visible. A write refused with AlreadyExists still adds
//    ("content", D), so the caller's lease protects the blob it relies on (as containerd).
//  - Deleting: Delete removes the namespace's record; the file goes only once no namespace
//    holds the blob (metadata BlobHeldByAnyNamespace).
//  - Files and records: file first, then record when adding; record first, then file when
//    removing (store.h). A lock per digest (striped) makes "commit file + add record" and
//    "remove record + delete file" of the same digest exclusive, so a concurrent Delete can
//    never remove the file of a blob another namespace is recording.
//
// Thread-safe. The ContentStore and metadata Store are not owned and must outlive this object
// and every Writer it hands out.
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
#include "absl/synchronization/mutex.h"
#include "common/digest/digest.h"
#include "containerd/content/content_store.h"
#include "containerd/metadata/store.h"
#include "containerd/metadata/types.h"

namespace berth::containerd::content {

class NamespacedStore;

// Parses a digest from a request: InvalidArgument for anything the store cannot hold, including
// well-formed digests of algorithms berth does not compute (Unimplemented in common/digest).
absl::StatusOr<digest::Digest> ParseRequestDigest(absl::string_view digest);

// One ingest of one namespace, holding its ref until closed, destroyed or committed. Not
// thread-safe (one stream uses it). Dropping it without Commit leaves the ingest resumable.
class NamespacedWriter {
 public:
  ~NamespacedWriter();
  NamespacedWriter(const NamespacedWriter&) = delete;
  NamespacedWriter& operator=(const NamespacedWriter&) = delete;

  // The client's ref (without the namespace).
  const std::string& ref() const { return ref_; }
  int64_t offset() const { return writer_->offset(); }
  // The ingest's state, with the client's ref.
  IngestStatus Status() const;
  // As ContentStore Writer::Digest: the digest of the bytes received so far.
  absl::StatusOr<digest::Digest> Digest() const { return writer_->Digest(); }
  // As Writer::SetExpected and Writer::Write.
  absl::Status SetExpected(int64_t total, const std::optional<digest::Digest>& expected) {
    return writer_->SetExpected(total, expected);
  }
  absl::Status Write(int64_t offset, absl::string_view data) {
    return writer_->Write(offset, data);
  }

  // Verifies the ingest (Writer::Commit: FailedPrecondition on a size or digest mismatch, and
  // then nothing is stored and the ingest stays), then records the blob for the namespace with
  // `labels` and updates the lease (see the header comment). Returns the namespace's record.
  // Errors: InvalidArgument (labels over the limits, checked before anything is stored),
  // AlreadyExists (the namespace already holds the blob: the ingest is gone and the existing
  // record and its labels are untouched; callers treat it as success), NotFound (the lease was
  // deleted meanwhile: the blob is not recorded), the store's errors. After any outcome but
  // FailedPrecondition/InvalidArgument the writer is done.
  absl::StatusOr<metadata::BlobInfo> Commit(int64_t size,
                                            const std::optional<digest::Digest>& expected,
                                            const metadata::Labels& labels);

  // Releases the ref, keeping the ingest resumable. Idempotent.
  absl::Status Close() { return writer_->Close(); }

 private:
  friend class NamespacedStore;
  NamespacedWriter(NamespacedStore* store, std::string ns, std::string ref,
                   std::optional<std::string> lease, std::unique_ptr<Writer> writer)
      : store_(store),
        ns_(std::move(ns)),
        ref_(std::move(ref)),
        lease_(std::move(lease)),
        writer_(std::move(writer)) {}

  NamespacedStore* store_;
  const std::string ns_;
  const std::string ref_;
  const std::optional<std::string> lease_;
  std::unique_ptr<Writer> writer_;
};

class NamespacedStore {
 public:
  // Neither is owned; both must outlive this object and its writers.
  NamespacedStore(metadata::Store* metadata, ContentStore* blobs)
      : metadata_(metadata), blobs_(blobs) {}

  // The namespace's record of `digest`. InvalidArgument (malformed digest or namespace),
  // NotFound (the namespace does not hold it).
  absl::StatusOr<metadata::BlobInfo> Info(absl::string_view ns, absl::string_view digest);

  // Changes the labels of the namespace's record (metadata Transaction::UpdateBlob: paths
  // `labels`, `labels.<key>`, empty means `labels`). InvalidArgument, NotFound.
  absl::StatusOr<metadata::BlobInfo> Update(absl::string_view ns, const metadata::BlobInfo& info,
                                            std::vector<std::string> paths);

  // The namespace's blobs, ordered by digest, those for which `filter` (may be null) is true.
  absl::StatusOr<std::vector<metadata::BlobInfo>> List(
      absl::string_view ns, const std::function<bool(const metadata::BlobInfo&)>& filter);

  // Removes the namespace's record, then the file if no namespace holds the blob any more.
  // InvalidArgument, NotFound. Once the record is gone the call succeeds: a file that cannot
  // be deleted is logged and left to garbage collection.
  absl::Status Delete(absl::string_view ns, absl::string_view digest);

  // The blobs underneath, shared by all namespaces (for ContentStore::LocalPath of a blob
  // whose record the caller already checked).
  ContentStore* blobs() const { return blobs_; }

  // Random access to a blob the namespace holds. InvalidArgument, NotFound.
  absl::StatusOr<std::unique_ptr<ReaderAt>> OpenReader(absl::string_view ns,
                                                       absl::string_view digest);

  // Starts or resumes the namespace's ingest `ref` (ContentStore::OpenWriter). `total` (0:
  // unknown) and `expected` are recorded on the ingest. Errors: InvalidArgument (empty ref,
  // negative total, values contradicting the existing ingest), AlreadyExists (`expected` is
  // set and the namespace holds that blob: no ingest is started), NotFound (`lease` does not
  // exist in the namespace), Unavailable (another writer holds the ref).
  absl::StatusOr<std::unique_ptr<NamespacedWriter>> OpenWriter(
      absl::string_view ns, absl::string_view ref, const std::optional<std::string>& lease,
      int64_t total, const std::optional<digest::Digest>& expected);

  // The namespace's ingest `ref`, with the client's ref. InvalidArgument (empty ref), NotFound.
  absl::StatusOr<IngestStatus> Status(absl::string_view ns, absl::string_view ref);
  // Every ingest of the namespace, sorted by ref.
  absl::StatusOr<std::vector<IngestStatus>> ListStatuses(absl::string_view ns);
  // Cancels the namespace's ingest `ref`. InvalidArgument, NotFound, Unavailable (a writer
  // holds it).
  absl::Status Abort(absl::string_view ns, absl::string_view ref);

  // For garbage collection, after metadata::Store::CollectGarbage removed blob records: deletes
  // the file of `digest` unless some namespace holds the blob, checked under the digest's lock
  // so a commit recording the blob right now keeps its file. Returns whether a file was
  // deleted (false also when there was none). Errors are the stores'.
  absl::StatusOr<bool> RemoveBlobIfUnreferenced(const digest::Digest& digest);

  // The ContentStore ingest ref of the namespace's ingest `ref`, and back (nullopt for a
  // store ref that belongs to no namespace). Garbage collection uses these to match leased
  // ingests with the store's.
  static std::string IngestKey(absl::string_view ns, absl::string_view ref);
  static std::optional<std::pair<std::string, std::string>> SplitIngestKey(absl::string_view key);

 private:
  friend class NamespacedWriter;
  static constexpr int kLockStripes = 64;
  absl::Mutex& BlobLock(const digest::Digest& digest);

  metadata::Store* const metadata_;
  ContentStore* const blobs_;
  // Striped by digest: see "Files and records" in the header comment.
  absl::Mutex blob_locks_[kLockStripes];
};

}  // namespace berth::containerd::content
