// For service-level tests of berth-containerd: the stores the services sit on (a metadata
// store and a local content store in a fresh temp dir) and a UnixGrpcServer serving the
// services under test on a socket there, so tests call them through generated stubs exactly as
// clients do.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/grpc/server.h"
#include "common/testing/temp_dir.h"
#include "containerd/content/local_store.h"
#include "containerd/metadata/store.h"

namespace berth::containerd::server {

class ServiceTestEnv {
 public:
  // Creates the temp dir and opens both stores in it (metadata.db, content/).
  static absl::StatusOr<std::unique_ptr<ServiceTestEnv>> Create(
      metadata::StoreOptions metadata_options = {});

  // Serves `services` (not owned; they must outlive this env or the next Serve) on
  // <dir>/grpc.sock and dials it. Any earlier server is shut down first.
  absl::Status Serve(const std::vector<::grpc::Service*>& services);
  // Shuts the server down (draining in-flight calls). Idempotent.
  void StopServing();

  const berth::testing::TempDir& dir() const { return *dir_; }
  metadata::Store& metadata() { return *metadata_; }
  content::LocalStore& blobs() { return *blobs_; }
  const std::shared_ptr<::grpc::Channel>& channel() const { return channel_; }

  ~ServiceTestEnv();

 private:
  ServiceTestEnv() = default;
  std::optional<berth::testing::TempDir> dir_;
  std::unique_ptr<metadata::Store> metadata_;
  std::unique_ptr<content::LocalStore> blobs_;
  std::unique_ptr<grpc_util::UnixGrpcServer> server_;
  std::shared_ptr<::grpc::Channel> channel_;
};

// A client context for a call in namespace `ns` ("" sends no namespace header) and, when not
// empty, under `lease`, with a deadline so a broken server fails the test instead of hanging it.
std::unique_ptr<::grpc::ClientContext> CallContext(const std::string& ns = "",
                                                   const std::string& lease = "");

}  // namespace berth::containerd::server
