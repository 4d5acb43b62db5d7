// Transaction: the typed API of berth-containerd's metadata store. Every read and write of
// namespaces, images, containers, blob records, snapshot records and leases is a method here,
// and runs inside the SQLite transaction that Store::WithTransaction (read-write) or
// Store::WithReadTransaction (read-only, a consistent snapshot) opened; all methods called on
// one Transaction commit or roll back together. See store.h for the schema.
//
// Common contract of the methods:
//  - `ns` is a namespace name; an invalid one fails with InvalidArgument. Creating any object
//    creates its namespace if needed (EnsureNamespace); reading from a namespace that does not
//    exist finds nothing (NotFound, or an empty list).
//  - Labels are validated (non-empty keys, key plus value <= 4096 bytes): InvalidArgument.
//  - The store sets created_at/updated_at from its clock, read once per transaction (now()), and
//    ignores the caller's values.
//  - Update methods take update-mask paths as in the protos: `labels` replaces the whole map,
//    `labels.<key>` sets that key to the new object's value, or removes it when the new object
//    has no (or an empty) value for it. Unknown paths are InvalidArgument. Update returns the
//    object after the change and moves updated_at.
//  - List methods return objects ordered by their name/id and keep those for which `filter`
//    (when set) returns true: the services compile the protos' filter strings into it.
//  - A write method called in a read transaction fails with FailedPrecondition.
//  - Errors from SQLite itself: Unavailable (database locked by another process), DataLoss
//    (corruption), ResourceExhausted (disk full), Internal; see sqlite.h.
// A Transaction is only valid inside the function it was passed to, on that thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "containerd/metadata/gc.h"
#include "containerd/metadata/types.h"

namespace berth::containerd::metadata {

namespace internal {
class Db;
}  // namespace internal

class Store;

// What Store::CollectGarbage (or SweepGarbage) removed.
struct GcSweepResult {
  // Records deleted, in the order they were deleted.
  std::vector<BlobRef> removed_blobs;
  std::vector<SnapshotRef> removed_snapshots;
  std::vector<NamedRef> removed_leases;
  // Digests of removed blob records that no namespace holds any more: the content store may
  // delete these files. Sorted.
  std::vector<std::string> unreferenced_digests;
  // Snapshot ids (Snapshot::id) of the removed snapshots, per snapshotter: their directories.
  std::map<std::string, std::vector<int64_t>> removed_snapshot_ids;
  // Ingests that live leases hold (from marking), for the content store's ingest expiry.
  std::vector<NamedRef> leased_ingests;
};

class Transaction {
 public:
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // The time this transaction stamps on what it writes.
  absl::Time now() const { return now_; }
  bool read_only() const { return read_only_; }

  // ---- Namespaces (namespaces.proto) ----

  // Creates `ns` with no labels if it does not exist; does nothing if it does.
  absl::Status EnsureNamespace(absl::string_view ns);
  // AlreadyExists if it exists.
  absl::StatusOr<Namespace> CreateNamespace(const Namespace& ns);
  // NotFound.
  absl::StatusOr<Namespace> GetNamespace(absl::string_view name);
  absl::StatusOr<std::vector<Namespace>> ListNamespaces(
      const std::function<bool(const Namespace&)>& filter = nullptr);
  // Paths: `labels`, `labels.<key>`; empty means `labels`. NotFound.
  absl::StatusOr<Namespace> UpdateNamespace(const Namespace& ns,
                                            std::vector<std::string> paths = {});
  // NotFound; FailedPrecondition while the namespace holds images, containers, blobs, snapshots
  // or leases.
  absl::Status DeleteNamespace(absl::string_view name);

  // ---- Images (images.proto) ----

  // InvalidArgument (empty name, invalid target), AlreadyExists.
  absl::StatusOr<Image> CreateImage(absl::string_view ns, const Image& image);
  // InvalidArgument (empty name), NotFound.
  absl::StatusOr<Image> GetImage(absl::string_view ns, absl::string_view name);
  absl::StatusOr<std::vector<Image>> ListImages(
      absl::string_view ns, const std::function<bool(const Image&)>& filter = nullptr);
  // Paths: `labels`, `labels.<key>`, `target`; empty means `labels` and `target`. NotFound.
  absl::StatusOr<Image> UpdateImage(absl::string_view ns, const Image& image,
                                    std::vector<std::string> paths = {});
  // NotFound; FailedPrecondition when `if_target_digest` is not empty and differs from the
  // image's current target digest (it was moved meanwhile).
  absl::Status DeleteImage(absl::string_view ns, absl::string_view name,
                           absl::string_view if_target_digest = "");

  // ---- Containers (containers.proto) ----

