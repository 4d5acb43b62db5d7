#include "engine/distribution/registry_client.h"

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/digest/digest.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"
#include "engine/images/oci.h"

namespace berth::engine::distribution {

namespace oci = images::oci;

const char kManifestAccept[] =
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

namespace {

// The host part of "host[:port]" / "[v6]:port".
std::string HostOnly(absl::string_view hostport) {
  if (absl::StartsWith(hostport, "[")) {
    size_t end = hostport.find(']');
    return std::string(hostport.substr(1, end == absl::string_view::npos ? end : end - 1));
  }
  size_t colon = hostport.rfind(':');
  if (colon != absl::string_view::npos && hostport.find(':') == colon) {
    return std::string(hostport.substr(0, colon));
  }
  return std::string(hostport);
}

bool IsLoopback(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  if (absl::StartsWith(host, "127.")) {
    std::vector<absl::string_view> parts = absl::StrSplit(host, '.');
    if (parts.size() != 4) return false;
    for (auto p : parts) {
      int n = 0;
      if (!absl::SimpleAtoi(p, &n) || n < 0 || n > 255) return false;
    }
    return true;
  }
  return false;
}

std::string MediaTypeOf(const HttpResponse& resp, const std::string& body) {
  std::string ct = resp.Header("Content-Type");
  ct = std::string(absl::StripAsciiWhitespace(ct.substr(0, ct.find(';'))));
  if (oci::IsManifest(ct) || oci::IsIndex(ct)) return ct;
  // Registries that answer application/json (or nothing): the document says what it is.
  absl::StatusOr<nlohmann::json> j = oci::ParseJson(body, "manifest");
  if (j.ok() && j->is_object()) {
    auto mt = j->find("mediaType");
    if (mt != j->end() && mt->is_string()) return mt->get<std::string>();
    if (j->contains("manifests")) return oci::kMediaTypeIndex;
    if (j->contains("layers")) return oci::kMediaTypeManifest;
  }
  return ct;
}

// rel="next" of a Link header: `<url>; rel="next"`.
std::string NextLink(const HttpResponse& resp) {
  for (const auto& v : resp.Headers("Link")) {
    for (absl::string_view part : absl::StrSplit(v, ',')) {
      if (!absl::StrContains(part, "rel=\"next\"") && !absl::StrContains(part, "rel=next")) {
        continue;
      }
      size_t lt = part.find('<'), gt = part.find('>');
      if (lt != absl::string_view::npos && gt != absl::string_view::npos && gt > lt) {
        return std::string(part.substr(lt + 1, gt - lt - 1));
      }
    }
  }
  return "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<RegistryClient>> NewClient(HttpClient* http, const Options& options,
                                                          const std::string& domain,
                                                          const ::berth::engine::v1::AuthConfig& auth) {
  BERTH_ASSIGN_OR_RETURN(HostConfig host,
                         ResolveHost(domain, options.insecure_registries, options.certs_dir));
  Credentials creds;
  creds.username = auth.username();
  creds.password = auth.password();
  creds.identity_token = auth.identity_token();
  creds.registry_token = auth.registry_token();
  return std::make_unique<RegistryClient>(http, std::move(host), std::move(creds));
}

std::string PullScope(const std::string& repo) { return absl::StrCat("repository:", repo, ":pull"); }
std::string PushScope(const std::string& repo) {
  return absl::StrCat("repository:", repo, ":pull,push");
}

absl::StatusOr<HostConfig> ResolveHost(const std::string& domain,
                                       const std::vector<std::string>& insecure,
                                       const std::string& certs_dir) {
  HostConfig h;
  h.host = domain;
  h.api_host = domain == "docker.io" ? "registry-1.docker.io" : domain;
  const std::string bare = HostOnly(domain);
  h.allow_http = IsLoopback(bare);
  for (const auto& i : insecure) {
    if (i == domain || i == bare) h.allow_http = true;
  }
  if (!certs_dir.empty()) {
    const std::string dir = absl::StrCat(certs_dir, "/", domain);
    absl::StatusOr<std::vector<std::string>> files = fs::ListDir(dir);
    if (files.ok()) {
      for (const auto& f : *files) {
        const std::string path = absl::StrCat(dir, "/", f);
        if (absl::EndsWith(f, ".crt")) {
          BERTH_ASSIGN_OR_RETURN(std::string pem, fs::ReadFile(path), "read CA " + path);
          absl::StrAppend(&h.tls.extra_ca_pem, pem, "\n");
        } else if (absl::EndsWith(f, ".cert")) {
          const std::string key =
              absl::StrCat(dir, "/", f.substr(0, f.size() - 5), ".key");
          if (!fs::ReadFile(key).ok()) {
            return absl::FailedPreconditionError(
                absl::StrCat("missing key ", key, " for client certificate ", path));
          }
          h.tls.client_cert_file = path;
          h.tls.client_key_file = key;
        }
      }
    } else if (!absl::IsNotFound(files.status())) {
      return Annotate(files.status(), "read " + dir);
    }
  }
  return h;
}

std::string ErrorCode(const HttpResponse& resp) {
  absl::StatusOr<nlohmann::json> j = oci::ParseJson(resp.body, "error");
  if (!j.ok() || !j->is_object()) return "";
  auto errors = j->find("errors");
  if (errors == j->end() || !errors->is_array() || errors->empty() || !(*errors)[0].is_object()) {
    return "";
  }
  auto c = (*errors)[0].find("code");
  return c != (*errors)[0].end() && c->is_string() ? c->get<std::string>() : "";
}

absl::Status ErrorFromResponse(const HttpResponse& resp, absl::string_view what) {
  std::string code, message;
  absl::StatusOr<nlohmann::json> j = oci::ParseJson(resp.body, "error");
  if (j.ok() && j->is_object()) {
    auto errors = j->find("errors");
    if (errors != j->end() && errors->is_array() && !errors->empty() &&
        (*errors)[0].is_object()) {
      const nlohmann::json& e = (*errors)[0];
      if (auto c = e.find("code"); c != e.end() && c->is_string()) code = c->get<std::string>();
      if (auto m = e.find("message"); m != e.end() && m->is_string()) {
        message = m->get<std::string>();
      }
    }
  }
  if (message.empty()) message = absl::StrCat("HTTP ", resp.status);
  const std::string text = absl::StrCat(what, ": ", message);
  if (code == "NAME_UNKNOWN" || code == "MANIFEST_UNKNOWN" || code == "BLOB_UNKNOWN" ||
      code == "BLOB_UPLOAD_UNKNOWN" || resp.status == 404) {
    return absl::NotFoundError(text);
  }
  if (resp.status == 401 || code == "UNAUTHORIZED") return absl::UnauthenticatedError(text);
  if (resp.status == 403 || code == "DENIED") return absl::PermissionDeniedError(text);
  if (resp.status == 429 || resp.status >= 500) return absl::UnavailableError(text);
  if (code == "NAME_INVALID" || code == "TAG_INVALID" || code == "DIGEST_INVALID") {
    return absl::InvalidArgumentError(text);
  }
  return absl::FailedPreconditionError(text);
}

RegistryClient::RegistryClient(HttpClient* http, HostConfig host, Credentials creds)
    : http_(http), host_(std::move(host)), auth_(http, std::move(creds), host_.tls) {}

std::string RegistryClient::Url(const std::string& url_or_path) {
  if (absl::StartsWith(url_or_path, "http://") || absl::StartsWith(url_or_path, "https://")) {
    return url_or_path;
  }
  absl::MutexLock l(&mu_);
  return absl::StrCat(base_, url_or_path);
}

absl::Status RegistryClient::Ping(const std::atomic<bool>* cancelled) {
  {
    absl::MutexLock l(&mu_);
    if (!base_.empty()) return absl::OkStatus();
  }
  // One ping at a time: a push's parallel uploads all start here, and should share one.
  absl::MutexLock ping(&ping_mu_);
  {
    absl::MutexLock l(&mu_);
    if (!base_.empty()) return absl::OkStatus();
  }
  std::vector<std::string> schemes = {"https"};
  if (host_.allow_http) schemes.push_back("http");
  absl::Status last;
  for (const auto& scheme : schemes) {
    HttpRequest req;
    req.url = absl::StrCat(scheme, "://", host_.api_host, "/v2/");
    req.tls = host_.tls;
    req.cancelled = cancelled;
    req.max_body = 1 << 20;
    req.connect_timeout = absl::Seconds(10);
    absl::StatusOr<HttpResponse> resp = http_->Do(req);
    if (!resp.ok()) {
      if (absl::IsCancelled(resp.status())) return resp.status();
      last = resp.status();
      continue;
    }
    if (resp->status == 401) {
      auth_.Learn(ParseChallenges(resp->Headers("WWW-Authenticate")));
    } else if (resp->status != 200) {
      // Some servers answer /v2/ with 404 or a redirect page: not a registry API.
      last = ErrorFromResponse(*resp, absl::StrCat("ping ", req.url));
      if (!absl::IsNotFound(last)) return last;
      return absl::UnavailableError(
          absl::StrCat("ping ", req.url, ": HTTP ", resp->status, " (not a registry?)"));
    }
    absl::MutexLock l(&mu_);
    base_ = absl::StrCat(scheme, "://", host_.api_host);
    return absl::OkStatus();
  }
  return absl::UnavailableError(
      absl::StrCat("registry ", host_.host, " is unreachable: ", last.message()));
}

absl::StatusOr<HttpResponse> RegistryClient::Do(HttpRequest req,
                                                const std::vector<std::string>& scopes,
                                                HttpResponse* partial) {
  BERTH_RETURN_IF_ERROR(Ping(req.cancelled));
  req.url = Url(req.url);
  req.tls = host_.tls;
  const std::vector<std::string> base_headers = req.headers;
  for (int attempt = 0;; ++attempt) {
    BERTH_ASSIGN_OR_RETURN(std::string authz, auth_.Header(scopes, req.cancelled));
    req.headers = base_headers;
    if (!authz.empty()) req.headers.push_back(absl::StrCat("Authorization: ", authz));
    BERTH_ASSIGN_OR_RETURN(HttpResponse resp, http_->Do(req, partial));
    if (resp.status != 401 || attempt >= 1 || req.body_source) return resp;
    absl::Status s =
        auth_.Challenged(ParseChallenges(resp.Headers("WWW-Authenticate")), scopes);
    if (!s.ok()) return resp;
  }
}

absl::StatusOr<FetchedManifest> RegistryClient::GetManifest(const std::string& repo,
                                                            const std::string& ref,
                                                            const std::string& familiar_name,
                                                            const std::atomic<bool>* cancelled) {
  HttpRequest req;
  req.url = absl::StrCat("/v2/", repo, "/manifests/", ref);
  req.headers = {absl::StrCat("Accept: ", kManifestAccept)};
  req.cancelled = cancelled;
  req.max_body = 8 << 20;
  absl::StatusOr<HttpResponse> got_resp = Do(req, {PullScope(repo)});
  if (absl::IsUnauthenticated(got_resp.status()) || absl::IsPermissionDenied(got_resp.status())) {
    // The token server refused before the registry could.
    return absl::Status(got_resp.status().code(),
                        absl::StrCat("pull access denied for ", familiar_name,
                                     ", repository does not exist or may require 'berth login': ",
                                     got_resp.status().message()));
  }
  if (!got_resp.ok()) return got_resp.status();
  HttpResponse resp = std::move(*got_resp);
  const std::string what =
      absl::StrCat(familiar_name, absl::StrContains(ref, ":") ? "@" : ":", ref);
  if (resp.status != 200) {
    absl::Status e = ErrorFromResponse(resp, "");
    absl::string_view detail = absl::StripPrefix(e.message(), ": ");
    const std::string code = ErrorCode(resp);
    if (resp.status == 401 || resp.status == 403 || code == "NAME_UNKNOWN" ||
        code == "DENIED" || code == "UNAUTHORIZED") {
      return absl::Status(e.code(), absl::StrCat("pull access denied for ", familiar_name,
                                                 ", repository does not exist or may require "
                                                 "'berth login': ",
                                                 detail));
    }
    if (absl::IsNotFound(e)) {
      return absl::NotFoundError(absl::StrCat("manifest for ", what, " not found: ", detail));
    }
    return absl::Status(e.code(), absl::StrCat("manifest for ", what, ": ", detail));
  }
  BERTH_ASSIGN_OR_RETURN(digest::Digest got, digest::Digest::FromBytes(resp.body));
  if (absl::StrContains(ref, ":") && got.ToString() != ref) {
    return absl::FailedPreconditionError(absl::StrCat(
        "manifest for ", what, ": digest mismatch: the registry sent content with digest ", got.ToString()));
  }
  const std::string header = resp.Header("Docker-Content-Digest");
  if (!header.empty() && absl::StartsWith(header, "sha256:") && header != got.ToString()) {
    return absl::FailedPreconditionError(
        absl::StrCat("manifest for ", what, ": digest mismatch: Docker-Content-Digest says ",
                     header, ", the content is ", got.ToString()));
  }
  FetchedManifest out;
  const std::string media_type = MediaTypeOf(resp, resp.body);
  if (!oci::IsManifest(media_type) && !oci::IsIndex(media_type)) {
    return absl::FailedPreconditionError(
        absl::StrCat("manifest for ", what, ": unsupported media type \"", media_type, "\""));
  }
  out.descriptor.set_media_type(media_type);
  out.descriptor.set_digest(got.ToString());
  out.descriptor.set_size(static_cast<int64_t>(resp.body.size()));
  out.body = std::move(resp.body);
  return out;
}

absl::StatusOr<int64_t> RegistryClient::StatBlob(const std::string& repo, const std::string& digest,
                                                 const std::vector<std::string>& scopes,
                                                 const std::atomic<bool>* cancelled) {
  HttpRequest req;
  req.method = "HEAD";
  req.url = absl::StrCat("/v2/", repo, "/blobs/", digest);
  req.cancelled = cancelled;
  BERTH_ASSIGN_OR_RETURN(HttpResponse resp, Do(req, scopes));
  if (resp.status == 200) {
    int64_t size = -1;
    if (!absl::SimpleAtoi(resp.Header("Content-Length"), &size)) size = -1;
    return size;
  }
  return ErrorFromResponse(resp, absl::StrCat("blob ", digest));
}

absl::StatusOr<std::string> RegistryClient::StartUpload(const std::string& repo,
                                                        const std::string& digest,
                                                        const std::string& from,
                                                        const std::vector<std::string>& scopes,
                                                        const std::atomic<bool>* cancelled) {
  HttpRequest req;
  req.method = "POST";
  req.url = absl::StrCat("/v2/", repo, "/blobs/uploads/");
  if (!digest.empty() && !from.empty()) {
    absl::StrAppend(&req.url, "?mount=", QueryEscape(digest), "&from=", QueryEscape(from));
  }
  req.cancelled = cancelled;
  BERTH_ASSIGN_OR_RETURN(HttpResponse resp, Do(req, scopes));
  if (resp.status == 201 && !from.empty()) return std::string();
  if (resp.status != 202) return ErrorFromResponse(resp, absl::StrCat("start upload to ", repo));
  std::string location = resp.Header("Location");
  if (location.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("start upload to ", repo, ": the registry sent no Location"));
  }
  return Url(location);
}

absl::Status RegistryClient::FinishUpload(
    const std::string& location, const std::string& digest, int64_t size,
    std::function<absl::StatusOr<size_t>(char*, size_t)> source,
    const std::vector<std::string>& scopes, const std::atomic<bool>* cancelled) {
  HttpRequest req;
  req.method = "PUT";
  req.url = absl::StrCat(location, location.find('?') == std::string::npos ? "?" : "&",
                         "digest=", QueryEscape(digest));
  req.headers = {"Content-Type: application/octet-stream"};
  req.body_source = std::move(source);
  req.body_size = size;
  req.cancelled = cancelled;
  BERTH_ASSIGN_OR_RETURN(HttpResponse resp, Do(req, scopes));
  if (resp.status == 201 || resp.status == 204) return absl::OkStatus();
  return ErrorFromResponse(resp, absl::StrCat("upload ", digest));
}

absl::StatusOr<std::string> RegistryClient::PatchUpload(
    const std::string& location, std::function<absl::StatusOr<size_t>(char*, size_t)> source,
    const std::vector<std::string>& scopes, const std::atomic<bool>* cancelled) {
  HttpRequest req;
  req.method = "PATCH";
  req.url = location;
  req.headers = {"Content-Type: application/octet-stream"};
  req.body_source = std::move(source);
  req.body_size = -1;
  req.cancelled = cancelled;
  BERTH_ASSIGN_OR_RETURN(HttpResponse resp, Do(req, scopes));
  if (resp.status != 202 && resp.status != 204) {
    return ErrorFromResponse(resp, "upload blob data");
  }
  const std::string next = resp.Header("Location");
  return next.empty() ? location : Url(next);
}

absl::StatusOr<std::string> RegistryClient::PutManifest(const std::string& repo,
                                                        const std::string& ref,
                                                        const std::string& media_type,
                                                        const std::string& body,
                                                        const std::atomic<bool>* cancelled) {
  HttpRequest req;
  req.method = "PUT";
  req.url = absl::StrCat("/v2/", repo, "/manifests/", ref);
  req.headers = {absl::StrCat("Content-Type: ", media_type)};
  req.body = body;
  req.cancelled = cancelled;
  BERTH_ASSIGN_OR_RETURN(HttpResponse resp, Do(req, {PushScope(repo)}));
  if (resp.status != 201 && resp.status != 200) {
    return ErrorFromResponse(resp, absl::StrCat("put manifest ", repo, ":", ref));
  }
  BERTH_ASSIGN_OR_RETURN(digest::Digest d, digest::Digest::FromBytes(body));
  const std::string header = resp.Header("Docker-Content-Digest");
  if (!header.empty() && header != d.ToString()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "put manifest ", repo, ":", ref, ": the registry stored digest ", header,
        ", the manifest is ", d.ToString()));
  }
  return d.ToString();
}

absl::StatusOr<std::vector<std::string>> RegistryClient::ListTags(
    const std::string& repo, const std::atomic<bool>* cancelled) {
  std::vector<std::string> out;
  std::string url = absl::StrCat("/v2/", repo, "/tags/list");
  for (int page = 0; page < 1000 && !url.empty(); ++page) {
    HttpRequest req;
    req.url = url;
    req.cancelled = cancelled;
    BERTH_ASSIGN_OR_RETURN(HttpResponse resp, Do(req, {PullScope(repo)}));
    if (resp.status != 200) return ErrorFromResponse(resp, absl::StrCat("list tags of ", repo));
    BERTH_ASSIGN_OR_RETURN(nlohmann::json j, oci::ParseJson(resp.body, "tag list"));
    if (j.is_object()) {
      auto tags = j.find("tags");
      if (tags != j.end() && tags->is_array()) {
        for (const auto& t : *tags) {
          if (t.is_string()) out.push_back(t.get<std::string>());
        }
      }
    }
    url = NextLink(resp);
  }
  return out;
}

}  // namespace berth::engine::distribution
