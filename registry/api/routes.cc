#include "registry/api/routes.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
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
  return internal::Error(404, ErrorCode::kUnsupported, "unknown API endpoint", {{"path", r.path}});
}

// The server adds the Allow header from Request::allowed_methods.
HandlerResult MethodNotAllowed(Request& r) {
  if (!UnderV2(r)) return Response::Text(405, "405 method not allowed\n");
  return internal::Error(405, ErrorCode::kUnsupported, {}, {{"method", r.method}});
}

HandlerResult Healthz(Request&) { return Response::Text(200, "ok\n"); }

// What a route needs on its {name} repository, as distribution/registry asks: reads pull,
// writes pull and push (a push reads back what it wrote), deletes delete. Upload sessions
// (status, cancel included) are part of a push.
enum class Need { kSignedIn, kPull, kPush, kDelete };

std::vector<auth::Access> Required(Need need, const Request& r) {
  const std::string& name = r.Param("name");
  switch (need) {
    case Need::kSignedIn:
      return {};
    case Need::kPull:
      return {{auth::kRepository, name, {auth::kPull}}};
    case Need::kPush:
      return {{auth::kRepository, name, {auth::kPull, auth::kPush}}};
    case Need::kDelete:
      return {{auth::kRepository, name, {auth::kDelete}}};
  }
  return {};
}

// A cross-repository mount from a repository the caller may not pull would copy what it
// cannot read: drop "from" so the request becomes a plain upload (202), as the spec lets a
// registry do when it cannot mount.
void DropForbiddenMountSource(Api& api, Request& r) {
  const std::optional<std::string> from = internal::QueryParam(r, "from");
  if (!from || !internal::QueryParam(r, "mount")) return;
  if (api.Permitted(r, {auth::kRepository, *from, {auth::kPull}})) return;
  std::vector<absl::string_view> kept;
  for (absl::string_view part : absl::StrSplit(r.query, '&', absl::SkipEmpty())) {
    if (!absl::StartsWith(part, "from=") && part != "from") kept.push_back(part);
  }
  r.query = absl::StrJoin(kept, "&");
}

}  // namespace

absl::Status RegisterRoutes(http::Router& router, Api& api, auth::TokenServer* token_server) {
  using Method = HandlerResult (Api::*)(Request&);
  // Every API route checks access first (when configured), /v2/ included: that is where
  // clients learn that they need credentials. Names are validated before that, so a
  // challenge never echoes an invalid name.
  const auto bind = [&api](Need need, Method m) {
    return [&api, need, m](Request& r) -> HandlerResult {
      if (need != Need::kSignedIn) {
        if (auto bad = internal::CheckName(r)) return *std::move(bad);
      }
      if (auto refused = api.Authorize(r, Required(need, r))) return *std::move(refused);
      if (m == &Api::StartUpload) DropForbiddenMountSource(api, r);
      return (api.*m)(r);
    };
  };
  // Writes go to the read-only handler in read-only mode.
  const auto write = [&](Need need, Method m) {
    return bind(need, api.options().read_only ? &Api::ReadOnly : m);
  };

  BERTH_RETURN_IF_ERROR(router.Handle("GET", "/v2/", bind(Need::kSignedIn, &Api::Base)));
  BERTH_RETURN_IF_ERROR(router.Handle("GET", "/v2/_catalog", [&api](Request& r) -> HandlerResult {
    auth::Decision caller;
    const std::vector<auth::Access> required = api.options().access != nullptr
                                                   ? api.options().access->CatalogAccess()
                                                   : std::vector<auth::Access>{};
    if (auto refused = api.Authorize(r, required, &caller)) return *std::move(refused);
    return api.Catalog(r, &caller);
  }));

  // Upload routes first: "/v2/a/blobs/uploads/<id>" must not be read as a blob of a
  // repository named "a/blobs".
  for (const char* start : {"/v2/{name...}/blobs/uploads/", "/v2/{name...}/blobs/uploads"}) {
    BERTH_RETURN_IF_ERROR(router.Handle("POST", start, write(Need::kPush, &Api::StartUpload)));
  }
  const char* upload = "/v2/{name...}/blobs/uploads/{uuid}";
  BERTH_RETURN_IF_ERROR(router.Handle("GET", upload, bind(Need::kPush, &Api::UploadStatus)));
  BERTH_RETURN_IF_ERROR(router.Handle("PATCH", upload, write(Need::kPush, &Api::PatchUpload)));
  BERTH_RETURN_IF_ERROR(router.Handle("PUT", upload, write(Need::kPush, &Api::FinishUpload)));
  BERTH_RETURN_IF_ERROR(router.Handle("DELETE", upload, write(Need::kPush, &Api::CancelUpload)));

  const char* blob = "/v2/{name...}/blobs/{digest}";
  BERTH_RETURN_IF_ERROR(router.Handle("GET", blob, bind(Need::kPull, &Api::GetBlob)));
  BERTH_RETURN_IF_ERROR(router.Handle("DELETE", blob, write(Need::kDelete, &Api::DeleteBlob)));

  const char* manifest = "/v2/{name...}/manifests/{reference}";
  BERTH_RETURN_IF_ERROR(router.Handle("GET", manifest, bind(Need::kPull, &Api::GetManifest)));
  BERTH_RETURN_IF_ERROR(router.Handle("PUT", manifest, write(Need::kPush, &Api::PutManifest)));
  BERTH_RETURN_IF_ERROR(
      router.Handle("DELETE", manifest, write(Need::kDelete, &Api::DeleteManifest)));

  BERTH_RETURN_IF_ERROR(
      router.Handle("GET", "/v2/{name...}/tags/list", bind(Need::kPull, &Api::ListTags)));
  BERTH_RETURN_IF_ERROR(
      router.Handle("GET", "/v2/{name...}/referrers/{digest}", bind(Need::kPull, &Api::Referrers)));

  if (token_server != nullptr) {
    BERTH_RETURN_IF_ERROR(router.Handle(
        "GET", "/token", [token_server](Request& r) { return token_server->Get(r); }));
    BERTH_RETURN_IF_ERROR(router.Handle(
        "POST", "/token", [token_server](Request& r) { return token_server->Post(r); }));
  }
  BERTH_RETURN_IF_ERROR(router.Handle("GET", "/healthz", Healthz));
  router.SetNotFound(NotFound);
  router.SetMethodNotAllowed(MethodNotAllowed);
  return absl::OkStatus();
}

}  // namespace berth::registry::api
