// Shared helpers, the base endpoint and blob reads/deletes (end-1, end-2, end-10).
#include <errno.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "registry/api/api.h"
#include "registry/api/range.h"
#include "registry/storage/names.h"

namespace berth::registry::api {
namespace internal {

http::Response V2(http::Response r) {
  r.SetHeader(kApiVersionHeader, kApiVersion);
  return r;
}

http::Response Error(int status, ErrorCode code, absl::string_view message,
                     const ErrorDetail& detail) {
  return V2(ErrorResponse(status, code, message, detail));
}

http::Response Empty(int status) {
  http::Response r;
  r.status = status;
  return V2(std::move(r));
}

http::Response Internal(absl::string_view what, const absl::Status& status) {
  LOG(ERROR) << "registry request failed what=\"" << what << "\" error=\"" << status.message()
             << "\"";
  const int code = absl::IsResourceExhausted(status) ? 503 : 500;
  return V2(http::Response::Text(code, absl::StrCat(what, ": ", status.message(), "\n")));
}

std::optional<http::Response> CheckName(const http::Request& r) {
  const std::string& name = r.Param("name");
  absl::Status st = storage::ValidateRepositoryName(name);
  if (st.ok()) return std::nullopt;
  return Error(400, ErrorCode::kNameInvalid, st.message(), {{"name", name}});
}

absl::StatusOr<digest::Digest> ParseDigestParam(absl::string_view text) {
  return digest::Digest::Parse(text);
}

std::optional<std::string> QueryParam(const http::Request& r, absl::string_view key) {
  for (auto& [k, v] : r.QueryParams()) {
    if (k == key) return v;
  }
  return std::nullopt;
}

std::string UploadRange(uint64_t offset) {
  return absl::StrCat("0-", offset == 0 ? 0 : offset - 1);
}

std::string UploadLocation(absl::string_view name, absl::string_view id) {
  return absl::StrCat("/v2/", name, "/blobs/uploads/", id);
}

std::string BlobLocation(absl::string_view name, const digest::Digest& d) {
  return absl::StrCat("/v2/", name, "/blobs/", d.ToString());
}

}  // namespace internal

using internal::CheckName;
using internal::Empty;
using internal::Error;
using internal::V2;

namespace {

http::Response DigestInvalid(absl::string_view text, const absl::Status& why) {
  return Error(400, ErrorCode::kDigestInvalid, why.message(), {{"digest", std::string(text)}});
}

}  // namespace

std::optional<http::Response> Api::Authorize(const http::Request& r,
                                             const std::vector<auth::Access>& required,
                                             auth::Decision* decision) const {
  if (options_.access == nullptr) return std::nullopt;
  auth::Decision d =
      options_.access->Authorize({r.Header("Authorization"), r.Header("Host")}, required);
  std::optional<http::Response> refusal;
  if (d.outcome == auth::Decision::Outcome::kUnauthorized) {
    // RFC 9110 section 11.6.1; the version header too, so clients know this is a registry.
    refusal = Error(401, ErrorCode::kUnauthorized, d.message);
    refusal->SetHeader("WWW-Authenticate", d.challenge);
  } else if (d.outcome == auth::Decision::Outcome::kDenied) {
    refusal = Error(403, ErrorCode::kDenied, d.message);
  }
  if (decision != nullptr) *decision = std::move(d);
  return refusal;
}

bool Api::Permitted(const http::Request& r, const auth::Access& access) const {
  if (options_.access == nullptr) return true;
  auth::AuthRequest request{r.Header("Authorization"), r.Header("Host")};
  request.quiet = true;
  return options_.access->Authorize(request, {access}).allowed();
}

http::HandlerResult Api::Base(http::Request&) {
  return V2(http::Response::Text(200, "{}", "application/json"));
}

http::HandlerResult Api::ReadOnly(http::Request& r) {
  http::Response resp = Error(405, ErrorCode::kUnsupported, "the registry is in read-only mode",
                              {{"method", r.method}});
  resp.SetHeader("Allow", "GET, HEAD");
  return resp;
}

http::HandlerResult Api::GetBlob(http::Request& r) {
  if (auto bad = CheckName(r)) return *std::move(bad);
  const std::string& name = r.Param("name");
  const std::string& text = r.Param("digest");
  absl::StatusOr<digest::Digest> d = internal::ParseDigestParam(text);
  if (!d.ok()) return DigestInvalid(text, d.status());
  // The spec scopes blobs to repositories: one pushed elsewhere is unknown here.
  if (!storage_.repositories().HasBlob(name, *d)) {
    return Error(404, ErrorCode::kBlobUnknown, {}, {{"digest", d->ToString()}});
  }
  absl::StatusOr<storage::BlobStore::OpenBlob> blob = storage_.blobs().Open(*d);
  if (absl::IsNotFound(blob.status())) {
    return Error(404, ErrorCode::kBlobUnknown, {}, {{"digest", d->ToString()}});
  }
  if (!blob.ok()) return internal::Internal("open blob", blob.status());

  http::Response resp;
  resp.SetHeader("Content-Type", "application/octet-stream");
  resp.SetHeader("Docker-Content-Digest", d->ToString());
  resp.SetHeader("ETag", absl::StrCat("\"", d->ToString(), "\""));
  resp.SetHeader("Accept-Ranges", "bytes");
  // Content-addressed: the bytes under this URL never change.
  resp.SetHeader("Cache-Control", "max-age=31536000");
  uint64_t offset = 0;
  uint64_t length = blob->size;
  resp.status = 200;
  if (auto range_header = r.Header("Range")) {
    RangeRequest range = ParseRange(*range_header, blob->size);
    if (range.kind == RangeRequest::Kind::kUnsatisfiable) {
      // No spec error code fits; 4xx bodies may be in any format.
      http::Response err = V2(http::Response::Text(
          416, absl::StrCat("range not satisfiable for a blob of ", blob->size, " bytes\n")));
      err.SetHeader("Content-Range", absl::StrCat("bytes */", blob->size));
      return err;
    }
    if (range.kind == RangeRequest::Kind::kPartial) {
      resp.status = 206;
      offset = range.range.first;
      length = range.range.length();
      resp.SetHeader("Content-Range", absl::StrCat("bytes ", range.range.first, "-",
                                                   range.range.last, "/", blob->size));
    }
  }
  if (offset > 0 && lseek(blob->fd.get(), static_cast<off_t>(offset), SEEK_SET) < 0) {
    return internal::Internal("seek blob", absl::ErrnoToStatus(errno, "lseek"));
  }
  resp.content_length = length;
  resp.source = http::FdSource(blob->fd.release());
  return V2(std::move(resp));
}

http::HandlerResult Api::DeleteBlob(http::Request& r) {
  if (auto bad = CheckName(r)) return *std::move(bad);
  const std::string& name = r.Param("name");
  const std::string& text = r.Param("digest");
  absl::StatusOr<digest::Digest> d = internal::ParseDigestParam(text);
  if (!d.ok()) return DigestInvalid(text, d.status());
  absl::Status st = storage_.repositories().UnlinkBlob(name, *d);
  if (absl::IsNotFound(st)) {
    return Error(404, ErrorCode::kBlobUnknown, {}, {{"digest", d->ToString()}});
  }
  if (!st.ok()) return internal::Internal("delete blob", st);
  // Only the repository's link goes; the content is shared and left to the collector.
  http::Response resp = Empty(202);
  resp.SetHeader("Docker-Content-Digest", d->ToString());
  return resp;
}

}  // namespace berth::registry::api
