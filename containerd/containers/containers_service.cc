#include "containerd/containers/containers_service.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "berth/containerd/events/v1/payloads.pb.h"
#include "common/status/status_macros.h"
#include "containerd/filters/filter.h"
#include "containerd/server/proto_time.h"
#include "containerd/server/request_context.h"
#include "containerd/server/send_all_reactor.h"
#include "glog/logging.h"

namespace berth::containerd::containers {
namespace {

namespace eventspb = ::berth::containerd::events::v1;
using server::Reply;
using server::RequestNamespace;

// The store keeps Any values serialized (metadata types.h): "" for an unset one.
std::string SerializeAny(const google::protobuf::Any& any) { return any.SerializeAsString(); }

absl::Status ParseAny(const std::string& bytes, google::protobuf::Any* out) {
  if (!out->ParseFromString(bytes)) {
    return absl::DataLossError("stored google.protobuf.Any does not parse");
  }
  return absl::OkStatus();
}

metadata::Container FromProto(const v1::Container& c) {
  metadata::Container out;
  out.id = c.id();
  out.labels.insert(c.labels().begin(), c.labels().end());
  out.image = c.image();
  out.runtime.name = c.runtime().name().empty() ? kDefaultRuntime : c.runtime().name();
  if (c.runtime().has_options()) out.runtime.options = SerializeAny(c.runtime().options());
  out.spec = c.spec();
  out.snapshotter = c.snapshotter();
  out.snapshot_key = c.snapshot_key();
  out.sandbox_id = c.sandbox_id();
  for (const auto& [key, any] : c.extensions()) out.extensions[key] = SerializeAny(any);
  return out;
}

absl::Status ToProto(const metadata::Container& c, v1::Container* out) {
  out->set_id(c.id);
  out->mutable_labels()->insert(c.labels.begin(), c.labels.end());
  out->set_image(c.image);
  out->mutable_runtime()->set_name(c.runtime.name);
  if (!c.runtime.options.empty()) {
    BERTH_RETURN_IF_ERROR(ParseAny(c.runtime.options, out->mutable_runtime()->mutable_options()),
                          absl::StrCat("container ", c.id, " runtime options"));
  }
  out->set_spec(c.spec);
  out->set_snapshotter(c.snapshotter);
  out->set_snapshot_key(c.snapshot_key);
  out->set_sandbox_id(c.sandbox_id);
  *out->mutable_created_at() = server::ToProtoTime(c.created_at);
  *out->mutable_updated_at() = server::ToProtoTime(c.updated_at);
  for (const auto& [key, bytes] : c.extensions) {
    BERTH_RETURN_IF_ERROR(ParseAny(bytes, &(*out->mutable_extensions())[key]),
                          absl::StrCat("container ", c.id, " extension ", key));
  }
  return absl::OkStatus();
}

// List filter fields: `id`, `image`, `runtime.name`, `snapshotter`, `snapshot_key`,
// `sandbox_id`, `labels.<key>`.
std::optional<std::string> ContainerField(const metadata::Container& c,
                                          absl::Span<const std::string> path) {
  if (path.empty()) return std::nullopt;
  if (path[0] == "labels") return filters::LookupMap(path.subspan(1), c.labels);
  if (path.size() == 2 && path[0] == "runtime" && path[1] == "name") return c.runtime.name;
  if (path.size() != 1) return std::nullopt;
  if (path[0] == "id") return c.id;
  if (path[0] == "image") return c.image;
  if (path[0] == "snapshotter") return c.snapshotter;
  if (path[0] == "snapshot_key") return c.snapshot_key;
  if (path[0] == "sandbox_id") return c.sandbox_id;
  return std::nullopt;
}

absl::Status CheckId(absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("container id must not be empty");
  return absl::OkStatus();
}

}  // namespace

ContainersService::ContainersService(metadata::Store* metadata, ContainersServiceOptions options)
    : metadata_(metadata), options_(std::move(options)) {}

void ContainersService::Publish(const std::string& ns, const char* topic,
                                const google::protobuf::Message& event) {
  if (absl::Status s = options_.publisher->Publish(ns, topic, event); !s.ok()) {
    LOG(WARNING) << "publish " << topic << " ns=" << ns << " error=\"" << s.message() << "\"";
  }
}

::grpc::ServerUnaryReactor* ContainersService::Get(::grpc::CallbackServerContext* ctx,
                                                   const v1::GetRequest* req,
                                                   v1::GetResponse* resp) {
  return Reply(ctx, "containers.Get", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_RETURN_IF_ERROR(CheckId(req->id()));
    BERTH_ASSIGN_OR_RETURN(const metadata::Container c,
                           metadata_->WithReadTransaction([&](metadata::Transaction& tx) {
                             return tx.GetContainer(ns, req->id());
                           }));
    return ToProto(c, resp->mutable_container());
  }());
}

absl::StatusOr<std::vector<metadata::Container>> ContainersService::ListMatching(
    const ::grpc::CallbackServerContext& ctx,
    const google::protobuf::RepeatedPtrField<std::string>& filter_strings) {
  BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(ctx));
  BERTH_ASSIGN_OR_RETURN(const filters::Filter filter, filters::Filter::ParseAll(filter_strings));
  return metadata_->WithReadTransaction([&](metadata::Transaction& tx) {
    return tx.ListContainers(ns, [&](const metadata::Container& c) {
      return filter.Matches(
          [&](absl::Span<const std::string> path) { return ContainerField(c, path); });
    });
  });
}

