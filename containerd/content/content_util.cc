#include "containerd/content/content_util.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace berth::containerd::content {

absl::StatusOr<digest::Digest> WriteBlob(ContentStore& store, absl::string_view ref,
                                         absl::string_view data,
                                         const std::optional<digest::Digest>& expected) {
  const int64_t size = static_cast<int64_t>(data.size());
  absl::StatusOr<std::unique_ptr<Writer>> writer = store.OpenWriter(ref, size, expected);
  if (absl::IsAlreadyExists(writer.status())) return *expected;  // only with `expected` set
  BERTH_RETURN_IF_ERROR(writer.status());
  // Offset 0 starts over whatever an earlier, broken-off attempt left in the ingest.
  BERTH_RETURN_IF_ERROR((*writer)->Write(0, data));
  BERTH_ASSIGN_OR_RETURN(const digest::Digest actual, (*writer)->Digest());
  absl::StatusOr<BlobInfo> info = (*writer)->Commit(size, expected);
  if (absl::IsAlreadyExists(info.status())) return actual;
  BERTH_RETURN_IF_ERROR(info.status());
  return info->digest;
}

absl::StatusOr<std::string> ReadBlob(ContentStore& store, const digest::Digest& digest,
                                     int64_t max_size) {
  BERTH_ASSIGN_OR_RETURN(const BlobInfo info, store.Info(digest));
  if (info.size > max_size) {
    return absl::FailedPreconditionError(absl::StrCat("content ", digest.ToString(), " is ",
                                                      info.size, " bytes, more than the ", max_size,
                                                      " allowed"));
  }
  std::string out;
  out.reserve(static_cast<size_t>(info.size));
  BERTH_RETURN_IF_ERROR(store.Read(digest, 0, 0, [&](int64_t, absl::string_view chunk) {
    // Re-checked here: the size read is the one that counts.
    if (static_cast<int64_t>(out.size() + chunk.size()) > max_size) {
      return absl::FailedPreconditionError(
          absl::StrCat("content ", digest.ToString(), " is more than ", max_size, " bytes"));
    }
    out.append(chunk.data(), chunk.size());
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace berth::containerd::content
