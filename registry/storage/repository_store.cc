#include "registry/storage/repository_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"

namespace berth::registry::storage {
namespace {

bool PathExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string Parent(const std::string& path) { return path.substr(0, path.rfind('/')); }

// Removes `path` and then each empty parent directory up to (not including) `stop`, so deleted
// tags and referrers do not leave empty directories behind forever.
void RemoveAndPrune(const std::string& path, const std::string& stop) {
  unlink(path.c_str());
  std::string dir = Parent(path);
  while (dir.size() > stop.size() && absl::StartsWith(dir, stop)) {
    if (rmdir(dir.c_str()) != 0) break;  // not empty (or gone): stop here
    dir = Parent(dir);
  }
}

}  // namespace

std::string DigestFileName(const digest::Digest& d) {
  return absl::StrCat(d.algorithm(), "-", d.hex());
}

absl::StatusOr<std::unique_ptr<RepositoryStore>> RepositoryStore::Open(std::string dir,
                                                                       BlobStore* blobs,
                                                                       bool fsync) {
  BERTH_RETURN_IF_ERROR(fs::MakeDirs(dir, 0700), "repository store");
  return std::unique_ptr<RepositoryStore>(new RepositoryStore(std::move(dir), blobs, fsync));
}

std::string RepositoryStore::RepoDir(absl::string_view name) const {
  return absl::StrCat(dir_, "/", name);
}
std::string RepositoryStore::LayerPath(absl::string_view name, const digest::Digest& d) const {
  return absl::StrCat(RepoDir(name), "/_layers/", d.algorithm(), "/", d.hex());
}
std::string RepositoryStore::RevisionPath(absl::string_view name, const digest::Digest& d) const {
  return absl::StrCat(RepoDir(name), "/_manifests/revisions/", d.algorithm(), "/", d.hex());
}
std::string RepositoryStore::TagPath(absl::string_view name, absl::string_view tag) const {
  return absl::StrCat(RepoDir(name), "/_manifests/tags/", tag);
}
std::string RepositoryStore::ReferrerDir(absl::string_view name,
                                         const digest::Digest& subject) const {
  return absl::StrCat(RepoDir(name), "/_referrers/", subject.algorithm(), "/", subject.hex());
}

absl::Status RepositoryStore::WriteSmallFile(const std::string& path, absl::string_view data) {
  BERTH_RETURN_IF_ERROR(fs::MakeDirs(Parent(path), 0700));
  fs::AtomicWriteOptions options;
  options.durable = fsync_;
  return fs::WriteFileAtomically(path, data, 0600, options);
}

bool RepositoryStore::Exists(absl::string_view name) const {
  const std::string dir = RepoDir(name);
  return PathExists(dir + "/_layers") || PathExists(dir + "/_manifests");
}

absl::Status RepositoryStore::LinkBlob(absl::string_view name, const digest::Digest& d) {
  BERTH_RETURN_IF_ERROR(blobs_->Touch(d));
  const std::string path = LayerPath(name, d);
  if (PathExists(path)) return absl::OkStatus();
  return WriteSmallFile(path, "");
}

bool RepositoryStore::HasBlob(absl::string_view name, const digest::Digest& d) const {
  return PathExists(LayerPath(name, d)) && blobs_->Size(d).ok();
}

absl::Status RepositoryStore::UnlinkBlob(absl::string_view name, const digest::Digest& d) {
  if (unlink(LayerPath(name, d).c_str()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("blob ", d.ToString(), " in ", name));
  }
  return absl::OkStatus();
}

absl::StatusOr<RepositoryStore::ManifestInfo> RepositoryStore::ReadRevision(
    absl::string_view name, const digest::Digest& d) const {
  absl::StatusOr<std::string> text = fs::ReadFile(RevisionPath(name, d));
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) {
      return absl::NotFoundError(absl::StrCat("manifest ", d.ToString(), " in ", name));
    }
    return text.status();
  }
  std::vector<std::string> lines = absl::StrSplit(*text, '\n');
  ManifestInfo info{d, lines.empty() ? "" : lines[0], 0, std::nullopt};
  if (lines.size() > 1 && !lines[1].empty()) {
    absl::StatusOr<digest::Digest> subject = digest::Digest::Parse(lines[1]);
    if (subject.ok()) info.subject = *subject;
  }
  absl::StatusOr<uint64_t> size = blobs_->Size(d);
  if (!size.ok()) {
    return absl::NotFoundError(
        absl::StrCat("manifest ", d.ToString(), " in ", name, ": content missing"));
  }
  info.size = *size;
  return info;
}

