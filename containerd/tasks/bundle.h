// The task bundles berth-containerd keeps under its --state directory, one per
// task:
// `<state>/tasks/<namespace>/<container_id>/` (tasks.proto, Create). Besides
// the files the shim handshake defines (bootstrap.proto, FILES IN THE BUNDLE:
// config.json, rootfs/, bootstrap.json, exit.json, shim.log, the container log)
// a bundle holds `task.json`, this daemon's own record of how the task's shim
// was started. It is written before the shim starts, so that after a restart
// (or when the shim is found dead) `berth-shim delete` can be run with the same
// runtime flags even if the container record changed or is gone.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::containerd::tasks {

// How a task's shim runs the OCI runtime (the runtime flags of `berth-shim
// start`/`delete`).
struct RuntimeConfig {
  // The runtime as the caller named it (container runtime.name or Create's
  // runtime_path): what the List filter field `runtime` matches.
  std::string name;
  // Absolute path of the runtime binary, resolved when the task was created.
  std::string binary;
  // The runtime's --root.
  std::string root;
  bool systemd_cgroup = false;
  std::string shim_cgroup;
};

// `<bundle>/task.json`.
struct TaskRecord {
  std::string ns;
  std::string id;
  RuntimeConfig runtime;
  // The init process's json-file log as the shim reported it at create (""
  // before, or with LOG_DRIVER_NONE).
  std::string log_path;
};

// The recorded end of a task's init process, from `<bundle>/exit.json`
// (ExitRecord) or from `berth-shim delete` (CleanupResult).
struct TaskExit {
  uint32_t pid = 0;
  uint32_t exit_status = 0;
  absl::Time exited_at;
};

// `<state>/tasks/<ns>/<id>`.
std::string BundlePath(const std::string &state_dir, const std::string &ns,
                       const std::string &id);

// Writes `record` atomically to `<bundle>/task.json` (the bundle directory must
// exist).
absl::Status WriteTaskRecord(const std::string &bundle,
                             const TaskRecord &record);
// Reads it back. NotFound when absent; DataLoss when it does not parse.
absl::StatusOr<TaskRecord> ReadTaskRecord(const std::string &bundle);

// Creates the bundle directory (0700, parents as needed), `task.json`,
// `config.json` (0600: a spec can carry secrets in its environment) and the
// empty `rootfs/` mount point. AlreadyExists when the bundle directory is
// already there.
absl::Status CreateBundle(const std::string &bundle, const TaskRecord &record,
                          const std::string &spec);

// The exit recorded by the shim in `<bundle>/exit.json`. NotFound when there is
// none.
absl::StatusOr<TaskExit> ReadExitFile(const std::string &bundle);

// Removes the bundle. A still-mounted rootfs is detached first (the shim
// normally unmounts it; this covers a shim that died half-way), then the tree
// is removed without crossing mounts (fs::RemoveAll). OK when already gone.
absl::Status RemoveBundle(const std::string &bundle);

// A bundle directory found under `<state>/tasks`.
struct BundleRef {
  std::string ns;
  std::string id;
  std::string path;
};

// Every `<state>/tasks/<ns>/<id>` directory, sorted by namespace then id; empty
// when
// `<state>/tasks` does not exist. Atomic-write temp files are skipped.
absl::StatusOr<std::vector<BundleRef>>
ListBundles(const std::string &state_dir);

// Removes `<state>/tasks/<ns>` when it became empty (ignoring errors: a
// concurrent Create may have just made a bundle there).
void RemoveNamespaceDirIfEmpty(const std::string &state_dir,
                               const std::string &ns);

} // namespace berth::containerd::tasks
