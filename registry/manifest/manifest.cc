#include "registry/manifest/manifest.h"

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace berth::registry::manifest {
namespace {

using Json = nlohmann::json;

absl::Status Invalid(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("manifest invalid: ", what));
}

// An optional string member; InvalidArgument when present but not a string.
absl::StatusOr<std::string> OptionalString(const Json& obj, const char* key, absl::string_view in) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::string();
  if (!it->is_string()) return Invalid(absl::StrCat(in, key, " must be a string"));
  return it->get<std::string>();
}

absl::StatusOr<std::map<std::string, std::string>> Annotations(const Json& obj,
                                                               absl::string_view in) {
  std::map<std::string, std::string> out;
  auto it = obj.find("annotations");
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_object()) return Invalid(absl::StrCat(in, "annotations must be an object"));
  for (auto a = it->begin(); a != it->end(); ++a) {
    if (!a.value().is_string()) {
      return Invalid(absl::StrCat(in, "annotation \"", a.key(), "\" must be a string"));
    }
    out.emplace(a.key(), a.value().get<std::string>());
  }
  return out;
}

absl::StatusOr<Descriptor> ParseDescriptor(const Json& j, const std::string& where) {
  const std::string in = where + ".";
  if (!j.is_object()) return Invalid(absl::StrCat(where, " must be a descriptor object"));
  auto mt = j.find("mediaType");
  if (mt == j.end() || !mt->is_string() || mt->get<std::string>().empty()) {
    return Invalid(absl::StrCat(in, "mediaType must be a non-empty string"));
  }
  auto dg = j.find("digest");
  if (dg == j.end() || !dg->is_string()) {
    return Invalid(absl::StrCat(in, "digest must be a string"));
  }
  absl::StatusOr<digest::Digest> d = digest::Digest::Parse(dg->get<std::string>());
  if (!d.ok()) return Invalid(absl::StrCat(in, "digest: ", d.status().message()));
  auto sz = j.find("size");
  if (sz == j.end() || !(sz->is_number_integer() || sz->is_number_unsigned()) ||
      (sz->is_number_integer() && sz->get<int64_t>() < 0) ||
      (sz->is_number_unsigned() && sz->get<uint64_t>() > uint64_t{INT64_MAX})) {
    return Invalid(absl::StrCat(in, "size must be a non-negative integer"));
  }
  Descriptor out{mt->get<std::string>(), *std::move(d), sz->get<int64_t>(), "", {}, {}};
  absl::StatusOr<std::string> artifact = OptionalString(j, "artifactType", in);
  if (!artifact.ok()) return artifact.status();
  out.artifact_type = *std::move(artifact);
  auto urls = j.find("urls");
  if (urls != j.end() && !urls->is_null()) {
    if (!urls->is_array()) return Invalid(absl::StrCat(in, "urls must be an array"));
    for (const Json& u : *urls) {
      if (!u.is_string()) return Invalid(absl::StrCat(in, "urls must hold strings"));
      out.urls.push_back(u.get<std::string>());
    }
  }
  absl::StatusOr<std::map<std::string, std::string>> annotations = Annotations(j, in);
  if (!annotations.ok()) return annotations.status();
  out.annotations = *std::move(annotations);
  return out;
}

absl::StatusOr<std::vector<Descriptor>> DescriptorArray(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array()) {
    return Invalid(absl::StrCat(key, " must be an array"));
  }
  std::vector<Descriptor> out;
  out.reserve(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    absl::StatusOr<Descriptor> d = ParseDescriptor((*it)[i], absl::StrCat(key, "[", i, "]"));
    if (!d.ok()) return d.status();
    out.push_back(*std::move(d));
  }
  return out;
}

// Layers that registries let clients leave out (image-spec layer.md "Non-distributable
// layers"; Docker's foreign layers), fetched from their `urls` instead.
bool IsNonDistributable(const Descriptor& d) {
  return !d.urls.empty() && (absl::StrContains(d.media_type, "nondistributable") ||
                             absl::StrContains(d.media_type, ".foreign."));
}

}  // namespace

bool IsSupportedMediaType(absl::string_view media_type) {
  return media_type == kOciManifest || media_type == kOciIndex || media_type == kDockerManifest ||
         media_type == kDockerManifestList;
}

bool IsIndexMediaType(absl::string_view media_type) {
  return media_type == kOciIndex || media_type == kDockerManifestList;
}

