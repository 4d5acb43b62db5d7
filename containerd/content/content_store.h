// The content store of berth-containerd: immutable blobs (image indexes, manifests, configs,
// layers) addressed by digest, and the resumable ingests that write new ones. This is the
// storage contract behind berth.containerd.content.v1.Content (proto/berth/containerd/content/
// v1/content.proto); the gRPC adapter maps it 1:1, adding what lives elsewhere: namespaces,
// labels and leases (the metadata DB) and the filter language.
//
// Ingest protocol, as in the proto's Write comment:
//   - An ingest is named by a client-chosen `ref` (any non-empty string). Only one Writer may
//     hold a ref at a time; a second OpenWriter on it fails with Unavailable.
//   - Opening a ref that has an ingest resumes it: Writer::offset() is where to continue.
//   - Write(offset, data) must be at the current offset, or at 0 to start over.
//   - Commit(size, expected) checks the bytes against the size and digest known for the ingest;
//     only then does the blob appear, whole, under its digest.
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
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/digest/digest.h"

namespace berth::containerd::content {

// One committed blob. Labels are not here: they live in the metadata DB.
struct BlobInfo {
  digest::Digest digest;
  int64_t size = 0;
  // When the blob was committed. The store keeps no other time, so updated_at == created_at;
  // the metadata layer moves updated_at when labels change.
  absl::Time created_at;
  absl::Time updated_at;
};

// The progress of one in-progress ingest (proto IngestStatus).
struct IngestStatus {
  std::string ref;
  // Bytes received so far; the next Write must start here (or at 0 to restart).
  int64_t offset = 0;
  // Expected size of the whole blob, 0 when not known.
  int64_t total = 0;
  // Expected digest of the whole blob, when known.
  std::optional<digest::Digest> expected;
  absl::Time started_at;
  // When data was last written (or the ingest was opened, restarted or closed).
  absl::Time updated_at;
};

// Random access to one committed blob. The blob's bytes stay readable through an open reader
// even if the blob is deleted meanwhile. Not thread-safe (one user at a time); independent
// readers of the same blob are fine.
class ReaderAt {
 public:
  virtual ~ReaderAt() = default;

  // The blob's size in bytes.
  virtual int64_t size() const = 0;

  // Reads up to buf.size() bytes starting at `offset` into `buf`, and returns how many it read:
  // buf.size() unless the blob ends first (0 at the end). InvalidArgument for a negative
  // offset, OutOfRange for an offset past size(), errno-derived codes for I/O errors.
  virtual absl::StatusOr<size_t> ReadAt(int64_t offset, absl::Span<char> buf) = 0;
};

// Receives the bytes of a Read in order, in chunks of at most 1 MiB; `offset` is the position
// of data[0] in the blob. Returning an error stops the read, which then returns that error.
using ReadCallback = std::function<absl::Status(int64_t offset, absl::string_view data)>;

// Receives the blobs of a Walk. Returning an error stops the walk, which then returns it.
using WalkCallback = std::function<absl::Status(const BlobInfo& info)>;

// The writing end of one ingest, holding its ref until it is closed, destroyed or committed.
// Not thread-safe: one stream uses it at a time. Dropping a Writer without Commit leaves the
// ingest in place, resumable by a later OpenWriter with the same ref.
class Writer {
 public:
  virtual ~Writer() = default;

  virtual const std::string& ref() const = 0;
  // Bytes received so far (the offset the next Write must use).
  virtual int64_t offset() const = 0;
  // The ingest's state as the proto's IngestStatus.
  virtual IngestStatus Status() const = 0;

  // The digest of the bytes received so far, so a resuming client can check that it continues
  // the right data (proto WriteResponse.digest). It uses the algorithm of the expected digest,
  // sha256 while none is known. Internal only if hashing itself fails.
  virtual absl::StatusOr<digest::Digest> Digest() const = 0;

  // Records the expected size (0: leave as is) and digest (nullopt: leave as is). Once known
  // they cannot change (proto Write rule 4): InvalidArgument for a different value, or for a
  // total smaller than what was already received. FailedPrecondition after Commit or Close.
  virtual absl::Status SetExpected(int64_t total,
                                   const std::optional<digest::Digest>& expected) = 0;

  // Appends `data` at `offset`, which must be offset(), or 0 to discard everything received so
  // far and start over (Write(0, "") just restarts). Errors: FailedPrecondition for any other
  // offset ("offset N is not the current offset M": call offset()/Status() and resume), or
  // after Commit/Close; InvalidArgument if the data would go past a known total; errno-derived
  // codes (ResourceExhausted for ENOSPC) if the disk write fails, after which offset() tells
  // how much of `data` made it.
  virtual absl::Status Write(int64_t offset, absl::string_view data) = 0;

