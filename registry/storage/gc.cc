#include "registry/storage/gc.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "registry/manifest/manifest.h"

namespace berth::registry::storage {
namespace {

// Larger than any manifest the API accepts; a bound so a corrupt revision cannot exhaust memory.
constexpr uint64_t kMaxManifestRead = 64 << 20;

}  // namespace

absl::StatusOr<GcResult> CollectGarbage(Storage& storage, const GcOptions& options) {
  const absl::Time now = options.clock ? options.clock() : absl::Now();
  const absl::Time cutoff = now - options.grace;
  GcResult result;
  absl::flat_hash_set<digest::Digest> marked;

  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> repositories,
                         storage.repositories().ListRepositories(), "gc: list repositories");
  for (const std::string& repo : repositories) {
    BERTH_ASSIGN_OR_RETURN(std::vector<RepositoryStore::ManifestInfo> manifests,
                           storage.repositories().ListManifests(repo),
                           absl::StrCat("gc: list manifests of ", repo));
    for (const RepositoryStore::ManifestInfo& info : manifests) {
      ++result.manifests;
      marked.insert(info.digest);
      absl::StatusOr<std::string> content = storage.blobs().Read(info.digest, kMaxManifestRead);
      if (absl::IsNotFound(content.status())) continue;  // nothing left to protect
      if (!content.ok()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "gc: read manifest ", info.digest.ToString(), " of ", repo, ": ",
            content.status().message(), " (nothing deleted)"));
      }
      absl::StatusOr<manifest::Manifest> m = manifest::Parse(info.media_type, *content);
      if (!m.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat("gc: manifest ", info.digest.ToString(), " of ", repo, ": ",
                         m.status().message(), " (nothing deleted)"));
      }
      if (m->config) marked.insert(m->config->digest);
      // Every layer, foreign ones too: if the client pushed one anyway, it stays.
      for (const manifest::Descriptor& l : m->layers) marked.insert(l.digest);
    }
  }
  result.blobs_marked = static_cast<int64_t>(marked.size());

  struct Candidate {
    digest::Digest digest;
    uint64_t size;
  };
  std::vector<Candidate> candidates;
  BERTH_RETURN_IF_ERROR(storage.blobs().ForEach(
                            [&](const digest::Digest& d, absl::Time mtime, uint64_t size) {
                              if (!marked.contains(d) && mtime < cutoff) {
                                candidates.push_back(Candidate{d, size});
                              }
                            }),
                        "gc: list blobs");
  absl::flat_hash_set<digest::Digest> deleted;
  for (const Candidate& c : candidates) {
    bool gone = true;
    if (!options.dry_run) {
      // Checks the mtime again under the store's lock: a push may have touched it since.
      BERTH_ASSIGN_OR_RETURN(gone, storage.blobs().DeleteIfOlder(c.digest, cutoff));
    }
    if (!gone) continue;
    ++result.blobs_deleted;
    result.bytes_deleted += c.size;
    result.deleted.push_back(c.digest);
    deleted.insert(c.digest);
  }

  for (const std::string& repo : repositories) {
    BERTH_ASSIGN_OR_RETURN(std::vector<digest::Digest> links,
                           storage.repositories().ListBlobLinks(repo));
    for (const digest::Digest& d : links) {
      if (!deleted.contains(d)) continue;
      // Pushed again since the sweep: the link is valid once more.
      if (!options.dry_run && storage.blobs().Size(d).ok()) continue;
      if (!options.dry_run) {
        absl::Status st = storage.repositories().UnlinkBlob(repo, d);
        if (!st.ok() && !absl::IsNotFound(st)) return st;
      }
      ++result.links_removed;
    }
  }
  return result;
}

}  // namespace berth::registry::storage