  // InvalidArgument (id grammar, spec not empty and not a JSON object), AlreadyExists. Stores
  // runtime.name as given (the service fills in the default runtime).
  absl::StatusOr<Container> CreateContainer(absl::string_view ns, const Container& container);
  absl::StatusOr<Container> GetContainer(absl::string_view ns, absl::string_view id);
  absl::StatusOr<std::vector<Container>> ListContainers(
      absl::string_view ns, const std::function<bool(const Container&)>& filter = nullptr);
  // Paths: `labels`, `labels.<key>`, `image`, `runtime`, `spec`, `snapshot_key`, `extensions`,
  // `extensions.<key>`, `sandbox_id`; empty replaces all of them. InvalidArgument for the
  // immutable `id`, `snapshotter`, `created_at`, `updated_at` and unknown paths. NotFound.
  absl::StatusOr<Container> UpdateContainer(absl::string_view ns, const Container& container,
                                            std::vector<std::string> paths = {});
  // NotFound. (Whether a task still runs is the service's check.)
  absl::Status DeleteContainer(absl::string_view ns, absl::string_view id);

  // ---- Blob records (content.proto): which namespaces hold which blobs, with labels ----

  // Records that `ns` holds blob info.digest (size, labels). InvalidArgument (malformed digest,
  // negative size), AlreadyExists (the namespace already holds it; its labels are untouched).
  absl::StatusOr<BlobInfo> AddBlob(absl::string_view ns, const BlobInfo& info);
  // NotFound when the namespace does not hold it.
  absl::StatusOr<BlobInfo> GetBlob(absl::string_view ns, absl::string_view digest);
  absl::StatusOr<std::vector<BlobInfo>> ListBlobs(
      absl::string_view ns, const std::function<bool(const BlobInfo&)>& filter = nullptr);
  // Paths: `labels`, `labels.<key>`; empty means `labels`. NotFound.
  absl::StatusOr<BlobInfo> UpdateBlob(absl::string_view ns, const BlobInfo& info,
                                      std::vector<std::string> paths = {});
  // Removes the namespace's record. NotFound.
  absl::Status DeleteBlob(absl::string_view ns, absl::string_view digest);
  // Whether any namespace holds `digest`: the content store deletes a file only when none does.
  absl::StatusOr<bool> BlobHeldByAnyNamespace(absl::string_view digest);
  // Every digest some namespace holds, sorted: what the content store's files should be.
  absl::StatusOr<std::vector<std::string>> ListAllBlobDigests();

  // ---- Snapshot records (snapshots.proto), per snapshotter ----

  // Creates an active or view snapshot from snapshot.name, .parent, .kind and .labels.
  // InvalidArgument (empty name, invalid snapshotter, kind committed: only Commit makes those),
  // AlreadyExists (name used by any snapshot of this snapshotter and namespace), NotFound (no
  // such parent), FailedPrecondition (parent not committed). The result carries the new id.
  absl::StatusOr<Snapshot> CreateSnapshot(absl::string_view ns, absl::string_view snapshotter,
                                          const Snapshot& snapshot);
  // By key or committed name. NotFound.
  absl::StatusOr<Snapshot> GetSnapshot(absl::string_view ns, absl::string_view snapshotter,
                                       absl::string_view name);
  absl::StatusOr<std::vector<Snapshot>> ListSnapshots(
      absl::string_view ns, absl::string_view snapshotter,
      const std::function<bool(const Snapshot&)>& filter = nullptr);
  // Calls fn for every snapshot, ordered by name, stopping at (and returning) its first error.
  absl::Status WalkSnapshots(absl::string_view ns, absl::string_view snapshotter,
                             const std::function<absl::Status(const Snapshot&)>& fn);
  // Turns active snapshot `key` into committed snapshot `name` with `labels` (the active one's
  // labels are dropped, as in snapshots.proto); id, parent and usage are kept, created_at and
  // updated_at become now. InvalidArgument (empty name or key), NotFound (no key),
  // AlreadyExists (name taken), FailedPrecondition (key is a view or committed).
  absl::StatusOr<Snapshot> CommitSnapshot(absl::string_view ns, absl::string_view snapshotter,
                                          absl::string_view key, absl::string_view name,
                                          const Labels& labels = {});
  // Removes a snapshot record and returns it (its id names the directory to delete). NotFound,
  // FailedPrecondition (it is the parent of another snapshot).
  absl::StatusOr<Snapshot> RemoveSnapshot(absl::string_view ns, absl::string_view snapshotter,
                                          absl::string_view name);
  // Labels of snapshot.name. Paths: `labels`, `labels.<key>`; empty means `labels`. NotFound.
  absl::StatusOr<Snapshot> UpdateSnapshot(absl::string_view ns, absl::string_view snapshotter,
                                          const Snapshot& snapshot,
                                          std::vector<std::string> paths = {});
  // Records the usage cache (not a metadata change: updated_at stays). NotFound.
  absl::Status SetSnapshotUsage(absl::string_view ns, absl::string_view snapshotter,
                                absl::string_view name, const SnapshotUsage& usage);
  // Ids of the snapshot and its ancestors, the snapshot first then parent, grandparent, ...:
  // what an overlay snapshotter turns into upperdir and lowerdirs. NotFound.
  absl::StatusOr<std::vector<int64_t>> SnapshotChainIds(absl::string_view ns,
                                                        absl::string_view snapshotter,
                                                        absl::string_view name);
  // Ids of every snapshot of `snapshotter` in every namespace, sorted: the directories its
  // Cleanup must keep.
  absl::StatusOr<std::vector<int64_t>> ListAllSnapshotIds(absl::string_view snapshotter);

