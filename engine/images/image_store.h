// ImageStore: berthd's view of the local images kept in berth-containerd. An image is one
// or more image records (name = normalized reference, target = manifest or index) whose
// manifests share one config; its id is the config digest, as in Docker. Config and manifest
// live in the content store, layers are unpacked into committed snapshots named by chain ID.
// An image with no name is kept under a "dangling" record, berth-dangling@<manifest digest>.
//
// Every multi-step change (import, load) runs under a berth-containerd lease so garbage
// collection cannot take what is being built, and a failure deletes the lease synchronously
// so nothing partial stays behind. Thread-safe; parsed manifests and configs are cached
// (content is immutable).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "berth/engine/v1/images.pb.h"
#include "engine/images/backend.h"
#include "engine/images/byte_source.h"
#include "engine/images/oci.h"

namespace berth::engine::images {

inline constexpr char kDanglingPrefix[] = "berth-dangling@";
// Label on a dangling record: the names (comma-separated) it had while containers used it,
// so those containers keep counting as its users after `rmi -f`.
inline constexpr char kFormerNamesLabel[] = "berth.engine/former-names";
// Label on a layer blob: size of its uncompressed tar (set when it is unpacked).
inline constexpr char kUncompressedSizeLabel[] = "berth.engine/uncompressed-size";

namespace v1 = ::berth::engine::v1;

struct ImageStoreOptions {
  // Platform of new images and the one picked from indexes.
  std::string os = "linux";
  std::string architecture = "amd64";
  // Lifetime of the lease of one import/load, in case berthd dies in the middle.
  absl::Duration lease_ttl = absl::Hours(1);
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Unique suffixes for ingest refs and snapshot keys.
  std::function<std::string()> unique = nullptr;
};

// One local image, as resolved from its records.
struct LocalImage {
  std::string id;                    // config digest
  std::vector<ImageRecord> records;  // every record whose manifest has this config, by name
  Descriptor target;                 // target of the first record
  Descriptor manifest;               // the platform manifest of `target`
  oci::Manifest manifest_doc;
  nlohmann::json config;
  std::vector<std::string> diff_ids;
  absl::Time created;  // config "created"
  int64_t size = 0;    // uncompressed layers

  // Familiar "repo:tag" of named records with a tag.
  std::vector<std::string> RepoTags() const;
  // Familiar "repo@digest" per repository: the record's target, or the digest its push
  // produced (kPushedDigestLabelPrefix).
  std::vector<std::string> RepoDigests() const;
  bool Dangling() const;
};

struct ImportOptions {
  std::string reference;                  // "" leaves the image untagged
  std::vector<std::string> changes;       // Dockerfile instructions
  std::string message;                    // history comment
  std::string os, architecture, variant;  // empty: the store's platform
};

class ImageStore {
 public:
  ImageStore(Backend backend, ImageStoreOptions options);

  // All images, newest first.
  absl::StatusOr<std::vector<LocalImage>> List();
  // An image by reference, full id or unique id prefix (types.proto). NotFound
  // "No such image: busybox:latest"; InvalidArgument for a malformed reference or an
  // ambiguous prefix.
  absl::StatusOr<LocalImage> Resolve(const std::string& ref);

  absl::StatusOr<std::vector<v1::ImageSummary>> ListSummaries(const v1::ListImagesRequest& req);
  absl::StatusOr<v1::Image> Inspect(const std::string& ref);
  absl::StatusOr<std::vector<v1::ImageHistoryEntry>> History(const std::string& ref);
  absl::Status Tag(const std::string& ref, const std::string& target);
  absl::StatusOr<std::vector<v1::ImageDeleteEntry>> Remove(const std::string& ref, bool force);
  absl::StatusOr<v1::PruneImagesResponse> Prune(const v1::PruneImagesRequest& req);
  // Creates a one-layer image from a rootfs tarball (plain or gzip); returns its id.
  absl::StatusOr<std::string> Import(const ImportOptions& options, ByteSource& tarball);

  // --- Used by the archive code (archive.h). ---
  const Backend& backend() const { return backend_; }
  const ImageStoreOptions& options() const { return options_; }
  std::string Unique();
  // Unpacks the layers of the image whose manifest is `manifest` into snapshots (skipping
  // chains already present), checking each layer's diff ID against the config, and labels
  // config and layers for garbage collection. New snapshots go to `lease`.
  absl::Status Unpack(const Descriptor& manifest, const std::string& lease);
  // Points `name` (a normalized reference, or "" for a dangling record) at `target`. A name
  // that pointed elsewhere is moved; an image left without names keeps a dangling record.
  absl::Status SetName(const std::string& name, const Descriptor& target);
  // The platform manifest of `target` (itself when it is a manifest).
  absl::StatusOr<Descriptor> PlatformManifest(const Descriptor& target);
  // Cached parse of a manifest / config blob.
  absl::StatusOr<oci::Manifest> ReadManifest(const std::string& digest);
  absl::StatusOr<std::shared_ptr<const nlohmann::json>> ReadConfig(const std::string& digest);

 private:
  absl::StatusOr<std::vector<LocalImage>> Group(const std::vector<ImageRecord>& records);
  absl::StatusOr<LocalImage> Load(const ImageRecord& record);
  absl::StatusOr<std::vector<ContainerUse>> UsersOf(const LocalImage& image);
  absl::StatusOr<BlobInfo> WriteBlob(const std::string& data, const std::string& media_hint,
                                     const Labels& labels, const std::string& lease);
  int64_t LayerSize(const Descriptor& layer);

  Backend backend_;
  ImageStoreOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, oci::Manifest> manifests_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<const nlohmann::json>> configs_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Descriptor> platform_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int64_t> layer_sizes_ ABSL_GUARDED_BY(mu_);
};

// "No such image: <ref>" (Docker's wording).
absl::Status NoSuchImage(const std::string& ref);

// The familiar form of a record name ("busybox:latest"); "" for dangling records.
std::string FamiliarOf(const std::string& record_name);

}  // namespace berth::engine::images
