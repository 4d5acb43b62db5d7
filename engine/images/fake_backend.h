// FakeBackend: an in-memory berth-containerd for unit tests of the image code: content with
// labels, image records, snapshots with parents, a differ that "unpacks" plain tar blobs
// (their digest is their diff id; gzip is refused), leases, container records, and a garbage
// collector with berth-containerd's rules (roots: image targets, live leases, gc.root labels;
// edges: gc.ref.content.* and gc.ref.snapshot.overlayfs labels, snapshot parents) run on
// synchronous deletes.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "engine/images/backend.h"

namespace berth::engine::images {

class FakeBackend {
 public:
  FakeBackend();
  ~FakeBackend();
  Backend backend();

  // Test hooks.
  void SetContainers(std::vector<ContainerUse> containers);
  void FailNextApply(absl::Status s);
  size_t BlobCount();
  size_t SnapshotCount();
  size_t LeaseCount();
  size_t IngestCount();
  std::vector<std::string> SnapshotNames();
  // Runs a garbage collection now.
  void Collect();

  struct State;
  struct Services;

 private:
  std::unique_ptr<State> state_;
  std::unique_ptr<Services> services_;
};

}  // namespace berth::engine::images
