// Listings: tags (end-8a/8b), the catalog of repositories (Docker's /v2/_catalog) and the
// referrers API (end-12a/12b), with the spec's n/last pagination and Link headers.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "registry/api/api.h"
#include "registry/manifest/manifest.h"

namespace berth::registry::api {

using internal::CheckName;
using internal::Error;
using internal::V2;

namespace {

using Json = nlohmann::json;

constexpr uint64_t kMaxManifestRead = 64 << 20;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

struct Page {
  std::vector<std::string> items;
  std::optional<std::string> link;  // the Link header value, when more items follow
};

// Applies ?n= and ?last= to `all` (sorted). `default_n` applies when n is absent (0: all).
// Fails with the 400 response for a malformed n.
absl::StatusOr<Page> Paginate(const http::Request& r, const std::vector<std::string>& all,
                              int default_n, int max_n, const std::string& path,
                              http::Response* error) {
  std::optional<std::string> n_text = internal::QueryParam(r, "n");
  std::optional<std::string> last = internal::QueryParam(r, "last");
  uint64_t n = default_n > 0 ? static_cast<uint64_t>(default_n) : all.size();
  if (n_text) {
    const bool digits = !n_text->empty() && std::all_of(n_text->begin(), n_text->end(), [](char c) {
      return absl::ascii_isdigit(c);
    });
    if (!digits || n_text->size() > 18 || !absl::SimpleAtoi(*n_text, &n)) {
      *error = Error(400, ErrorCode::kUnsupported, "the n parameter must be a non-negative integer",
                     {{"n", *n_text}});
      return absl::InvalidArgumentError("n");
    }
  }
  Page page;
  // The spec: n=0 is an empty list and no Link header.
  if (n == 0) return page;
  const uint64_t limit = std::min<uint64_t>(n, static_cast<uint64_t>(max_n));
  auto it = last ? std::upper_bound(all.begin(), all.end(), *last) : all.begin();
  for (; it != all.end() && page.items.size() < limit; ++it) page.items.push_back(*it);
  if (it != all.end() && !page.items.empty()) {
    page.link =
        absl::StrCat("<", path, "?n=", limit, "&last=", page.items.back(), ">; rel=\"next\"");
  }
  return page;
}

}  // namespace

http::HandlerResult Api::ListTags(http::Request& r) {
  if (auto bad = CheckName(r)) return *std::move(bad);
  const std::string& name = r.Param("name");
  absl::StatusOr<std::vector<std::string>> tags = storage_.repositories().ListTags(name);
  if (absl::IsNotFound(tags.status())) {
    return Error(404, ErrorCode::kNameUnknown, {}, {{"name", name}});
  }
  if (!tags.ok()) return internal::Internal("list tags", tags.status());
  http::Response error;
  absl::StatusOr<Page> page = Paginate(r, *tags, 0, options_.max_page_entries * 10,
                                       absl::StrCat("/v2/", name, "/tags/list"), &error);
  if (!page.ok()) return error;
  Json body = {{"name", name}, {"tags", page->items}};
  http::Response resp = http::Response::Text(200, Dump(body), "application/json");
  if (page->link) resp.SetHeader("Link", *page->link);
  return V2(std::move(resp));
}

http::HandlerResult Api::Catalog(http::Request& r, const auth::Decision* caller) {
  absl::StatusOr<std::vector<std::string>> repos = storage_.repositories().ListRepositories();
  if (!repos.ok()) return internal::Internal("list repositories", repos.status());
  if (caller != nullptr && options_.access != nullptr) {
    // Only what the caller may pull, so names of private repositories do not leak; filtered
    // before paginating so pages stay full and "last" stays meaningful.
    repos->erase(std::remove_if(repos->begin(), repos->end(),
                                [&](const std::string& name) {
                                  return !options_.access->CatalogShows(*caller, name);
                                }),
                 repos->end());
  }
  http::Response error;
  absl::StatusOr<Page> page = Paginate(r, *repos, options_.max_page_entries,
                                       options_.max_page_entries, "/v2/_catalog", &error);
  if (!page.ok()) return error;
  Json body = {{"repositories", page->items}};
  http::Response resp = http::Response::Text(200, Dump(body), "application/json");
  if (page->link) resp.SetHeader("Link", *page->link);
  return V2(std::move(resp));
}

http::HandlerResult Api::Referrers(http::Request& r) {
  if (auto bad = CheckName(r)) return *std::move(bad);
  const std::string& name = r.Param("name");
  const std::string& text = r.Param("digest");
  absl::StatusOr<digest::Digest> subject = digest::Digest::Parse(text);
  if (!subject.ok()) {
    return Error(400, ErrorCode::kDigestInvalid, subject.status().message(), {{"digest", text}});
  }
  const std::optional<std::string> filter = internal::QueryParam(r, "artifactType");
  absl::StatusOr<std::vector<digest::Digest>> referrers =
      storage_.repositories().ListReferrers(name, *subject);
  if (!referrers.ok()) return internal::Internal("list referrers", referrers.status());

  // The spec: 200 with an index, empty when nothing refers to the digest (never 404).
  Json manifests = Json::array();
  for (const digest::Digest& d : *referrers) {
    absl::StatusOr<storage::RepositoryStore::ManifestInfo> info =
        storage_.repositories().Resolve(name, d.ToString());
    if (!info.ok()) continue;  // deleted meanwhile
    absl::StatusOr<std::string> content = storage_.blobs().Read(d, kMaxManifestRead);
    if (!content.ok()) continue;
    absl::StatusOr<manifest::Manifest> m = manifest::Parse(info->media_type, *content);
    if (!m.ok()) continue;  // validated on PUT; unreadable now means damaged, so skip it
    const std::string artifact_type = m->EffectiveArtifactType();
    if (filter && artifact_type != *filter) continue;
    Json desc = {{"mediaType", info->media_type}, {"digest", d.ToString()}, {"size", info->size}};
    if (!artifact_type.empty()) desc["artifactType"] = artifact_type;
    if (!m->annotations.empty()) desc["annotations"] = m->annotations;
    manifests.push_back(std::move(desc));
  }
  Json body = {{"schemaVersion", 2},
               {"mediaType", std::string(manifest::kOciIndex)},
               {"manifests", std::move(manifests)}};
  http::Response resp = http::Response::Text(200, Dump(body), std::string(manifest::kOciIndex));
  if (filter) resp.SetHeader("OCI-Filters-Applied", "artifactType");
  return V2(std::move(resp));
}

}  // namespace berth::registry::api