  // ---- Leases (leases.proto) ----

  // InvalidArgument (id grammar), AlreadyExists. expires_at is kept as given (a past time is
  // allowed: the lease is collected next time).
  absl::StatusOr<Lease> CreateLease(absl::string_view ns, const Lease& lease);
  // NotFound.
  absl::StatusOr<Lease> GetLease(absl::string_view ns, absl::string_view id);
  absl::StatusOr<std::vector<Lease>> ListLeases(
      absl::string_view ns, const std::function<bool(const Lease&)>& filter = nullptr);
  // Deletes the lease and the resource list it holds. NotFound.
  absl::Status DeleteLease(absl::string_view ns, absl::string_view id);
  // Idempotent. InvalidArgument (empty id, unknown type), NotFound (no such lease).
  absl::Status AddLeaseResource(absl::string_view ns, absl::string_view lease_id,
                                const LeaseResource& resource);
  // Idempotent. InvalidArgument, NotFound (no such lease).
  absl::Status DeleteLeaseResource(absl::string_view ns, absl::string_view lease_id,
                                   const LeaseResource& resource);
  // Sorted by type then id. NotFound (no such lease).
  absl::StatusOr<std::vector<LeaseResource>> ListLeaseResources(absl::string_view ns,
                                                                absl::string_view lease_id);

  // ---- Garbage collection (gc.h) ----

  // The GC graph of every namespace: records plus only their `berth.io/gc.*` labels.
  absl::StatusOr<GcInput> LoadGcInput();
  // ComputeGarbage(LoadGcInput(), now()). Neither call changes anything.
  absl::StatusOr<GcCandidates> CollectGarbageCandidates();
  // Deletes the candidates' records: expired leases, then blobs, then snapshots children first.
  // A candidate that is already gone, or a snapshot that gained a child since it was marked, is
  // skipped, so candidates from an earlier transaction are safe to apply. For a race-free
  // collection, mark and sweep in one transaction (Store::CollectGarbage does).
  absl::StatusOr<GcSweepResult> SweepGarbage(const GcCandidates& candidates);

 private:
  friend class Store;
  Transaction(internal::Db* db, bool read_only, absl::Time now)
      : db_(db), read_only_(read_only), now_(now) {}

  absl::Status CheckWritable() const;
  // The namespace's pk, or nullopt if it does not exist.
  absl::StatusOr<std::optional<int64_t>> NamespacePk(absl::string_view name);
  absl::StatusOr<std::optional<int64_t>> ImagePk(absl::string_view ns, absl::string_view name);
  absl::StatusOr<std::optional<int64_t>> ContainerPk(absl::string_view ns, absl::string_view id);
  absl::StatusOr<std::optional<int64_t>> BlobPk(absl::string_view ns, absl::string_view digest);
  absl::StatusOr<std::optional<int64_t>> LeasePk(absl::string_view ns, absl::string_view id);
  absl::StatusOr<Image> LoadImage(int64_t pk);
  absl::StatusOr<Container> LoadContainer(int64_t pk);
  absl::StatusOr<BlobInfo> LoadBlob(int64_t pk);
  absl::StatusOr<Lease> LoadLease(int64_t pk);
  // The snapshot row for (ns, snapshotter, name) with labels; nullopt if missing.
  absl::StatusOr<std::optional<Snapshot>> FindSnapshot(absl::string_view ns,
                                                       absl::string_view snapshotter,
                                                       absl::string_view name);
  absl::StatusOr<Snapshot> LoadSnapshot(int64_t pk);
  absl::Status CheckSpec(absl::string_view spec);

  internal::Db* db_;
  bool read_only_;
  absl::Time now_;
};

}  // namespace berth::containerd::metadata
