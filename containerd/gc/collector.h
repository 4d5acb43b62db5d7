// Collector: one garbage collection of berth-containerd, start to finish. The rules of what is
// garbage are in proto/berth/containerd/leases/v1/leases.proto ("Garbage collection") and
// containerd/metadata/gc.h; StoreCollector (store_collector.h) is the implementation, Scheduler
// (scheduler.h) decides when it runs.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::containerd::gc {

// What one collection removed.
struct CollectionStats {
  int64_t leases = 0;            // expired leases deleted
  int64_t content_records = 0;   // blob records (namespace, digest) deleted
  int64_t snapshot_records = 0;  // snapshot records deleted
  int64_t blob_files = 0;        // blob files deleted from the content store
  int64_t blob_bytes = 0;        // their total size
  int64_t ingests = 0;           // idle, unleased ingests aborted
  absl::Duration duration;       // wall time of the whole collection
};

class Collector {
 public:
  virtual ~Collector() = default;

  // Runs one collection to completion. Errors are those of the stores; a collection that fails
  // half-way has removed nothing that was still referenced, and the next one finishes the job.
  // Callers serialize calls (Scheduler does).
  virtual absl::StatusOr<CollectionStats> Collect() = 0;
};

}  // namespace berth::containerd::gc