::grpc::ServerUnaryReactor* ContainersService::List(::grpc::CallbackServerContext* ctx,
                                                    const v1::ListRequest* req,
                                                    v1::ListResponse* resp) {
  return Reply(ctx, "containers.List", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::vector<metadata::Container> containers,
                           ListMatching(*ctx, req->filters()));
    for (const metadata::Container& c : containers) {
      BERTH_RETURN_IF_ERROR(ToProto(c, resp->add_containers()));
    }
    return absl::OkStatus();
  }());
}

::grpc::ServerWriteReactor<v1::ListStreamResponse>* ContainersService::ListStream(
    ::grpc::CallbackServerContext* ctx, const v1::ListStreamRequest* req) {
  auto messages = [&]() -> absl::StatusOr<std::vector<v1::ListStreamResponse>> {
    BERTH_ASSIGN_OR_RETURN(const std::vector<metadata::Container> containers,
                           ListMatching(*ctx, req->filters()));
    std::vector<v1::ListStreamResponse> out(containers.size());
    for (size_t i = 0; i < containers.size(); ++i) {
      BERTH_RETURN_IF_ERROR(ToProto(containers[i], out[i].mutable_container()));
    }
    return out;
  };
  return new server::SendAllReactor<v1::ListStreamResponse>("containers.ListStream", messages());
}

::grpc::ServerUnaryReactor* ContainersService::Create(::grpc::CallbackServerContext* ctx,
                                                      const v1::CreateRequest* req,
                                                      v1::CreateResponse* resp) {
  return server::ReplyOffThread(ctx, "containers.Create", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_RETURN_IF_ERROR(CheckId(req->container().id()));
    const metadata::Container wanted = FromProto(req->container());
    BERTH_ASSIGN_OR_RETURN(const metadata::Container c,
                           metadata_->WithTransaction([&](metadata::Transaction& tx) {
                             return tx.CreateContainer(ns, wanted);
                           }));
    BERTH_RETURN_IF_ERROR(ToProto(c, resp->mutable_container()));
    eventspb::ContainerCreate event;
    event.set_id(c.id);
    event.set_image(c.image);
    *event.mutable_runtime()->mutable_name() = resp->container().runtime().name();
    if (resp->container().runtime().has_options()) {
      *event.mutable_runtime()->mutable_options() = resp->container().runtime().options();
    }
    Publish(ns, "/containers/create", event);
    LOG(INFO) << "container created ns=" << ns << " id=" << c.id;
    return absl::OkStatus();
  });
}

::grpc::ServerUnaryReactor* ContainersService::Update(::grpc::CallbackServerContext* ctx,
                                                      const v1::UpdateRequest* req,
                                                      v1::UpdateResponse* resp) {
  return server::ReplyOffThread(ctx, "containers.Update", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_RETURN_IF_ERROR(CheckId(req->container().id()));
    // FromProto fills an empty runtime name with the default, so replacing the runtime with an
    // unnamed one means berth-runc, as the proto says.
    const metadata::Container wanted = FromProto(req->container());
    // The store interprets the mask (proto UpdateRequest.update_mask) and rejects immutable and
    // unknown paths.
    std::vector<std::string> paths(req->update_mask().paths().begin(),
                                   req->update_mask().paths().end());
    BERTH_ASSIGN_OR_RETURN(const metadata::Container c,
                           metadata_->WithTransaction([&](metadata::Transaction& tx) {
                             return tx.UpdateContainer(ns, wanted, std::move(paths));
                           }));
    BERTH_RETURN_IF_ERROR(ToProto(c, resp->mutable_container()));
    eventspb::ContainerUpdate event;
    event.set_id(c.id);
    event.set_image(c.image);
    event.mutable_labels()->insert(c.labels.begin(), c.labels.end());
    event.set_snapshot_key(c.snapshot_key);
    Publish(ns, "/containers/update", event);
    return absl::OkStatus();
  });
}

::grpc::ServerUnaryReactor* ContainersService::Delete(::grpc::CallbackServerContext* ctx,
                                                      const v1::DeleteRequest* req,
                                                      v1::DeleteResponse*) {
  return server::ReplyOffThread(ctx, "containers.Delete", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_RETURN_IF_ERROR(CheckId(req->id()));
    if (options_.has_task) {
      BERTH_ASSIGN_OR_RETURN(const bool has_task, options_.has_task(ns, req->id()));
      if (has_task) {
        return absl::FailedPreconditionError(
            absl::StrCat("container ", req->id(), " still has a task; delete the task first"));
      }
    }
    BERTH_RETURN_IF_ERROR(metadata_->WithTransaction(
        [&](metadata::Transaction& tx) { return tx.DeleteContainer(ns, req->id()); }));
    eventspb::ContainerDelete event;
    event.set_id(req->id());
    Publish(ns, "/containers/delete", event);
    LOG(INFO) << "container deleted ns=" << ns << " id=" << req->id();
    return absl::OkStatus();
  });
}

}  // namespace berth::containerd::containers
