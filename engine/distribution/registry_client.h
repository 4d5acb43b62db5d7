// RegistryClient: the OCI distribution API of one registry host as calls (distribution-spec
// v1.1, plus what Docker registries expect): ping, manifests by tag or digest (verified),
// blobs (streamed, with ranges), uploads (with cross-repository mounts) and tag lists, each
// authorized for its scope (auth.h) and retried once after a 401. Registry error bodies
// become absl codes: 401 Unauthenticated, 403 PermissionDenied, 404 / *_UNKNOWN NotFound,
// 429 and 5xx Unavailable.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/distribution/auth.h"
#include "berth/engine/v1/types.pb.h"
#include "engine/distribution/http_client.h"
#include "engine/distribution/options.h"
#include "engine/images/backend.h"

namespace berth::engine::distribution {

using images::Descriptor;

// Where and how to reach one registry.
struct HostConfig {
  std::string host;      // as in references: "docker.io", "127.0.0.1:5000"
  std::string api_host;  // what is dialed: "registry-1.docker.io" for docker.io
  bool allow_http = false;
  TlsConfig tls;
};

// The HostConfig of `domain` (a reference's domain): docker.io goes to registry-1.docker.io;
// plain HTTP is allowed for loopback hosts and the `insecure` list; TLS settings come from
// <certs_dir>/<host>/ (*.crt CA roots, *.cert + *.key client pair; Docker's certs.d).
absl::StatusOr<HostConfig> ResolveHost(const std::string& domain,
                                       const std::vector<std::string>& insecure,
                                       const std::string& certs_dir);

// The absl status for a registry's error response to `what` ("fetch manifest x:1"): the code
// from the HTTP status and the spec's error codes, the message from the error body.
absl::Status ErrorFromResponse(const HttpResponse& resp, absl::string_view what);
// The first error code of a registry error body ("MANIFEST_UNKNOWN"), "" if none.
std::string ErrorCode(const HttpResponse& resp);

// Media types a pull accepts, best first (Accept header value).
extern const char kManifestAccept[];

struct FetchedManifest {
  Descriptor descriptor;  // media type, digest (verified), size
  std::string body;
};

class RegistryClient {
 public:
  RegistryClient(HttpClient* http, HostConfig host, Credentials creds);

  const HostConfig& host() const { return host_; }
  Authorizer& authorizer() { return auth_; }

  // GET /v2/ once: picks HTTPS or (when allowed, after HTTPS fails) plain HTTP, and learns
  // the registry's auth challenge. Unavailable when unreachable.
  absl::Status Ping(const std::atomic<bool>* cancelled);

  // Sends `req` (its url is a path such as "/v2/a/blobs/..." or an absolute URL) with
  // credentials for `scopes`, once more after a 401 answered with new credentials (requests
  // with a streamed body are not resent). Any HTTP status is returned as a response.
  absl::StatusOr<HttpResponse> Do(HttpRequest req, const std::vector<std::string>& scopes,
                                  HttpResponse* partial = nullptr);

  // GET (or HEAD when `head`) of a manifest by tag or digest; the body's digest is checked
  // against the digest asked for and against Docker-Content-Digest (FailedPrecondition on a
  // mismatch). FailedPrecondition for media types berth cannot use. Errors use Docker's
  // wording with `familiar_name` ("pull access denied for x, repository does not exist or may
  // require 'berth login'", "manifest for x:1 not found: manifest unknown").
  absl::StatusOr<FetchedManifest> GetManifest(const std::string& repo, const std::string& ref,
                                              const std::string& familiar_name,
                                              const std::atomic<bool>* cancelled);

  // HEAD of a blob: its size, NotFound when absent.
  absl::StatusOr<int64_t> StatBlob(const std::string& repo, const std::string& digest,
                                   const std::vector<std::string>& scopes,
                                   const std::atomic<bool>* cancelled);

  // POST an upload, asking to mount `digest` from repository `from` when both are set.
  // Returns "" when the blob was mounted (201), else the upload URL.
  absl::StatusOr<std::string> StartUpload(const std::string& repo, const std::string& digest,
                                          const std::string& from,
                                          const std::vector<std::string>& scopes,
                                          const std::atomic<bool>* cancelled);

  // Finishes the upload at `location` with the whole blob in one PUT ?digest= (monolithic,
  // distribution-spec "POST then PUT"), its bytes read from `source`; with no `source` (and
  // `size` 0), closes an upload whose bytes went in with PatchUpload.
  absl::Status FinishUpload(const std::string& location, const std::string& digest,
                            int64_t size,
                            std::function<absl::StatusOr<size_t>(char*, size_t)> source,
                            const std::vector<std::string>& scopes,
                            const std::atomic<bool>* cancelled);

  // Streams bytes of unknown length from `source` into the upload at `location` (one PATCH,
  // chunked: distribution-spec "streamed" upload, what Docker sends). Returns the location to
  // go on with (the registry may move it), for FinishUpload with an empty body.
  absl::StatusOr<std::string> PatchUpload(
      const std::string& location, std::function<absl::StatusOr<size_t>(char*, size_t)> source,
      const std::vector<std::string>& scopes, const std::atomic<bool>* cancelled);

  // PUT a manifest under `ref` (tag or digest); the digest the registry reports (checked
  // against the body's).
  absl::StatusOr<std::string> PutManifest(const std::string& repo, const std::string& ref,
                                          const std::string& media_type, const std::string& body,
                                          const std::atomic<bool>* cancelled);

  // Every tag of `repo` (following Link pagination).
  absl::StatusOr<std::vector<std::string>> ListTags(const std::string& repo,
                                                    const std::atomic<bool>* cancelled);

  // base + path, or `url_or_path` itself when absolute.
  std::string Url(const std::string& url_or_path);

 private:
  HttpClient* const http_;
  const HostConfig host_;
  Authorizer auth_;
  absl::Mutex ping_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  std::string base_ ABSL_GUARDED_BY(mu_);  // "https://host" once pinged
};

// A client for the registry of reference domain `domain` with the credentials of `auth`.
absl::StatusOr<std::unique_ptr<RegistryClient>> NewClient(HttpClient* http, const Options& options,
                                                          const std::string& domain,
                                                          const ::berth::engine::v1::AuthConfig& auth);

// "repository:<repo>:pull" and friends.
std::string PullScope(const std::string& repo);
std::string PushScope(const std::string& repo);

}  // namespace berth::engine::distribution
