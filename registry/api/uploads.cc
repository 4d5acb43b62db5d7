// Blob uploads (distribution spec "Pushing blobs"): POST to start (or push monolithically, or
// mount), PATCH chunks, PUT to finish, GET status, DELETE to cancel. Bodies stream straight
// into the session's data file through a BodySink; nothing is buffered whole.
#include "absl/strings/str_cat.h"
#include "registry/api/api.h"
#include "registry/api/range.h"
#include "registry/storage/names.h"

namespace berth::registry::api {

using internal::CheckName;
using internal::Empty;
using internal::Error;
using internal::V2;

namespace {

http::Response UploadUnknown(absl::string_view id) {
  return Error(404, ErrorCode::kBlobUploadUnknown, {}, {{"uuid", std::string(id)}});
}

http::Response DigestInvalid(absl::string_view text, absl::string_view why) {
  return Error(400, ErrorCode::kDigestInvalid, why, {{"digest", std::string(text)}});
}

// 202 with where the session stands (end-4a, end-5, end-13 use the same headers).
http::Response Progress(int status, absl::string_view name, absl::string_view id,
                        uint64_t offset) {
  http::Response r = Empty(status);
  r.SetHeader("Location", internal::UploadLocation(name, id));
  r.SetHeader("Range", internal::UploadRange(offset));
  r.SetHeader("Docker-Upload-UUID", id);
  return r;
}

http::Response Created(absl::string_view name, const digest::Digest& d) {
  http::Response r = Empty(201);
  r.SetHeader("Location", internal::BlobLocation(name, d));
  r.SetHeader("Docker-Content-Digest", d.ToString());
  return r;
}

// 416 for a chunk that does not start where the session ends (spec: "If a chunk is uploaded
// out of order, the registry MUST respond with a 416"), with the state to resume from.
http::Response OutOfOrder(absl::string_view name, absl::string_view id, uint64_t offset,
                          absl::string_view why) {
  http::Response r = Error(416, ErrorCode::kBlobUploadInvalid, why,
                           {{"uuid", std::string(id)}});
  r.SetHeader("Location", internal::UploadLocation(name, id));
  r.SetHeader("Range", internal::UploadRange(offset));
  r.SetHeader("Docker-Upload-UUID", id);
  return r;
}

// Streams a request body into an upload session, then answers for the endpoint:
//   kChunk     PATCH: 202 with the new Range
//   kFinish    PUT ?digest=: commit, 201 (400 DIGEST_INVALID and the session is gone on a
//              mismatch)
//   kMonolith  POST ?digest=: like kFinish, but the session was made for this request alone,
//              so it is cancelled if the body does not arrive whole
class UploadSink : public http::BodySink {
 public:
  enum class Mode { kChunk, kFinish, kMonolith };

  UploadSink(Mode mode, storage::UploadSession session, std::optional<digest::Digest> expected,
             uint64_t max_blob_bytes)
      : mode_(mode), session_(std::move(session)), expected_(std::move(expected)),
        max_blob_bytes_(max_blob_bytes) {}

  std::optional<uint64_t> MaxBytes() const override {
    return max_blob_bytes_ > session_.offset() ? max_blob_bytes_ - session_.offset() : 0;
  }

  absl::Status Write(absl::string_view chunk) override { return session_.Append(chunk); }

  http::Response Finish() override {
    const std::string name = session_.repository();
    if (mode_ == Mode::kChunk) {
      return Progress(202, name, session_.id(), session_.offset());
    }
    absl::Status st = session_.Commit(*expected_);
    if (absl::IsInvalidArgument(st)) {
      return Error(400, ErrorCode::kDigestInvalid, st.message(),
                   {{"digest", expected_->ToString()}});
    }
    if (!st.ok()) return internal::Internal("commit upload", st);
    return Created(name, *expected_);
  }

  void Abort(const absl::Status& why) override {
    if (mode_ == Mode::kMonolith) session_.Cancel().IgnoreError();
  }

  http::Response ErrorResponse(const absl::Status& why) override {
    if (absl::IsResourceExhausted(why)) {
      return Error(413, ErrorCode::kSizeInvalid, why.message());
    }
    if (absl::IsInvalidArgument(why)) {
      return Error(400, ErrorCode::kBlobUploadInvalid, why.message());
    }
    return internal::Internal("write upload", why);
  }

