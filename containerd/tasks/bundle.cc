#include "containerd/tasks/bundle.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "berth/shim/task/v1/bootstrap.pb.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace berth::containerd::tasks {
namespace {

using ::google::protobuf::util::TimeUtil;
using nlohmann::json;

constexpr char kTaskFile[] = "task.json";

std::string StringField(const json &j, const char *key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>()
                                          : std::string();
}

bool BoolField(const json &j, const char *key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

bool IsDir(const std::string &path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

} // namespace

std::string BundlePath(const std::string &state_dir, const std::string &ns,
                       const std::string &id) {
  return absl::StrCat(state_dir, "/tasks/", ns, "/", id);
}

// The bundle's files describe processes and mounts that a reboot ends, so they are written
// atomically (a crash of any process leaves the old or the new file, never a torn one) but not
// durably: nothing needs them to survive a power cut, after which a task.json that did not reach
// the disk makes recovery discard the bundle, the right outcome then. Their fsyncs (two per
// file, three files per task create) were ~2 ms of every create on a disk-backed --state. The
// shim's exit.json, which must outlive a manager that is down, stays durable.
constexpr fs::AtomicWriteOptions kBundleWrite{/*durable=*/false};

absl::Status WriteTaskRecord(const std::string &bundle,
                             const TaskRecord &record) {
  json j = {
      {"namespace", record.ns},
      {"id", record.id},
      {"runtime",
       {{"name", record.runtime.name},
        {"binary", record.runtime.binary},
        {"root", record.runtime.root},
        {"systemd_cgroup", record.runtime.systemd_cgroup},
        {"shim_cgroup", record.runtime.shim_cgroup}}},
      {"log_path", record.log_path},
  };
  return fs::WriteFileAtomically(absl::StrCat(bundle, "/", kTaskFile), j.dump(),
                                 0600, kBundleWrite);
}

absl::StatusOr<TaskRecord> ReadTaskRecord(const std::string &bundle) {
  const std::string path = absl::StrCat(bundle, "/", kTaskFile);
  BERTH_ASSIGN_OR_RETURN(const std::string text, fs::ReadFile(path));
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError(absl::StrCat(path, " is not a JSON object"));
  }
  TaskRecord r;
  r.ns = StringField(j, "namespace");
  r.id = StringField(j, "id");
  r.log_path = StringField(j, "log_path");
  auto rt = j.find("runtime");
  if (rt != j.end() && rt->is_object()) {
    r.runtime.name = StringField(*rt, "name");
    r.runtime.binary = StringField(*rt, "binary");
    r.runtime.root = StringField(*rt, "root");
    r.runtime.systemd_cgroup = BoolField(*rt, "systemd_cgroup");
    r.runtime.shim_cgroup = StringField(*rt, "shim_cgroup");
  }
  if (r.ns.empty() || r.id.empty() || r.runtime.binary.empty()) {
    return absl::DataLossError(
        absl::StrCat(path, " lacks namespace, id or runtime binary"));
  }
  return r;
}

absl::Status CreateBundle(const std::string &bundle, const TaskRecord &record,
                          const std::string &spec) {
  const size_t slash = bundle.rfind('/');
  BERTH_RETURN_IF_ERROR(fs::MakeDirs(bundle.substr(0, slash), 0700));
  if (::mkdir(bundle.c_str(), 0700) != 0) {
    if (errno == EEXIST)
      return absl::AlreadyExistsError(
          absl::StrCat("bundle ", bundle, " exists"));
    return absl::ErrnoToStatus(errno, absl::StrCat("create bundle ", bundle));
  }
  // task.json first: a bundle without it was never handed to a shim (see
  // ListBundles users).
  BERTH_RETURN_IF_ERROR(WriteTaskRecord(bundle, record));
  BERTH_RETURN_IF_ERROR(
      fs::WriteFileAtomically(bundle + "/config.json", spec, 0600, kBundleWrite));
  if (::mkdir((bundle + "/rootfs").c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::ErrnoToStatus(errno,
                               absl::StrCat("create ", bundle, "/rootfs"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TaskExit> ReadExitFile(const std::string &bundle) {
  const std::string path = bundle + "/exit.json";
  BERTH_ASSIGN_OR_RETURN(const std::string text, fs::ReadFile(path));
  ::berth::shim::task::v1::ExitRecord record;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(text, &record, options)
           .ok()) {
    return absl::DataLossError(absl::StrCat(path, " does not parse"));
  }
  TaskExit exit;
  exit.pid = record.pid();
  exit.exit_status = record.exit_status();
  exit.exited_at =
      absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(record.exited_at()));
  return exit;
}

absl::Status RemoveBundle(const std::string &bundle) {
  if (!IsDir(bundle))
    return absl::OkStatus();
  const std::string rootfs = bundle + "/rootfs";
  // Several mounts may be stacked there; detach until nothing is left.
  for (int i = 0; i < 16 && ::umount2(rootfs.c_str(), MNT_DETACH) == 0; ++i) {
  }
  return fs::RemoveAll(bundle);
}

absl::StatusOr<std::vector<BundleRef>>
ListBundles(const std::string &state_dir) {
  const std::string tasks_dir = state_dir + "/tasks";
  std::vector<BundleRef> out;
  absl::StatusOr<std::vector<std::string>> namespaces = fs::ListDir(tasks_dir);
  if (!namespaces.ok()) {
    if (namespaces.status().code() == absl::StatusCode::kNotFound)
      return out;
    return namespaces.status();
  }
  for (const std::string &ns : *namespaces) {
    const std::string ns_dir = absl::StrCat(tasks_dir, "/", ns);
    if (!IsDir(ns_dir))
      continue;
    BERTH_ASSIGN_OR_RETURN(std::vector<std::string> ids, fs::ListDir(ns_dir));
    for (const std::string &id : ids) {
      if (fs::IsAtomicTempFileName(id))
        continue;
      const std::string path = absl::StrCat(ns_dir, "/", id);
      if (!IsDir(path))
        continue;
      out.push_back({ns, id, path});
    }
  }
  return out;
}

void RemoveNamespaceDirIfEmpty(const std::string &state_dir,
                               const std::string &ns) {
  (void)::rmdir(absl::StrCat(state_dir, "/tasks/", ns).c_str());
}

} // namespace berth::containerd::tasks
