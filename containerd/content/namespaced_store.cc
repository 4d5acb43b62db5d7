#include "containerd/content/namespaced_store.h"

#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "containerd/metadata/gc.h"
#include "containerd/metadata/validation.h"
#include "glog/logging.h"

namespace berth::containerd::content {
namespace {

absl::Status CheckRef(absl::string_view ref) {
  if (ref.empty()) return absl::InvalidArgumentError("ingest ref must not be empty");
  return absl::OkStatus();
}

IngestStatus WithClientRef(IngestStatus status, absl::string_view ref) {
  status.ref = std::string(ref);
  return status;
}

}  // namespace

absl::StatusOr<digest::Digest> ParseRequestDigest(absl::string_view digest) {
  absl::StatusOr<digest::Digest> parsed = digest::Digest::Parse(digest);
  if (parsed.ok()) return parsed;
  // An unsupported algorithm is Unimplemented in common/digest, but to a client of the store
  // it is bad input like any other malformed digest: the store can never hold such a blob.
  return absl::InvalidArgumentError(parsed.status().message());
}

std::string NamespacedStore::IngestKey(absl::string_view ns, absl::string_view ref) {
  return absl::StrCat(ns, "/", ref);
}

std::optional<std::pair<std::string, std::string>> NamespacedStore::SplitIngestKey(
    absl::string_view key) {
  const size_t slash = key.find('/');
  if (slash == absl::string_view::npos || slash == 0 || slash + 1 == key.size()) {
    return std::nullopt;
  }
  return std::make_pair(std::string(key.substr(0, slash)), std::string(key.substr(slash + 1)));
}

absl::Mutex& NamespacedStore::BlobLock(const digest::Digest& digest) {
  return blob_locks_[absl::Hash<digest::Digest>{}(digest) % kLockStripes];
}

absl::StatusOr<metadata::BlobInfo> NamespacedStore::Info(absl::string_view ns,
                                                         absl::string_view digest) {
  BERTH_RETURN_IF_ERROR(ParseRequestDigest(digest).status());
  return metadata_->WithReadTransaction(
      [&](metadata::Transaction& tx) { return tx.GetBlob(ns, digest); });
}

absl::StatusOr<metadata::BlobInfo> NamespacedStore::Update(absl::string_view ns,
                                                           const metadata::BlobInfo& info,
                                                           std::vector<std::string> paths) {
  BERTH_RETURN_IF_ERROR(ParseRequestDigest(info.digest).status());
  return metadata_->WithTransaction(
      [&](metadata::Transaction& tx) { return tx.UpdateBlob(ns, info, std::move(paths)); });
}

absl::StatusOr<std::vector<metadata::BlobInfo>> NamespacedStore::List(
    absl::string_view ns, const std::function<bool(const metadata::BlobInfo&)>& filter) {
  return metadata_->WithReadTransaction(
      [&](metadata::Transaction& tx) { return tx.ListBlobs(ns, filter); });
}

absl::Status NamespacedStore::Delete(absl::string_view ns, absl::string_view digest) {
  BERTH_ASSIGN_OR_RETURN(const digest::Digest parsed, ParseRequestDigest(digest));
  absl::MutexLock lock(&BlobLock(parsed));
  BERTH_ASSIGN_OR_RETURN(
      const bool held,
      metadata_->WithTransaction([&](metadata::Transaction& tx) -> absl::StatusOr<bool> {
        BERTH_RETURN_IF_ERROR(tx.DeleteBlob(ns, digest));
        return tx.BlobHeldByAnyNamespace(digest);
      }));
  if (held) return absl::OkStatus();
  // The record is gone for good; the caller's request has succeeded. A file we fail to remove
  // here is unreferenced and garbage collection removes it later.
  absl::Status removed = blobs_->Delete(parsed);
  if (!removed.ok() && !absl::IsNotFound(removed)) {
    LOG(WARNING) << "content blob left for garbage collection digest=" << parsed << " error=\""
                 << removed.message() << "\"";
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> NamespacedStore::RemoveBlobIfUnreferenced(const digest::Digest& digest) {
  absl::MutexLock lock(&BlobLock(digest));
  BERTH_ASSIGN_OR_RETURN(const bool held,
                         metadata_->WithReadTransaction([&](metadata::Transaction& tx) {
                           return tx.BlobHeldByAnyNamespace(digest.ToString());
                         }));
  if (held) return false;
  absl::Status removed = blobs_->Delete(digest);
  if (absl::IsNotFound(removed)) return false;
  BERTH_RETURN_IF_ERROR(removed);
  return true;
}

absl::StatusOr<std::unique_ptr<ReaderAt>> NamespacedStore::OpenReader(absl::string_view ns,
                                                                      absl::string_view digest) {
  BERTH_ASSIGN_OR_RETURN(const digest::Digest parsed, ParseRequestDigest(digest));
  BERTH_RETURN_IF_ERROR(Info(ns, digest).status());
  // An open reader keeps its bytes even if the blob is deleted right after this.
  return blobs_->OpenReader(parsed);
}

absl::StatusOr<std::unique_ptr<NamespacedWriter>> NamespacedStore::OpenWriter(
    absl::string_view ns, absl::string_view ref, const std::optional<std::string>& lease,
    int64_t total, const std::optional<digest::Digest>& expected) {
  BERTH_RETURN_IF_ERROR(metadata::ValidateNamespaceName(ns));
  BERTH_RETURN_IF_ERROR(CheckRef(ref));
  if (total < 0) {
    return absl::InvalidArgumentError(absl::StrCat("total must not be negative, got ", total));
  }
  if (expected.has_value() || lease.has_value()) {
    bool exists = false;
    auto check = [&](metadata::Transaction& tx) -> absl::Status {
      if (expected.has_value()) {
        absl::StatusOr<metadata::BlobInfo> blob = tx.GetBlob(ns, expected->ToString());
        if (blob.ok()) {
          exists = true;
        } else if (!absl::IsNotFound(blob.status())) {
          return blob.status();
        }
      }
      if (!lease.has_value()) return absl::OkStatus();
      // Protect what the caller is about to rely on: the blob it already has, or the ingest.
      const metadata::LeaseResource resource =
          exists
              ? metadata::LeaseResource{std::string(metadata::kResourceContent),
                                        expected->ToString()}
              : metadata::LeaseResource{std::string(metadata::kResourceIngests), std::string(ref)};
      return tx.AddLeaseResource(ns, *lease, resource);
    };
    BERTH_RETURN_IF_ERROR(lease.has_value() ? metadata_->WithTransaction(check)
                                            : metadata_->WithReadTransaction(check));
    if (exists) {
      return absl::AlreadyExistsError(
          absl::StrCat("content ", expected->ToString(), " already exists"));
    }
  }
  // `expected` is not passed to the store: it would refuse with AlreadyExists when any
  // namespace committed the blob, while this namespace must still send the bytes (see
  // "Committing" in the header).
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<Writer> writer,
                         blobs_->OpenWriter(IngestKey(ns, ref), total, std::nullopt));
  if (expected.has_value()) BERTH_RETURN_IF_ERROR(writer->SetExpected(0, expected));
  return std::unique_ptr<NamespacedWriter>(
      new NamespacedWriter(this, std::string(ns), std::string(ref), lease, std::move(writer)));
}

absl::StatusOr<IngestStatus> NamespacedStore::Status(absl::string_view ns, absl::string_view ref) {
  BERTH_RETURN_IF_ERROR(metadata::ValidateNamespaceName(ns));
  BERTH_RETURN_IF_ERROR(CheckRef(ref));
  BERTH_ASSIGN_OR_RETURN(IngestStatus status, blobs_->Status(IngestKey(ns, ref)));
  return WithClientRef(std::move(status), ref);
}

absl::StatusOr<std::vector<IngestStatus>> NamespacedStore::ListStatuses(absl::string_view ns) {
  BERTH_RETURN_IF_ERROR(metadata::ValidateNamespaceName(ns));
  const std::string prefix = IngestKey(ns, "");
  BERTH_ASSIGN_OR_RETURN(std::vector<IngestStatus> statuses, blobs_->ListStatuses(prefix));
  for (IngestStatus& status : statuses) status.ref = status.ref.substr(prefix.size());
  return statuses;
}

absl::Status NamespacedStore::Abort(absl::string_view ns, absl::string_view ref) {
  BERTH_RETURN_IF_ERROR(metadata::ValidateNamespaceName(ns));
  BERTH_RETURN_IF_ERROR(CheckRef(ref));
  return blobs_->Abort(IngestKey(ns, ref));
}

NamespacedWriter::~NamespacedWriter() = default;  // the store Writer closes itself

IngestStatus NamespacedWriter::Status() const { return WithClientRef(writer_->Status(), ref_); }

absl::StatusOr<metadata::BlobInfo> NamespacedWriter::Commit(
    int64_t size, const std::optional<digest::Digest>& expected, const metadata::Labels& labels) {
  // Before anything is stored: a blob whose record cannot be written should not be committed.
  BERTH_RETURN_IF_ERROR(metadata::ValidateLabels(labels));
  // The digest the blob will be stored under: the expected one when known (Commit verifies
  // it), else the digest of what was received. It picks the lock.
  std::optional<digest::Digest> name = expected;
  if (!name.has_value()) name = writer_->Status().expected;
  if (!name.has_value()) {
    BERTH_ASSIGN_OR_RETURN(digest::Digest running, writer_->Digest());
    name = std::move(running);
  }
  const int64_t received = writer_->offset();

  absl::MutexLock lock(&store_->BlobLock(*name));
  absl::StatusOr<BlobInfo> committed = writer_->Commit(size, expected);
  // AlreadyExists from the store means the bytes were verified and an identical file is on
  // disk (another namespace's): this namespace has proven it has the content, so record it.
  if (!committed.ok() && !absl::IsAlreadyExists(committed.status())) return committed.status();
  const bool fresh = committed.ok();
  const std::string digest = fresh ? committed->digest.ToString() : name->ToString();
  const int64_t blob_size = fresh ? committed->size : received;

  bool already_held = false;
  absl::StatusOr<metadata::BlobInfo> recorded = store_->metadata_->WithTransaction(
      [&](metadata::Transaction& tx) -> absl::StatusOr<metadata::BlobInfo> {
        absl::StatusOr<metadata::BlobInfo> added =
            tx.AddBlob(ns_, metadata::BlobInfo{digest, blob_size, labels, {}, {}});
        if (absl::IsAlreadyExists(added.status())) {
          already_held = true;
          added = tx.GetBlob(ns_, digest);
        }
        if (!added.ok() || !lease_.has_value()) return added;
        // Swap the ingest for the blob in one transaction, so there is no moment where the
        // lease protects neither.
        absl::Status s =
            tx.AddLeaseResource(ns_, *lease_, {std::string(metadata::kResourceContent), digest});
        if (s.ok()) {
          s = tx.DeleteLeaseResource(ns_, *lease_, {std::string(metadata::kResourceIngests), ref_});
        }
        if (!s.ok()) return s;
        return added;
      });
  if (!recorded.ok()) {
    if (fresh) {
      // Nothing half-done: the file this commit created is referenced by no record of ours.
      // Remove it unless some namespace holds it (then it was missing and is now restored).
      absl::StatusOr<bool> held = store_->metadata_->WithReadTransaction(
          [&](metadata::Transaction& tx) { return tx.BlobHeldByAnyNamespace(digest); });
      if (held.ok() && !*held) {
        absl::Status removed = store_->blobs_->Delete(committed->digest);
        if (!removed.ok() && !absl::IsNotFound(removed)) {
          LOG(WARNING) << "content blob left for garbage collection digest=" << digest
                       << " error=\"" << removed.message() << "\"";
        }
      }
    }
    return Annotate(recorded.status(), absl::StrCat("record content ", digest));
  }
  if (already_held) {
    return absl::AlreadyExistsError(absl::StrCat("content ", digest, " already exists"));
  }
  return recorded;
}

}  // namespace berth::containerd::content
