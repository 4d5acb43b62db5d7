#include "shim/task/upgrade_state.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"

namespace berth::shim::task {

using nlohmann::json;

std::string UpgradeStateToJson(const UpgradeState& s) {
  json j;
  j["version"] = kUpgradeStateVersion;
  j["phase"] = s.phase;
  j["pid"] = s.pid;
  j["start_time"] = s.start_time;
  if (s.started_at) j["started_at_unix_nanos"] = absl::ToUnixNanos(*s.started_at);
  j["exited"] = s.exited;
  j["stdin_path"] = s.stdin_path;
  j["stdout_path"] = s.stdout_path;
  j["stderr_path"] = s.stderr_path;
  j["stdin_mode"] = static_cast<int>(s.stdin_mode);
  j["log_path"] = s.log_path;
  j["log_max_size_bytes"] = s.log_max_size_bytes;
  j["log_max_files"] = s.log_max_files;
  j["rootfs_mounted"] = s.rootfs_mounted;
  j["stdout_fd"] = s.stdout_fd;
  j["stderr_fd"] = s.stderr_fd;
  j["stdin_fd"] = s.stdin_fd;
  return j.dump();
}

absl::StatusOr<UpgradeState> UpgradeStateFromJson(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return absl::InvalidArgumentError("upgrade state is not a JSON object");
  try {
    if (j.at("version").get<int>() != kUpgradeStateVersion) {
      return absl::InvalidArgumentError(
          absl::StrCat("upgrade state version ", j.at("version").dump(), " is not ",
                       kUpgradeStateVersion));
    }
    UpgradeState s;
    s.phase = j.at("phase").get<std::string>();
    s.pid = j.at("pid").get<pid_t>();
    s.start_time = j.at("start_time").get<uint64_t>();
    if (j.contains("started_at_unix_nanos")) {
      s.started_at = absl::FromUnixNanos(j.at("started_at_unix_nanos").get<int64_t>());
    }
    s.exited = j.at("exited").get<bool>();
    s.stdin_path = j.at("stdin_path").get<std::string>();
    s.stdout_path = j.at("stdout_path").get<std::string>();
    s.stderr_path = j.at("stderr_path").get<std::string>();
    const int mode = j.at("stdin_mode").get<int>();
    if (!::berth::types::v1::StdinMode_IsValid(mode)) {
      return absl::InvalidArgumentError("upgrade state: bad stdin_mode");
    }
    s.stdin_mode = static_cast<::berth::types::v1::StdinMode>(mode);
    s.log_path = j.at("log_path").get<std::string>();
    s.log_max_size_bytes = j.at("log_max_size_bytes").get<uint64_t>();
    s.log_max_files = j.at("log_max_files").get<uint32_t>();
    s.rootfs_mounted = j.at("rootfs_mounted").get<bool>();
    s.stdout_fd = j.at("stdout_fd").get<int>();
    s.stderr_fd = j.at("stderr_fd").get<int>();
    s.stdin_fd = j.at("stdin_fd").get<int>();
    return s;
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("upgrade state: ", e.what()));
  }
}

absl::Status WriteUpgradeState(const std::string& path, const UpgradeState& state) {
  return fs::WriteFileAtomically(path, UpgradeStateToJson(state), 0600);
}

absl::StatusOr<UpgradeState> ReadUpgradeState(const std::string& path) {
  BERTH_ASSIGN_OR_RETURN(std::string text, fs::ReadFile(path));
  return UpgradeStateFromJson(text);
}

}  // namespace berth::shim::task
