// What berth-runc remembers about a container between its short-lived invocations: one
// directory per container under --root, holding state.json (written atomically) and, while
// the container is "created", the exec FIFO its init blocks on until `start`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "runc/spec/spec.h"

namespace berth::runc::state {

// OCI runtime spec "state" statuses (runtime.md), plus "paused" as runc reports it.
enum class Status { kCreating, kCreated, kRunning, kPaused, kStopped };
absl::string_view StatusName(Status s);

struct ContainerState {
  std::string id;
  std::string oci_version;
  pid_t pid = 0;
  uint64_t pid_start_time = 0;  // /proc/<pid>/stat field 22: pid reuse never fools us
  std::string bundle;
  std::string rootfs;
  absl::Time created;
  std::string owner;  // "" (root) like runc
  std::map<std::string, std::string> annotations;
  std::string cgroup;  // cgroups::Manager::Serialize()
  bool terminal = false;
  // Hooks later commands run: poststart by `start`, poststop by `delete`.
  std::vector<spec::Hook> poststart;
  std::vector<spec::Hook> poststop;
  // Namespace paths of the init at creation ("/proc/<pid>/ns/net" …) for `exec`.
  bool frozen_hint = false;  // not persisted; filled by callers that know
};

// Container ids: runc's rule, [A-Za-z0-9_+.-]+, 1..1024 bytes, so an id is always a safe
// single path component.
absl::Status ValidateId(absl::string_view id);

class Store {
 public:
  explicit Store(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  std::string Dir(absl::string_view id) const;
  std::string FifoPath(absl::string_view id) const;

  // Creates the container's directory (0700) exclusively: AlreadyExists if the id is taken.
  absl::Status CreateDir(absl::string_view id);
  absl::Status Save(const ContainerState& s);
  // NotFound ("container <id> does not exist") when absent.
  absl::StatusOr<ContainerState> Load(absl::string_view id) const;
  // Removes the container's directory and everything in it. Idempotent.
  absl::Status Remove(absl::string_view id);
  // Ids of every container directory, sorted.
  absl::StatusOr<std::vector<std::string>> List() const;

 private:
  std::string root_;
};

// The status of a container whose state was loaded: stopped when its init is gone (or is a
// zombie, or the pid now belongs to another process), created while the exec FIFO exists,
// paused when `frozen`, else running.
Status CurrentStatus(const ContainerState& s, const std::string& fifo_path, bool frozen);

// The OCI state JSON (`berth-runc state`): ociVersion, id, status, pid, bundle, rootfs,
// created, owner, annotations.
std::string StateJson(const ContainerState& s, Status status, bool pretty);

}  // namespace berth::runc::state
