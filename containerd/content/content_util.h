// Whole-blob helpers over any ContentStore, for the small blobs (manifests, indexes, configs)
// that callers hold in memory anyway. Large blobs (layers) go through Writer and Read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/digest/digest.h"
#include "containerd/content/content_store.h"

namespace berth::containerd::content {

// Writes `data` as one blob through the ingest `ref`, starting it over if it exists, and
// returns its digest. `expected` (nullopt: sha256 of the data) is verified at commit. A blob
// that is already stored counts as success (like containerd's content.WriteBlob). Errors are
// those of OpenWriter, Write and Commit: FailedPrecondition for a digest mismatch, Unavailable
// if the ref is held.
absl::StatusOr<digest::Digest> WriteBlob(ContentStore& store, absl::string_view ref,
                                         absl::string_view data,
                                         const std::optional<digest::Digest>& expected);

// The whole blob `digest`, if it is at most `max_size` bytes: a cap, so a hostile manifest
// descriptor cannot make the caller allocate gigabytes. FailedPrecondition if it is bigger,
// NotFound if absent.
absl::StatusOr<std::string> ReadBlob(ContentStore& store, const digest::Digest& digest,
                                     int64_t max_size);

}  // namespace berth::containerd::content
