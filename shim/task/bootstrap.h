// The files and names of the `berth-shim start`/`delete` handshake (see
// proto/berth/shim/task/v1/bootstrap.proto): where a shim's socket lives, and
// `<bundle>/bootstrap.json`, which names the running shim so that a retried start, a restarted
// berth-containerd and `berth-shim delete` all find it.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "berth/shim/task/v1/bootstrap.pb.h"

namespace berth::shim::task {

using ::berth::shim::task::v1::BootstrapParams;

// The handshake and API version this shim speaks.
inline constexpr uint32_t kBootstrapVersion = 1;

// sun_path holds 108 bytes including the terminating NUL.
inline constexpr size_t kMaxSocketPathLength = 107;

// `<state_dir>/s/<first 32 hex digits of SHA-256("<namespace>/<id>")>.sock`. InvalidArgument
// when state_dir is not absolute, namespace or id is empty, or the path would not fit sun_path
// (state_dir longer than 67 bytes).
absl::StatusOr<std::string> ShimSocketPath(const std::string& state_dir, const std::string& ns,
                                           const std::string& id);

// Proto3 JSON as the handshake prints it (lowerCamelCase, every field, one line, no "\n").
std::string BootstrapParamsToJson(const BootstrapParams& params);
// Parses it, ignoring unknown fields. InvalidArgument when it does not parse.
absl::StatusOr<BootstrapParams> BootstrapParamsFromJson(const std::string& text);

// `<bundle>/bootstrap.json`.
std::string BootstrapFilePath(const std::string& bundle);

// Writes params atomically to `<bundle>/bootstrap.json` (mode 0644): a crash of any process
// leaves the old file or the new one, never a torn one. Not durably (no fsync; bootstrap.proto
// step 4 still says "fsync"): the file names a live shim process, which a power cut ends too,
// and a file lost with it reads as "no bootstrap.json", for which berth-containerd runs
// `berth-shim delete`, the right thing after a reboot. The fsyncs were ~1 ms of every task
// create. Errors as fs::WriteFileAtomically.
absl::Status WriteBootstrapFile(const std::string& bundle, const BootstrapParams& params);

// Reads `<bundle>/bootstrap.json`. NotFound when absent; InvalidArgument when it does not parse.
absl::StatusOr<BootstrapParams> ReadBootstrapFile(const std::string& bundle);

// Whether the shim that `params` names (pid + start time) still runs (a zombie does not). An
// error only when that cannot be told (e.g. /proc unreadable), never for "gone".
absl::StatusOr<bool> ShimIsAlive(const BootstrapParams& params);

}  // namespace berth::shim::task
