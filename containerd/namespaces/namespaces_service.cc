#include "containerd/namespaces/namespaces_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "berth/containerd/events/v1/payloads.pb.h"
#include "common/status/status_macros.h"
#include "containerd/filters/filter.h"
#include "containerd/server/request_context.h"
#include "glog/logging.h"

namespace berth::containerd::namespaces {
namespace {

namespace eventspb = ::berth::containerd::events::v1;
using server::Reply;

void ToProto(const metadata::Namespace& ns, v1::Namespace* out) {
  out->set_name(ns.name);
  out->mutable_labels()->insert(ns.labels.begin(), ns.labels.end());
}

metadata::Namespace FromProto(const v1::Namespace& ns) {
  metadata::Namespace out;
  out.name = ns.name();
  out.labels.insert(ns.labels().begin(), ns.labels().end());
  return out;
}

// List filter fields: `name`, `labels.<key>`.
std::optional<std::string> NamespaceField(const metadata::Namespace& ns,
                                          absl::Span<const std::string> path) {
  if (path.empty()) return std::nullopt;
  if (path[0] == "labels") return filters::LookupMap(path.subspan(1), ns.labels);
  if (path.size() == 1 && path[0] == "name") return ns.name;
  return std::nullopt;
}

}  // namespace

void NamespacesService::Publish(const std::string& ns, const char* topic,
                                const google::protobuf::Message& event) {
  if (absl::Status s = publisher_->Publish(ns, topic, event); !s.ok()) {
    LOG(WARNING) << "publish " << topic << " ns=" << ns << " error=\"" << s.message() << "\"";
  }
}

::grpc::ServerUnaryReactor* NamespacesService::Get(::grpc::CallbackServerContext* ctx,
                                                   const v1::GetRequest* req,
                                                   v1::GetResponse* resp) {
  return Reply(ctx, "namespaces.Get", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const metadata::Namespace ns,
                           metadata_->WithReadTransaction([&](metadata::Transaction& tx) {
                             return tx.GetNamespace(req->name());
                           }));
    ToProto(ns, resp->mutable_namespace_());
    return absl::OkStatus();
  }());
}

::grpc::ServerUnaryReactor* NamespacesService::List(::grpc::CallbackServerContext* ctx,
                                                    const v1::ListRequest* req,
                                                    v1::ListResponse* resp) {
  return Reply(ctx, "namespaces.List", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const filters::Filter filter, filters::Filter::ParseAll(req->filters()));
    BERTH_ASSIGN_OR_RETURN(const std::vector<metadata::Namespace> all,
                           metadata_->WithReadTransaction([&](metadata::Transaction& tx) {
                             return tx.ListNamespaces([&](const metadata::Namespace& ns) {
                               return filter.Matches([&](absl::Span<const std::string> path) {
                                 return NamespaceField(ns, path);
                               });
                             });
                           }));
    for (const metadata::Namespace& ns : all) ToProto(ns, resp->add_namespaces());
    return absl::OkStatus();
  }());
}

::grpc::ServerUnaryReactor* NamespacesService::Create(::grpc::CallbackServerContext* ctx,
                                                      const v1::CreateRequest* req,
                                                      v1::CreateResponse* resp) {
  return Reply(ctx, "namespaces.Create", [&]() -> absl::Status {
    const metadata::Namespace wanted = FromProto(req->namespace_());
    BERTH_ASSIGN_OR_RETURN(const metadata::Namespace ns,
                           metadata_->WithTransaction([&](metadata::Transaction& tx) {
                             return tx.CreateNamespace(wanted);
                           }));
    ToProto(ns, resp->mutable_namespace_());
    eventspb::NamespaceCreate event;
    event.set_name(ns.name);
    event.mutable_labels()->insert(ns.labels.begin(), ns.labels.end());
    Publish(ns.name, "/namespaces/create", event);
    return absl::OkStatus();
  }());
}

::grpc::ServerUnaryReactor* NamespacesService::Update(::grpc::CallbackServerContext* ctx,
                                                      const v1::UpdateRequest* req,
                                                      v1::UpdateResponse* resp) {
  return Reply(ctx, "namespaces.Update", [&]() -> absl::Status {
    const metadata::Namespace wanted = FromProto(req->namespace_());
    std::vector<std::string> paths(req->update_mask().paths().begin(),
                                   req->update_mask().paths().end());
    BERTH_ASSIGN_OR_RETURN(const metadata::Namespace ns,
                           metadata_->WithTransaction([&](metadata::Transaction& tx) {
                             return tx.UpdateNamespace(wanted, std::move(paths));
                           }));
    ToProto(ns, resp->mutable_namespace_());
    eventspb::NamespaceUpdate event;
    event.set_name(ns.name);
    event.mutable_labels()->insert(ns.labels.begin(), ns.labels.end());
    Publish(ns.name, "/namespaces/update", event);
    return absl::OkStatus();
  }());
}

::grpc::ServerUnaryReactor* NamespacesService::Delete(::grpc::CallbackServerContext* ctx,
                                                      const v1::DeleteRequest* req,
                                                      v1::DeleteResponse*) {
  return Reply(ctx, "namespaces.Delete", [&]() -> absl::Status {
    BERTH_RETURN_IF_ERROR(metadata_->WithTransaction(
        [&](metadata::Transaction& tx) { return tx.DeleteNamespace(req->name()); }));
    eventspb::NamespaceDelete event;
    event.set_name(req->name());
    Publish(req->name(), "/namespaces/delete", event);
    return absl::OkStatus();
  }());
}

}  // namespace berth::containerd::namespaces
