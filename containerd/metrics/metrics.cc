#include "containerd/metrics/metrics.h"

#include "absl/container/flat_hash_set.h"

namespace berth::containerd::metrics {
namespace {

// From a handful of records (~1 ms) to a store with many thousands of blobs and snapshots.
prometheus::Histogram::BucketBoundaries GcBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

}  // namespace

std::string ContainerdMetrics::TopicLabel(absl::string_view topic) {
  // payloads.proto's table. A client-chosen topic must not become a label value of its own:
  // that would let any client grow the exposition without bound.
  static const auto* const kKnown = new absl::flat_hash_set<std::string>{
      "/tasks/create",       "/tasks/start",        "/tasks/exit",        "/tasks/oom",
      "/tasks/delete",       "/tasks/paused",       "/tasks/resumed",     "/tasks/exec-added",
      "/tasks/exec-started", "/tasks/checkpointed", "/containers/create", "/containers/update",
      "/containers/delete",  "/images/create",      "/images/update",     "/images/delete",
      "/content/delete",     "/snapshot/prepare",   "/snapshot/commit",   "/snapshot/remove",
      "/namespaces/create",  "/namespaces/update",  "/namespaces/delete"};
  return kKnown->contains(topic) ? std::string(topic) : "other";
}

ContainerdMetrics::ContainerdMetrics(prometheus::Registry& registry)
    : events_published(prometheus::BuildCounter()
                           .Name("berth_containerd_events_published_total")
                           .Help("Events accepted by the event exchange, by topic (\"other\" for "
                                 "topics payloads.proto does not list).")
                           .Register(registry)),
      events_dropped(prometheus::BuildCounter()
                         .Name("berth_containerd_events_dropped_total")
                         .Help("Events a subscriber lost because it fell more than its queue "
                               "limit behind and was dropped, by topic.")
                         .Register(registry)),
      events_subscribers_evicted(
          prometheus::BuildCounter()
              .Name("berth_containerd_events_subscribers_evicted_total")
              .Help("Subscriptions ended with RESOURCE_EXHAUSTED for falling behind.")
              .Register(registry)
              .Add({})),
      events_subscribers(prometheus::BuildGauge()
                             .Name("berth_containerd_events_subscribers")
                             .Help("Event subscriptions currently registered.")
                             .Register(registry)
                             .Add({})),
      gc_runs(prometheus::BuildCounter()
                  .Name("berth_containerd_gc_runs_total")
                  .Help("Garbage collections finished, by result (ok or error).")
                  .Register(registry)),
      gc_duration(prometheus::BuildHistogram()
                      .Name("berth_containerd_gc_duration_seconds")
                      .Help("Wall time of one garbage collection, from marking to the last "
                            "file removed.")
                      .Register(registry)
                      .Add({}, GcBuckets())),
      gc_removed(prometheus::BuildCounter()
                     .Name("berth_containerd_gc_removed_objects_total")
                     .Help("Objects removed by garbage collection, by type (lease, content, "
                           "snapshot, blob_file, ingest).")
                     .Register(registry)),
      content_blobs(prometheus::BuildGauge()
                        .Name("berth_containerd_content_blobs")
                        .Help("Blobs in the content store, as of the last garbage collection.")
                        .Register(registry)
                        .Add({})),
      content_bytes(prometheus::BuildGauge()
                        .Name("berth_containerd_content_bytes")
                        .Help("Total size of the blobs in the content store, as of the last "
                              "garbage collection.")
                        .Register(registry)
                        .Add({})) {
  // Zero series for the fixed label sets, so rates work from the first scrape.
  for (const char* result : {"ok", "error"}) gc_runs.Add({{"result", result}});
  for (const char* type : {"lease", "content", "snapshot", "blob_file", "ingest"}) {
    gc_removed.Add({{"type", type}});
  }
}

}  // namespace berth::containerd::metrics
