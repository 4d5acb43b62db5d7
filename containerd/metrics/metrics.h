// Every Prometheus metric family berth-containerd exports beyond what //common/daemon adds for
// all daemons (berth_containerd_build_info, berth_containerd_grpc_requests_total and
// berth_containerd_grpc_request_duration_seconds). Built once in main() against the daemon's
// registry and passed by reference (no global registries); tests build their own registry.
//
// Label values are bounded: `topic` is one of the topics of proto/berth/containerd/events/v1/
// payloads.proto or "other" (clients may Publish any topic), `type` and `result` are fixed sets.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

#include "absl/strings/string_view.h"

namespace berth::containerd::metrics {

class ContainerdMetrics {
 public:
  explicit ContainerdMetrics(prometheus::Registry& registry);
  ContainerdMetrics(const ContainerdMetrics&) = delete;
  ContainerdMetrics& operator=(const ContainerdMetrics&) = delete;

  // The `topic` label for `topic`: itself when payloads.proto lists it, else "other".
  static std::string TopicLabel(absl::string_view topic);

  // ---- Events (containerd/events) ----
  // Events the exchange accepted (Publish, Forward, in-process publishers), by topic.
  prometheus::Family<prometheus::Counter>& events_published;  // {topic}
  // Events a subscriber lost because it fell too far behind and was dropped, by topic.
  prometheus::Family<prometheus::Counter>& events_dropped;  // {topic}
  // Subscribers dropped for falling behind (their stream ended with ResourceExhausted).
  prometheus::Counter& events_subscribers_evicted;
  // Subscriptions currently registered.
  prometheus::Gauge& events_subscribers;

  // ---- Garbage collection (containerd/gc) ----
  // Collections finished, by result ("ok" or "error").
  prometheus::Family<prometheus::Counter>& gc_runs;  // {result}
  // Wall time of one collection, marking through the last file removed.
  prometheus::Histogram& gc_duration;
  // Objects collections removed, by type: "lease", "content" (a namespace's blob record),
  // "snapshot" (a snapshot record), "blob_file" (a blob's bytes on disk), "ingest".
  prometheus::Family<prometheus::Counter>& gc_removed;  // {type}

  // ---- Content store, as of the last collection (which walks it anyway) ----
  prometheus::Gauge& content_blobs;
  prometheus::Gauge& content_bytes;
};

}  // namespace berth::containerd::metrics
