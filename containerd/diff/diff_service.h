// gRPC adapter for berth.containerd.diff.v1.Diff (proto/berth/containerd/diff/v1/diff.proto):
// Apply unpacks a layer blob of the content store onto mounts, Diff writes the changes between
// two mounted file systems into the content store as a new layer blob. The layer work is the
// diff library's (apply.h, diff.h); this adapter finds the directories behind the mounts.
//
// Mounts to directories, without mounting when the mounts name the directory already:
//  - One overlay mount with an absolute upperdir (an active overlayfs snapshot): Apply writes
//    into the upperdir in overlay mode (OCI whiteouts become overlay whiteouts, lowerdirs give
//    the metadata of implied parent directories), as containerd does. Diff reads the upperdir
//    when `lower_mounts` shows exactly its lowerdirs (a view of the parent); otherwise both
//    sides are compared as plain trees (DiffDirs).
//  - One bind mount of a directory onto the target itself: that directory, used in place
//    (Apply refuses a read-only one with FailedPrecondition).
//  - Anything else is mounted (snapshots::MountAll) on a fresh 0700 directory under
//    options.scratch_dir and used there in plain-directory mode; it is unmounted and removed
//    before the call returns, on every path (lazily, with an ERROR log, if it stays busy).
//    Diff mounts both sides read-only, an overlay's upper dir as its topmost lowerdir
//    (overlayfs refuses to mount an upper dir twice, and the container may be using it).
//
// The handlers run the (long) layer work on gRPC's callback threads; if that ever starves
// other calls, move it to an owned pool.
#pragma once

#include <string>

#include "berth/containerd/diff/v1/diff.grpc.pb.h"
#include "common/executor/blocking_executor.h"
#include "containerd/content/namespaced_store.h"

namespace berth::containerd::diff {

// Label Diff puts on the blobs it writes: the diff ID (sha256 of the uncompressed tar).
inline constexpr char kUncompressedLabel[] = "berth.io/uncompressed";

struct DiffServiceOptions {
  // Where temporary mount points are made (created 0700 when missing), e.g. <state>/diff.
  // Required.
  std::string scratch_dir;
  // Apply: chown entries to the layer's uid/gid (needs root; off for unprivileged tests).
  bool preserve_ownership = true;
  // Apply: create character and block devices from layers (skipped and counted otherwise).
  // Containers get their own /dev, so the default skips them.
  bool allow_devices = false;
};

class DiffService final : public v1::Diff::CallbackService {
 public:
  // `content` is not owned and must outlive the service.
  DiffService(content::NamespacedStore* content, DiffServiceOptions options);

  ::grpc::ServerUnaryReactor* Apply(::grpc::CallbackServerContext* ctx, const v1::ApplyRequest* req,
                                    v1::ApplyResponse* resp) override;
  ::grpc::ServerUnaryReactor* Diff(::grpc::CallbackServerContext* ctx, const v1::DiffRequest* req,
                                   v1::DiffResponse* resp) override;

 private:
  absl::Status DoApply(const ::grpc::CallbackServerContext& ctx, const v1::ApplyRequest& req,
                       v1::ApplyResponse& resp);
  absl::Status DoDiff(const ::grpc::CallbackServerContext& ctx, const v1::DiffRequest& req,
                      v1::DiffResponse& resp);

  content::NamespacedStore* const content_;
  const DiffServiceOptions options_;
  // Runs the handlers that block (server::ReplyOffThread). Last member: destroyed first, it
  // waits for their threads while everything they use still exists.
  executor::BlockingExecutor blocking_;
};

}  // namespace berth::containerd::diff
