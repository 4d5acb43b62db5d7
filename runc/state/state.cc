#include "runc/state/state.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/proc/proc.h"
#include "common/status/status_macros.h"

namespace berth::runc::state {
namespace {

using nlohmann::json;

constexpr char kStateFile[] = "state.json";
constexpr char kTimeFormat[] = "%Y-%m-%d%ET%H:%M:%E*SZ";

json HooksToJson(const std::vector<spec::Hook>& hooks) {
  json a = json::array();
  for (const auto& h : hooks) {
    json j = {{"path", h.path}, {"args", h.args}, {"env", h.env}};
    if (h.timeout) j["timeout"] = *h.timeout;
    a.push_back(std::move(j));
  }
  return a;
}

// state.json is written by berth-runc itself, but a truncated or hand-edited file must give
// an error, not a crash: every access checks its type.
bool HooksFromJson(const json& a, std::vector<spec::Hook>* out) {
  if (!a.is_array()) return false;
  for (const auto& j : a) {
    if (!j.is_object() || !j.contains("path") || !j["path"].is_string()) return false;
    spec::Hook h;
    h.path = j["path"].get<std::string>();
    for (const char* key : {"args", "env"}) {
      if (!j.contains(key)) continue;
      if (!j[key].is_array()) return false;
      for (const auto& s : j[key]) {
        if (!s.is_string()) return false;
        (key[0] == 'a' ? h.args : h.env).push_back(s.get<std::string>());
      }
    }
    if (j.contains("timeout")) {
      if (!j["timeout"].is_number_integer()) return false;
      h.timeout = j["timeout"].get<int>();
    }
    out->push_back(std::move(h));
  }
  return true;
}

}  // namespace

absl::string_view StatusName(Status s) {
  switch (s) {
    case Status::kCreating: return "creating";
    case Status::kCreated: return "created";
    case Status::kRunning: return "running";
    case Status::kPaused: return "paused";
    case Status::kStopped: return "stopped";
  }
  return "unknown";
}

absl::Status ValidateId(absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("container id cannot be empty");
  if (id.size() > 1024) return absl::InvalidArgumentError("container id is longer than 1024");
  if (id == "." || id == "..") {
    return absl::InvalidArgumentError(absl::StrCat("invalid container id \"", id, "\""));
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '+' || c == '-' || c == '.';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid container id \"", id, "\": only [A-Za-z0-9_+.-] characters are allowed"));
    }
  }
  return absl::OkStatus();
}

std::string Store::Dir(absl::string_view id) const { return absl::StrCat(root_, "/", id); }

std::string Store::FifoPath(absl::string_view id) const {
  return absl::StrCat(root_, "/", id, "/exec.fifo");
}

absl::Status Store::CreateDir(absl::string_view id) {
  BERTH_RETURN_IF_ERROR(ValidateId(id));
  if (mkdir(root_.c_str(), 0700) != 0 && errno != EEXIST) {
    if (errno != ENOENT) return absl::ErrnoToStatus(errno, absl::StrCat("mkdir ", root_));
    BERTH_RETURN_IF_ERROR(fs::MakeDirs(root_, 0700), "create --root");
  }
  const std::string dir = Dir(id);
  if (mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat("container with id exists: ", id));
    }
    return absl::ErrnoToStatus(errno, absl::StrCat("mkdir ", dir));
  }
  return absl::OkStatus();
}

absl::Status Store::Save(const ContainerState& s) {
  json j = {
      {"id", s.id},
      {"ociVersion", s.oci_version},
      {"pid", s.pid},
      {"pidStartTime", s.pid_start_time},
      {"bundle", s.bundle},
      {"rootfs", s.rootfs},
      {"created", absl::FormatTime(kTimeFormat, s.created, absl::UTCTimeZone())},
      {"owner", s.owner},
      {"annotations", s.annotations},
      {"cgroup", s.cgroup},
      {"terminal", s.terminal},
      {"poststart", HooksToJson(s.poststart)},
      {"poststop", HooksToJson(s.poststop)},
  };
  // Atomic but not fsync'd: container state does not survive a reboot (the containers don't),
  // and the two fsyncs cost more than the rest of `create` on a disk-backed --root.
  return fs::WriteFileAtomically(absl::StrCat(Dir(s.id), "/", kStateFile), j.dump(), 0600,
                                 {.durable = false});
}

