// Parsing and validating the manifests a registry accepts on PUT (OCI image-spec manifest.md
// and image-index.md, Docker's image manifest v2 schema 2 and manifest list): enough structure
// to check the JSON, to find what a manifest references (blobs and child manifests that must
// exist in the repository, and its `subject` for the referrers API) and to describe it in a
// referrers index. The registry stores the client's bytes unchanged; nothing here rewrites them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/digest/digest.h"

namespace berth::registry::manifest {

inline constexpr absl::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr absl::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr absl::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr absl::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";

// Whether berth-registry stores manifests of this media type (one of the four above).
bool IsSupportedMediaType(absl::string_view media_type);
// Whether the type lists other manifests (an OCI index or a Docker manifest list).
bool IsIndexMediaType(absl::string_view media_type);
// "application/json; charset=utf-8" -> "application/json": media type parameters are ignored
// (distribution spec "Pushing Manifests").
absl::string_view StripParameters(absl::string_view content_type);

// An OCI content descriptor (image-spec descriptor.md).
struct Descriptor {
  std::string media_type;
  digest::Digest digest;
  int64_t size = 0;
  std::string artifact_type;                      // "" when absent
  std::vector<std::string> urls;                  // foreign/non-distributable layers
  std::map<std::string, std::string> annotations;
};

struct Manifest {
  // The effective media type: the Content-Type the client sent, or the body's mediaType, or
  // inferred from the body's shape when neither says.
  std::string media_type;
  bool is_index = false;
  std::optional<Descriptor> config;    // image manifests
  std::vector<Descriptor> layers;      // image manifests
  std::vector<Descriptor> manifests;   // indexes
  std::optional<Descriptor> subject;   // OCI 1.1 referrers
  std::string artifact_type;           // "" when absent
  std::map<std::string, std::string> annotations;

  // Blobs that must exist in the repository: the config and every layer, except
  // non-distributable ("foreign") layers that name URLs to fetch them from instead.
  std::vector<digest::Digest> ReferencedBlobs() const;
  // Manifests that must exist in the repository: an index's entries.
  std::vector<digest::Digest> ReferencedManifests() const;
  // The artifactType the referrers API reports (distribution spec "Listing Referrers"): the
  // manifest's artifactType; else, for an image manifest, its config's media type; else "".
  std::string EffectiveArtifactType() const;
};

// Parses a manifest body sent with `content_type` ("" when the request had none).
// InvalidArgument, with a message naming the offending field, when the body is not JSON, is not
// a supported manifest type, has a mediaType that contradicts `content_type`, or a malformed
// field or descriptor (including a digest berth cannot verify).
absl::StatusOr<Manifest> Parse(absl::string_view content_type, absl::string_view body);

}  // namespace berth::registry::manifest
