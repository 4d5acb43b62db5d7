// Storage: everything berth-registry keeps under its --root, opened together:
//   <root>/blobs/          BlobStore (content-addressed, shared by all repositories)
//   <root>/repositories/   RepositoryStore (links, manifests, tags, referrers per repository)
//   <root>/uploads/        UploadStore (upload sessions that survive restarts)
//   <root>/tmp/            blobs being written (emptied at start)
// plus a background thread that expires idle upload sessions. Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "registry/storage/blob_store.h"
#include "registry/storage/observer.h"
#include "registry/storage/repository_store.h"
#include "registry/storage/upload_store.h"

namespace berth::registry::storage {

struct StorageOptions {
  std::string root;
  // Upload sessions idle for longer than this are removed.
  absl::Duration upload_ttl = absl::Hours(24);
  // How often the sweeper looks for expired sessions; zero or less: no sweeper thread.
  absl::Duration sweep_interval = absl::Minutes(10);
  // fsync blobs and metadata before they become visible.
  bool fsync = true;
  // Empty <root>/tmp at open. Only the daemon may: a second process opening the same root
  // (garbage-collect next to a running daemon) would delete the daemon's writes in progress.
  bool clear_tmp = true;
  std::function<absl::Time()> clock;   // absl::Now when empty
  id::IdSource* ids = nullptr;         // not owned; random when null
  StorageObserver* observer = nullptr;  // not owned; may be null
};

class Storage {
 public:
  // Creates the layout under options.root if missing (mode 0700). Errors name the directory.
  static absl::StatusOr<std::unique_ptr<Storage>> Open(const StorageOptions& options);
  // Stops the sweeper thread.
  ~Storage();

  BlobStore& blobs() { return *blobs_; }
  RepositoryStore& repositories() { return *repositories_; }
  UploadStore& uploads() { return *uploads_; }

 private:
  Storage() = default;
  void SweepLoop(absl::Duration interval);

  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<RepositoryStore> repositories_;
  std::unique_ptr<UploadStore> uploads_;
  absl::Notification stop_;
  std::thread sweeper_;
};

}  // namespace berth::registry::storage
