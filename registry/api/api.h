// The handlers of the OCI distribution API (spec v1.1 "Endpoints", end-1 .. end-13, plus
// _catalog from the Docker registry API) over berth-registry's Storage. Each method is an
// http::Handler; routes.cc maps paths and methods onto them. Every /v2 response carries
// Docker-Distribution-API-Version, and every 4xx a JSON error body with a spec error code.
//
// Handlers validate everything taken from the request (repository names, tags, digests,
// ranges, manifest JSON) before touching storage, and a failed request stores nothing.
// Thread-safe: storage is, and the handlers keep no state of their own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/digest/digest.h"
#include "registry/api/errors.h"
#include "registry/auth/access_controller.h"
#include "registry/http/handler.h"
#include "registry/storage/storage.h"

namespace berth::registry::api {

inline constexpr char kApiVersionHeader[] = "Docker-Distribution-API-Version";
inline constexpr char kApiVersion[] = "registry/2.0";

struct ApiOptions {
  // Refuse every write (push, delete) with 405 UNSUPPORTED, as Docker's registry does in its
  // read-only maintenance mode; reads keep working.
  bool read_only = false;
  // Largest manifest accepted (413 beyond). The spec says clients may expect 4 MiB.
  uint64_t max_manifest_bytes = 4 << 20;
  // Largest blob accepted through uploads (413 beyond).
  uint64_t max_blob_bytes = uint64_t{1} << 40;
  // Most entries one tags/catalog page returns; the default page size of _catalog.
  int max_page_entries = 1000;
  // When set, every /v2 request is checked by it: basic auth (htpasswd + acl) or bearer tokens.
  // Without one the API is open. Not owned.
  const auth::AccessController* access = nullptr;
};

class Api {
 public:
  // `storage` must outlive the Api.
  Api(storage::Storage& storage, ApiOptions options)
      : storage_(storage), options_(std::move(options)) {}

  const ApiOptions& options() const { return options_; }

  // end-1
  http::HandlerResult Base(http::Request& r);
  // end-2, end-10
  http::HandlerResult GetBlob(http::Request& r);  // also HEAD
  http::HandlerResult DeleteBlob(http::Request& r);
  // end-4a/4b, end-11, end-5, end-6, end-13, cancel
  http::HandlerResult StartUpload(http::Request& r);
  http::HandlerResult PatchUpload(http::Request& r);
  http::HandlerResult FinishUpload(http::Request& r);
  http::HandlerResult UploadStatus(http::Request& r);
  http::HandlerResult CancelUpload(http::Request& r);
  // end-3, end-7, end-9
  http::HandlerResult GetManifest(http::Request& r);  // also HEAD
  http::HandlerResult PutManifest(http::Request& r);
  http::HandlerResult DeleteManifest(http::Request& r);
  // end-8, _catalog, end-12
  http::HandlerResult ListTags(http::Request& r);
  // `caller` (may be null: no access control) filters the list (AccessController::CatalogShows).
  http::HandlerResult Catalog(http::Request& r, const auth::Decision* caller = nullptr);
  http::HandlerResult Referrers(http::Request& r);
  // A write while read_only is set.
  http::HandlerResult ReadOnly(http::Request& r);

  // nullopt when the caller may have every access in `required` (empty: just be signed in);
  // otherwise the 401 (UNAUTHORIZED, with WWW-Authenticate) or 403 (DENIED) to send. Always
  // nullopt without ApiOptions::access. `decision` (optional) receives the decision.
  std::optional<http::Response> Authorize(const http::Request& r,
                                          const std::vector<auth::Access>& required,
                                          auth::Decision* decision = nullptr) const;
  // Whether the caller may have `access`, without refusing or counting a failure (e.g. pull
  // on a cross-repository mount's source). True without ApiOptions::access.
  bool Permitted(const http::Request& r, const auth::Access& access) const;

 private:
  storage::Storage& storage_;
  const ApiOptions options_;
};

// Helpers shared by the handler files.
namespace internal {

// Adds the API version header.
http::Response V2(http::Response r);
// V2(ErrorResponse(...)).
http::Response Error(int status, ErrorCode code, absl::string_view message = {},
                     const ErrorDetail& detail = {});
// An empty-bodied response with `status`.
http::Response Empty(int status);
// A storage failure nobody else reports: logged, answered with 500 (or 503 when the disk is
// full, so clients retry later).
http::Response Internal(absl::string_view what, const absl::Status& status);
// 400 NAME_INVALID when the {name} parameter is not a valid repository name.
std::optional<http::Response> CheckName(const http::Request& r);
// The {digest} parameter (or `text`) as a Digest, or a 400 DIGEST_INVALID response.
absl::StatusOr<digest::Digest> ParseDigestParam(absl::string_view text);
// The first query parameter named `key`.
std::optional<std::string> QueryParam(const http::Request& r, absl::string_view key);
// "0-<offset-1>" ("0-0" for an empty upload, as Docker's registry answers).
std::string UploadRange(uint64_t offset);
std::string UploadLocation(absl::string_view name, absl::string_view id);
std::string BlobLocation(absl::string_view name, const digest::Digest& d);

}  // namespace internal
}  // namespace berth::registry::api
