// RepositoryStore: what each repository holds, as small files under <root>/repositories/<name>/
// (repository names were validated by ValidateRepositoryName, so they are safe paths and no
// component starts with '_'):
//   _layers/<alg>/<hex>                       empty: the repository has this blob
//   _manifests/revisions/<alg>/<hex>          "<media type>\n<subject digest or empty>\n"
//   _manifests/tags/<tag>                     "<digest>"
//   _referrers/<alg>/<subject hex>/<alg>-<hex> empty: that manifest's subject is this digest
// Manifest content itself lives in the BlobStore. Every file is written atomically; mutations
// of manifests and tags are serialized by one lock so that deleting a manifest and moving a tag
// onto it cannot interleave. Reads take no lock. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/digest/digest.h"
#include "registry/storage/blob_store.h"

namespace berth::registry::storage {

class RepositoryStore {
 public:
  // `dir` is <root>/repositories (created if missing). `blobs` must outlive the store.
  static absl::StatusOr<std::unique_ptr<RepositoryStore>> Open(std::string dir, BlobStore* blobs,
                                                               bool fsync);

  // Whether the repository has ever had a blob or manifest pushed (and was not emptied by GC).
  bool Exists(absl::string_view name) const;

  // Blob links. LinkBlob also touches the blob (see BlobStore); NotFound when the blob is not
  // in the blob store.
  absl::Status LinkBlob(absl::string_view name, const digest::Digest& d);
  // Whether the repository links blob `d` and the blob is stored.
  bool HasBlob(absl::string_view name, const digest::Digest& d) const;
  // Removes the link (the blob stays for GC). NotFound when the repository does not link it.
  absl::Status UnlinkBlob(absl::string_view name, const digest::Digest& d);

  struct ManifestInfo {
    digest::Digest digest;
    std::string media_type;
    uint64_t size = 0;
    std::optional<digest::Digest> subject;
  };
  // The manifest `reference` (a digest "alg:hex", else a tag) names in the repository.
  // NotFound when it has no such manifest or tag. `reference` must be a valid tag or digest.
  absl::StatusOr<ManifestInfo> Resolve(absl::string_view name, absl::string_view reference) const;
  // Whether the repository has manifest `d`.
  bool HasManifest(absl::string_view name, const digest::Digest& d) const;

  // Stores manifest bytes `content` (which must hash to `d`) of `media_type`, records its
  // `subject` for the referrers API, and points each of `tags` at it.
  absl::Status PutManifest(absl::string_view name, const digest::Digest& d,
                           absl::string_view media_type, absl::string_view content,
                           const std::optional<digest::Digest>& subject,
                           const std::vector<std::string>& tags);
  // Removes the manifest, every tag pointing at it and its referrers entry. NotFound when
  // the repository does not have it.
  absl::Status DeleteManifest(absl::string_view name, const digest::Digest& d);
  // Removes a tag (the manifest stays). NotFound when the tag does not exist.
  absl::Status DeleteTag(absl::string_view name, absl::string_view tag);

  // Tags of a repository in byte order. NotFound when the repository does not exist.
  absl::StatusOr<std::vector<std::string>> ListTags(absl::string_view name) const;
  // Every repository name, in byte order.
  absl::StatusOr<std::vector<std::string>> ListRepositories() const;
  // Manifests of the repository whose subject is `subject`, in digest order.
  absl::StatusOr<std::vector<digest::Digest>> ListReferrers(absl::string_view name,
                                                            const digest::Digest& subject) const;
  // Every manifest revision of a repository (for garbage collection).
  absl::StatusOr<std::vector<ManifestInfo>> ListManifests(absl::string_view name) const;
  // Every blob link of a repository (for garbage collection).
  absl::StatusOr<std::vector<digest::Digest>> ListBlobLinks(absl::string_view name) const;

 private:
  RepositoryStore(std::string dir, BlobStore* blobs, bool fsync)
      : dir_(std::move(dir)), blobs_(blobs), fsync_(fsync) {}
  std::string RepoDir(absl::string_view name) const;
  std::string LayerPath(absl::string_view name, const digest::Digest& d) const;
  std::string RevisionPath(absl::string_view name, const digest::Digest& d) const;
  std::string TagPath(absl::string_view name, absl::string_view tag) const;
  std::string ReferrerDir(absl::string_view name, const digest::Digest& subject) const;
  absl::StatusOr<ManifestInfo> ReadRevision(absl::string_view name, const digest::Digest& d) const;
  absl::Status WriteSmallFile(const std::string& path, absl::string_view data);
  absl::Status WalkRepositories(const std::string& dir, const std::string& prefix,
                                std::vector<std::string>& out) const;

  const std::string dir_;
  BlobStore* const blobs_;
  const bool fsync_;
  absl::Mutex mu_;  // serializes manifest and tag mutations
};

// Digest strings as file names: "sha256:ab.." -> "sha256-ab.." and back.
std::string DigestFileName(const digest::Digest& d);

}  // namespace berth::registry::storage