absl::StatusOr<ContainerState> Store::Load(absl::string_view id) const {
  BERTH_RETURN_IF_ERROR(ValidateId(id));
  const std::string path = absl::StrCat(Dir(id), "/", kStateFile);
  absl::StatusOr<std::string> text = fs::ReadFile(path);
  if (absl::IsNotFound(text.status())) {
    return absl::NotFoundError(absl::StrCat("container ", id, " does not exist"));
  }
  if (!text.ok()) return text.status();
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  auto corrupt = [&](absl::string_view what) {
    return absl::DataLossError(absl::StrCat(path, ": corrupt state (", what, ")"));
  };
  if (!j.is_object()) return corrupt("not a JSON object");
  ContainerState s;
  auto str = [&](const char* key, std::string* out) {
    if (!j.contains(key) || !j[key].is_string()) return false;
    *out = j[key].get<std::string>();
    return true;
  };
  std::string created;
  if (!str("id", &s.id) || !str("ociVersion", &s.oci_version) || !str("bundle", &s.bundle) ||
      !str("rootfs", &s.rootfs) || !str("created", &created) || !str("owner", &s.owner) ||
      !str("cgroup", &s.cgroup)) {
    return corrupt("missing string field");
  }
  if (!j.contains("pid") || !j["pid"].is_number_integer() || !j.contains("pidStartTime") ||
      !j["pidStartTime"].is_number_unsigned()) {
    return corrupt("pid");
  }
  s.pid = j["pid"].get<pid_t>();
  s.pid_start_time = j["pidStartTime"].get<uint64_t>();
  std::string err;
  if (!absl::ParseTime(kTimeFormat, created, &s.created, &err)) return corrupt("created");
  if (j.contains("terminal") && j["terminal"].is_boolean()) s.terminal = j["terminal"].get<bool>();
  if (j.contains("annotations") && j["annotations"].is_object()) {
    for (const auto& [k, v] : j["annotations"].items()) {
      if (v.is_string()) s.annotations[k] = v.get<std::string>();
    }
  }
  if ((j.contains("poststart") && !HooksFromJson(j["poststart"], &s.poststart)) ||
      (j.contains("poststop") && !HooksFromJson(j["poststop"], &s.poststop))) {
    return corrupt("hooks");
  }
  return s;
}

absl::Status Store::Remove(absl::string_view id) {
  BERTH_RETURN_IF_ERROR(ValidateId(id));
  absl::Status s = fs::RemoveAll(Dir(id));
  if (absl::IsNotFound(s)) return absl::OkStatus();
  return s;
}

absl::StatusOr<std::vector<std::string>> Store::List() const {
  absl::StatusOr<std::vector<std::string>> names = fs::ListDir(root_);
  if (absl::IsNotFound(names.status())) return std::vector<std::string>{};
  if (!names.ok()) return names.status();
  std::vector<std::string> ids;
  for (auto& n : *names) {
    struct stat st;
    if (ValidateId(n).ok() && stat(absl::StrCat(Dir(n), "/", kStateFile).c_str(), &st) == 0) {
      ids.push_back(std::move(n));
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

Status CurrentStatus(const ContainerState& s, const std::string& fifo_path, bool frozen) {
  if (s.pid <= 0) return Status::kStopped;
  proc::ProcessIdentity init{s.pid, s.pid_start_time};
  absl::StatusOr<bool> alive = init.IsAlive();
  if (!alive.ok() || !*alive) return Status::kStopped;
  if (access(fifo_path.c_str(), F_OK) == 0) return Status::kCreated;
  return frozen ? Status::kPaused : Status::kRunning;
}

std::string StateJson(const ContainerState& s, Status status, bool pretty) {
  json j = {
      {"ociVersion", s.oci_version},
      {"id", s.id},
      {"pid", status == Status::kStopped ? 0 : s.pid},
      {"status", std::string(StatusName(status))},
      {"bundle", s.bundle},
      {"rootfs", s.rootfs},
      {"created", absl::FormatTime(kTimeFormat, s.created, absl::UTCTimeZone())},
      {"owner", s.owner},
  };
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  return pretty ? j.dump(2) : j.dump();
}

}  // namespace berth::runc::state
