#include "engine/images/archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <map>
#include <optional>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/digest/digest.h"
#include "common/status/status_macros.h"
#include "engine/images/tar_writer.h"
#include "engine/reference/reference.h"

namespace berth::engine::images {

struct SaveStream::Entry {
  std::string name;
  bool dir = false;
  int64_t size = 0;
  std::string data;    // small files
  std::string digest;  // blobs: read from the content store
};

namespace {

std::string BlobPath(const std::string& digest) {
  size_t colon = digest.find(':');
  return absl::StrCat("blobs/", digest.substr(0, colon), "/", digest.substr(colon + 1));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SaveStream>> SaveStream::Create(ImageStore& store,
                                                               const std::vector<std::string>& refs,
                                                               v1::ImageArchiveFormat format) {
  if (refs.empty()) return absl::InvalidArgumentError("no images to save");
  ContentStore* content = store.backend().content;
  std::map<std::string, int64_t> blobs;  // digest -> size, sorted
  std::vector<Descriptor> index_entries;
  nlohmann::json docker_manifest = nlohmann::json::array();
  std::map<std::string, size_t> docker_by_config;
  nlohmann::json repositories = nlohmann::json::object();

  auto add_blob = [&](const Descriptor& d) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(BlobInfo info, content->Info(d.digest()),
                           absl::StrCat("blob ", d.digest()));
    blobs[d.digest()] = info.size;
    return absl::OkStatus();
  };
  auto add_manifest = [&](const Descriptor& m) -> absl::StatusOr<oci::Manifest> {
    BERTH_RETURN_IF_ERROR(add_blob(m));
    BERTH_ASSIGN_OR_RETURN(oci::Manifest doc, store.ReadManifest(m.digest()));
    BERTH_RETURN_IF_ERROR(add_blob(doc.config));
    for (const auto& l : doc.layers) BERTH_RETURN_IF_ERROR(add_blob(l));
    return doc;
  };

  for (const auto& ref : refs) {
    BERTH_ASSIGN_OR_RETURN(LocalImage img, store.Resolve(ref));
    std::string name;
    Descriptor target = img.target;
    absl::StatusOr<reference::Reference> parsed = reference::ParseDockerRef(ref);
    if (parsed.ok()) {
      for (const auto& r : img.records) {
        if (r.name == parsed->String()) {
          name = r.name;
          target = r.target;
        }
      }
    }
    // The target and everything under it that is present locally.
    if (oci::IsIndex(target.media_type())) {
      BERTH_RETURN_IF_ERROR(add_blob(target));
      BERTH_ASSIGN_OR_RETURN(std::string data, content->ReadAll(target.digest(), 8 << 20));
      BERTH_ASSIGN_OR_RETURN(oci::Index index, oci::ParseIndex(data));
      for (const auto& m : index.manifests) {
        if (oci::IsManifest(m.media_type()) && content->Info(m.digest()).ok()) {
          BERTH_RETURN_IF_ERROR(add_manifest(m).status());
        }
      }
    }
    BERTH_ASSIGN_OR_RETURN(Descriptor platform, store.PlatformManifest(target));
    BERTH_ASSIGN_OR_RETURN(oci::Manifest doc, add_manifest(platform));

    Descriptor entry = target;
    entry.clear_annotations();
    std::string familiar_tag;
    if (!name.empty()) {
      BERTH_ASSIGN_OR_RETURN(reference::Reference r, reference::ParseNormalized(name));
      (*entry.mutable_annotations())[oci::kAnnotationImageName] = name;
      (*entry.mutable_annotations())[oci::kAnnotationRefName] = r.tag;
      familiar_tag = r.FamiliarString();
      if (!doc.layers.empty()) {
        repositories[r.FamiliarName()][r.tag] =
            std::string(absl::string_view(doc.layers.back().digest()).substr(7));
      }
    }
    bool seen = false;
    for (const auto& e : index_entries)
      seen = seen || e.SerializeAsString() == entry.SerializeAsString();
    if (!seen) index_entries.push_back(entry);

    auto [it, inserted] = docker_by_config.emplace(doc.config.digest(), docker_manifest.size());
    if (inserted) {
      nlohmann::json m = nlohmann::json::object();
      m["Config"] = BlobPath(doc.config.digest());
      m["RepoTags"] = nlohmann::json::array();
      nlohmann::json layers = nlohmann::json::array();
      for (const auto& l : doc.layers) layers.push_back(BlobPath(l.digest()));
      m["Layers"] = layers;
      docker_manifest.push_back(m);
    }
    if (!familiar_tag.empty()) {
      nlohmann::json& tags = docker_manifest[it->second]["RepoTags"];
      if (std::find(tags.begin(), tags.end(), familiar_tag) == tags.end()) {
        tags.push_back(familiar_tag);
      }
    }
  }

  std::vector<Entry> entries;
  std::set<std::string> dirs;
  entries.push_back({"blobs/", true, 0, "", ""});
  for (const auto& [digest, size] : blobs) {
    std::string path = BlobPath(digest);
    std::string dir = path.substr(0, path.rfind('/') + 1);
    if (dirs.insert(dir).second) entries.push_back({dir, true, 0, "", ""});
    entries.push_back({path, false, size, "", digest});
  }
  auto add_file = [&](const std::string& name, std::string data) {
    int64_t size = static_cast<int64_t>(data.size());
    entries.push_back({name, false, size, std::move(data), ""});
  };
  oci::Index index;
  index.manifests = index_entries;
  add_file("index.json", oci::IndexJson(index));
  if (format != v1::IMAGE_ARCHIVE_FORMAT_OCI_LAYOUT) {
    add_file("manifest.json", docker_manifest.dump());
  }
  add_file("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
  if (format != v1::IMAGE_ARCHIVE_FORMAT_OCI_LAYOUT && !repositories.empty()) {
    add_file("repositories", repositories.dump());
  }
  return std::unique_ptr<SaveStream>(new SaveStream(store, std::move(entries)));
}

SaveStream::SaveStream(ImageStore& store, std::vector<Entry> entries)
    : store_(store), entries_(std::move(entries)) {}
SaveStream::~SaveStream() = default;

absl::StatusOr<bool> SaveStream::Next(std::string* chunk) {
  chunk->clear();
  if (reader_ != nullptr) {
    const Entry& e = entries_[next_ - 1];
    BERTH_ASSIGN_OR_RETURN(bool more, reader_->Next(chunk), absl::StrCat("read ", e.digest));
    if (more) {
      sent_ += static_cast<int64_t>(chunk->size());
      if (sent_ > e.size) {
        return absl::DataLossError(absl::StrCat("blob ", e.digest, " is larger than its size"));
      }
      return true;
    }
    reader_.reset();
    if (sent_ != e.size) {
      return absl::DataLossError(absl::StrCat("blob ", e.digest, " is shorter than its size"));
    }
    *chunk = tar::Padding(e.size);
    return true;
  }
  if (next_ == entries_.size()) {
    if (ended_) return false;
    ended_ = true;
    *chunk = tar::End();
    return true;
  }
  const Entry& e = entries_[next_++];
  *chunk = tar::Header(e.name, e.size, e.dir);
  if (e.dir) return true;
  if (!e.digest.empty()) {
    BERTH_ASSIGN_OR_RETURN(reader_, store_.backend().content->OpenReader(e.digest, 0, 0));
    sent_ = 0;
    return true;
  }
  absl::StrAppend(chunk, e.data, tar::Padding(e.size));
  return true;
}

// ---------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------

namespace {

constexpr int64_t kSmallFile = 1 << 20;

struct ReadContext {
  ByteSource* source;
  absl::Status error;
};

la_ssize_t ReadCallback(struct archive* a, void* client, const void** buf) {
  auto* ctx = static_cast<ReadContext*>(client);
  absl::StatusOr<absl::string_view> chunk = ctx->source->Next();
  if (!chunk.ok()) {
    ctx->error = chunk.status();
    archive_set_error(a, EIO, "%s", std::string(chunk.status().message()).c_str());
    return -1;
  }
  *buf = chunk->data();
  return static_cast<la_ssize_t>(chunk->size());
}

// "a/./b/../c" -> "a/c"; leading "./" and "/" dropped. Empty when it escapes the root.
std::string CleanPath(absl::string_view p) {
  std::vector<std::string> parts;
  for (absl::string_view c : absl::StrSplit(p, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (parts.empty()) return "";
      parts.pop_back();
      continue;
    }
    parts.emplace_back(c);
  }
  return absl::StrJoin(parts, "/");
}

class Loader {
 public:
  Loader(ImageStore& store, std::string lease) : store_(store), lease_(std::move(lease)) {}

  absl::Status ReadAll(ByteSource& source) {
    struct archive* a = archive_read_new();
    absl::Cleanup free_archive = [a] { archive_read_free(a); };
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    ReadContext ctx{&source, absl::OkStatus()};
    if (archive_read_open(a, &ctx, nullptr, ReadCallback, nullptr) != ARCHIVE_OK) {
      if (!ctx.error.ok()) return ctx.error;
      return absl::InvalidArgumentError(
          absl::StrCat("invalid image archive: ", archive_error_string(a)));
    }
    bool any = false;
    while (true) {
      struct archive_entry* entry = nullptr;
      int r = archive_read_next_header(a, &entry);
      if (r == ARCHIVE_EOF) break;
      if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
        if (!ctx.error.ok()) return ctx.error;
        return absl::InvalidArgumentError(
            absl::StrCat("invalid image archive: ", archive_error_string(a)));
      }
      any = true;
      const std::string path = CleanPath(archive_entry_pathname(entry));
      if (path.empty()) continue;
      if (const char* hard = archive_entry_hardlink(entry); hard != nullptr) {
        links_[path] = CleanPath(hard);
        continue;
      }
      const mode_t type = archive_entry_filetype(entry);
      if (type == AE_IFLNK) {
        const std::string dir =
            path.find('/') == std::string::npos ? "" : path.substr(0, path.rfind('/') + 1);
        const char* target = archive_entry_symlink(entry);
        links_[path] =
            CleanPath(absl::StartsWith(target, "/") ? std::string(target) : dir + target);
        continue;
      }
      if (type != AE_IFREG) continue;
      BERTH_RETURN_IF_ERROR(ReadFile(a, path, archive_entry_size(entry), ctx));
    }
    if (!any) return absl::InvalidArgumentError("invalid image archive: the archive is empty");
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<v1::LoadedImage>> Finish() {
    if (small_.count("manifest.json") > 0) return LoadDockerArchive();
    if (small_.count("index.json") > 0) return LoadOciLayout();
    return absl::InvalidArgumentError(
        "invalid image archive: neither manifest.json nor index.json found");
  }

 private:
  absl::Status ReadFile(struct archive* a, const std::string& path, int64_t size,
                        ReadContext& ctx) {
    std::string digest;
    std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
    if (parts.size() == 3 && parts[0] == "blobs") {
      digest = absl::StrCat(parts[1], ":", parts[2]);
      if (!digest::Digest::Parse(digest).ok()) digest.clear();
    }
    auto data_error = [&]() -> absl::Status {
      if (!ctx.error.ok()) return ctx.error;
      return absl::InvalidArgumentError(
          absl::StrCat("invalid image archive: ", path, ": ", archive_error_string(a)));
    };
    if (digest.empty() && size <= kSmallFile) {
      std::string data;
      data.resize(static_cast<size_t>(size));
      la_ssize_t n = archive_read_data(a, data.data(), data.size());
      if (n < 0 || n != static_cast<la_ssize_t>(size)) return data_error();
      small_[path] = std::move(data);
      return absl::OkStatus();
    }
    absl::StatusOr<std::unique_ptr<BlobWriter>> w = store_.backend().content->OpenWriter(
        absl::StrCat("load-", store_.Unique()), digest, lease_);
    if (absl::IsAlreadyExists(w.status())) {
      // Already stored; the lease must still hold it until an image references it.
      blobs_[path] = BlobInfo{digest, size, absl::Time(), {}};
      existing_.insert(digest);
      archive_read_data_skip(a);
      return absl::OkStatus();
    }
    if (!w.ok()) return Annotate(w.status(), "store " + path);
    std::string buf(1 << 20, '\0');
    while (true) {
      la_ssize_t n = archive_read_data(a, buf.data(), buf.size());
      if (n < 0) return data_error();
      if (n == 0) break;
      BERTH_RETURN_IF_ERROR((*w)->Write(absl::string_view(buf.data(), n)), "store " + path);
    }
    absl::StatusOr<BlobInfo> info = (*w)->Commit(digest, size, {});
    if (absl::IsFailedPrecondition(info.status())) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid image archive: ", path,
                       " does not match its digest or size: ", info.status().message()));
    }
    if (!info.ok()) return Annotate(info.status(), "store " + path);
    blobs_[path] = *info;
    return absl::OkStatus();
  }

