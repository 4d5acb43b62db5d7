// Reads an OCI bundle's config.json (runtime spec 1.1, the parts Linux uses) into a Spec,
// validating as it goes, in one pass over one parsed document. Every rejection is
// InvalidArgument with the JSON location of the bad value first:
//   process.user.uid: want unsigned integer, got string
//   process.capabilities.bounding[3]: unknown capability "CAP_FOO"
//   linux.namespaces[2].type: unknown namespace type "foo"
//   mounts[4].destination: "/../etc" escapes the container root
//   invalid JSON: parse error at line 3, column 5: syntax error while parsing ...
//
// What is checked here (beyond JSON types and integer ranges; see json_fields.h for those):
//   - ociVersion is required and must be 1.x (SemVer "1.<minor>...").
//   - root is required; root.path is joined to the bundle when relative and must then be an
//     existing directory (NotFound-style problems are still InvalidArgument: the bundle is input).
//   - process (optional, as in the spec): args non-empty, cwd absolute, env entries "KEY=value",
//     capability names known (capabilities(7)) and known to the running kernel, rlimit types
//     known and not repeated with soft <= hard, oomScoreAdj in [-1000, 1000], scheduler policy
//     and flags and ioPriority class known.
//   - mounts: destination required, absolute, not escaping; options decoded (mount_options.h);
//     a relative bind source is joined to the bundle; per-mount uidMappings and gidMappings
//     come together.
//   - hooks: path absolute, timeout > 0.
//   - linux: namespace types known and not repeated, namespace paths absolute; device types
//     c/b/u/p with major/minor for c/b/u; cgroup device rules type a/b/c and access within
//     "rwm"; seccomp action, operator and flag names from the spec, errnoRet only with
//     SCMP_ACT_ERRNO/SCMP_ACT_TRACE, argument index < 6; rootfsPropagation one of the
//     propagation names; maskedPaths/readonlyPaths absolute; personality domain LINUX/LINUX32
//     with no flags; timeOffsets clocks monotonic/boottime with nanosecs < 1e9.
//   - consistency, as runc checks it: uid/gid mappings need a user namespace, timeOffsets a
//     time namespace, hostname/domainname a uts namespace.
// Path rules ("escapes") are in paths.h. Strings with NUL bytes are rejected everywhere.
// Unknown members are ignored; null counts as absent (json_fields.h).
//
// Fields berth's hosts cannot honour (apparmorProfile, selinuxLabel, mountLabel, intelRdt) are
// parsed and stored; refusing them is the job of the code that would apply them.
//
// Thread-safe; no global state except the cached /proc/sys/kernel/cap_last_cap.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runc/spec/spec.h"

namespace berth::runc::spec {

struct ParseOptions {
  // The highest capability number the kernel supports. -1: ask the kernel
  // (/proc/sys/kernel/cap_last_cap), and only when a config names a capability above
  // kAlwaysKnownLastCap (names.h). Tests set it.
  int cap_last_cap = -1;
};

// Parses config.json text. `bundle_dir` is the bundle (relative paths in the config are
// relative to it; a relative bundle_dir is taken relative to the current directory, and ""
// means the current directory). InvalidArgument for any invalid config; Internal only if the
// current directory cannot be found.
absl::StatusOr<Spec> ParseSpec(absl::string_view json, const std::string& bundle_dir);
absl::StatusOr<Spec> ParseSpec(absl::string_view json, const std::string& bundle_dir,
                               const ParseOptions& options);

// Reads and parses <bundle_dir>/config.json. Errors from reading keep their code (NotFound when
// the file is missing) and name the file; parse errors are prefixed "config.json: ".
absl::StatusOr<Spec> LoadSpec(const std::string& bundle_dir);

// Parses a process object on its own: what `berth-runc exec --process FILE` reads. Same rules
// as config.json's "process"; error paths are relative to the object ("args: required").
absl::StatusOr<Process> ParseProcess(absl::string_view json);
absl::StatusOr<Process> ParseProcess(absl::string_view json, const ParseOptions& options);

// Parses a linux.resources object on its own: what `berth-runc update --resources FILE` reads.
// Error paths are relative to the object ("memory.limit: want integer, got string").
absl::StatusOr<Resources> ParseResources(absl::string_view json);

}  // namespace berth::runc::spec
