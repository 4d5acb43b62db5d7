#include "containerd/server/service_test_util.h"

#include <chrono>
#include <utility>

#include "common/status/status_macros.h"
#include "containerd/server/request_context.h"

namespace berth::containerd::server {

absl::StatusOr<std::unique_ptr<ServiceTestEnv>> ServiceTestEnv::Create(
    metadata::StoreOptions metadata_options) {
  std::unique_ptr<ServiceTestEnv> env(new ServiceTestEnv());
  BERTH_ASSIGN_OR_RETURN(berth::testing::TempDir dir, berth::testing::TempDir::Create());
  env->dir_.emplace(std::move(dir));
  BERTH_ASSIGN_OR_RETURN(env->metadata_,
                         metadata::Store::Open(env->dir_->path(), std::move(metadata_options)));
  content::LocalStoreOptions blob_options;
  blob_options.dir = env->dir_->Sub("content");
  BERTH_ASSIGN_OR_RETURN(env->blobs_, content::LocalStore::Create(std::move(blob_options)));
  return env;
}

absl::Status ServiceTestEnv::Serve(const std::vector<::grpc::Service*>& services) {
  StopServing();
  grpc_util::UnixServerOptions options;
  options.address = "unix://" + dir_->Sub("grpc.sock");
  options.socket_group = "";
  options.drain_timeout = absl::Seconds(5);
  BERTH_ASSIGN_OR_RETURN(server_, grpc_util::UnixGrpcServer::Start(options, services));
  BERTH_ASSIGN_OR_RETURN(channel_, grpc_util::DialUnix(options.address));
  return absl::OkStatus();
}

void ServiceTestEnv::StopServing() {
  channel_.reset();
  if (server_ != nullptr) server_->Shutdown();
  server_.reset();
}

ServiceTestEnv::~ServiceTestEnv() { StopServing(); }

std::unique_ptr<::grpc::ClientContext> CallContext(const std::string& ns,
                                                   const std::string& lease) {
  auto ctx = std::make_unique<::grpc::ClientContext>();
  if (!ns.empty()) ctx->AddMetadata(kNamespaceKey, ns);
  if (!lease.empty()) ctx->AddMetadata(kLeaseKey, lease);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return ctx;
}

}  // namespace berth::containerd::server
