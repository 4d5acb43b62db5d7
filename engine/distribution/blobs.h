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
// Label on an uncompressed layer blob: the digest of the gzip blob berth made of it for a
// push, so the next push reuses it (and its digest) instead of compressing again.
// It is a gc.ref.content label, so the gzip blob lives as long as the layer does.
inline constexpr char kGzipLabel[] = "berth.io/gc.ref.content.gzip";
// Label on a compressed blob: the digest of its uncompressed content (image_store.cc sets
// the same key on unpack).
inline constexpr char kUncompressedLabel[] = "berth.io/uncompressed";

// Stores a small blob (manifest, config) whose digest is `digest` (checked), under `lease`;
// AlreadyExists is success. `labels` are set either way.
absl::Status WriteSmallBlob(images::ContentStore* content, const std::string& ref,
                            const std::string& data, const std::string& digest,
                            const images::Labels& labels, const std::string& lease);

// Adds `repo` to the SourceLabel(host) of blob `digest`.
absl::Status AddSource(images::ContentStore* content, const std::string& digest,
                       const std::string& host, const std::string& repo);

// The repositories recorded in SourceLabel(host) of `info`.
std::vector<std::string> Sources(const images::BlobInfo& info, const std::string& host);

}  // namespace berth::engine::distribution