  // The blob behind archive path `path` (following links), stored in the content store.
  absl::StatusOr<BlobInfo> Blob(std::string path) {
    for (int i = 0; i < 16 && links_.count(path) > 0; ++i) path = links_[path];
    if (auto it = blobs_.find(path); it != blobs_.end()) return it->second;
    if (auto it = small_.find(path); it != small_.end()) {
      BERTH_ASSIGN_OR_RETURN(digest::Digest d, digest::Digest::FromBytes(it->second));
      absl::StatusOr<std::unique_ptr<BlobWriter>> w = store_.backend().content->OpenWriter(
          absl::StrCat("load-", store_.Unique()), d.ToString(), lease_);
      BlobInfo info{d.ToString(), static_cast<int64_t>(it->second.size()), absl::Time(), {}};
      if (w.ok()) {
        BERTH_RETURN_IF_ERROR((*w)->Write(it->second));
        BERTH_ASSIGN_OR_RETURN(info, (*w)->Commit(d.ToString(), info.size, {}));
      } else if (!absl::IsAlreadyExists(w.status())) {
        return w.status();
      }
      blobs_[path] = info;
      return info;
    }
    return absl::InvalidArgumentError(absl::StrCat("invalid image archive: ", path, " is missing"));
  }

  // A blob named by descriptor must be in the archive or already stored.
  absl::Status CheckPresent(const Descriptor& d) {
    absl::StatusOr<BlobInfo> info = store_.backend().content->Info(d.digest());
    if (!info.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid image archive: blob ", d.digest(), " is missing"));
    }
    if (d.size() != info->size) {
      return absl::InvalidArgumentError(absl::StrCat("invalid image archive: blob ", d.digest(),
                                                     " has size ", info->size,
                                                     ", its descriptor says ", d.size()));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> LayerMediaType(const BlobInfo& layer) {
    BERTH_ASSIGN_OR_RETURN(std::unique_ptr<BlobReader> r,
                           store_.backend().content->OpenReader(layer.digest, 0, 6));
    std::string head, chunk;
    while (head.size() < 6) {
      BERTH_ASSIGN_OR_RETURN(bool more, r->Next(&chunk));
      if (!more) break;
      head += chunk;
    }
    if (absl::StartsWith(head, "\x1f\x8b")) return std::string(oci::kMediaTypeLayerGzip);
    if (absl::StartsWith(head, "\x28\xb5\x2f\xfd")) return std::string(oci::kMediaTypeLayerZstd);
    return std::string(oci::kMediaTypeLayer);
  }

  // Manifests listed by index.json (and indexes under it), for reuse by the Docker path.
  std::vector<Descriptor> ArchiveManifests() {
    std::vector<Descriptor> out;
    auto it = small_.find("index.json");
    if (it == small_.end()) return out;
    absl::StatusOr<oci::Index> index = oci::ParseIndex(it->second);
    if (!index.ok()) return out;
    std::vector<Descriptor> queue = index->manifests;
    for (size_t i = 0; i < queue.size() && i < 1024; ++i) {
      const Descriptor& d = queue[i];
      if (oci::IsManifest(d.media_type())) {
        out.push_back(d);
      } else if (oci::IsIndex(d.media_type())) {
        absl::StatusOr<std::string> data = store_.backend().content->ReadAll(d.digest(), 8 << 20);
        if (!data.ok()) continue;
        absl::StatusOr<oci::Index> sub = oci::ParseIndex(*data);
        if (sub.ok()) queue.insert(queue.end(), sub->manifests.begin(), sub->manifests.end());
      }
    }
    return out;
  }

  absl::Status Name(const std::string& name, const Descriptor& target, const std::string& id,
                    const std::string& shown, std::vector<v1::LoadedImage>* out) {
    BERTH_RETURN_IF_ERROR(store_.SetName(name, target));
    v1::LoadedImage l;
    l.set_reference(shown);
    l.set_image_id(id);
    out->push_back(l);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<v1::LoadedImage>> LoadDockerArchive() {
    BERTH_ASSIGN_OR_RETURN(nlohmann::json list,
                           oci::ParseJson(small_["manifest.json"], "manifest.json"));
    if (!list.is_array()) return absl::InvalidArgumentError("manifest.json: not a list");
    const std::vector<Descriptor> archive_manifests = ArchiveManifests();
    std::vector<v1::LoadedImage> out;
    for (const auto& item : list) {
      if (!item.is_object() || !item.contains("Config") || !item["Config"].is_string()) {
        return absl::InvalidArgumentError("manifest.json: entry without Config");
      }
      BERTH_ASSIGN_OR_RETURN(BlobInfo config, Blob(item["Config"].get<std::string>()));
      BERTH_ASSIGN_OR_RETURN(std::shared_ptr<const nlohmann::json> cfg,
                             store_.ReadConfig(config.digest));
      BERTH_ASSIGN_OR_RETURN(std::vector<std::string> diff_ids, oci::DiffIds(*cfg));
      std::vector<BlobInfo> layers;
      if (item.contains("Layers") && item["Layers"].is_array()) {
        for (const auto& l : item["Layers"]) {
          if (!l.is_string()) return absl::InvalidArgumentError("manifest.json: bad layer");
          BERTH_ASSIGN_OR_RETURN(BlobInfo b, Blob(l.get<std::string>()));
          layers.push_back(b);
        }
      }
      if (layers.size() != diff_ids.size()) {
        return absl::InvalidArgumentError(absl::StrCat("invalid image archive: ", layers.size(),
                                                       " layers for ", diff_ids.size(),
                                                       " diff ids in ", config.digest));
      }
      // Reuse the archive's own manifest for this config when it has one, so the manifest
      // digest survives save -> load.
      std::optional<Descriptor> manifest;
      for (const auto& m : archive_manifests) {
        absl::StatusOr<oci::Manifest> doc = store_.ReadManifest(m.digest());
        if (!doc.ok() || doc->config.digest() != config.digest ||
            doc->layers.size() != layers.size()) {
          continue;
        }
        bool same = true;
        for (size_t i = 0; i < layers.size(); ++i) {
          same = same && doc->layers[i].digest() == layers[i].digest;
        }
        if (same) {
          manifest = m;
          manifest->clear_annotations();
          manifest->clear_platform();
          break;
        }
      }
      if (!manifest.has_value()) {
        oci::Manifest m;
        m.media_type = oci::kMediaTypeManifest;
        m.config.set_media_type(oci::kMediaTypeConfig);
        m.config.set_digest(config.digest);
        m.config.set_size(config.size);
        for (const auto& l : layers) {
          Descriptor d;
          BERTH_ASSIGN_OR_RETURN(std::string mt, LayerMediaType(l));
          d.set_media_type(mt);
          d.set_digest(l.digest);
          d.set_size(l.size);
          m.layers.push_back(d);
        }
        const std::string json = oci::ManifestJson(m);
        BERTH_ASSIGN_OR_RETURN(BlobInfo stored, StoreBytes(json));
        Descriptor d;
        d.set_media_type(oci::kMediaTypeManifest);
        d.set_digest(stored.digest);
        d.set_size(stored.size);
        manifest = d;
      }
      BERTH_RETURN_IF_ERROR(store_.Unpack(*manifest, lease_));
      std::vector<std::string> tags;
      if (item.contains("RepoTags") && item["RepoTags"].is_array()) {
        for (const auto& t : item["RepoTags"]) {
          if (t.is_string()) tags.push_back(t.get<std::string>());
        }
      }
      if (tags.empty()) {
        BERTH_RETURN_IF_ERROR(Name("", *manifest, config.digest, "", &out));
      }
      for (const auto& t : tags) {
        BERTH_ASSIGN_OR_RETURN(reference::Reference ref, reference::ParseWithDefaultTag(t),
                               absl::StrCat("manifest.json tag \"", t, "\""));
        BERTH_RETURN_IF_ERROR(
            Name(ref.String(), *manifest, config.digest, ref.FamiliarString(), &out));
      }
    }
    return out;
  }

  absl::StatusOr<std::vector<v1::LoadedImage>> LoadOciLayout() {
    BERTH_ASSIGN_OR_RETURN(oci::Index index, oci::ParseIndex(small_["index.json"]));
    std::vector<v1::LoadedImage> out;
    for (const auto& d : index.manifests) {
      BERTH_RETURN_IF_ERROR(CheckPresent(d));
      Descriptor target = d;
      target.clear_annotations();
      BERTH_ASSIGN_OR_RETURN(Descriptor platform, store_.PlatformManifest(target));
      BERTH_RETURN_IF_ERROR(CheckPresent(platform));
      BERTH_ASSIGN_OR_RETURN(oci::Manifest doc, store_.ReadManifest(platform.digest()));
      BERTH_RETURN_IF_ERROR(CheckPresent(doc.config));
      for (const auto& l : doc.layers) BERTH_RETURN_IF_ERROR(CheckPresent(l));
      BERTH_RETURN_IF_ERROR(store_.Unpack(platform, lease_));
      if (oci::IsIndex(target.media_type())) {
        BERTH_ASSIGN_OR_RETURN(std::string data,
                               store_.backend().content->ReadAll(target.digest(), 8 << 20));
        BERTH_ASSIGN_OR_RETURN(oci::Index sub, oci::ParseIndex(data));
        Labels labels;
        for (size_t i = 0; i < sub.manifests.size(); ++i) {
          labels[absl::StrCat(kGcRefContentPrefix, "m.", i)] = sub.manifests[i].digest();
        }
        BERTH_RETURN_IF_ERROR(store_.backend().content->SetLabels(target.digest(), labels));
      }
      std::string name;
      auto ann = d.annotations();
      if (auto it = ann.find(oci::kAnnotationImageName); it != ann.end()) {
        name = it->second;
      } else if (auto rn = ann.find(oci::kAnnotationRefName);
                 rn != ann.end() &&
                 (absl::StrContains(rn->second, '/') || absl::StrContains(rn->second, ':'))) {
        name = rn->second;
      }
      if (name.empty()) {
        BERTH_RETURN_IF_ERROR(Name("", target, doc.config.digest(), "", &out));
        continue;
      }
      BERTH_ASSIGN_OR_RETURN(reference::Reference ref, reference::ParseDockerRef(name),
                             absl::StrCat("index.json image name \"", name, "\""));
      BERTH_RETURN_IF_ERROR(
          Name(ref.String(), target, doc.config.digest(), ref.FamiliarString(), &out));
    }
    return out;
  }

  absl::StatusOr<BlobInfo> StoreBytes(const std::string& data) {
    BERTH_ASSIGN_OR_RETURN(digest::Digest d, digest::Digest::FromBytes(data));
    absl::StatusOr<std::unique_ptr<BlobWriter>> w = store_.backend().content->OpenWriter(
        absl::StrCat("load-", store_.Unique()), d.ToString(), lease_);
    BlobInfo info{d.ToString(), static_cast<int64_t>(data.size()), absl::Time(), {}};
    if (absl::IsAlreadyExists(w.status())) return info;
    if (!w.ok()) return w.status();
    BERTH_RETURN_IF_ERROR((*w)->Write(data));
    return (*w)->Commit(d.ToString(), info.size, {});
  }

  ImageStore& store_;
  const std::string lease_;
  std::map<std::string, std::string> small_;  // path -> contents
  std::map<std::string, BlobInfo> blobs_;     // path -> stored blob
  std::map<std::string, std::string> links_;  // path -> target path
  std::set<std::string> existing_;
};

}  // namespace

absl::StatusOr<std::vector<v1::LoadedImage>> LoadArchive(ImageStore& store, ByteSource& source) {
  BERTH_ASSIGN_OR_RETURN(std::string lease,
                         store.backend().leases->Create(store.options().lease_ttl), "create lease");
  bool ok = false;
  absl::Cleanup drop_lease = [&] { (void)store.backend().leases->Delete(lease, !ok); };
  Loader loader(store, lease);
  BERTH_RETURN_IF_ERROR(loader.ReadAll(source));
  BERTH_ASSIGN_OR_RETURN(std::vector<v1::LoadedImage> out, loader.Finish());
  if (out.empty()) return absl::InvalidArgumentError("invalid image archive: no images found");
  ok = true;
  return out;
}

}  // namespace berth::engine::images
