#include "containerd/gc/store_collector.h"

#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "berth/containerd/events/v1/payloads.pb.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"

namespace berth::containerd::gc {
namespace {

namespace eventspb = ::berth::containerd::events::v1;

// Keeps the first error, annotated; later ones are only logged.
void KeepFirst(absl::Status* first, const absl::Status& s, absl::string_view context) {
  if (s.ok()) return;
  absl::Status annotated = Annotate(s, context);
  LOG(WARNING) << "garbage collection: " << annotated;
  if (first->ok()) *first = std::move(annotated);
}

}  // namespace

StoreCollector::StoreCollector(metadata::Store* metadata, content::NamespacedStore* content,
                               content::ContentStore* blobs,
                               std::map<std::string, snapshots::Snapshotter*> snapshotters,
                               events::Publisher* publisher, metrics::ContainerdMetrics* metrics,
                               StoreCollectorOptions options)
    : metadata_(metadata),
      content_(content),
      blobs_(blobs),
      snapshotters_(std::move(snapshotters)),
      publisher_(publisher),
      metrics_(metrics),
      options_(std::move(options)) {}

absl::StatusOr<CollectionStats> StoreCollector::Collect() {
  const absl::Time start = absl::Now();
  CollectionStats stats;
  const absl::Status status = CollectOnce(&stats);
  stats.duration = absl::Now() - start;
  Record(status, stats);
  if (!status.ok()) return status;
  return stats;
}

absl::Status StoreCollector::CollectOnce(CollectionStats* stats_out) {
  CollectionStats& stats = *stats_out;
  BERTH_ASSIGN_OR_RETURN(metadata::GcSweepResult sweep, metadata_->CollectGarbage(),
                         "mark and sweep metadata");
  stats.leases = static_cast<int64_t>(sweep.removed_leases.size());
  stats.content_records = static_cast<int64_t>(sweep.removed_blobs.size());
  stats.snapshot_records = static_cast<int64_t>(sweep.removed_snapshots.size());

  // The records are gone for good: announce it before the slower file work.
  if (publisher_ != nullptr) {
    for (const metadata::BlobRef& blob : sweep.removed_blobs) {
      eventspb::ContentDelete event;
      event.set_digest(blob.digest);
      if (absl::Status s = publisher_->Publish(blob.ns, "/content/delete", event); !s.ok()) {
        LOG(WARNING) << "publish /content/delete: " << s;
      }
    }
    for (const metadata::SnapshotRef& snap : sweep.removed_snapshots) {
      eventspb::SnapshotRemove event;
      event.set_key(snap.name);
      event.set_snapshotter(snap.snapshotter);
      if (absl::Status s = publisher_->Publish(snap.ns, "/snapshot/remove", event); !s.ok()) {
        LOG(WARNING) << "publish /snapshot/remove: " << s;
      }
    }
  }

  absl::Status first;
  KeepFirst(&first, RemoveUnreferencedBlobs(&stats), "remove blob files");
  KeepFirst(&first, AbortIdleIngests(sweep, &stats), "abort idle ingests");
  for (const auto& [name, ids] : sweep.removed_snapshot_ids) {
    if (ids.empty()) continue;
    auto it = snapshotters_.find(name);
    if (it == snapshotters_.end()) {
      LOG(WARNING) << "garbage collection removed records of unknown snapshotter=" << name;
      continue;
    }
    KeepFirst(&first, it->second->Cleanup(), absl::StrCat("clean up snapshotter ", name));
  }
  return first;
}

absl::Status StoreCollector::RemoveUnreferencedBlobs(CollectionStats* stats) {
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> recorded,
                         metadata_->WithReadTransaction(
                             [](metadata::Transaction& tx) { return tx.ListAllBlobDigests(); }));
  const absl::flat_hash_set<std::string> held(recorded.begin(), recorded.end());
  // The walk only collects candidates: deleting inside it would change the listing it runs on.
  std::vector<content::BlobInfo> candidates;
  int64_t blobs = 0;
  int64_t bytes = 0;
  BERTH_RETURN_IF_ERROR(blobs_->Walk([&](const content::BlobInfo& info) {
    ++blobs;
    bytes += info.size;
    if (!held.contains(info.digest.ToString())) candidates.push_back(info);
    return absl::OkStatus();
  }));
  absl::Status first;
  for (const content::BlobInfo& info : candidates) {
    // Re-checked under the digest's lock: it may have been recorded since the listing.
    absl::StatusOr<bool> removed = content_->RemoveBlobIfUnreferenced(info.digest);
    if (!removed.ok()) {
      KeepFirst(&first, removed.status(), info.digest.ToString());
      continue;
    }
    if (!*removed) continue;
    ++stats->blob_files;
    stats->blob_bytes += info.size;
    --blobs;
    bytes -= info.size;
  }
  if (metrics_ != nullptr) {
    metrics_->content_blobs.Set(static_cast<double>(blobs));
    metrics_->content_bytes.Set(static_cast<double>(bytes));
  }
  return first;
}

absl::Status StoreCollector::AbortIdleIngests(const metadata::GcSweepResult& sweep,
                                              CollectionStats* stats) {
  absl::flat_hash_set<std::string> leased;
  for (const metadata::NamedRef& ingest : sweep.leased_ingests) {
    leased.insert(content::NamespacedStore::IngestKey(ingest.ns, ingest.id));
  }
  BERTH_ASSIGN_OR_RETURN(std::vector<content::IngestStatus> ingests, blobs_->ListStatuses(""));
  const absl::Time idle_before = options_.clock() - options_.ingest_idle_timeout;
  absl::Status first;
  for (const content::IngestStatus& ingest : ingests) {
    if (leased.contains(ingest.ref) || ingest.updated_at > idle_before) continue;
    absl::Status s = blobs_->Abort(ingest.ref);
    // Unavailable: a writer holds it right now, so it is not idle after all.
    if (absl::IsNotFound(s) || absl::IsUnavailable(s)) continue;
    if (!s.ok()) {
      KeepFirst(&first, s, absl::StrCat("ingest ", ingest.ref));
      continue;
    }
    ++stats->ingests;
  }
  return first;
}

void StoreCollector::Record(const absl::Status& status, const CollectionStats& s) {
  if (metrics_ != nullptr) {
    metrics_->gc_runs.Add({{"result", status.ok() ? "ok" : "error"}}).Increment();
    metrics_->gc_duration.Observe(absl::ToDoubleSeconds(s.duration));
    metrics_->gc_removed.Add({{"type", "lease"}}).Increment(static_cast<double>(s.leases));
    metrics_->gc_removed.Add({{"type", "content"}})
        .Increment(static_cast<double>(s.content_records));
    metrics_->gc_removed.Add({{"type", "snapshot"}})
        .Increment(static_cast<double>(s.snapshot_records));
    metrics_->gc_removed.Add({{"type", "blob_file"}}).Increment(static_cast<double>(s.blob_files));
    metrics_->gc_removed.Add({{"type", "ingest"}}).Increment(static_cast<double>(s.ingests));
  }
  // What was removed counts even when a later step failed. The background runs have nobody
  // to return an error to, so it is logged here (sync callers get it as well).
  LOG_IF(ERROR, !status.ok()) << "garbage collection failed duration=" << s.duration << " error=\""
                              << status.message() << "\"";
  LOG(INFO) << "garbage collected duration=" << s.duration << " leases=" << s.leases
            << " content=" << s.content_records << " snapshots=" << s.snapshot_records
            << " blob_files=" << s.blob_files << " blob_bytes=" << s.blob_bytes
            << " ingests=" << s.ingests;
}

}  // namespace berth::containerd::gc
