// StorageObserver: what the registry's storage reports for metrics (blobs stored, upload
// sessions open). Implemented by the daemon's metrics; the default does nothing.
#pragma once

#include <cstdint>

namespace berth::registry::storage {

// Methods are called from request threads and the sweeper; they must be cheap and thread-safe.
class StorageObserver {
 public:
  virtual ~StorageObserver() = default;
  // The number of blobs in the content store changed by `delta` (new blob +1, GC -1; the
  // count found on disk at start-up arrives as one delta).
  virtual void BlobsStoredChanged(int64_t delta) {}
  // The number of open upload sessions changed by `delta`.
  virtual void UploadsOpenChanged(int64_t delta) {}
};

}  // namespace berth::registry::storage
