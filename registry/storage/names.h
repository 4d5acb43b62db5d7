// Validation of the names a registry client puts in a URL: repository names and tags, with the
// grammars of the OCI distribution spec ("Pulling manifests"). Storage paths are built from
// names that passed these checks, so a name can never step outside its repository directory.
#pragma once

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace berth::registry::storage {

// The spec says a name must be shorter than 256 characters (v1.0 "Overview").
inline constexpr size_t kMaxRepositoryNameLength = 255;
inline constexpr size_t kMaxTagLength = 128;

// OK when `name` matches
//   [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
// and is at most kMaxRepositoryNameLength long; InvalidArgument saying what is wrong otherwise.
absl::Status ValidateRepositoryName(absl::string_view name);

// OK when `tag` matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}; InvalidArgument otherwise.
absl::Status ValidateTag(absl::string_view tag);

}  // namespace berth::registry::storage
