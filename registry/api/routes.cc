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

Response V2(Response r) {
  r.SetHeader(kApiVersionHeader, kApiVersion);
  return r;
}

HandlerResult Base(Request&) { return V2(Response::Text(200, "{}", "application/json")); }

// No repository exists yet, so every pull endpoint answers as the spec says for an unknown
// repository: 404 with NAME_UNKNOWN.
HandlerResult UnknownRepository(Request& r) {
  return V2(ErrorResponse(404, ErrorCode::kNameUnknown, {}, {{"name", r.Param("name")}}));
}

// A path under /v2/ that is no API endpoint. The spec allows no generic "not found" code,
// so this uses UNSUPPORTED: the request asks for something this registry does not do.
HandlerResult NotFound(Request& r) {
  if (!UnderV2(r)) return Response::Text(404, "404 page not found\n");
  return V2(
      ErrorResponse(404, ErrorCode::kUnsupported, "unknown API endpoint", {{"path", r.path}}));
}

// The server adds the Allow header from Request::allowed_methods.
HandlerResult MethodNotAllowed(Request& r) {
  if (!UnderV2(r)) return Response::Text(405, "405 method not allowed\n");
  return V2(ErrorResponse(405, ErrorCode::kUnsupported, {}, {{"method", r.method}}));
}

HandlerResult Healthz(Request&) { return Response::Text(200, "ok\n"); }

}  // namespace

absl::Status RegisterRoutes(http::Router& router) {
  BERTH_RETURN_IF_ERROR(router.Handle("GET", "/v2/", Base));
  for (const char* pattern : {
           "/v2/{name...}/manifests/{reference}",
           "/v2/{name...}/blobs/{digest}",
           "/v2/{name...}/tags/list",
           "/v2/{name...}/referrers/{digest}",
       }) {
    BERTH_RETURN_IF_ERROR(router.Handle("GET", pattern, UnknownRepository));
  }
  BERTH_RETURN_IF_ERROR(router.Handle("GET", "/healthz", Healthz));
  router.SetNotFound(NotFound);
  router.SetMethodNotAllowed(MethodNotAllowed);
  return absl::OkStatus();
}

}  // namespace berth::registry::api
