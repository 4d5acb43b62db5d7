// Internal to the parser: the pieces parser.cc and parser_linux.cc share.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "runc/spec/json_fields.h"
#include "runc/spec/parser.h"
#include "runc/spec/spec.h"

namespace berth::runc::spec::internal {

// Cleans the container path in *value in place (paths.h); errors name `path`:
// "<path>: "x" is not an absolute path" / "<path>: "/../x" escapes the container root".
absl::Status CleanContainerPathField(const Path& path, std::string* value);

// "<path>: "x" is not an absolute path" unless *value starts with '/'.
absl::Status CheckAbsolute(const Path& path, const std::string& value);

// An array of {containerID, hostID, size} (linux.uidMappings, mounts[].uidMappings, ...).
absl::Status ParseIdMappings(Json& v, const Path& path, std::vector<IdMapping>* out);

// `v` is config.json's "linux" object (not yet type-checked).
absl::Status ParseLinux(Json& v, const Path& path, Linux* out);

// `v` is a linux.resources object (not yet type-checked).
absl::Status ParseResourcesObject(Json& v, const Path& path, Resources* out);

// Parses JSON text; InvalidArgument "invalid JSON: parse error at line L, column C: ..." when it
// is not JSON.
absl::Status ParseJsonText(absl::string_view text, Json* out);

// Quotes a value for an error message, the JSON way ("CAP_FOO" -> "\"CAP_FOO\"").
std::string Quote(absl::string_view s);

}  // namespace berth::runc::spec::internal
