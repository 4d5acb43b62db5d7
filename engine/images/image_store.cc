#include "engine/images/image_store.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <optional>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/digest/digest.h"
#include "common/id/id.h"
#include "common/status/status_macros.h"
#include "engine/reference/reference.h"

namespace berth::engine::images {
namespace {

constexpr int64_t kMaxDocumentSize = 8 << 20;

google::protobuf::Timestamp ToProto(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

bool IsHexString(absl::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string StringOr(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::vector<std::string> StringList(const nlohmann::json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& e : *it) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

void ConfigToProto(const nlohmann::json& image_config, v1::ImageConfig* out) {
  auto it = image_config.find("config");
  if (it == image_config.end() || !it->is_object()) return;
  const nlohmann::json& c = *it;
  out->set_user(StringOr(c, "User"));
  if (auto p = c.find("ExposedPorts"); p != c.end() && p->is_object()) {
    for (const auto& [k, v] : p->items()) {
      v1::ContainerPort* port = out->add_exposed_ports();
      size_t slash = k.find('/');
      uint32_t n = 0;
      (void)absl::SimpleAtoi(k.substr(0, slash), &n);
      port->set_port(n);
      std::string proto = slash == std::string::npos ? "tcp" : k.substr(slash + 1);
      port->set_protocol(proto == "udp"    ? v1::PORT_PROTOCOL_UDP
                         : proto == "sctp" ? v1::PORT_PROTOCOL_SCTP
                                           : v1::PORT_PROTOCOL_TCP);
    }
  }
  for (const auto& e : StringList(c, "Env")) out->add_env(e);
  for (const auto& e : StringList(c, "Entrypoint")) out->add_entrypoint(e);
  for (const auto& e : StringList(c, "Cmd")) out->add_cmd(e);
  if (auto v = c.find("Volumes"); v != c.end() && v->is_object()) {
    for (const auto& [k, _] : v->items()) out->add_volumes(k);
  }
  out->set_working_dir(StringOr(c, "WorkingDir"));
  if (auto l = c.find("Labels"); l != c.end() && l->is_object()) {
    for (const auto& [k, v] : l->items()) {
      if (v.is_string()) (*out->mutable_labels())[k] = v.get<std::string>();
    }
  }
  out->set_stop_signal(StringOr(c, "StopSignal"));
  for (const auto& e : StringList(c, "OnBuild")) out->add_on_builds(e);
  for (const auto& e : StringList(c, "Shell")) out->add_shell(e);
  if (auto h = c.find("Healthcheck"); h != c.end() && h->is_object()) {
    for (const auto& t : StringList(*h, "Test")) out->mutable_healthcheck()->add_tests(t);
  }
}

std::map<std::string, std::string> ConfigLabels(const nlohmann::json& image_config) {
  std::map<std::string, std::string> out;
  auto c = image_config.find("config");
  if (c == image_config.end() || !c->is_object()) return out;
  auto l = c->find("Labels");
  if (l == c->end() || !l->is_object()) return out;
  for (const auto& [k, v] : l->items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

// "label" filter values: "k" (present) or "k=v".
bool MatchLabel(const std::map<std::string, std::string>& labels, const std::string& filter) {
  size_t eq = filter.find('=');
  if (eq == std::string::npos) return labels.count(filter) > 0;
  auto it = labels.find(filter.substr(0, eq));
  return it != labels.end() && it->second == filter.substr(eq + 1);
}

bool IsDanglingName(const std::string& name) { return absl::StartsWith(name, kDanglingPrefix); }

}  // namespace

absl::Status NoSuchImage(const std::string& ref) {
  return absl::NotFoundError(absl::StrCat("No such image: ", ref));
}

std::string FamiliarOf(const std::string& record_name) {
  if (IsDanglingName(record_name)) return "";
  absl::StatusOr<reference::Reference> r = reference::ParseNormalized(record_name);
  return r.ok() ? r->FamiliarString() : record_name;
}

std::vector<std::string> LocalImage::RepoTags() const {
  std::vector<std::string> out;
  for (const auto& r : records) {
    if (IsDanglingName(r.name)) continue;
    absl::StatusOr<reference::Reference> ref = reference::ParseNormalized(r.name);
    if (ref.ok() && !ref->tag.empty()) {
      ref->digest.clear();
      out.push_back(ref->FamiliarString());
    }
  }
  return out;
}

std::vector<std::string> LocalImage::RepoDigests() const {
  std::vector<std::string> out;
  for (const auto& r : records) {
    if (IsDanglingName(r.name)) continue;
    absl::StatusOr<reference::Reference> ref = reference::ParseNormalized(r.name);
    if (!ref.ok()) continue;
    // After a push that compressed layers, the registry's digest rather than the local one.
    auto pushed = r.labels.find(absl::StrCat(kPushedDigestLabelPrefix, r.target.digest()));
    std::string d = absl::StrCat(ref->FamiliarName(), "@",
                                 pushed != r.labels.end() ? pushed->second : r.target.digest());
    if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
  }
  return out;
}

bool LocalImage::Dangling() const {
  for (const auto& r : records) {
    if (!IsDanglingName(r.name)) return false;
  }
  return true;
}

ImageStore::ImageStore(Backend backend, ImageStoreOptions options)
    : backend_(backend), options_(std::move(options)) {}

std::string ImageStore::Unique() {
  if (options_.unique) return options_.unique();
  absl::StatusOr<std::string> id = id::GenerateId();
  return id.ok() ? std::string(id->substr(0, 16)) : absl::StrCat(absl::ToUnixNanos(absl::Now()));
}

absl::StatusOr<oci::Manifest> ImageStore::ReadManifest(const std::string& digest) {
  {
    absl::MutexLock l(&mu_);
    if (auto it = manifests_.find(digest); it != manifests_.end()) return it->second;
  }
  BERTH_ASSIGN_OR_RETURN(std::string data, backend_.content->ReadAll(digest, kMaxDocumentSize),
                         absl::StrCat("read manifest ", digest));
  BERTH_ASSIGN_OR_RETURN(oci::Manifest m, oci::ParseManifest(data), digest);
  absl::MutexLock l(&mu_);
  manifests_[digest] = m;
  return m;
}

absl::StatusOr<std::shared_ptr<const nlohmann::json>> ImageStore::ReadConfig(
    const std::string& digest) {
  {
    absl::MutexLock l(&mu_);
    if (auto it = configs_.find(digest); it != configs_.end()) return it->second;
  }
  BERTH_ASSIGN_OR_RETURN(std::string data, backend_.content->ReadAll(digest, kMaxDocumentSize),
                         absl::StrCat("read image config ", digest));
  BERTH_ASSIGN_OR_RETURN(nlohmann::json j, oci::ParseJson(data, "image config"));
  if (!j.is_object()) return absl::InvalidArgumentError("image config: not a JSON object");
  auto shared = std::make_shared<const nlohmann::json>(std::move(j));
  absl::MutexLock l(&mu_);
  configs_[digest] = shared;
  return shared;
}

absl::StatusOr<Descriptor> ImageStore::PlatformManifest(const Descriptor& target) {
  if (oci::IsManifest(target.media_type())) return target;
  if (!oci::IsIndex(target.media_type())) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported image media type ", target.media_type()));
  }
  {
    absl::MutexLock l(&mu_);
    if (auto it = platform_.find(target.digest()); it != platform_.end()) return it->second;
  }
  BERTH_ASSIGN_OR_RETURN(std::string data,
                         backend_.content->ReadAll(target.digest(), kMaxDocumentSize),
                         absl::StrCat("read index ", target.digest()));
  BERTH_ASSIGN_OR_RETURN(oci::Index index, oci::ParseIndex(data));
  const Descriptor* pick = nullptr;
  for (const auto& m : index.manifests) {
    if (!oci::IsManifest(m.media_type())) continue;
    if (!backend_.content->Info(m.digest()).ok()) continue;
    bool match = !m.has_platform() || (m.platform().os() == options_.os &&
                                       m.platform().architecture() == options_.architecture);
    if (match) {
      pick = &m;
      break;
    }
  }
  if (pick == nullptr) {
    return absl::NotFoundError(absl::StrCat("no manifest for platform ", options_.os, "/",
                                            options_.architecture, " in ", target.digest()));
  }
  absl::MutexLock l(&mu_);
  platform_[target.digest()] = *pick;
  return *pick;
}

int64_t ImageStore::LayerSize(const Descriptor& layer) {
  if (layer.media_type() == oci::kMediaTypeLayer || layer.media_type() == oci::kDockerLayer) {
    return layer.size();
  }
  {
    absl::MutexLock l(&mu_);
    if (auto it = layer_sizes_.find(layer.digest()); it != layer_sizes_.end()) return it->second;
  }
  int64_t size = layer.size();
  absl::StatusOr<BlobInfo> info = backend_.content->Info(layer.digest());
  if (info.ok()) {
    auto it = info->labels.find(kUncompressedSizeLabel);
    if (it != info->labels.end() && absl::SimpleAtoi(it->second, &size)) {
      absl::MutexLock l(&mu_);
      layer_sizes_[layer.digest()] = size;
    }
  }
  return size;
}

absl::StatusOr<LocalImage> ImageStore::Load(const ImageRecord& record) {
  LocalImage img;
  img.target = record.target;
  BERTH_ASSIGN_OR_RETURN(img.manifest, PlatformManifest(record.target), record.name);
  BERTH_ASSIGN_OR_RETURN(img.manifest_doc, ReadManifest(img.manifest.digest()), record.name);
  img.id = img.manifest_doc.config.digest();
  BERTH_ASSIGN_OR_RETURN(std::shared_ptr<const nlohmann::json> config, ReadConfig(img.id),
                         record.name);
  img.config = *config;
  BERTH_ASSIGN_OR_RETURN(img.diff_ids, oci::DiffIds(img.config), record.name);
  oci::ParseRfc3339(StringOr(img.config, "created"), &img.created);
  for (const auto& l : img.manifest_doc.layers) img.size += LayerSize(l);
  img.records.push_back(record);
  return img;
}

absl::StatusOr<std::vector<LocalImage>> ImageStore::Group(const std::vector<ImageRecord>& records) {
  std::vector<LocalImage> out;
  std::map<std::string, size_t> by_id;
  for (const auto& r : records) {
    absl::StatusOr<LocalImage> img = Load(r);
    if (!img.ok()) {
      // A record whose content is gone or broken is not an image we can show; it does not
      // hide the others.
      continue;
    }
    auto [it, inserted] = by_id.emplace(img->id, out.size());
    if (inserted) {
      out.push_back(std::move(*img));
    } else {
      out[it->second].records.push_back(r);
    }
  }
  for (auto& img : out) {
    std::sort(img.records.begin(), img.records.end(),
              [](const ImageRecord& a, const ImageRecord& b) { return a.name < b.name; });
  }
  std::sort(out.begin(), out.end(), [](const LocalImage& a, const LocalImage& b) {
    if (a.created != b.created) return a.created > b.created;
    return a.id < b.id;
  });
  return out;
}

absl::StatusOr<std::vector<LocalImage>> ImageStore::List() {
  BERTH_ASSIGN_OR_RETURN(std::vector<ImageRecord> records, backend_.images->List(), "list images");
  return Group(records);
}

absl::StatusOr<LocalImage> ImageStore::Resolve(const std::string& ref) {
  absl::string_view hex = ref;
  const bool has_prefix = absl::ConsumePrefix(&hex, "sha256:");
  BERTH_ASSIGN_OR_RETURN(std::vector<LocalImage> all, List());
  if (hex.size() == 64 && IsHexString(hex)) {
    for (auto& img : all) {
      if (img.id == absl::StrCat("sha256:", hex)) return std::move(img);
    }
    return NoSuchImage(ref);
  }
  absl::StatusOr<reference::Reference> parsed = reference::ParseDockerRef(ref);
  if (parsed.ok()) {
    const std::string name = parsed->String();
    for (auto& img : all) {
      for (const auto& r : img.records) {
        if (r.name == name) return std::move(img);
      }
    }
  }
  if (!hex.empty() && IsHexString(hex)) {
    const LocalImage* found = nullptr;
    for (const auto& img : all) {
      if (absl::StartsWith(img.id, absl::StrCat("sha256:", hex))) {
        if (found != nullptr) {
          return absl::InvalidArgumentError(
              absl::StrCat("ambiguous image id prefix \"", ref, "\": several images match"));
        }
        found = &img;
      }
    }
    if (found != nullptr) return *found;
  }
  if (!parsed.ok() && !has_prefix) return parsed.status();
  if (parsed.ok()) {
    reference::Reference shown = *parsed;
    return NoSuchImage(shown.FamiliarString());
  }
  return NoSuchImage(ref);
}

absl::StatusOr<std::vector<v1::ImageSummary>> ImageStore::ListSummaries(
    const v1::ListImagesRequest& req) {
  BERTH_ASSIGN_OR_RETURN(std::vector<LocalImage> all, List());
  std::vector<std::string> references, labels;
  std::optional<bool> dangling;
  std::optional<absl::Time> before, since;
  for (const auto& f : req.filters()) {
    if (f.key() == "dangling") {
      std::string v = absl::AsciiStrToLower(f.value());
      if (v != "true" && v != "false" && v != "1" && v != "0") {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid filter 'dangling=", f.value(), "'"));
      }
      dangling = v == "true" || v == "1";
    } else if (f.key() == "reference") {
      references.push_back(f.value());
    } else if (f.key() == "label") {
      labels.push_back(f.value());
    } else if (f.key() == "before" || f.key() == "since") {
      BERTH_ASSIGN_OR_RETURN(LocalImage ref, Resolve(f.value()));
      (f.key() == "before" ? before : since) = ref.created;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("invalid filter '", f.key(), "'"));
    }
  }
  std::vector<v1::ImageSummary> out;
  for (const auto& img : all) {
    if (dangling.has_value() && img.Dangling() != *dangling) continue;
    if (before.has_value() && !(img.created < *before)) continue;
    if (since.has_value() && !(img.created > *since)) continue;
    std::map<std::string, std::string> img_labels = ConfigLabels(img.config);
    bool ok = true;
    for (const auto& l : labels) ok = ok && MatchLabel(img_labels, l);
    if (!ok) continue;
    std::vector<std::string> tags = img.RepoTags();
    if (!references.empty()) {
      // Docker matches the pattern against the familiar name and "name:tag".
      bool any = false;
      for (const auto& pattern : references) {
        for (const auto& t : tags) {
          absl::string_view name = absl::string_view(t).substr(0, t.rfind(':'));
          if (reference::PathMatch(pattern, t) || reference::PathMatch(pattern, name)) {
            any = true;
          }
        }
      }
      if (!any) continue;
    }
    v1::ImageSummary s;
    s.set_id(img.id);
    for (const auto& t : tags) s.add_repo_tags(t);
    if (req.digests()) {
      for (const auto& d : img.RepoDigests()) s.add_repo_digests(d);
    }
    if (img.created != absl::Time()) *s.mutable_created() = ToProto(img.created);
    s.set_size(img.size);
    for (const auto& [k, v] : img_labels) (*s.mutable_labels())[k] = v;
    *s.mutable_target() = img.target;
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<v1::Image> ImageStore::Inspect(const std::string& ref) {
  BERTH_ASSIGN_OR_RETURN(LocalImage img, Resolve(ref));
  v1::Image out;
  out.set_id(img.id);
  for (const auto& t : img.RepoTags()) out.add_repo_tags(t);
  for (const auto& d : img.RepoDigests()) out.add_repo_digests(d);
  if (img.created != absl::Time()) *out.mutable_created() = ToProto(img.created);
  out.set_author(StringOr(img.config, "author"));
  ConfigToProto(img.config, out.mutable_config());
  out.set_architecture(StringOr(img.config, "architecture"));
  out.set_variant(StringOr(img.config, "variant"));
  out.set_os(StringOr(img.config, "os"));
  out.set_os_version(StringOr(img.config, "os.version"));
  out.set_size(img.size);
  out.mutable_graph_driver()->set_name("overlayfs");
  out.mutable_root_fs()->set_type("layers");
  for (const auto& d : img.diff_ids) out.mutable_root_fs()->add_layers(d);
  BERTH_ASSIGN_OR_RETURN(std::vector<v1::ImageHistoryEntry> history, History(img.id));
  std::reverse(history.begin(), history.end());
  for (auto& h : history) {
    h.clear_id();
    h.clear_tags();
    *out.add_history() = h;
  }
  if (!history.empty()) out.set_comment(history.back().comment());
  absl::Time last_tag;
  for (const auto& r : img.records) last_tag = std::max(last_tag, r.updated_at);
  if (last_tag != absl::Time()) *out.mutable_last_tag_time() = ToProto(last_tag);
  *out.mutable_target() = img.target;
  return out;
}

absl::StatusOr<std::vector<v1::ImageHistoryEntry>> ImageStore::History(const std::string& ref) {
  BERTH_ASSIGN_OR_RETURN(LocalImage img, Resolve(ref));
  std::vector<v1::ImageHistoryEntry> out;
  size_t layer = 0;
  auto h = img.config.find("history");
  if (h != img.config.end() && h->is_array()) {
    for (const auto& e : *h) {
      if (!e.is_object()) continue;
      v1::ImageHistoryEntry entry;
      absl::Time created;
      if (oci::ParseRfc3339(StringOr(e, "created"), &created)) {
        *entry.mutable_created() = ToProto(created);
      }
      entry.set_created_by(StringOr(e, "created_by"));
      entry.set_comment(StringOr(e, "comment"));
      auto empty = e.find("empty_layer");
      entry.set_empty_layer(empty != e.end() && empty->is_boolean() && empty->get<bool>());
      if (!entry.empty_layer() && layer < img.manifest_doc.layers.size()) {
        entry.set_size(LayerSize(img.manifest_doc.layers[layer++]));
      }
      out.push_back(std::move(entry));
    }
  }
  if (out.empty()) {
    // No history in the config: one entry per layer, as Docker shows them.
    for (const auto& l : img.manifest_doc.layers) {
      v1::ImageHistoryEntry entry;
      if (img.created != absl::Time()) *entry.mutable_created() = ToProto(img.created);
      entry.set_size(LayerSize(l));
      out.push_back(std::move(entry));
    }
  }
  std::reverse(out.begin(), out.end());
  if (!out.empty()) {
    out[0].set_id(img.id);
    for (const auto& t : img.RepoTags()) out[0].add_tags(t);
  }
  return out;
}

absl::Status ImageStore::SetName(const std::string& name, const Descriptor& target) {
  ImageRecord rec;
  rec.name = name.empty() ? absl::StrCat(kDanglingPrefix, target.digest()) : name;
  rec.target = target;
  absl::StatusOr<ImageRecord> created = backend_.images->Create(rec);
  if (absl::IsAlreadyExists(created.status())) {
    BERTH_ASSIGN_OR_RETURN(ImageRecord old, backend_.images->Get(rec.name));
    if (old.target.digest() != target.digest()) {
      BERTH_RETURN_IF_ERROR(backend_.images->Update(rec).status(), "move " + rec.name);
      // The image the name left keeps a dangling record if nothing else names it.
      BERTH_ASSIGN_OR_RETURN(std::vector<ImageRecord> all, backend_.images->List());
      bool named = false;
      for (const auto& r : all) named = named || r.target.digest() == old.target.digest();
      if (!named) {
        ImageRecord d;
        d.name = absl::StrCat(kDanglingPrefix, old.target.digest());
        d.target = old.target;
        absl::StatusOr<ImageRecord> c = backend_.images->Create(d);
        if (!c.ok() && !absl::IsAlreadyExists(c.status())) return c.status();
      }
    }
  } else if (!created.ok()) {
    return Annotate(created.status(), "create image " + rec.name);
  }
  if (!name.empty()) {
    absl::Status s = backend_.images->Delete(absl::StrCat(kDanglingPrefix, target.digest()), false);
    if (!s.ok() && !absl::IsNotFound(s)) return s;
  }
  return absl::OkStatus();
}

absl::Status ImageStore::Tag(const std::string& ref, const std::string& target) {
  BERTH_ASSIGN_OR_RETURN(LocalImage img, Resolve(ref));
  BERTH_ASSIGN_OR_RETURN(reference::Reference t, reference::ParseWithDefaultTag(target));
  if (!t.digest.empty()) {
    return absl::InvalidArgumentError("refusing to create a tag with a digest reference");
  }
  // Prefer the record the user named, so its manifest (not only its config) is what the new
  // name points at.
  Descriptor desc = img.target;
  absl::StatusOr<reference::Reference> src = reference::ParseDockerRef(ref);
  for (const auto& r : img.records) {
    if (src.ok() && r.name == src->String()) desc = r.target;
  }
  return SetName(t.String(), desc);
}

absl::StatusOr<std::vector<ContainerUse>> ImageStore::UsersOf(const LocalImage& image) {
  if (backend_.containers == nullptr) return std::vector<ContainerUse>();
  BERTH_ASSIGN_OR_RETURN(std::vector<ContainerUse> all, backend_.containers->List(),
                         "list containers");
  std::set<std::string> names = {image.id, image.manifest.digest(), image.target.digest()};
  for (const auto& r : image.records) {
    names.insert(r.name);
    if (auto it = r.labels.find(kFormerNamesLabel); it != r.labels.end()) {
      for (absl::string_view n : absl::StrSplit(it->second, ',')) names.emplace(n);
    }
  }
  std::vector<ContainerUse> out;
  for (const auto& c : all) {
    if (names.count(c.image) > 0) out.push_back(c);
  }
  return out;
}

absl::StatusOr<std::vector<v1::ImageDeleteEntry>> ImageStore::Remove(const std::string& ref,
                                                                     bool force) {
  BERTH_ASSIGN_OR_RETURN(LocalImage img, Resolve(ref));
  BERTH_ASSIGN_OR_RETURN(std::vector<ContainerUse> users, UsersOf(img));
  const std::string short_id(id::ShortId(img.id.substr(7)));
  std::vector<v1::ImageDeleteEntry> out;
  auto untagged = [&](const std::string& name) {
    std::string fam = FamiliarOf(name);
    if (!fam.empty()) out.emplace_back().set_untagged(fam);
  };

  // By name: remove that name; the image goes only with its last name.
  std::string by_name;
  absl::StatusOr<reference::Reference> parsed = reference::ParseDockerRef(ref);
  if (parsed.ok()) {
    for (const auto& r : img.records) {
      if (r.name == parsed->String()) by_name = r.name;
    }
  }
  size_t named = 0;
  for (const auto& r : img.records) named += IsDanglingName(r.name) ? 0 : 1;
  if (!by_name.empty()) {
    if (img.records.size() > 1) {
      BERTH_RETURN_IF_ERROR(backend_.images->Delete(by_name, false), "untag " + ref);
      untagged(by_name);
      return out;
    }
    if (!users.empty()) {
      if (!force) {
        return absl::FailedPreconditionError(
            absl::StrCat("conflict: unable to remove repository reference \"", ref,
                         "\" (must force) - container ", id::ShortId(users[0].id),
                         " is using its referenced image ", short_id));
      }
      // Containers keep the image: it stays, without a name, remembering the name the
      // containers were created from so they still count as its users.
      ImageRecord d;
      d.name = absl::StrCat(kDanglingPrefix, img.records[0].target.digest());
      d.target = img.records[0].target;
      d.labels[kFormerNamesLabel] = by_name;
      absl::StatusOr<ImageRecord> c = backend_.images->Create(d);
      if (absl::IsAlreadyExists(c.status())) {
        BERTH_ASSIGN_OR_RETURN(ImageRecord existing, backend_.images->Get(d.name));
        std::string& names = existing.labels[kFormerNamesLabel];
        names = names.empty() ? by_name : absl::StrCat(names, ",", by_name);
        c = backend_.images->Update(existing);
      }
      BERTH_RETURN_IF_ERROR(c.status(), "keep untagged image");
      BERTH_RETURN_IF_ERROR(backend_.images->Delete(by_name, false), "untag " + ref);
      untagged(by_name);
      return out;
    }
  } else {
    if (named > 1 && !force) {
      return absl::FailedPreconditionError(
          absl::StrCat("conflict: unable to delete ", short_id,
                       " (must be forced) - image is referenced in multiple repositories"));
    }
    if (!users.empty() && !force) {
      return absl::FailedPreconditionError(absl::StrCat(
          "conflict: unable to delete ", short_id,
          " (must be forced) - image is being used by container ", id::ShortId(users[0].id)));
    }
  }
  // Delete every record; the last one synchronously, so the content and snapshots only this
  // image kept are gone when the call returns.
  for (size_t i = 0; i < img.records.size(); ++i) {
    const bool last = i + 1 == img.records.size();
    absl::Status s = backend_.images->Delete(img.records[i].name, last);
    if (!s.ok() && !absl::IsNotFound(s)) return Annotate(s, "delete " + img.records[i].name);
    untagged(img.records[i].name);
  }
  out.emplace_back().set_deleted(img.id);
  return out;
}

absl::StatusOr<v1::PruneImagesResponse> ImageStore::Prune(const v1::PruneImagesRequest& req) {
  std::optional<absl::Time> until;
  std::vector<std::string> labels, not_labels;
  for (const auto& f : req.filters()) {
    if (f.key() == "until") {
      absl::Time t;
      int64_t secs = 0;
      if (absl::SimpleAtoi(f.value(), &secs)) {
        t = absl::FromUnixSeconds(secs);
      } else if (!oci::ParseRfc3339(f.value(), &t)) {
        return absl::InvalidArgumentError(absl::StrCat("invalid filter 'until=", f.value(), "'"));
      }
      until = t;
    } else if (f.key() == "label") {
      labels.push_back(f.value());
    } else if (f.key() == "label!") {
      not_labels.push_back(f.value());
    } else {
      return absl::InvalidArgumentError(absl::StrCat("invalid filter '", f.key(), "'"));
    }
  }
  BERTH_ASSIGN_OR_RETURN(std::vector<LocalImage> all, List());
  BERTH_ASSIGN_OR_RETURN(std::vector<ContainerUse> containers, backend_.containers != nullptr
                                                                   ? backend_.containers->List()
                                                                   : std::vector<ContainerUse>());
  v1::PruneImagesResponse out;
  for (const auto& img : all) {
    if (!req.all() && !img.Dangling()) continue;
    if (until.has_value() && !(img.created < *until)) continue;
    std::map<std::string, std::string> l = ConfigLabels(img.config);
    bool ok = true;
    for (const auto& f : labels) ok = ok && MatchLabel(l, f);
    for (const auto& f : not_labels) ok = ok && !MatchLabel(l, f);
    if (!ok) continue;
    BERTH_ASSIGN_OR_RETURN(std::vector<ContainerUse> users, UsersOf(img));
    if (!users.empty()) continue;
    absl::StatusOr<std::vector<v1::ImageDeleteEntry>> entries = Remove(img.id, true);
    if (absl::IsNotFound(entries.status())) continue;  // went meanwhile
    if (!entries.ok()) return entries.status();
    for (auto& e : *entries) *out.add_entries() = std::move(e);
    out.set_space_reclaimed(out.space_reclaimed() + img.size);
  }
  return out;
}

absl::Status ImageStore::Unpack(const Descriptor& manifest_desc, const std::string& lease) {
  BERTH_ASSIGN_OR_RETURN(oci::Manifest m, ReadManifest(manifest_desc.digest()));
  BERTH_ASSIGN_OR_RETURN(std::shared_ptr<const nlohmann::json> config,
                         ReadConfig(m.config.digest()));
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> diff_ids, oci::DiffIds(*config));
  if (diff_ids.size() != m.layers.size()) {
    return absl::InvalidArgumentError(absl::StrCat("image config lists ", diff_ids.size(),
                                                   " layers, manifest ", m.layers.size()));
  }
  const std::vector<std::string> chain = oci::ChainIds(diff_ids);
  for (size_t i = 0; i < chain.size(); ++i) {
    if (!oci::IsLayer(m.layers[i].media_type())) {
      return absl::InvalidArgumentError(
          absl::StrCat("unsupported layer media type ", m.layers[i].media_type()));
    }
    absl::StatusOr<SnapshotInfo> have = backend_.snapshots->Stat(chain[i]);
    if (have.ok()) continue;
    if (!absl::IsNotFound(have.status())) return have.status();
    const std::string key = absl::StrCat("extract-", Unique(), "-", chain[i].substr(7, 12));
    const std::string parent = i == 0 ? "" : chain[i - 1];
    BERTH_ASSIGN_OR_RETURN(std::vector<Mount> mounts,
                           backend_.snapshots->Prepare(key, parent, lease), "prepare snapshot");
    absl::Cleanup remove_key = [&] { (void)backend_.snapshots->Remove(key); };
    BERTH_ASSIGN_OR_RETURN(Descriptor applied, backend_.differ->Apply(m.layers[i], mounts),
                           absl::StrCat("apply layer ", m.layers[i].digest()));
    if (applied.digest() != diff_ids[i]) {
      return absl::InvalidArgumentError(absl::StrCat("layer ", m.layers[i].digest(),
                                                     " has diff id ", applied.digest(),
                                                     ", the image config says ", diff_ids[i]));
    }
    if (m.layers[i].digest() != applied.digest()) {
      BERTH_RETURN_IF_ERROR(backend_.content->SetLabels(
          m.layers[i].digest(), {{kUncompressedSizeLabel, absl::StrCat(applied.size())},
                                 {"berth.io/uncompressed", applied.digest()}}));
    }
    absl::Status s = backend_.snapshots->Commit(chain[i], key, lease);
    if (s.ok()) {
      std::move(remove_key).Cancel();
    } else if (!absl::IsAlreadyExists(s)) {
      return Annotate(s, "commit snapshot");
    }
  }
  // The config keeps the top snapshot (and through it, its parents) alive; the manifest keeps
  // config and layers.
  Labels manifest_labels = {{absl::StrCat(kGcRefContentPrefix, "config"), m.config.digest()}};
  for (size_t i = 0; i < m.layers.size(); ++i) {
    manifest_labels[absl::StrCat(kGcRefContentPrefix, "l.", i)] = m.layers[i].digest();
  }
  BERTH_RETURN_IF_ERROR(backend_.content->SetLabels(manifest_desc.digest(), manifest_labels));
  if (!chain.empty()) {
    BERTH_RETURN_IF_ERROR(
        backend_.content->SetLabels(m.config.digest(), {{kGcRefSnapshotOverlay, chain.back()}}));
  }
  return absl::OkStatus();
}

absl::StatusOr<BlobInfo> ImageStore::WriteBlob(const std::string& data, const std::string& what,
                                               const Labels& labels, const std::string& lease) {
  BERTH_ASSIGN_OR_RETURN(digest::Digest d, digest::Digest::FromBytes(data));
  absl::StatusOr<std::unique_ptr<BlobWriter>> w =
      backend_.content->OpenWriter(absl::StrCat(what, "-", d.hex()), d.ToString(), lease);
  if (absl::IsAlreadyExists(w.status())) {
    if (!labels.empty()) BERTH_RETURN_IF_ERROR(backend_.content->SetLabels(d.ToString(), labels));
    BlobInfo info;
    info.digest = d.ToString();
    info.size = static_cast<int64_t>(data.size());
    return info;
  }
  if (!w.ok()) return w.status();
  BERTH_RETURN_IF_ERROR((*w)->Write(data));
  return (*w)->Commit(d.ToString(), static_cast<int64_t>(data.size()), labels);
}

}  // namespace berth::engine::images
