// ContainerStore: berthd's containers, in memory and on disk. Each container is one
// ContainerRecord (proto/berth/engine/internal/v1) kept at `<dir>/<id>/container.json` and
// rewritten atomically on every change, so kill -9 of berthd never leaves a torn record. The
// store also owns the name index (names are unique; a name is reserved before the slow part of
// a create so two creates cannot both take it) and reference resolution with Docker's rules
// (full id, then name, then unique id prefix).
//
// Thread safety: every method is thread-safe. Records are returned by value; Update applies a
// mutation under the store's lock and persists it before returning.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "berth/engine/internal/v1/container_record.pb.h"

namespace berth::engine::containers {

using ContainerRecord = ::berth::engine::internal::v1::ContainerRecord;

class ContainerStore {
 public:
  // Opens `dir` (created if missing) and loads every record in it. A record that does not
  // parse is skipped with a warning and left on disk for inspection.
  static absl::StatusOr<std::unique_ptr<ContainerStore>> Open(const std::string& dir);

  // Directory of one container's files (record, logs, hosts...).
  std::string ContainerDir(const std::string& id) const;

  // Takes `name` for `id` before the container exists. AlreadyExists ("Conflict. The
  // container name "/x" is already in use by container "<id>"...") when another container
  // has it; InvalidArgument when it does not match [a-zA-Z0-9][a-zA-Z0-9_.-]+.
  absl::Status ReserveName(const std::string& name, const std::string& id);
  // Gives a reserved name back (create failed).
  void ReleaseName(const std::string& name, const std::string& id);

  // Stores a new record (its name must be reserved for its id). AlreadyExists if the id is
  // taken.
  absl::Status Add(const ContainerRecord& record);

  // Resolves a container reference to a full id: full id, then exact name (with or without
  // a leading "/"), then unique id prefix. NotFound ("No such container: ref"),
  // InvalidArgument for an ambiguous prefix.
  absl::StatusOr<std::string> Resolve(const std::string& ref) const;

  absl::StatusOr<ContainerRecord> Get(const std::string& id) const;

  // Applies `mutate` to the record and persists the result. The mutation may fail (its
  // status is returned and nothing changes). Renames must go through Rename.
  absl::Status Update(const std::string& id,
                      const std::function<absl::Status(ContainerRecord&)>& mutate);

  // Changes the name of `id`; AlreadyExists if `new_name` is taken, InvalidArgument if it is
  // malformed.
  absl::Status Rename(const std::string& id, const std::string& new_name);

  // Forgets the record and deletes its directory (with everything berthd kept in it).
  absl::Status Remove(const std::string& id);

  // Every record, oldest first (Docker's `ps` shows newest first: callers reverse).
  std::vector<ContainerRecord> List() const;

  // Whether a container uses image `image_id` ("sha256:...").
  bool ImageInUse(const std::string& image_id) const;

 private:
  explicit ContainerStore(std::string dir) : dir_(std::move(dir)) {}
  absl::Status Persist(const ContainerRecord& record) const;

  const std::string dir_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, ContainerRecord> records_ ABSL_GUARDED_BY(mu_);
  // name -> id, including names reserved for containers being created.
  absl::flat_hash_map<std::string, std::string> names_ ABSL_GUARDED_BY(mu_);
};

// Whether `name` is a valid container name ([a-zA-Z0-9][a-zA-Z0-9_.-]+).
bool IsValidName(const std::string& name);

// A random "adjective_name" like Docker's generated names.
std::string GenerateName();

}  // namespace berth::engine::containers
