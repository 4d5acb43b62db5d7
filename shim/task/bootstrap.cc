#include "shim/task/bootstrap.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/proc/proc.h"
#include "common/status/status_macros.h"
#include "shim/task/sha256.h"

namespace berth::shim::task {

absl::StatusOr<std::string> ShimSocketPath(const std::string& state_dir, const std::string& ns,
                                           const std::string& id) {
  if (state_dir.empty() || state_dir[0] != '/') {
    return absl::InvalidArgumentError("state dir must be absolute: \"" + state_dir + "\"");
  }
  if (ns.empty() || id.empty()) return absl::InvalidArgumentError("namespace and id are required");
  const std::string name = Sha256Hex(absl::StrCat(ns, "/", id)).substr(0, 32);
  std::string path = absl::StrCat(state_dir, "/s/", name, ".sock");
  if (path.size() > kMaxSocketPathLength) {
    return absl::InvalidArgumentError(absl::StrCat("socket path ", path, " is longer than ",
                                                   kMaxSocketPathLength,
                                                   " bytes: use a shorter state dir"));
  }
  return path;
}

std::string BootstrapParamsToJson(const BootstrapParams& params) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(params, &out, options);
  return out;
}

absl::StatusOr<BootstrapParams> BootstrapParamsFromJson(const std::string& text) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  BootstrapParams p;
  const auto s = google::protobuf::util::JsonStringToMessage(text, &p, options);
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("parse bootstrap params: ", s.ToString()));
  }
  return p;
}

std::string BootstrapFilePath(const std::string& bundle) { return bundle + "/bootstrap.json"; }

absl::Status WriteBootstrapFile(const std::string& bundle, const BootstrapParams& params) {
  // Not durable (see bootstrap.h): the shim it names does not outlive a power cut either.
  fs::AtomicWriteOptions options;
  options.durable = false;
  return fs::WriteFileAtomically(BootstrapFilePath(bundle), BootstrapParamsToJson(params) + "\n",
                                 0644, options);
}

absl::StatusOr<BootstrapParams> ReadBootstrapFile(const std::string& bundle) {
  const std::string path = BootstrapFilePath(bundle);
  BERTH_ASSIGN_OR_RETURN(std::string text, fs::ReadFile(path));
  absl::StatusOr<BootstrapParams> p = BootstrapParamsFromJson(text);
  if (!p.ok()) return Annotate(p.status(), path);
  return p;
}

absl::StatusOr<bool> ShimIsAlive(const BootstrapParams& params) {
  if (params.shim_pid() == 0) return false;
  proc::ProcessIdentity who{static_cast<pid_t>(params.shim_pid()), params.shim_start_time()};
  return who.IsAlive();
}

}  // namespace berth::shim::task
