// gRPC adapter for berth.containerd.namespaces.v1.Namespaces (proto/berth/containerd/namespaces/
// v1/namespaces.proto) over the metadata store. Not namespaced itself: it ignores the
// `berth-namespace` header and names namespaces in its requests.
#pragma once

#include "berth/containerd/namespaces/v1/namespaces.grpc.pb.h"
#include "containerd/events/publisher.h"
#include "containerd/metadata/store.h"

namespace berth::containerd::namespaces {

class NamespacesService final : public v1::Namespaces::CallbackService {
 public:
  // Neither is owned; both must outlive the service. `publisher` receives /namespaces/create,
  // /namespaces/update and /namespaces/delete, each in the namespace concerned.
  NamespacesService(metadata::Store* metadata, events::Publisher* publisher)
      : metadata_(metadata), publisher_(publisher) {}

  ::grpc::ServerUnaryReactor* Get(::grpc::CallbackServerContext* ctx, const v1::GetRequest* req,
                                  v1::GetResponse* resp) override;
  ::grpc::ServerUnaryReactor* List(::grpc::CallbackServerContext* ctx, const v1::ListRequest* req,
                                   v1::ListResponse* resp) override;
  ::grpc::ServerUnaryReactor* Create(::grpc::CallbackServerContext* ctx,
                                     const v1::CreateRequest* req,
                                     v1::CreateResponse* resp) override;
  ::grpc::ServerUnaryReactor* Update(::grpc::CallbackServerContext* ctx,
                                     const v1::UpdateRequest* req,
                                     v1::UpdateResponse* resp) override;
  ::grpc::ServerUnaryReactor* Delete(::grpc::CallbackServerContext* ctx,
                                     const v1::DeleteRequest* req,
                                     v1::DeleteResponse* resp) override;

 private:
  void Publish(const std::string& ns, const char* topic, const google::protobuf::Message& event);

  metadata::Store* const metadata_;
  events::Publisher* const publisher_;
};

}  // namespace berth::containerd::namespaces
