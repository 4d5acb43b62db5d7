// OCI image-spec (and Docker v2 schema 2) documents as berthd reads and writes them: media
// types, descriptors, manifests, indexes, the image config, chain IDs, timestamps.
// JSON comes from nlohmann::json, parsed without exceptions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/images/backend.h"

namespace berth::engine::images::oci {

inline constexpr char kMediaTypeManifest[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kMediaTypeIndex[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char kMediaTypeConfig[] = "application/vnd.oci.image.config.v1+json";
inline constexpr char kMediaTypeLayer[] = "application/vnd.oci.image.layer.v1.tar";
inline constexpr char kMediaTypeLayerGzip[] = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr char kMediaTypeLayerZstd[] = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr char kDockerManifest[] = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr char kDockerManifestList[] =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr char kDockerConfig[] = "application/vnd.docker.container.image.v1+json";
inline constexpr char kDockerLayerGzip[] = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr char kDockerLayer[] = "application/vnd.docker.image.rootfs.diff.tar";

// Index annotations (image-spec annotations.md; containerd's image name).
inline constexpr char kAnnotationRefName[] = "org.opencontainers.image.ref.name";
inline constexpr char kAnnotationImageName[] = "io.containerd.image.name";

bool IsManifest(absl::string_view media_type);
bool IsIndex(absl::string_view media_type);
bool IsLayer(absl::string_view media_type);

struct Manifest {
  std::string media_type;  // of the manifest itself
  Descriptor config;
  std::vector<Descriptor> layers;
};

struct Index {
  std::vector<Descriptor> manifests;
};

nlohmann::json DescriptorToJson(const Descriptor& d);
absl::StatusOr<Descriptor> DescriptorFromJson(const nlohmann::json& j);

// InvalidArgument for malformed documents (what is wrong is in the message).
absl::StatusOr<nlohmann::json> ParseJson(absl::string_view data, absl::string_view what);
absl::StatusOr<Manifest> ParseManifest(absl::string_view data);
absl::StatusOr<Index> ParseIndex(absl::string_view data);
// Compact JSON with sorted keys, so the same document always has the same digest.
std::string ManifestJson(const Manifest& m);
std::string IndexJson(const Index& index);

// rootfs.diff_ids of an image config; InvalidArgument when missing or malformed.
absl::StatusOr<std::vector<std::string>> DiffIds(const nlohmann::json& config);

// Chain IDs (image-spec config.md, "Layer ChainID"): ChainID(L0) = DiffID(L0),
// ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(Ln)).
std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids);

// RFC 3339 with nanoseconds in UTC ("2024-05-01T10:00:00.123456789Z"), as Docker writes it.
std::string FormatRfc3339(absl::Time t);
// Parses RFC 3339; false when it does not parse.
bool ParseRfc3339(absl::string_view s, absl::Time* t);

}  // namespace berth::engine::images::oci
