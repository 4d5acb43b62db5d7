#include "engine/distribution/blobs.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status/status_macros.h"

namespace berth::engine::distribution {

std::string SourceLabel(const std::string& host) {
  return absl::StrCat("berth.io/distribution.source.", host);
}

std::string GzipSourceLabel(const std::string& host) {
  return absl::StrCat("berth.io/gzip.source.", host);
}

absl::Status WriteSmallBlob(images::ContentStore* content, const std::string& ref,
                            const std::string& data, const std::string& digest,
                            const images::Labels& labels, const std::string& lease) {
  absl::StatusOr<std::unique_ptr<images::BlobWriter>> w = content->OpenWriter(ref, digest, lease);
  if (absl::IsAlreadyExists(w.status())) {
    if (labels.empty()) return absl::OkStatus();
    return content->SetLabels(digest, labels);
  }
  if (!w.ok()) return w.status();
  BERTH_RETURN_IF_ERROR((*w)->Write(data));
  return (*w)->Commit(digest, static_cast<int64_t>(data.size()), labels).status();
}

std::vector<std::string> Sources(const images::BlobInfo& info, const std::string& label) {
  auto it = info.labels.find(label);
  if (it == info.labels.end() || it->second.empty()) return {};
  return absl::StrSplit(it->second, ',', absl::SkipEmpty());
}

absl::Status AddSource(images::ContentStore* content, const std::string& digest,
                       const std::string& label, const std::string& repo) {
  BERTH_ASSIGN_OR_RETURN(images::BlobInfo info, content->Info(digest));
  std::vector<std::string> repos = Sources(info, label);
  if (std::find(repos.begin(), repos.end(), repo) != repos.end()) return absl::OkStatus();
  repos.push_back(repo);
  return content->SetLabels(digest, {{label, absl::StrJoin(repos, ",")}});
}

}  // namespace berth::engine::distribution
