// berth-containerd's metadata store: namespaces, images, containers, blob records, snapshot
// records and leases in one SQLite database, `<root>/metadata.db`, that survives kill -9 at any
// point. A pure C++ library: the gRPC services (images, containers, content, snapshots, leases,
// namespaces) are thin layers over it; the typed API is Transaction (transaction.h), the records
// are in types.h, garbage-collection marking in gc.h.
//
// Usage:
//   BERTH_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(root));
//   absl::StatusOr<Image> img = store->WithTransaction(
//       [&](Transaction& tx) { return tx.CreateImage("default", image); });
//   // Several tables atomically: all or nothing.
//   absl::Status s = store->WithTransaction([&](Transaction& tx) -> absl::Status {
//     BERTH_RETURN_IF_ERROR(tx.CreateContainer(ns, c).status());
//     return tx.AddLeaseResource(ns, lease, {"snapshots/overlayfs", c.snapshot_key});
//   });
//
// Schema (version 1; schema.cc has the SQL). Times are INTEGER Unix nanoseconds. Every object
// table has a surrogate `pk INTEGER PRIMARY KEY` and a UNIQUE natural key led by `namespace`
// (a foreign key to namespaces(name), so a namespace that holds anything cannot be deleted);
// each map of an object is a table `<object>_<map>(owner -> pk ON DELETE CASCADE, key, value)`.
//   schema_version(version PK, applied_at)          one row per applied migration
//   namespaces(pk, name UNIQUE, created_at, updated_at)            + namespace_labels
//   images(pk, namespace, name, target_media_type, target_digest, target_size,
//          target_artifact_type, created_at, updated_at)  UNIQUE(namespace, name)
//                                                   + image_labels, image_annotations (target's)
//   containers(pk, namespace, id, image, runtime_name, runtime_options BLOB, spec BLOB,
//              snapshotter, snapshot_key, sandbox_id, created_at, updated_at)
//                                UNIQUE(namespace, id)  + container_labels, container_extensions
//   blobs(pk, namespace, digest, size, created_at, updated_at)  UNIQUE(namespace, digest),
//         INDEX(digest): "this namespace holds this blob" (the bytes are shared on disk)
//                                                                      + blob_labels
//   snapshots(pk AUTOINCREMENT = Snapshot::id, namespace, snapshotter, name, kind
//             ('view'|'active'|'committed'), parent -> snapshots(pk), usage_size, usage_inodes,
//             created_at, updated_at)  UNIQUE(namespace, snapshotter, name), INDEX(parent)
//                                                                      + snapshot_labels
//   leases(pk, namespace, id, created_at, expires_at NULL)  UNIQUE(namespace, id)
//                                    + lease_labels, lease_resources(owner, type, id) (its held
//                                      objects: "content"/"ingests"/"snapshots/<snapshotter>")
// Parents are referenced by pk, which Commit keeps, and the foreign key refuses to remove a
// snapshot that still has children even if a code path forgot to check.
//
// Durability and crash safety:
//  - journal_mode=WAL: a commit appends to metadata.db-wal; readers never block the writer.
//    A process killed at any instant (kill -9) loses nothing that was committed and never
//    exposes part of a transaction: the WAL is replayed up to its last complete commit record on
//    the next open.
//  - synchronous=FULL: each commit fsyncs the WAL before returning. NORMAL would also survive
//    kill -9, but a power loss or kernel crash could then roll back transactions that were
//    already acknowledged. berth-containerd deletes files *after* committing their records'
//    removal (snapshot dirs, blobs), so a rolled-back removal would leave records pointing at
//    deleted data; and berthd acts on acknowledged creates. Metadata writes are a few per
//    container or layer, so one fsync per commit is cheap next to what they describe.
//  - Order of operations for callers pairing records with files: create the file, then commit
//    the record; commit the record's removal, then delete the file. A crash in between leaves
//    only an unreferenced file, which Cleanup/GC removes (ListAllBlobDigests,
//    ListAllSnapshotIds say what to keep).
//  - The database file is created 0600 (container specs can hold secrets in their env).
//
// Concurrency: thread-safe. One writer connection behind a mutex serializes write transactions
// (SQLite allows one writer anyway; BEGIN IMMEDIATE takes the write lock up front so a
// transaction never fails half-way on lock upgrade). Read transactions use a small pool of
// read-only connections and run in parallel with the writer, each on a consistent snapshot.
// Another process opening the same file waits up to busy_timeout, then gets Unavailable.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "containerd/metadata/gc.h"
#include "containerd/metadata/transaction.h"
#include "containerd/metadata/types.h"