absl::string_view StripParameters(absl::string_view content_type) {
  const size_t semi = content_type.find(';');
  if (semi != absl::string_view::npos) content_type = content_type.substr(0, semi);
  return absl::StripAsciiWhitespace(content_type);
}

std::vector<digest::Digest> Manifest::ReferencedBlobs() const {
  std::vector<digest::Digest> out;
  if (config) out.push_back(config->digest);
  for (const Descriptor& l : layers) {
    if (!IsNonDistributable(l)) out.push_back(l.digest);
  }
  return out;
}

std::vector<digest::Digest> Manifest::ReferencedManifests() const {
  std::vector<digest::Digest> out;
  for (const Descriptor& m : manifests) out.push_back(m.digest);
  return out;
}

std::string Manifest::EffectiveArtifactType() const {
  if (!artifact_type.empty()) return artifact_type;
  if (!is_index && config) return config->media_type;
  return "";
}

absl::StatusOr<Manifest> Parse(absl::string_view content_type, absl::string_view body) {
  const Json j = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Invalid("body is not valid JSON");
  if (!j.is_object()) return Invalid("body is not a JSON object");

  auto version = j.find("schemaVersion");
  if (version == j.end() || !version->is_number_integer() || version->get<int64_t>() != 2) {
    return Invalid("schemaVersion must be 2");
  }
  absl::StatusOr<std::string> body_type = OptionalString(j, "mediaType", "");
  if (!body_type.ok()) return body_type.status();
  const std::string header_type(StripParameters(content_type));

  Manifest m;
  if (!header_type.empty()) {
    if (!IsSupportedMediaType(header_type)) {
      return Invalid(absl::StrCat("unsupported manifest media type \"", header_type, "\""));
    }
    if (!body_type->empty() && *body_type != header_type) {
      return Invalid(absl::StrCat("mediaType \"", *body_type,
                                  "\" does not match the Content-Type \"", header_type, "\""));
    }
    m.media_type = header_type;
  } else if (!body_type->empty()) {
    if (!IsSupportedMediaType(*body_type)) {
      return Invalid(absl::StrCat("unsupported manifest media type \"", *body_type, "\""));
    }
    m.media_type = *body_type;
  } else if (j.contains("manifests")) {
    m.media_type = std::string(kOciIndex);
  } else if (j.contains("config")) {
    m.media_type = std::string(kOciManifest);
  } else {
    return Invalid("cannot tell the manifest type: no Content-Type, mediaType, config or manifests");
  }
  // Docker's formats require the mediaType field (image manifest v2 schema 2).
  if ((m.media_type == kDockerManifest || m.media_type == kDockerManifestList) &&
      body_type->empty()) {
    return Invalid("a Docker manifest must carry its mediaType");
  }

  m.is_index = IsIndexMediaType(m.media_type);
  if (m.is_index) {
    absl::StatusOr<std::vector<Descriptor>> manifests = DescriptorArray(j, "manifests");
    if (!manifests.ok()) return manifests.status();
    m.manifests = *std::move(manifests);
  } else {
    auto config = j.find("config");
    if (config == j.end()) return Invalid("config is missing");
    absl::StatusOr<Descriptor> c = ParseDescriptor(*config, "config");
    if (!c.ok()) return c.status();
    m.config = *std::move(c);
    auto layers = j.find("layers");
    // OCI artifacts may have an empty list; the field itself is required.
    if (layers == j.end()) return Invalid("layers is missing");
    absl::StatusOr<std::vector<Descriptor>> l = DescriptorArray(j, "layers");
    if (!l.ok()) return l.status();
    m.layers = *std::move(l);
  }
  auto subject = j.find("subject");
  if (subject != j.end() && !subject->is_null()) {
    absl::StatusOr<Descriptor> s = ParseDescriptor(*subject, "subject");
    if (!s.ok()) return s.status();
    m.subject = *std::move(s);
  }
  absl::StatusOr<std::string> artifact = OptionalString(j, "artifactType", "");
  if (!artifact.ok()) return artifact.status();
  m.artifact_type = *std::move(artifact);
  absl::StatusOr<std::map<std::string, std::string>> annotations = Annotations(j, "");
  if (!annotations.ok()) return annotations.status();
  m.annotations = *std::move(annotations);
  return m;
}

}  // namespace berth::registry::manifest
