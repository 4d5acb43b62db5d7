#include "engine/images/oci.h"

#include "absl/strings/str_cat.h"
#include "common/digest/digest.h"

namespace berth::engine::images::oci {

bool IsManifest(absl::string_view mt) { return mt == kMediaTypeManifest || mt == kDockerManifest; }
bool IsIndex(absl::string_view mt) { return mt == kMediaTypeIndex || mt == kDockerManifestList; }
bool IsLayer(absl::string_view mt) {
  return mt == kMediaTypeLayer || mt == kMediaTypeLayerGzip || mt == kMediaTypeLayerZstd ||
         mt == kDockerLayerGzip || mt == kDockerLayer ||
         mt == "application/vnd.oci.image.layer.nondistributable.v1.tar" ||
         mt == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
}

nlohmann::json DescriptorToJson(const Descriptor& d) {
  nlohmann::json j = nlohmann::json::object();
  j["mediaType"] = d.media_type();
  j["digest"] = d.digest();
  j["size"] = d.size();
  if (!d.annotations().empty()) {
    nlohmann::json a = nlohmann::json::object();
    for (const auto& [k, v] : d.annotations()) a[k] = v;
    j["annotations"] = a;
  }
  if (!d.urls().empty()) j["urls"] = std::vector<std::string>(d.urls().begin(), d.urls().end());
  if (d.has_platform()) {
    nlohmann::json p = nlohmann::json::object();
    p["architecture"] = d.platform().architecture();
    p["os"] = d.platform().os();
    if (!d.platform().variant().empty()) p["variant"] = d.platform().variant();
    if (!d.platform().os_version().empty()) p["os.version"] = d.platform().os_version();
    j["platform"] = p;
  }
  if (!d.artifact_type().empty()) j["artifactType"] = d.artifact_type();
  return j;
}

namespace {

std::string StringField(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

}  // namespace

absl::StatusOr<Descriptor> DescriptorFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("descriptor is not an object");
  Descriptor d;
  d.set_media_type(StringField(j, "mediaType"));
  d.set_digest(StringField(j, "digest"));
  auto size = j.find("size");
  if (size == j.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
    return absl::InvalidArgumentError("descriptor has no valid size");
  }
  d.set_size(size->get<int64_t>());
  if (absl::StatusOr<digest::Digest> dg = digest::Digest::Parse(d.digest()); !dg.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("descriptor: ", dg.status().message()));
  }
  if (auto a = j.find("annotations"); a != j.end() && a->is_object()) {
    for (const auto& [k, v] : a->items()) {
      if (v.is_string()) (*d.mutable_annotations())[k] = v.get<std::string>();
    }
  }
  if (auto u = j.find("urls"); u != j.end() && u->is_array()) {
    for (const auto& v : *u) {
      if (v.is_string()) d.add_urls(v.get<std::string>());
    }
  }
  if (auto p = j.find("platform"); p != j.end() && p->is_object()) {
    d.mutable_platform()->set_architecture(StringField(*p, "architecture"));
    d.mutable_platform()->set_os(StringField(*p, "os"));
    d.mutable_platform()->set_variant(StringField(*p, "variant"));
    d.mutable_platform()->set_os_version(StringField(*p, "os.version"));
  }
  d.set_artifact_type(StringField(j, "artifactType"));
  return d;
}

absl::StatusOr<nlohmann::json> ParseJson(absl::string_view data, absl::string_view what) {
  nlohmann::json j = nlohmann::json::parse(data.begin(), data.end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(what, ": invalid JSON"));
  return j;
}

absl::StatusOr<Manifest> ParseManifest(absl::string_view data) {
  absl::StatusOr<nlohmann::json> j = ParseJson(data, "manifest");
  if (!j.ok()) return j.status();
  if (!j->is_object()) return absl::InvalidArgumentError("manifest: not a JSON object");
  Manifest m;
  m.media_type = StringField(*j, "mediaType");
  if (m.media_type.empty()) m.media_type = kMediaTypeManifest;
  auto config = j->find("config");
  if (config == j->end()) return absl::InvalidArgumentError("manifest: no config");
  absl::StatusOr<Descriptor> c = DescriptorFromJson(*config);
  if (!c.ok())
    return absl::InvalidArgumentError(absl::StrCat("manifest config: ", c.status().message()));
  m.config = *c;
  auto layers = j->find("layers");
  if (layers != j->end()) {
    if (!layers->is_array()) return absl::InvalidArgumentError("manifest: layers is not a list");
    for (const auto& l : *layers) {
      absl::StatusOr<Descriptor> d = DescriptorFromJson(l);
      if (!d.ok())
        return absl::InvalidArgumentError(absl::StrCat("manifest layer: ", d.status().message()));
      m.layers.push_back(*d);
    }
  }
  return m;
}

absl::StatusOr<Index> ParseIndex(absl::string_view data) {
  absl::StatusOr<nlohmann::json> j = ParseJson(data, "index");
  if (!j.ok()) return j.status();
  if (!j->is_object()) return absl::InvalidArgumentError("index: not a JSON object");
  Index index;
  auto manifests = j->find("manifests");
  if (manifests == j->end() || !manifests->is_array()) {
    return absl::InvalidArgumentError("index: no manifests list");
  }
  for (const auto& m : *manifests) {
    absl::StatusOr<Descriptor> d = DescriptorFromJson(m);
    if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat("index: ", d.status().message()));
    index.manifests.push_back(*d);
  }
  return index;
}

std::string ManifestJson(const Manifest& m) {
  nlohmann::json j = nlohmann::json::object();
  j["schemaVersion"] = 2;
  j["mediaType"] = m.media_type.empty() ? std::string(kMediaTypeManifest) : m.media_type;
  j["config"] = DescriptorToJson(m.config);
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : m.layers) layers.push_back(DescriptorToJson(l));
  j["layers"] = layers;
  return j.dump();
}

std::string IndexJson(const Index& index) {
  nlohmann::json j = nlohmann::json::object();
  j["schemaVersion"] = 2;
  j["mediaType"] = kMediaTypeIndex;
  nlohmann::json ms = nlohmann::json::array();
  for (const auto& m : index.manifests) ms.push_back(DescriptorToJson(m));
  j["manifests"] = ms;
  return j.dump();
}

absl::StatusOr<std::vector<std::string>> DiffIds(const nlohmann::json& config) {
  if (!config.is_object()) return absl::InvalidArgumentError("image config: not an object");
  auto rootfs = config.find("rootfs");
  if (rootfs == config.end() || !rootfs->is_object()) {
    return absl::InvalidArgumentError("image config: no rootfs");
  }
  auto ids = rootfs->find("diff_ids");
  std::vector<std::string> out;
  if (ids == rootfs->end() || ids->is_null()) return out;
  if (!ids->is_array()) return absl::InvalidArgumentError("image config: diff_ids is not a list");
  for (const auto& id : *ids) {
    if (!id.is_string() || !digest::Digest::Parse(id.get<std::string>()).ok()) {
      return absl::InvalidArgumentError("image config: malformed diff id");
    }
    out.push_back(id.get<std::string>());
  }
  return out;
}

std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> out;
  for (const auto& d : diff_ids) {
    if (out.empty()) {
      out.push_back(d);
    } else {
      out.push_back(digest::Digest::FromBytes(absl::StrCat(out.back(), " ", d))->ToString());
    }
  }
  return out;
}

std::string FormatRfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

bool ParseRfc3339(absl::string_view s, absl::Time* t) {
  std::string err;
  return absl::ParseTime(absl::RFC3339_full, std::string(s), t, &err);
}

}  // namespace berth::engine::images::oci