namespace berth::containerd::metadata {

struct StoreOptions {
  // The time stamped on records and used for lease expiry; tests inject their own.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Read-only connections for WithReadTransaction; 0 runs reads on the writer connection.
  int max_readers = 4;
  // How long a connection waits for a lock held by another process before Unavailable.
  absl::Duration busy_timeout = absl::Seconds(5);
};

class Store {
 public:
  // The file name under the root directory.
  static constexpr char kFileName[] = "metadata.db";

  // Opens `<root>/metadata.db`, creating `root` (0700) and the database as needed, and migrates
  // the schema to the current version. FailedPrecondition for a database made by a newer berth
  // or by another program, or when WAL mode is unavailable (e.g. a file system without shared
  // memory); DataLoss for a corrupt file; other codes from the file system.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& root,
                                                     StoreOptions options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // <root>/metadata.db.
  const std::string& path() const { return path_; }
  // The schema version the file had when opened (0 when it was created by this Open).
  int opened_schema_version() const { return opened_schema_version_; }

  // Runs fn(tx) in a write transaction (BEGIN IMMEDIATE ... COMMIT). If fn returns an error,
  // or COMMIT fails, everything fn wrote is rolled back and that error is returned; otherwise
  // fn's result is. fn returns absl::Status or absl::StatusOr<T>, and so does WithTransaction.
  // fn must not call back into the Store (the write mutex is held: it would deadlock); do all
  // the work on tx. Write transactions run one at a time.
  template <typename Fn>
  auto WithTransaction(Fn&& fn) -> std::invoke_result_t<Fn&, Transaction&> {
    return Run(/*write=*/true, fn);
  }
  // Like WithTransaction for reads: a consistent snapshot of the committed state, in parallel
  // with other readers and with the writer. Write methods on tx fail with FailedPrecondition.
  template <typename Fn>
  auto WithReadTransaction(Fn&& fn) -> std::invoke_result_t<Fn&, Transaction&> {
    return Run(/*write=*/false, fn);
  }

  // Marks and sweeps in one write transaction (gc.h): deletes expired leases and the blob and
  // snapshot records nothing reaches, and says which files and directories may now go.
  absl::StatusOr<GcSweepResult> CollectGarbage();

  // PRAGMA integrity_check and foreign_key_check: OK, or DataLoss describing the first problems.
  // Reads the whole file: for tests and repair tools, not for every start.
  absl::Status CheckIntegrity();

 private:
  Store(std::string path, StoreOptions options);
  absl::Status RunTransaction(bool write, absl::FunctionRef<absl::Status(Transaction&)> fn);
  absl::Status RunOn(internal::Db& db, bool write,
                     absl::FunctionRef<absl::Status(Transaction&)> fn);
  absl::StatusOr<std::unique_ptr<internal::Db>> AcquireReader();
  void ReleaseReader(std::unique_ptr<internal::Db> db);

  template <typename Fn>
  auto Run(bool write, Fn& fn) -> std::invoke_result_t<Fn&, Transaction&> {
    using R = std::invoke_result_t<Fn&, Transaction&>;
    if constexpr (std::is_same_v<R, absl::Status>) {
      return RunTransaction(write, fn);
    } else {
      static_assert(std::is_same_v<R, absl::StatusOr<typename R::value_type>>,
                    "the transaction function must return absl::Status or absl::StatusOr<T>");
      std::optional<R> result;
      absl::Status s = RunTransaction(write, [&](Transaction& tx) {
        result.emplace(fn(tx));
        return result->status();
      });
      if (!s.ok()) return s;  // fn's error, or a failed COMMIT after fn succeeded
      return std::move(*result);
    }
  }

  const std::string path_;
  const StoreOptions options_;
  int opened_schema_version_ = 0;

  absl::Mutex write_mu_;
  std::unique_ptr<internal::Db> writer_ ABSL_GUARDED_BY(write_mu_);

  absl::Mutex pool_mu_;
  std::vector<std::unique_ptr<internal::Db>> idle_readers_ ABSL_GUARDED_BY(pool_mu_);
  int open_readers_ ABSL_GUARDED_BY(pool_mu_) = 0;
};

}  // namespace berth::containerd::metadata
