#include "registry/storage/storage.h"

#include "absl/strings/str_cat.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"

namespace berth::registry::storage {

absl::StatusOr<std::unique_ptr<Storage>> Storage::Open(const StorageOptions& options) {
  if (options.root.empty()) return absl::InvalidArgumentError("storage: root is empty");
  BERTH_RETURN_IF_ERROR(fs::MakeDirs(options.root, 0700), "storage");
  std::unique_ptr<Storage> s(new Storage());
  BERTH_ASSIGN_OR_RETURN(s->blobs_,
                         BlobStore::Open(options.root + "/blobs", options.root + "/tmp",
                                         options.fsync, options.clear_tmp,
                                         options.observer));
  BERTH_ASSIGN_OR_RETURN(s->repositories_,
                         RepositoryStore::Open(options.root + "/repositories", s->blobs_.get(),
                                               options.fsync));
  UploadOptions upload_options;
  upload_options.ttl = options.upload_ttl;
  upload_options.clock = options.clock;
  upload_options.ids = options.ids;
  upload_options.observer = options.observer;
  BERTH_ASSIGN_OR_RETURN(s->uploads_,
                         UploadStore::Open(options.root + "/uploads", s->blobs_.get(),
                                           s->repositories_.get(), std::move(upload_options)));
  if (options.sweep_interval > absl::ZeroDuration()) {
    const absl::Duration interval = options.sweep_interval;
    s->sweeper_ = std::thread([raw = s.get(), interval] { raw->SweepLoop(interval); });
  }
  return s;
}

Storage::~Storage() {
  stop_.Notify();
  if (sweeper_.joinable()) sweeper_.join();
}

void Storage::SweepLoop(absl::Duration interval) {
  while (!stop_.WaitForNotificationWithTimeout(interval)) {
    absl::StatusOr<int> removed = uploads_->SweepExpired();
    if (!removed.ok()) {
      LOG(WARNING) << "upload sweep failed error=\"" << removed.status().message() << "\"";
    } else if (*removed > 0) {
      LOG(INFO) << "expired upload sessions removed=" << *removed;
    }
  }
}

}  // namespace berth::registry::storage
