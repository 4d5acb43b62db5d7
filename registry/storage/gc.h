// Garbage collection of blobs no manifest references (berth-registry garbage-collect).
//
// Mark: every manifest revision of every repository (tagged or not) is read and marked along
// with its config and layers. Sweep: every unmarked blob whose mtime is older than the grace
// period is deleted, then repository links to deleted blobs are removed.
//
// Safe against concurrent pushes: a blob a push relies on was touched (BlobStore) when it was
// uploaded, mounted or referenced by a manifest PUT, so it is younger than the grace period;
// in-process, the touch and the check-and-delete exclude each other. A manifest that cannot be
// parsed stops the collection before anything is deleted, since what it references is unknown.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/digest/digest.h"
#include "registry/storage/storage.h"

namespace berth::registry::storage {

struct GcOptions {
  // Unreferenced blobs younger than this are kept (pushes in flight).
  absl::Duration grace = absl::Hours(1);
  // Report what would be deleted, delete nothing.
  bool dry_run = false;
  std::function<absl::Time()> clock;  // absl::Now when empty
};

struct GcResult {
  int64_t manifests = 0;       // manifest revisions read
  int64_t blobs_marked = 0;    // distinct blobs referenced
  int64_t blobs_deleted = 0;   // (or that would be, in a dry run)
  uint64_t bytes_deleted = 0;
  int64_t links_removed = 0;   // repository links to deleted blobs
  std::vector<digest::Digest> deleted;
};

// Errors: a manifest whose content cannot be read or parsed (FailedPrecondition, nothing is
// deleted), and I/O errors listing the store.
absl::StatusOr<GcResult> CollectGarbage(Storage& storage, const GcOptions& options);

}  // namespace berth::registry::storage