bool RepositoryStore::HasManifest(absl::string_view name, const digest::Digest& d) const {
  return PathExists(RevisionPath(name, d));
}

absl::StatusOr<RepositoryStore::ManifestInfo> RepositoryStore::Resolve(
    absl::string_view name, absl::string_view reference) const {
  if (absl::StrContains(reference, ':')) {
    BERTH_ASSIGN_OR_RETURN(digest::Digest d, digest::Digest::Parse(reference));
    return ReadRevision(name, d);
  }
  absl::StatusOr<std::string> target = fs::ReadFile(TagPath(name, reference));
  if (!target.ok()) {
    if (absl::IsNotFound(target.status())) {
      return absl::NotFoundError(absl::StrCat("tag ", reference, " in ", name));
    }
    return target.status();
  }
  absl::StatusOr<digest::Digest> d = digest::Digest::Parse(absl::StripAsciiWhitespace(*target));
  if (!d.ok()) {
    return absl::InternalError(absl::StrCat("tag ", reference, " in ", name,
                                            " holds a bad digest: ", d.status().message()));
  }
  return ReadRevision(name, *d);
}

absl::Status RepositoryStore::PutManifest(absl::string_view name, const digest::Digest& d,
                                          absl::string_view media_type,
                                          absl::string_view content,
                                          const std::optional<digest::Digest>& subject,
                                          const std::vector<std::string>& tags) {
  absl::MutexLock lock(&mu_);
  BERTH_RETURN_IF_ERROR(blobs_->Write(d, content), "store manifest");
  if (subject) {
    BERTH_RETURN_IF_ERROR(
        WriteSmallFile(absl::StrCat(ReferrerDir(name, *subject), "/", DigestFileName(d)), ""),
        "store manifest: referrers");
  }
  BERTH_RETURN_IF_ERROR(
      WriteSmallFile(RevisionPath(name, d),
                     absl::StrCat(media_type, "\n", subject ? subject->ToString() : "", "\n")),
      "store manifest");
  for (const std::string& tag : tags) {
    BERTH_RETURN_IF_ERROR(WriteSmallFile(TagPath(name, tag), d.ToString()),
                          absl::StrCat("tag ", tag));
  }
  return absl::OkStatus();
}

absl::Status RepositoryStore::DeleteManifest(absl::string_view name, const digest::Digest& d) {
  absl::MutexLock lock(&mu_);
  const std::string revision = RevisionPath(name, d);
  absl::StatusOr<std::string> text = fs::ReadFile(revision);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) {
      return absl::NotFoundError(absl::StrCat("manifest ", d.ToString(), " in ", name));
    }
    return text.status();
  }
  // Tags first: a tag must never point at a manifest that is gone.
  const std::string tag_dir = RepoDir(name) + "/_manifests/tags";
  absl::StatusOr<std::vector<std::string>> tags = fs::ListDir(tag_dir);
  if (tags.ok()) {
    for (const std::string& tag : *tags) {
      if (fs::IsAtomicTempFileName(tag)) continue;
      absl::StatusOr<std::string> target = fs::ReadFile(absl::StrCat(tag_dir, "/", tag));
      if (target.ok() && absl::StripAsciiWhitespace(*target) == d.ToString()) {
        unlink(absl::StrCat(tag_dir, "/", tag).c_str());
      }
    }
  }
  std::vector<std::string> lines = absl::StrSplit(*text, '\n');
  if (lines.size() > 1 && !lines[1].empty()) {
    absl::StatusOr<digest::Digest> subject = digest::Digest::Parse(lines[1]);
    if (subject.ok()) {
      RemoveAndPrune(absl::StrCat(ReferrerDir(name, *subject), "/", DigestFileName(d)),
                     RepoDir(name) + "/_referrers");
    }
  }
  if (unlink(revision.c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("delete manifest ", d.ToString()));
  }
  return absl::OkStatus();
}

