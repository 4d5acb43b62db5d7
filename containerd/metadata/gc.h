// Garbage-collection marking for berth-containerd's metadata: given every object in the store
// and its GC labels, which blob records and snapshot records no root reaches, and which leases
// have expired. Pure functions over plain data (no SQLite here), so the rules are tested on
// hand-made graphs; Transaction::CollectGarbageCandidates loads the graph from the database and
// Store::CollectGarbage deletes what this finds. Removing files is the content store's and the
// snapshotter's job, after the records are gone.
//
// Rules (proto/berth/containerd/leases/v1/leases.proto, "Garbage collection"), all within one
// namespace:
//   roots:  every image (-> its target blob), every container (-> snapshot
//           <snapshotter>/<snapshot_key>), every lease that has not expired (-> its resources),
//           every blob or snapshot labelled `berth.io/gc.root` (any value);
//   edges:  on images, containers, blobs and snapshots, a label
//             `berth.io/gc.ref.content` or `berth.io/gc.ref.content.<suffix>` = <digest>
//               -> that blob,
//             `berth.io/gc.ref.snapshot.<snapshotter>` or `...<snapshotter>.<suffix>` = <key>
//               -> that snapshot;
//           every snapshot -> its parent.
//   A lease expires when expires_at <= now; an expired lease protects nothing and is itself
//   garbage. References to objects that do not exist are ignored (a lease may protect a blob
//   before it is written).
// Thread-safe: everything here is pure.
#pragma once

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "containerd/metadata/types.h"

namespace berth::containerd::metadata {

inline constexpr absl::string_view kGcRootLabel = "berth.io/gc.root";
inline constexpr absl::string_view kGcRefContentLabel = "berth.io/gc.ref.content";
inline constexpr absl::string_view kGcRefSnapshotPrefix = "berth.io/gc.ref.snapshot.";
// The containerd-style expiry label that lease creation accepts (leases.proto, CreateRequest).
inline constexpr absl::string_view kGcExpireLabel = "berth.io/gc.expire";

// Lease resource types (leases.proto, Resource.type).
inline constexpr absl::string_view kResourceContent = "content";
inline constexpr absl::string_view kResourceIngests = "ingests";
inline constexpr absl::string_view kResourceSnapshotsPrefix = "snapshots/";

// What a GC label refers to; nullopt for labels that are not references (including the root
// label and malformed keys such as `berth.io/gc.ref.snapshot.` with no snapshotter).
struct GcRef {
  enum class Type { kContent, kSnapshot };
  Type type;
  std::string snapshotter;  // kSnapshot only
  std::string id;           // digest or snapshot key (the label's value)
};
std::optional<GcRef> ParseGcRefLabel(absl::string_view key, absl::string_view value);

// The graph, as loaded from the store: only what marking needs.
struct GcInput {
  struct ImageNode {
    std::string ns;
    std::string name;
    std::string target_digest;
    Labels labels;
  };
  struct ContainerNode {
    std::string ns;
    std::string id;
    std::string snapshotter;
    std::string snapshot_key;
    Labels labels;
  };
  struct LeaseNode {
    std::string ns;
    std::string id;
    std::optional<absl::Time> expires_at;
    std::vector<LeaseResource> resources;
  };
  struct BlobNode {
    std::string ns;
    std::string digest;
    Labels labels;
  };
  struct SnapshotNode {
    std::string ns;
    std::string snapshotter;
    std::string name;
    std::string parent;  // empty for none
    Labels labels;
  };
  std::vector<ImageNode> images;
  std::vector<ContainerNode> containers;
  std::vector<LeaseNode> leases;
  std::vector<BlobNode> blobs;
  std::vector<SnapshotNode> snapshots;
};

struct BlobRef {
  std::string ns;
  std::string digest;
  friend bool operator==(const BlobRef& a, const BlobRef& b) {
    return a.ns == b.ns && a.digest == b.digest;
  }
  friend bool operator<(const BlobRef& a, const BlobRef& b) {
    return std::tie(a.ns, a.digest) < std::tie(b.ns, b.digest);
  }
};
struct SnapshotRef {
  std::string ns;
  std::string snapshotter;
  std::string name;
  friend bool operator==(const SnapshotRef& a, const SnapshotRef& b) {
    return a.ns == b.ns && a.snapshotter == b.snapshotter && a.name == b.name;
  }
  friend bool operator<(const SnapshotRef& a, const SnapshotRef& b) {
    return std::tie(a.ns, a.snapshotter, a.name) < std::tie(b.ns, b.snapshotter, b.name);
  }
};
// A lease (by id) or an ingest (by ref) in a namespace.
struct NamedRef {
  std::string ns;
  std::string id;
  friend bool operator==(const NamedRef& a, const NamedRef& b) {
    return a.ns == b.ns && a.id == b.id;
  }
  friend bool operator<(const NamedRef& a, const NamedRef& b) {
    return std::tie(a.ns, a.id) < std::tie(b.ns, b.id);
  }
};

struct GcCandidates {
  // Blob records no root reaches, sorted.
  std::vector<BlobRef> blobs;
  // Snapshot records no root reaches, every child before its parent (so they can be removed in
  // this order), ties sorted.
  std::vector<SnapshotRef> snapshots;
  // Leases whose expires_at <= now, sorted.
  std::vector<NamedRef> expired_leases;
  // Ingests that live leases hold, sorted: the content store keeps them however idle they are.
  std::vector<NamedRef> leased_ingests;
};

// Marks from the roots and returns what is unreachable.
GcCandidates ComputeGarbage(const GcInput& input, absl::Time now);

}  // namespace berth::containerd::metadata
