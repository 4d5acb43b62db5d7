// gRPC adapter of berth.engine.v1.Containers over ContainerManager. Unary calls run on the
// manager's BlockingExecutor (stop timeouts and waits must not hold gRPC's callback threads);
// streams (Wait, Logs, Attach, Exec, Stats) are queued reactors fed by relay threads that talk
// to berth-containerd's Tasks API.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

#include "berth/engine/v1/containers.grpc.pb.h"
#include "engine/containers/manager.h"

namespace berth::engine::containers {

class ContainersService final : public ev1::Containers::CallbackService {
 public:
  // `manager` must outlive the service.
  explicit ContainersService(ContainerManager* manager) : manager_(manager) {}

  ::grpc::ServerUnaryReactor* Create(::grpc::CallbackServerContext* ctx,
                                     const ev1::CreateContainerRequest* req,
                                     ev1::CreateContainerResponse* resp) override;
  ::grpc::ServerUnaryReactor* Start(::grpc::CallbackServerContext* ctx,
                                    const ev1::StartContainerRequest* req,
                                    ev1::StartContainerResponse* resp) override;
  ::grpc::ServerUnaryReactor* Stop(::grpc::CallbackServerContext* ctx,
                                   const ev1::StopContainerRequest* req,
                                   ev1::StopContainerResponse* resp) override;
  ::grpc::ServerUnaryReactor* Restart(::grpc::CallbackServerContext* ctx,
                                      const ev1::RestartContainerRequest* req,
                                      ev1::RestartContainerResponse* resp) override;
  ::grpc::ServerUnaryReactor* Kill(::grpc::CallbackServerContext* ctx,
                                   const ev1::KillContainerRequest* req,
                                   ev1::KillContainerResponse* resp) override;
  ::grpc::ServerUnaryReactor* Pause(::grpc::CallbackServerContext* ctx,
                                    const ev1::PauseContainerRequest* req,
                                    ev1::PauseContainerResponse* resp) override;
  ::grpc::ServerUnaryReactor* Unpause(::grpc::CallbackServerContext* ctx,
                                      const ev1::UnpauseContainerRequest* req,
                                      ev1::UnpauseContainerResponse* resp) override;
  ::grpc::ServerWriteReactor<ev1::WaitContainerResponse>* Wait(
      ::grpc::CallbackServerContext* ctx, const ev1::WaitContainerRequest* req) override;
  ::grpc::ServerUnaryReactor* Remove(::grpc::CallbackServerContext* ctx,
                                     const ev1::RemoveContainerRequest* req,
                                     ev1::RemoveContainerResponse* resp) override;
  ::grpc::ServerUnaryReactor* Rename(::grpc::CallbackServerContext* ctx,
                                     const ev1::RenameContainerRequest* req,
                                     ev1::RenameContainerResponse* resp) override;
  ::grpc::ServerUnaryReactor* Update(::grpc::CallbackServerContext* ctx,
                                     const ev1::UpdateContainerRequest* req,
                                     ev1::UpdateContainerResponse* resp) override;
  ::grpc::ServerUnaryReactor* List(::grpc::CallbackServerContext* ctx,
                                   const ev1::ListContainersRequest* req,
                                   ev1::ListContainersResponse* resp) override;
  ::grpc::ServerUnaryReactor* Inspect(::grpc::CallbackServerContext* ctx,
                                      const ev1::InspectContainerRequest* req,
                                      ev1::InspectContainerResponse* resp) override;
  ::grpc::ServerWriteReactor<ev1::ContainerLogsResponse>* Logs(
      ::grpc::CallbackServerContext* ctx, const ev1::ContainerLogsRequest* req) override;
  ::grpc::ServerBidiReactor<ev1::AttachContainerRequest, ev1::AttachContainerResponse>* Attach(
      ::grpc::CallbackServerContext* ctx) override;
  ::grpc::ServerBidiReactor<ev1::ExecContainerRequest, ev1::ExecContainerResponse>* Exec(
      ::grpc::CallbackServerContext* ctx) override;
  ::grpc::ServerUnaryReactor* InspectExec(::grpc::CallbackServerContext* ctx,
                                          const ev1::InspectExecRequest* req,
                                          ev1::InspectExecResponse* resp) override;
  ::grpc::ServerWriteReactor<ev1::ContainerStatsResponse>* Stats(
      ::grpc::CallbackServerContext* ctx, const ev1::ContainerStatsRequest* req) override;
  ::grpc::ServerUnaryReactor* Top(::grpc::CallbackServerContext* ctx,
                                  const ev1::ContainerTopRequest* req,
                                  ev1::ContainerTopResponse* resp) override;
  ::grpc::ServerUnaryReactor* Prune(::grpc::CallbackServerContext* ctx,
                                    const ev1::PruneContainersRequest* req,
                                    ev1::PruneContainersResponse* resp) override;

 private:
  ContainerManager* const manager_;
};

}  // namespace berth::engine::containers
