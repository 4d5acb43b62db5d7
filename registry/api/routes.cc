#include "registry/api/routes.h"

#include "absl/strings/match.h"
#include "common/status/status_macros.h"
#include "registry/api/errors.h"

namespace berth::registry::api {
namespace {

using http::HandlerResult;
using http::Request;
using http::Response;

bool UnderV2(const Request& r) { return r.path == "/v2" || absl::StartsWith(r.path, "/v2/"); }

// A path under /v2/ that is no API endpoint. The spec allows no generic "not found" code,
// so this uses UNSUPPORTED: the request asks for something this registry does not do.
HandlerResult NotFound(Request& r) {
  if (!UnderV2(r)) return Response::Text(404, "404 page not found\n");
  return internal::Error(404, ErrorCode::kUnsupported, "unknown API endpoint",
                         {{"path", r.path}});
}

// The server adds the Allow header from Request::allowed_methods.
HandlerResult MethodNotAllowed(Request& r) {
  if (!UnderV2(r)) return Response::Text(405, "405 method not allowed\n");
  return internal::Error(405, ErrorCode::kUnsupported, {}, {{"method", r.method}});
}

HandlerResult Healthz(Request&) { return Response::Text(200, "ok\n"); }

}  // namespace

absl::Status RegisterRoutes(http::Router& router, Api& api) {
  using Method = HandlerResult (Api::*)(Request&);
  // Every API route authenticates first (when configured), /v2/ included: that is where
  // clients learn that they need credentials.
  const auto bind = [&api](Method m) {
    return [&api, m](Request& r) -> HandlerResult {
      if (auto denied = api.Authenticate(r)) return *std::move(denied);
      return (api.*m)(r);
    };
  };
  // Writes go to the read-only handler in read-only mode.
  const auto write = [&](Method m) { return bind(api.options().read_only ? &Api::ReadOnly : m); };

  BERTH_RETURN_IF_ERROR(router.Handle("GET", "/v2/", bind(&Api::Base)));
  BERTH_RETURN_IF_ERROR(router.Handle("GET", "/v2/_catalog", bind(&Api::Catalog)));

  // Upload routes first: "/v2/a/blobs/uploads/<id>" must not be read as a blob of a
  // repository named "a/blobs".
  for (const char* start : {"/v2/{name...}/blobs/uploads/", "/v2/{name...}/blobs/uploads"}) {
    BERTH_RETURN_IF_ERROR(router.Handle("POST", start, write(&Api::StartUpload)));
  }
  const char* upload = "/v2/{name...}/blobs/uploads/{uuid}";
  BERTH_RETURN_IF_ERROR(router.Handle("GET", upload, bind(&Api::UploadStatus)));
  BERTH_RETURN_IF_ERROR(router.Handle("PATCH", upload, write(&Api::PatchUpload)));
  BERTH_RETURN_IF_ERROR(router.Handle("PUT", upload, write(&Api::FinishUpload)));
  BERTH_RETURN_IF_ERROR(router.Handle("DELETE", upload, write(&Api::CancelUpload)));

  const char* blob = "/v2/{name...}/blobs/{digest}";
  BERTH_RETURN_IF_ERROR(router.Handle("GET", blob, bind(&Api::GetBlob)));
  BERTH_RETURN_IF_ERROR(router.Handle("DELETE", blob, write(&Api::DeleteBlob)));

  const char* manifest = "/v2/{name...}/manifests/{reference}";
  BERTH_RETURN_IF_ERROR(router.Handle("GET", manifest, bind(&Api::GetManifest)));
  BERTH_RETURN_IF_ERROR(router.Handle("PUT", manifest, write(&Api::PutManifest)));
  BERTH_RETURN_IF_ERROR(router.Handle("DELETE", manifest, write(&Api::DeleteManifest)));

  BERTH_RETURN_IF_ERROR(router.Handle("GET", "/v2/{name...}/tags/list", bind(&Api::ListTags)));
  BERTH_RETURN_IF_ERROR(
      router.Handle("GET", "/v2/{name...}/referrers/{digest}", bind(&Api::Referrers)));

  BERTH_RETURN_IF_ERROR(router.Handle("GET", "/healthz", Healthz));
  router.SetNotFound(NotFound);
  router.SetMethodNotAllowed(MethodNotAllowed);
  return absl::OkStatus();
}

}  // namespace berth::registry::api
