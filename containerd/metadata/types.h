// The records berth-containerd's metadata store keeps: plain C++ structs mirroring the messages
// of proto/berth/containerd/{namespaces,images,containers,content,snapshots,leases}/v1, so the
// store (and its garbage collection) does not depend on protobuf or gRPC. The gRPC services
// convert between these and the generated messages. Times are absl::Time, label maps are
// ordered std::maps (List results and tests compare them deterministically).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace berth::containerd::metadata {

// Free-form key/value labels. Keys under `berth.io/gc.` are read by garbage collection (gc.h).
using Labels = std::map<std::string, std::string>;

// A namespace: the partition that keeps different clients' objects apart (namespaces.proto).
struct Namespace {
  std::string name;
  Labels labels;
  absl::Time created_at;  // set by the store
  absl::Time updated_at;  // set by the store
};

// The target of an image: an OCI descriptor (berth.types.v1.Descriptor) of an index or
// manifest. `urls` and `platform` are not kept: an image's root descriptor has neither.
struct Descriptor {
  std::string media_type;
  std::string digest;  // "<algorithm>:<hex>", validated by common/digest
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
  std::string artifact_type;

  friend bool operator==(const Descriptor& a, const Descriptor& b) {
    return a.media_type == b.media_type && a.digest == b.digest && a.size == b.size &&
           a.annotations == b.annotations && a.artifact_type == b.artifact_type;
  }
};

// A named image (images.proto, Image).
struct Image {
  std::string name;
  Labels labels;
  Descriptor target;
  absl::Time created_at;  // set by the store
  absl::Time updated_at;  // set by the store
};

// How the shim runs a container (containers.proto, Runtime).
struct Runtime {
  std::string name;
  // The serialized google.protobuf.Any of the runtime options, opaque to the store; empty when
  // unset.
  std::string options;
};

// A container record (containers.proto, Container).
struct Container {
  std::string id;
  Labels labels;
  std::string image;
  Runtime runtime;
  std::string spec;  // OCI runtime config.json bytes; empty or a JSON object
  std::string snapshotter;
  std::string snapshot_key;
  std::string sandbox_id;
  // Opaque client data by key: each value is a serialized google.protobuf.Any.
  std::map<std::string, std::string> extensions;
  absl::Time created_at;  // set by the store
  absl::Time updated_at;  // set by the store
};

// A committed blob as one namespace sees it (content.proto, Info). The bytes live in the content
// store, shared by all namespaces; this record is "this namespace holds the blob, with these
// labels".
struct BlobInfo {
  std::string digest;
  int64_t size = 0;
  Labels labels;
  absl::Time created_at;  // set by the store: when the namespace committed the blob
  absl::Time updated_at;  // set by the store: when the labels last changed
};

// The state of a snapshot (snapshots.proto, Kind).
enum class SnapshotKind { kView, kActive, kCommitted };

// "view", "active" or "committed": the names the List filter field `kind` uses.
absl::string_view SnapshotKindName(SnapshotKind kind);

// Disk usage of a snapshot by itself (parents excluded), as last computed by the snapshotter.
struct SnapshotUsage {
  int64_t size = 0;
  int64_t inodes = 0;

  friend bool operator==(const SnapshotUsage& a, const SnapshotUsage& b) {
    return a.size == b.size && a.inodes == b.inodes;
  }
};

// A snapshot's metadata (snapshots.proto, Info) plus what the snapshotter keeps beside it.
struct Snapshot {
  // The key of an active or view snapshot, or the name of a committed one: one space per
  // namespace and snapshotter.
  std::string name;
  // Name of the committed parent; empty for none.
  std::string parent;
  SnapshotKind kind = SnapshotKind::kActive;
  Labels labels;
  absl::Time created_at;  // set by the store
  absl::Time updated_at;  // set by the store
  // Set by the store: unique among all snapshots ever made in this store (never reused, even
  // after removal) and kept across Commit, so a snapshotter can name its on-disk directory
  // after it and a crash between "record removed" and "directory removed" can never make a new
  // snapshot adopt stale data.
  int64_t id = 0;
  // The usage cache; nullopt until the snapshotter records one.
  std::optional<SnapshotUsage> usage;
};

// A lease (leases.proto, Lease).
struct Lease {
  std::string id;
  Labels labels;
  absl::Time created_at;  // set by the store
  // nullopt: lives until deleted.
  std::optional<absl::Time> expires_at;
};

// One object a lease holds (leases.proto, Resource).
struct LeaseResource {
  // "content", "ingests" or "snapshots/<snapshotter>".
  std::string type;
  // A digest for "content", an ingest ref for "ingests", a snapshot key or name for snapshots.
  std::string id;

  friend bool operator==(const LeaseResource& a, const LeaseResource& b) {
    return a.type == b.type && a.id == b.id;
  }
  friend bool operator<(const LeaseResource& a, const LeaseResource& b) {
    return a.type != b.type ? a.type < b.type : a.id < b.id;
  }
};

}  // namespace berth::containerd::metadata
