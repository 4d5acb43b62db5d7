// Lexical path rules for config.json (no file system access, no symlinks followed).
//
// The escape rule (issue 3: "a bundle path that escapes fails"):
//   - Container paths (mounts[].destination, linux.devices[].path, linux.maskedPaths,
//     linux.readonlyPaths) MUST be absolute (runtime spec 1.1), and may not use ".." to climb
//     above the container's "/": "/../etc" or "/a/../../etc" is rejected rather than clamped to
//     "/etc" the way runc's securejoin does, because such a config is either a mistake or an
//     attack. They are stored cleaned ("//a/./b/" -> "/a/b").
//   - Paths the spec defines relative to the bundle (a relative root.path, a relative bind-mount
//     source) may not climb out of the bundle: "../rootfs" is rejected. Absolute host paths are
//     the caller's explicit choice and are taken as written (as runc does).
// Symlinks inside the rootfs can still point anywhere: code that resolves a container path on
// the host must do so inside the root (openat2 RESOLVE_IN_ROOT or equivalent). This check only
// stops what can be seen in config.json.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace berth::runc::spec {

enum class PathCheck { kOk, kNotAbsolute, kEscapes };

// Cleans an absolute container path lexically into *out: collapses repeated '/', drops "."
// components and a trailing '/', and applies ".." to the component before it. kNotAbsolute
// if `path` does not start with '/', kEscapes if a ".." would climb above "/".
PathCheck CleanContainerPath(absl::string_view path, std::string* out);

// Resolves `path` against `bundle_dir` (absolute, as given to the parser) into *out. An
// absolute `path` is copied as written. A relative one is cleaned lexically and joined to the
// bundle; kEscapes if it climbs above the bundle ("" and "." are the bundle itself).
PathCheck ResolveBundlePath(absl::string_view bundle_dir, absl::string_view path, std::string* out);

}  // namespace berth::runc::spec
