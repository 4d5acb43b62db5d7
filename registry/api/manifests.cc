// Manifests (distribution spec "Pulling manifests", "Pushing Manifests", "Deleting"): GET/HEAD
// with Accept negotiation, PUT with validation of the JSON and of everything it references,
// DELETE by tag (the tag goes) or by digest (the manifest and its tags go).
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/digest/hasher.h"
#include "registry/api/api.h"
#include "registry/manifest/manifest.h"
#include "registry/storage/names.h"

namespace berth::registry::api {

using internal::CheckName;
using internal::Empty;
using internal::Error;
using internal::V2;

namespace {

// Read bound for stored manifests: larger than any PUT accepts.
constexpr uint64_t kMaxManifestRead = 64 << 20;

struct Reference {
  std::optional<digest::Digest> digest;  // set for a digest reference
  std::string tag;                       // set for a tag reference
};

// A reference is a digest when it has a ':' (tags cannot), else a tag. On failure returns the
// response for a malformed one: DIGEST_INVALID for a bad digest, `bad_tag` for a bad tag.
absl::StatusOr<Reference> ParseReference(absl::string_view text, std::string* why) {
  Reference ref;
  if (absl::StrContains(text, ':')) {
    absl::StatusOr<digest::Digest> d = digest::Digest::Parse(text);
    if (!d.ok()) {
      *why = std::string(d.status().message());
      return absl::InvalidArgumentError("digest");
    }
    ref.digest = *d;
    return ref;
  }
  absl::Status st = storage::ValidateTag(text);
  if (!st.ok()) {
    *why = std::string(st.message());
    return absl::InvalidArgumentError("tag");
  }
  ref.tag = std::string(text);
  return ref;
}

// Whether any Accept header of the request admits `media_type` (RFC 9110 section 12.5.1,
// without q-value ranking: the registry has one representation, so it only matters whether it
// is acceptable). No Accept header accepts everything. Docker clients send several headers.
bool Accepts(const http::Request& r, absl::string_view media_type) {
  bool any_header = false;
  for (const auto& [key, value] : r.headers) {
    if (!absl::EqualsIgnoreCase(key, "Accept")) continue;
    any_header = true;
    for (absl::string_view item : absl::StrSplit(value, ',')) {
      std::vector<absl::string_view> parts = absl::StrSplit(item, ';');
      const absl::string_view type = absl::StripAsciiWhitespace(parts[0]);
      bool refused = false;  // "q=0" means "not acceptable"
      for (size_t i = 1; i < parts.size(); ++i) {
        absl::string_view p = absl::StripAsciiWhitespace(parts[i]);
        if (absl::EqualsIgnoreCase(p, "q=0") || absl::EqualsIgnoreCase(p, "q=0.0") ||
            absl::EqualsIgnoreCase(p, "q=0.00") || absl::EqualsIgnoreCase(p, "q=0.000")) {
          refused = true;
        }
      }
      if (refused || type.empty()) continue;
      if (type == "*/*" || absl::EqualsIgnoreCase(type, media_type)) return true;
      const size_t slash = media_type.find('/');
      if (absl::EndsWith(type, "/*") &&
          absl::EqualsIgnoreCase(type.substr(0, type.size() - 1),
                                 media_type.substr(0, slash + 1))) {
        return true;
      }
    }
  }
  return !any_header;
}

// Buffers a manifest PUT body (at most max_manifest_bytes) and then stores it.
class ManifestSink : public http::BodySink {
 public:
  ManifestSink(uint64_t max_bytes, std::function<http::Response(std::string)> done)
      : max_bytes_(max_bytes), done_(std::move(done)) {}
  std::optional<uint64_t> MaxBytes() const override { return max_bytes_; }
  absl::Status Write(absl::string_view chunk) override {
    body_.append(chunk.data(), chunk.size());
    return absl::OkStatus();
  }
  http::Response Finish() override { return done_(std::move(body_)); }
  http::Response ErrorResponse(const absl::Status& why) override {
    if (absl::IsResourceExhausted(why)) {
      return Error(413, ErrorCode::kManifestInvalid,
                   absl::StrCat("manifest larger than the limit of ", max_bytes_, " bytes"));
    }
    return Error(400, ErrorCode::kManifestInvalid, why.message());
  }

