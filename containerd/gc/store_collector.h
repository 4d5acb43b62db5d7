// StoreCollector: garbage collection over berth-containerd's real stores. One Collect():
//   1. marks and sweeps the metadata store (metadata::Store::CollectGarbage): expired leases,
//      and the blob and snapshot records no root reaches, go in one write transaction;
//   2. publishes /content/delete and /snapshot/remove for each removed record (payloads.proto);
//   3. deletes blob files no namespace holds any more: it walks the content store and, for each
//      file whose digest has no record, calls NamespacedStore::RemoveBlobIfUnreferenced, which
//      re-checks under the digest's lock (so a blob being committed right now keeps its file).
//      This also removes files a crash left between "file committed" and "record added". The
//      walk yields the berth_containerd_content_{blobs,bytes} gauges;
//   4. aborts ingests that no live lease holds and that have not been written for
//      ingest_idle_timeout (content.proto, Write rule 5; a held ingest is skipped);
//   5. runs Cleanup on each snapshotter that lost records, which deletes their directories.
// Steps 3-5 carry on past errors and the first one is returned at the end; what they could not
// delete is found again by the next collection (it is unreferenced on disk).
//
// Leases protect in-flight work through marking (metadata/gc.h): a blob, ingest or snapshot a
// live lease holds is a root.
//
// Logs each collection at INFO with its counts and duration. Thread-compatible: the caller
// serializes Collect() (Scheduler does); the stores are safe to use concurrently meanwhile.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "containerd/content/content_store.h"
#include "containerd/content/namespaced_store.h"
#include "containerd/events/publisher.h"
#include "containerd/gc/collector.h"
#include "containerd/metadata/store.h"
#include "containerd/metrics/metrics.h"
#include "containerd/snapshots/snapshotter.h"

namespace berth::containerd::gc {

struct StoreCollectorOptions {
  // How long an ingest no lease holds may stay unwritten before it is aborted
  // (content.proto: 24 hours).
  absl::Duration ingest_idle_timeout = absl::Hours(24);
  // "Now" for ingest idleness. Tests inject their own.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

class StoreCollector final : public Collector {
 public:
  // None owned; all must outlive this object. `snapshotters` by name (Snapshotter::name()).
  // `publisher` receives /content/delete and /snapshot/remove; `metrics` may be null.
  StoreCollector(metadata::Store* metadata, content::NamespacedStore* content,
                 content::ContentStore* blobs,
                 std::map<std::string, snapshots::Snapshotter*> snapshotters,
                 events::Publisher* publisher, metrics::ContainerdMetrics* metrics,
                 StoreCollectorOptions options = {});

  absl::StatusOr<CollectionStats> Collect() override;

 private:
  // Fills *stats as it goes, so a failure still reports what was removed before it.
  absl::Status CollectOnce(CollectionStats* stats);
  // Steps 3 and 4 of the header comment.
  absl::Status RemoveUnreferencedBlobs(CollectionStats* stats);
  absl::Status AbortIdleIngests(const metadata::GcSweepResult& sweep, CollectionStats* stats);
  void Record(const absl::Status& status, const CollectionStats& stats);

  metadata::Store* const metadata_;
  content::NamespacedStore* const content_;
  content::ContentStore* const blobs_;
  const std::map<std::string, snapshots::Snapshotter*> snapshotters_;
  events::Publisher* const publisher_;
  metrics::ContainerdMetrics* const metrics_;
  const StoreCollectorOptions options_;
};

}  // namespace berth::containerd::gc
