// Input rules the metadata store enforces on every write, so no record in the database breaks
// the API contracts (namespace and id grammars, label limits, resource types) even if a service
// forgets a check. Each function returns InvalidArgument with a message naming what is wrong.
// Thread-safe: all functions are pure.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "containerd/metadata/types.h"

namespace berth::containerd::metadata {

// The namespace used when a request names none (namespaces.proto).
inline constexpr absl::string_view kDefaultNamespace = "default";

// Longest label key plus value, in bytes (namespaces.proto, Create).
inline constexpr size_t kMaxLabelSize = 4096;

// Namespace names and lease ids: 1 to 76 characters, runs of letters and digits joined by
// single `.`, `_` or `-` ("default", "k8s.io").
absl::Status ValidateNamespaceName(absl::string_view name);
absl::Status ValidateLeaseId(absl::string_view id);

// Container ids: `[A-Za-z0-9][A-Za-z0-9_.-]{0,75}` (containers.proto, Container.id).
absl::Status ValidateContainerId(absl::string_view id);

// Snapshotter names appear inside GC label keys (`berth.io/gc.ref.snapshot.<snapshotter>`)
// and resource types (`snapshots/<snapshotter>`), so they may not hold `.` or `/`:
// 1 to 76 characters of [A-Za-z0-9_-].
absl::Status ValidateSnapshotterName(absl::string_view name);

// Every key non-empty, and key plus value at most kMaxLabelSize bytes.
absl::Status ValidateLabels(const Labels& labels);

// A digest the content store can verify (common/digest); the code of a well-formed digest with
// an unsupported algorithm is still InvalidArgument here, since the store cannot hold it.
absl::Status ValidateDigest(absl::string_view digest);

// Image targets: media_type set, a valid digest, a positive size.
absl::Status ValidateDescriptor(const Descriptor& target);

// "content", "ingests" or "snapshots/<valid snapshotter>", with a non-empty id.
absl::Status ValidateLeaseResource(const LeaseResource& resource);

// The parsed `labels` / `labels.<key>` part of an update mask, shared by every Update. Given
// the mask paths, `map_name` ("labels" or "extensions"), it says whether the whole map is
// replaced and which single keys are set or removed.
struct MapUpdate {
  bool replace_all = false;
  std::vector<std::string> keys;
  bool empty() const { return !replace_all && keys.empty(); }
};
// Consumes the paths `map_name` and `map_name.<key>` from `paths` into a MapUpdate; the paths
// left over are the caller's to interpret. InvalidArgument for `map_name.` with an empty key.
absl::Status TakeMapPaths(absl::string_view map_name, std::vector<std::string>* paths,
                          MapUpdate* update);

}  // namespace berth::containerd::metadata
