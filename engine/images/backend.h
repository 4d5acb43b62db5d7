// What berthd's image code needs from berth-containerd, as small interfaces: the content store,
// the image records, the snapshotter, the differ, leases and the container records. The
// gRPC implementations (grpc_backend.h) are thin; the fakes (fake_backend.h) keep everything in
// memory, so the image logic (image_store.h) is tested without daemons.
//
// Every method is scoped to one berth-containerd namespace chosen when the backend is built.
// Methods that create objects take a `lease` (empty for none): objects made under a lease are
// kept from garbage collection until the lease is deleted (berth.containerd.leases.v1).
// Errors are berth-containerd's, with its codes (NotFound, AlreadyExists, ...). Implementations
// are thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "berth/types/v1/descriptor.pb.h"
#include "berth/types/v1/mount.pb.h"

namespace berth::engine::images {

using Descriptor = ::berth::types::v1::Descriptor;
using Mount = ::berth::types::v1::Mount;
using Labels = std::map<std::string, std::string>;

// Label keys read by berth-containerd's garbage collector.
inline constexpr char kGcRefContentPrefix[] = "berth.io/gc.ref.content.";
inline constexpr char kGcRefSnapshotOverlay[] = "berth.io/gc.ref.snapshot.overlayfs";

// On an image record: "<prefix><local target digest>" = the digest a registry gave the
// record's manifest when it was pushed (the layers compressed on the way, so another
// document than the local one). RepoDigests show that digest while the record still points
// at the same target.
inline constexpr char kPushedDigestLabelPrefix[] = "berth.io/pushed-digest.";

struct BlobInfo {
  std::string digest;
  int64_t size = 0;
  absl::Time created_at;
  Labels labels;
};

// Writes one blob through an ingest. Destroying a writer that was not committed aborts the
// ingest (its bytes are dropped).
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  // Appends `data`.
  virtual absl::Status Write(absl::string_view data) = 0;
  // Verifies and stores the blob. `expected_digest`/`expected_size` are checked when set
  // (FailedPrecondition on mismatch). A blob already present is success. Returns the digest
  // and size stored.
  virtual absl::StatusOr<BlobInfo> Commit(const std::string& expected_digest, int64_t expected_size,
                                          const Labels& labels) = 0;
};

// Reads one blob in chunks.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  // The next chunk into `chunk`; false at the end of the blob.
  virtual absl::StatusOr<bool> Next(std::string* chunk) = 0;
};

class ContentStore {
 public:
  virtual ~ContentStore() = default;
  // NotFound when absent.
  virtual absl::StatusOr<BlobInfo> Info(const std::string& digest) = 0;
  // The whole blob; FailedPrecondition when it is larger than `max_size` (manifests and
  // configs are small; layers are streamed with OpenReader).
  virtual absl::StatusOr<std::string> ReadAll(const std::string& digest, int64_t max_size) = 0;
  // Bytes [offset, offset+size) (size 0: to the end).
  virtual absl::StatusOr<std::unique_ptr<BlobReader>> OpenReader(const std::string& digest,
                                                                 int64_t offset = 0,
                                                                 int64_t size = 0) = 0;
  // A new ingest named `ref` (unique per writer). With `expected_digest` set, AlreadyExists
  // when that blob is present already (nothing to upload).
  virtual absl::StatusOr<std::unique_ptr<BlobWriter>> OpenWriter(const std::string& ref,
                                                                 const std::string& expected_digest,
                                                                 const std::string& lease) = 0;
  // Sets (or, with an empty value, removes) the given label keys, leaving the others.
  virtual absl::Status SetLabels(const std::string& digest, const Labels& labels) = 0;
};

struct ImageRecord {
  std::string name;
  Labels labels;
  Descriptor target;
  absl::Time created_at;
  absl::Time updated_at;
};

class ImageRecords {
 public:
  virtual ~ImageRecords() = default;
  // NotFound when absent.
  virtual absl::StatusOr<ImageRecord> Get(const std::string& name) = 0;
  virtual absl::StatusOr<std::vector<ImageRecord>> List() = 0;
  // AlreadyExists when the name is taken.
  virtual absl::StatusOr<ImageRecord> Create(const ImageRecord& record) = 0;
  // Replaces target and labels of an existing record (NotFound otherwise).
  virtual absl::StatusOr<ImageRecord> Update(const ImageRecord& record) = 0;
  // Deletes the record; with `sync`, returns after garbage collection removed what only it
  // kept. `expected_target` (when non-empty) guards against a concurrent move
  // (FailedPrecondition).
  virtual absl::Status Delete(const std::string& name, bool sync,
                              const std::string& expected_target = "") = 0;
};

struct SnapshotInfo {
  std::string name;
  std::string parent;
  bool committed = false;
  Labels labels;
};

class Snapshots {
 public:
  virtual ~Snapshots() = default;
  virtual absl::StatusOr<std::vector<Mount>> Prepare(const std::string& key,
                                                     const std::string& parent,
                                                     const std::string& lease) = 0;
  virtual absl::Status Commit(const std::string& name, const std::string& key,
                              const std::string& lease) = 0;
  virtual absl::Status Remove(const std::string& key) = 0;
  // NotFound when absent.
  virtual absl::StatusOr<SnapshotInfo> Stat(const std::string& key) = 0;
  virtual absl::StatusOr<std::vector<SnapshotInfo>> List() = 0;
};

class Differ {
 public:
  virtual ~Differ() = default;
  // Unpacks layer blob `layer` onto `mounts`; returns the descriptor of the uncompressed tar
  // (its digest is the diff ID).
  virtual absl::StatusOr<Descriptor> Apply(const Descriptor& layer,
                                           const std::vector<Mount>& mounts) = 0;
};

class Leases {
 public:
  virtual ~Leases() = default;
  // A new lease expiring after `ttl` (so a crash mid-import leaks nothing for long).
  virtual absl::StatusOr<std::string> Create(absl::Duration ttl) = 0;
  // With `sync`, returns after garbage collection removed what only the lease held.
  virtual absl::Status Delete(const std::string& id, bool sync) = 0;
};

struct ContainerUse {
  std::string id;
  std::string image;  // the container record's `image` field
};

class ContainerRecords {
 public:
  virtual ~ContainerRecords() = default;
  virtual absl::StatusOr<std::vector<ContainerUse>> List() = 0;
};

// The set the image code works with; pointers are not owned.
struct Backend {
  ContentStore* content = nullptr;
  ImageRecords* images = nullptr;
  Snapshots* snapshots = nullptr;
  Differ* differ = nullptr;
  Leases* leases = nullptr;
  ContainerRecords* containers = nullptr;
};

}  // namespace berth::engine::images