 private:
  const uint64_t max_bytes_;
  std::function<http::Response(std::string)> done_;
  std::string body_;
};

}  // namespace

http::HandlerResult Api::GetManifest(http::Request& r) {
  if (auto bad = CheckName(r)) return *std::move(bad);
  const std::string& name = r.Param("name");
  const std::string& text = r.Param("reference");
  std::string why;
  absl::StatusOr<Reference> ref = ParseReference(text, &why);
  if (!ref.ok()) {
    if (ref.status().message() == "digest") {
      return Error(400, ErrorCode::kDigestInvalid, why, {{"digest", text}});
    }
    // No manifest can be tagged with a malformed tag.
    return Error(404, ErrorCode::kManifestUnknown, why, {{"tag", text}});
  }
  absl::StatusOr<storage::RepositoryStore::ManifestInfo> info =
      storage_.repositories().Resolve(name, text);
  if (absl::IsNotFound(info.status())) {
    if (!storage_.repositories().Exists(name)) {
      return Error(404, ErrorCode::kNameUnknown, {}, {{"name", name}});
    }
    return Error(404, ErrorCode::kManifestUnknown, {}, {{"reference", text}});
  }
  if (!info.ok()) return internal::Internal("resolve manifest", info.status());
  // By digest the client asked for exactly these bytes; by tag it may only take some types.
  if (!ref->digest && !Accepts(r, info->media_type)) {
    return Error(404, ErrorCode::kManifestUnknown,
                 absl::StrCat("the manifest is a ", info->media_type,
                              ", which the Accept header does not allow"),
                 {{"reference", text}});
  }
  http::Response resp;
  resp.status = 200;
  resp.SetHeader("Content-Type", info->media_type);
  resp.SetHeader("Docker-Content-Digest", info->digest.ToString());
  resp.SetHeader("ETag", absl::StrCat("\"", info->digest.ToString(), "\""));
  if (r.method == "HEAD") {
    resp.content_length = info->size;
    resp.source = http::StringSource("");
    return V2(std::move(resp));
  }
  absl::StatusOr<std::string> content = storage_.blobs().Read(info->digest, kMaxManifestRead);
  if (absl::IsNotFound(content.status())) {
    return Error(404, ErrorCode::kManifestUnknown, {}, {{"reference", text}});
  }
  if (!content.ok()) return internal::Internal("read manifest", content.status());
  resp.body = *std::move(content);
  return V2(std::move(resp));
}

http::HandlerResult Api::PutManifest(http::Request& r) {
  if (auto bad = CheckName(r)) return *std::move(bad);
  const std::string name = r.Param("name");
  const std::string text = r.Param("reference");
  std::string why;
  absl::StatusOr<Reference> ref = ParseReference(text, &why);
  if (!ref.ok()) {
    if (ref.status().message() == "digest") {
      return Error(400, ErrorCode::kDigestInvalid, why, {{"digest", text}});
    }
    return Error(400, ErrorCode::kManifestInvalid, why, {{"tag", text}});
  }
  std::vector<std::string> tags;
  if (!ref->tag.empty()) tags.push_back(ref->tag);
  // end-7b (spec after v1.1): more tags as ?tag= parameters.
  for (auto& [key, value] : r.QueryParams()) {
    if (key != "tag") continue;
    absl::Status st = storage::ValidateTag(value);
    if (!st.ok()) return Error(400, ErrorCode::kManifestInvalid, st.message(), {{"tag", value}});
    if (std::find(tags.begin(), tags.end(), value) == tags.end()) tags.push_back(value);
  }
  const std::string content_type(r.Header("Content-Type").value_or(""));
  return std::make_unique<ManifestSink>(
      options_.max_manifest_bytes,
      [this, name, text, ref = *ref, tags, content_type](std::string body) -> http::Response {
        // The digest of exactly the bytes sent (the registry stores them unchanged), with the
        // reference's algorithm when it is a digest.
        digest::Hasher hasher = ref.digest ? digest::Hasher::ForDigest(*ref.digest)
                                           : digest::Hasher(digest::Sha256Hasher());
        hasher.Update(body);
        absl::StatusOr<digest::Digest> d = hasher.Finish();
        if (!d.ok()) return internal::Internal("digest manifest", d.status());
        if (ref.digest && *ref.digest != *d) {
          return Error(400, ErrorCode::kDigestInvalid,
                       absl::StrCat("the manifest's digest is ", d->ToString()),
                       {{"digest", ref.digest->ToString()}});
        }
        absl::StatusOr<manifest::Manifest> m = manifest::Parse(content_type, body);
        if (!m.ok()) return Error(400, ErrorCode::kManifestInvalid, m.status().message());
        // Everything referenced must be in this repository (spec: MANIFEST_BLOB_UNKNOWN). The
        // touch marks each blob as needed, so a concurrent collection keeps it.
        for (const digest::Digest& blob : m->ReferencedBlobs()) {
          if (!storage_.repositories().HasBlob(name, blob) || !storage_.blobs().Touch(blob).ok()) {
            return Error(400, ErrorCode::kManifestBlobUnknown, {}, {{"digest", blob.ToString()}});
          }
        }
        for (const digest::Digest& child : m->ReferencedManifests()) {
          if (!storage_.repositories().HasManifest(name, child) ||
              !storage_.blobs().Touch(child).ok()) {
            return Error(400, ErrorCode::kManifestBlobUnknown, "index references an unknown manifest",
                         {{"digest", child.ToString()}});
          }
        }
        // The subject need not exist (spec: referrers may be pushed first).
        std::optional<digest::Digest> subject;
        if (m->subject) subject = m->subject->digest;
        absl::Status st =
            storage_.repositories().PutManifest(name, *d, m->media_type, body, subject, tags);
        if (!st.ok()) return internal::Internal("store manifest", st);
        http::Response resp = Empty(201);
        resp.SetHeader("Location", absl::StrCat("/v2/", name, "/manifests/", d->ToString()));
        resp.SetHeader("Docker-Content-Digest", d->ToString());
        if (subject) resp.SetHeader("OCI-Subject", subject->ToString());
        if (ref.digest && !tags.empty()) resp.SetHeader("OCI-Tag", absl::StrJoin(tags, ", "));
        return resp;
      });
}

http::HandlerResult Api::DeleteManifest(http::Request& r) {
  if (auto bad = CheckName(r)) return *std::move(bad);
  const std::string& name = r.Param("name");
  const std::string& text = r.Param("reference");
  std::string why;
  absl::StatusOr<Reference> ref = ParseReference(text, &why);
  if (!ref.ok()) {
    if (ref.status().message() == "digest") {
      return Error(400, ErrorCode::kDigestInvalid, why, {{"digest", text}});
    }
    return Error(404, ErrorCode::kManifestUnknown, why, {{"tag", text}});
  }
  absl::Status st = ref->digest ? storage_.repositories().DeleteManifest(name, *ref->digest)
                                : storage_.repositories().DeleteTag(name, ref->tag);
  if (absl::IsNotFound(st)) {
    if (!storage_.repositories().Exists(name)) {
      return Error(404, ErrorCode::kNameUnknown, {}, {{"name", name}});
    }
    return Error(404, ErrorCode::kManifestUnknown, {}, {{"reference", text}});
  }
  if (!st.ok()) return internal::Internal("delete manifest", st);
  return Empty(202);
}

}  // namespace berth::registry::api
