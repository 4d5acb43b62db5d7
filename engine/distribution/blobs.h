// Small content-store helpers shared by the puller and the pusher.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/images/backend.h"

namespace berth::engine::distribution {

// Label on a blob naming the repositories of `host` it came from (comma-separated), as
// containerd's "containerd.io/distribution.source.<host>": a push to another repository of
// the same host can ask the registry to mount it from there instead of uploading.
std::string SourceLabel(const std::string& host);
// Label on an uncompressed layer blob: the digest of a gzip blob made of it for a push and
// kept in the content store (what berth did before pushes streamed; such blobs are still
// pushed as they are). It is a gc.ref.content label, so that blob lives as long as the layer.
inline constexpr char kGzipLabel[] = "berth.io/gc.ref.content.gzip";
// Label on a compressed blob: the digest of its uncompressed content (image_store.cc sets
// the same key on unpack).
inline constexpr char kUncompressedLabel[] = "berth.io/uncompressed";
// Labels on an uncompressed layer blob that a push compressed on the fly without keeping the
// result: the digest and size of the gzip blob it made (deterministic, so compressing again
// gives the same bytes). A later push asks the registry for that digest (and mounts it from
// the repositories in GzipSourceLabel(host)) before compressing anything.
inline constexpr char kGzipDigestLabel[] = "berth.io/gzip.digest";
inline constexpr char kGzipSizeLabel[] = "berth.io/gzip.size";
// Label on an uncompressed layer blob: the repositories of `host` holding its gzip blob
// (see kGzipDigestLabel), comma-separated, as SourceLabel is for blobs kept locally.
std::string GzipSourceLabel(const std::string& host);

// Stores a small blob (manifest, config) whose digest is `digest` (checked), under `lease`;
// AlreadyExists is success. `labels` are set either way.
absl::Status WriteSmallBlob(images::ContentStore* content, const std::string& ref,
                            const std::string& data, const std::string& digest,
                            const images::Labels& labels, const std::string& lease);

// Adds `repo` to the repository list in label `label` (SourceLabel(host) or
// GzipSourceLabel(host)) of blob `digest`.
absl::Status AddSource(images::ContentStore* content, const std::string& digest,
                       const std::string& label, const std::string& repo);

// The repositories recorded in label `label` (as for AddSource) of `info`.
std::vector<std::string> Sources(const images::BlobInfo& info, const std::string& label);

}  // namespace berth::engine::distribution