  // Verifies and stores the blob. `size` (0: unknown) and `expected` (nullopt: unknown) join
  // the ingest's own total and expected digest; a value that contradicts them is
  // InvalidArgument. Then the number of bytes received must equal the size and their digest the
  // expected digest, for each of the two that is known; otherwise FailedPrecondition
  // ("size mismatch" / "digest mismatch"), nothing is stored, and the ingest and this Writer
  // stay as they were (restart at offset 0, or Abort).
  // On success the blob is durable under its digest (read-only, created_at = now), the ingest
  // is gone and its ref released. If a blob with that digest already exists, the ingest is
  // discarded, the existing blob is left untouched and the result is AlreadyExists (callers
  // treat it as success). Either way the Writer is done afterwards: further calls fail with
  // FailedPrecondition.
  virtual absl::StatusOr<BlobInfo> Commit(int64_t size,
                                          const std::optional<digest::Digest>& expected) = 0;

  // Flushes the ingest and releases the ref, keeping the ingest resumable. Idempotent; the
  // destructor calls it (and logs what it cannot return). Errors are I/O errors; the ref is
  // released regardless.
  virtual absl::Status Close() = 0;
};

// A content store. Implementations are thread-safe; Writers and readers they hand out are
// owned by the caller and may outlive the store object.
class ContentStore {
 public:
  virtual ~ContentStore() = default;

  // What the store knows about a committed blob; the way to test presence.
  // NotFound if there is no such blob.
  virtual absl::StatusOr<BlobInfo> Info(const digest::Digest& digest) = 0;

  // Calls `fn` for every committed blob, in a stable order (algorithm, then digest). A blob
  // deleted or committed during the walk may or may not be seen. Returns the first error of
  // `fn`, or an I/O error listing the store.
  virtual absl::Status Walk(const WalkCallback& fn) = 0;

  // Removes a committed blob. Open readers keep reading it. NotFound if there is no such blob.
  virtual absl::Status Delete(const digest::Digest& digest) = 0;

  // Opens a committed blob for random access. NotFound if there is no such blob.
  virtual absl::StatusOr<std::unique_ptr<ReaderAt>> OpenReader(const digest::Digest& digest) = 0;

  // The path of the committed blob's file, for clients on this host that read it directly
  // (proto InfoResponse.local_path); empty when the store has no such file to offer.
  virtual std::string LocalPath(const digest::Digest& digest) const { return ""; }

  // Streams the range [offset, offset + size) of a blob to `fn` (proto Read): size 0 reads to
  // the end, and a range past the end is cut short at the end. Errors: InvalidArgument
  // (negative offset or size), NotFound (no such blob), OutOfRange (offset > blob size; an
  // offset equal to the size reads nothing), or the first error `fn` returns.
  virtual absl::Status Read(const digest::Digest& digest, int64_t offset, int64_t size,
                            const ReadCallback& fn) = 0;

  // Starts or resumes the ingest named `ref` and holds it until the Writer is closed, destroyed
  // or committed. `total` (0: unknown) and `expected` (nullopt: unknown) are recorded like
  // Writer::SetExpected. Errors: InvalidArgument (empty ref, negative total, a total or digest
  // contradicting the existing ingest's), AlreadyExists (`expected` is given and that blob is
  // already committed: nothing is started or touched), Unavailable (another writer, in this
  // process or another, holds the ref), I/O errors.
  virtual absl::StatusOr<std::unique_ptr<Writer>> OpenWriter(
      absl::string_view ref, int64_t total, const std::optional<digest::Digest>& expected) = 0;

  // The progress of the ingest named `ref`, whether or not a writer holds it.
  // InvalidArgument (empty ref), NotFound (no such ingest).
  virtual absl::StatusOr<IngestStatus> Status(absl::string_view ref) = 0;

  // Every in-progress ingest whose ref starts with `ref_prefix` ("" for all), sorted by ref.
  // The proto's filter language is applied by the gRPC adapter on top of this.
  virtual absl::StatusOr<std::vector<IngestStatus>> ListStatuses(absl::string_view ref_prefix) = 0;

  // Cancels the ingest named `ref` and deletes what it received. InvalidArgument (empty ref),
  // NotFound (no such ingest), Unavailable (a writer holds it; close that first).
  virtual absl::Status Abort(absl::string_view ref) = 0;
};

}  // namespace berth::containerd::content