 private:
  const Mode mode_;
  storage::UploadSession session_;
  const std::optional<digest::Digest> expected_;
  const uint64_t max_blob_bytes_;
};

// Checks an optional Content-Range against the session. nullopt when the chunk may go on.
std::optional<http::Response> CheckChunk(const http::Request& r,
                                         const storage::UploadSession& session) {
  auto header = r.Header("Content-Range");
  if (!header) return std::nullopt;
  std::optional<ByteRange> range = ParseContentRange(*header);
  if (!range) {
    return Error(400, ErrorCode::kBlobUploadInvalid,
                 absl::StrCat("malformed Content-Range \"", *header, "\""));
  }
  if (range->first != session.offset()) {
    return OutOfOrder(session.repository(), session.id(), session.offset(),
                      absl::StrCat("chunk starts at ", range->first, " but the upload has ",
                                   session.offset(), " bytes"));
  }
  if (r.content_length && *r.content_length != range->length()) {
    return OutOfOrder(session.repository(), session.id(), session.offset(),
                      absl::StrCat("Content-Range covers ", range->length(),
                                   " bytes but Content-Length is ", *r.content_length));
  }
  return std::nullopt;
}

}  // namespace

http::HandlerResult Api::StartUpload(http::Request& r) {
  if (auto bad = CheckName(r)) return *std::move(bad);
  const std::string& name = r.Param("name");
  const std::optional<std::string> mount = internal::QueryParam(r, "mount");
  const std::optional<std::string> digest_text = internal::QueryParam(r, "digest");

  if (mount) {
    absl::StatusOr<digest::Digest> d = digest::Digest::Parse(*mount);
    if (!d.ok()) return DigestInvalid(*mount, d.status().message());
    const std::optional<std::string> from = internal::QueryParam(r, "from");
    // end-11: a blob the source repository has is linked here without a transfer. Otherwise
    // (no such blob, no or bad `from`) fall through to a plain upload session (202), as the
    // spec asks of a registry that cannot mount.
    const bool here = storage_.repositories().HasBlob(name, *d);
    const bool there = from && storage::ValidateRepositoryName(*from).ok() &&
                       storage_.repositories().HasBlob(*from, *d);
    if (here || there) {
      absl::Status st = storage_.repositories().LinkBlob(name, *d);
      if (st.ok()) return Created(name, *d);
      if (!absl::IsNotFound(st)) return internal::Internal("mount blob", st);
      // Collected meanwhile: upload it instead.
    }
  } else if (digest_text) {
    // end-4b: the whole blob in this request.
    absl::StatusOr<digest::Digest> d = digest::Digest::Parse(*digest_text);
    if (!d.ok()) return DigestInvalid(*digest_text, d.status().message());
    absl::StatusOr<storage::UploadSession> session = storage_.uploads().Create(name);
    if (!session.ok()) return internal::Internal("start upload", session.status());
    return std::make_unique<UploadSink>(UploadSink::Mode::kMonolith, *std::move(session), *d,
                                        options_.max_blob_bytes);
  }
  absl::StatusOr<storage::UploadSession> session = storage_.uploads().Create(name);
  if (!session.ok()) return internal::Internal("start upload", session.status());
  return Progress(202, name, session->id(), 0);
}

http::HandlerResult Api::PatchUpload(http::Request& r) {
  if (auto bad = CheckName(r)) return *std::move(bad);
  const std::string& name = r.Param("name");
  const std::string& id = r.Param("uuid");
  absl::StatusOr<storage::UploadSession> session = storage_.uploads().Acquire(name, id);
  if (absl::IsNotFound(session.status())) return UploadUnknown(id);
  if (absl::IsFailedPrecondition(session.status())) {
    // Another request is writing this session: its end is not known yet.
    absl::StatusOr<uint64_t> offset = storage_.uploads().Offset(name, id);
    return OutOfOrder(name, id, offset.ok() ? *offset : 0, session.status().message());
  }
  if (!session.ok()) return internal::Internal("open upload", session.status());
  if (auto bad = CheckChunk(r, *session)) return *std::move(bad);
  return std::make_unique<UploadSink>(UploadSink::Mode::kChunk, *std::move(session),
                                      std::nullopt, options_.max_blob_bytes);
}

http::HandlerResult Api::FinishUpload(http::Request& r) {
  if (auto bad = CheckName(r)) return *std::move(bad);
  const std::string& name = r.Param("name");
  const std::string& id = r.Param("uuid");
  const std::optional<std::string> digest_text = internal::QueryParam(r, "digest");
  if (!digest_text) {
    return Error(400, ErrorCode::kDigestInvalid, "the digest query parameter is required");
  }
  absl::StatusOr<digest::Digest> d = digest::Digest::Parse(*digest_text);
  if (!d.ok()) return DigestInvalid(*digest_text, d.status().message());
  absl::StatusOr<storage::UploadSession> session = storage_.uploads().Acquire(name, id);
  if (absl::IsNotFound(session.status())) return UploadUnknown(id);
  if (absl::IsFailedPrecondition(session.status())) {
    absl::StatusOr<uint64_t> offset = storage_.uploads().Offset(name, id);
    return OutOfOrder(name, id, offset.ok() ? *offset : 0, session.status().message());
  }
  if (!session.ok()) return internal::Internal("open upload", session.status());
  if (auto bad = CheckChunk(r, *session)) return *std::move(bad);
  return std::make_unique<UploadSink>(UploadSink::Mode::kFinish, *std::move(session), *d,
                                      options_.max_blob_bytes);
}

http::HandlerResult Api::UploadStatus(http::Request& r) {
  if (auto bad = CheckName(r)) return *std::move(bad);
  const std::string& name = r.Param("name");
  const std::string& id = r.Param("uuid");
  absl::StatusOr<uint64_t> offset = storage_.uploads().Offset(name, id);
  if (absl::IsNotFound(offset.status())) return UploadUnknown(id);
  if (!offset.ok()) return internal::Internal("upload status", offset.status());
  return Progress(204, name, id, *offset);
}

http::HandlerResult Api::CancelUpload(http::Request& r) {
  if (auto bad = CheckName(r)) return *std::move(bad);
  const std::string& name = r.Param("name");
  const std::string& id = r.Param("uuid");
  absl::StatusOr<storage::UploadSession> session = storage_.uploads().Acquire(name, id);
  if (absl::IsNotFound(session.status())) return UploadUnknown(id);
  if (absl::IsFailedPrecondition(session.status())) {
    return Error(409, ErrorCode::kBlobUploadInvalid, session.status().message(),
                 {{"uuid", id}});
  }
  if (!session.ok()) return internal::Internal("open upload", session.status());
  absl::Status st = session->Cancel();
  if (!st.ok()) return internal::Internal("cancel upload", st);
  return Empty(204);
}

}  // namespace berth::registry::api