absl::Status RepositoryStore::DeleteTag(absl::string_view name, absl::string_view tag) {
  absl::MutexLock lock(&mu_);
  if (unlink(TagPath(name, tag).c_str()) != 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("tag ", tag, " in ", name));
    return absl::ErrnoToStatus(errno, absl::StrCat("delete tag ", tag));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> RepositoryStore::ListTags(absl::string_view name) const {
  if (!Exists(name)) return absl::NotFoundError(absl::StrCat("repository ", name));
  std::vector<std::string> out;
  absl::StatusOr<std::vector<std::string>> names = fs::ListDir(RepoDir(name) + "/_manifests/tags");
  if (!names.ok()) {
    if (absl::IsNotFound(names.status())) return out;
    return names.status();
  }
  for (std::string& n : *names) {
    if (!fs::IsAtomicTempFileName(n)) out.push_back(std::move(n));
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status RepositoryStore::WalkRepositories(const std::string& dir, const std::string& prefix,
                                               std::vector<std::string>& out) const {
  absl::StatusOr<std::vector<std::string>> names = fs::ListDir(dir);
  if (!names.ok()) {
    if (absl::IsNotFound(names.status()) || absl::IsFailedPrecondition(names.status())) {
      return absl::OkStatus();  // removed meanwhile, or a stray file
    }
    return names.status();
  }
  bool is_repo = false;
  for (const std::string& n : *names) {
    if (n == "_layers" || n == "_manifests") is_repo = true;
    if (n.empty() || n[0] == '_' || n[0] == '.') continue;  // repository data, or temp files
    BERTH_RETURN_IF_ERROR(
        WalkRepositories(absl::StrCat(dir, "/", n), prefix.empty() ? n : prefix + "/" + n, out));
  }
  if (is_repo && !prefix.empty()) out.push_back(prefix);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> RepositoryStore::ListRepositories() const {
  std::vector<std::string> out;
  BERTH_RETURN_IF_ERROR(WalkRepositories(dir_, "", out));
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::vector<digest::Digest>> RepositoryStore::ListReferrers(
    absl::string_view name, const digest::Digest& subject) const {
  std::vector<digest::Digest> out;
  absl::StatusOr<std::vector<std::string>> names = fs::ListDir(ReferrerDir(name, subject));
  if (!names.ok()) {
    if (absl::IsNotFound(names.status())) return out;
    return names.status();
  }
  for (const std::string& n : *names) {
    const size_t dash = n.find('-');
    if (dash == std::string::npos) continue;
    absl::StatusOr<digest::Digest> d =
        digest::Digest::Parse(absl::StrCat(n.substr(0, dash), ":", n.substr(dash + 1)));
    if (d.ok() && HasManifest(name, *d)) out.push_back(*d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::vector<RepositoryStore::ManifestInfo>> RepositoryStore::ListManifests(
    absl::string_view name) const {
  std::vector<ManifestInfo> out;
  const std::string root = RepoDir(name) + "/_manifests/revisions";
  absl::StatusOr<std::vector<std::string>> algorithms = fs::ListDir(root);
  if (!algorithms.ok()) {
    if (absl::IsNotFound(algorithms.status())) return out;
    return algorithms.status();
  }
  for (const std::string& alg : *algorithms) {
    absl::StatusOr<std::vector<std::string>> hexes = fs::ListDir(absl::StrCat(root, "/", alg));
    if (!hexes.ok()) continue;
    for (const std::string& hex : *hexes) {
      absl::StatusOr<digest::Digest> d = digest::Digest::Parse(absl::StrCat(alg, ":", hex));
      if (!d.ok()) continue;  // a temp file
      absl::StatusOr<ManifestInfo> info = ReadRevision(name, *d);
      if (info.ok()) {
        out.push_back(*std::move(info));
      } else if (absl::IsNotFound(info.status())) {
        // The revision's content is gone: still report it, so a collector knows the digest.
        out.push_back(ManifestInfo{*d, "", 0, std::nullopt});
      } else {
        return info.status();
      }
    }
  }
  return out;
}

absl::StatusOr<std::vector<digest::Digest>> RepositoryStore::ListBlobLinks(
    absl::string_view name) const {
  std::vector<digest::Digest> out;
  const std::string root = RepoDir(name) + "/_layers";
  absl::StatusOr<std::vector<std::string>> algorithms = fs::ListDir(root);
  if (!algorithms.ok()) {
    if (absl::IsNotFound(algorithms.status())) return out;
    return algorithms.status();
  }
  for (const std::string& alg : *algorithms) {
    absl::StatusOr<std::vector<std::string>> hexes = fs::ListDir(absl::StrCat(root, "/", alg));
    if (!hexes.ok()) continue;
    for (const std::string& hex : *hexes) {
      absl::StatusOr<digest::Digest> d = digest::Digest::Parse(absl::StrCat(alg, ":", hex));
      if (d.ok()) out.push_back(*d);
    }
  }
  return out;
}

}  // namespace berth::registry::storage
