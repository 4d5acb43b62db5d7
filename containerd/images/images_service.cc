#include "containerd/images/images_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "berth/containerd/events/v1/payloads.pb.h"
#include "common/status/status_macros.h"
#include "containerd/filters/filter.h"
#include "containerd/server/proto_time.h"
#include "containerd/server/request_context.h"
#include "glog/logging.h"

namespace berth::containerd::images {
namespace {

namespace eventspb = ::berth::containerd::events::v1;
using server::Reply;
using server::RequestNamespace;

// urls and platform are dropped: an image's root descriptor has neither (metadata types.h).
metadata::Descriptor FromProto(const berth::types::v1::Descriptor& d) {
  metadata::Descriptor out;
  out.media_type = d.media_type();
  out.digest = d.digest();
  out.size = d.size();
  out.annotations.insert(d.annotations().begin(), d.annotations().end());
  out.artifact_type = d.artifact_type();
  return out;
}

metadata::Image FromProto(const v1::Image& image) {
  metadata::Image out;
  out.name = image.name();
  out.labels.insert(image.labels().begin(), image.labels().end());
  out.target = FromProto(image.target());
  return out;
}

void ToProto(const metadata::Image& image, v1::Image* out) {
  out->set_name(image.name);
  out->mutable_labels()->insert(image.labels.begin(), image.labels.end());
  berth::types::v1::Descriptor* target = out->mutable_target();
  target->set_media_type(image.target.media_type);
  target->set_digest(image.target.digest);
  target->set_size(image.target.size);
  target->mutable_annotations()->insert(image.target.annotations.begin(),
                                        image.target.annotations.end());
  target->set_artifact_type(image.target.artifact_type);
  *out->mutable_created_at() = server::ToProtoTime(image.created_at);
  *out->mutable_updated_at() = server::ToProtoTime(image.updated_at);
}

// List filter fields: `name`, `target.media_type`, `target.digest`, `labels.<key>`.
std::optional<std::string> ImageField(const metadata::Image& image,
                                      absl::Span<const std::string> path) {
  if (path.empty()) return std::nullopt;
  if (path[0] == "labels") return filters::LookupMap(path.subspan(1), image.labels);
  if (path.size() == 1 && path[0] == "name") return image.name;
  if (path.size() == 2 && path[0] == "target") {
    if (path[1] == "media_type") return image.target.media_type;
    if (path[1] == "digest") return image.target.digest;
  }
  return std::nullopt;
}

absl::Status CheckName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("image name must not be empty");
  return absl::OkStatus();
}

}  // namespace

ImagesService::ImagesService(metadata::Store* metadata, ImagesServiceOptions options)
    : metadata_(metadata), options_(std::move(options)) {}

void ImagesService::Publish(const std::string& ns, const char* topic,
                            const google::protobuf::Message& event) {
  if (absl::Status s = options_.publisher->Publish(ns, topic, event); !s.ok()) {
    LOG(WARNING) << "publish " << topic << " ns=" << ns << " error=\"" << s.message() << "\"";
  }
}

::grpc::ServerUnaryReactor* ImagesService::Get(::grpc::CallbackServerContext* ctx,
                                               const v1::GetRequest* req, v1::GetResponse* resp) {
  return Reply(ctx, "images.Get", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_RETURN_IF_ERROR(CheckName(req->name()));
    BERTH_ASSIGN_OR_RETURN(const metadata::Image image,
                           metadata_->WithReadTransaction([&](metadata::Transaction& tx) {
                             return tx.GetImage(ns, req->name());
                           }));
    ToProto(image, resp->mutable_image());
    return absl::OkStatus();
  }());
}

::grpc::ServerUnaryReactor* ImagesService::List(::grpc::CallbackServerContext* ctx,
                                                const v1::ListRequest* req,
                                                v1::ListResponse* resp) {
  return Reply(ctx, "images.List", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_ASSIGN_OR_RETURN(const filters::Filter filter, filters::Filter::ParseAll(req->filters()));
    BERTH_ASSIGN_OR_RETURN(const std::vector<metadata::Image> images,
                           metadata_->WithReadTransaction([&](metadata::Transaction& tx) {
                             return tx.ListImages(ns, [&](const metadata::Image& image) {
                               return filter.Matches([&](absl::Span<const std::string> path) {
                                 return ImageField(image, path);
                               });
                             });
                           }));
    for (const metadata::Image& image : images) ToProto(image, resp->add_images());
    return absl::OkStatus();
  }());
}

::grpc::ServerUnaryReactor* ImagesService::Create(::grpc::CallbackServerContext* ctx,
                                                  const v1::CreateRequest* req,
                                                  v1::CreateResponse* resp) {
  return server::ReplyOffThread(ctx, "images.Create", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_RETURN_IF_ERROR(CheckName(req->image().name()));
    const metadata::Image wanted = FromProto(req->image());
    BERTH_ASSIGN_OR_RETURN(const metadata::Image image,
                           metadata_->WithTransaction([&](metadata::Transaction& tx) {
                             return tx.CreateImage(ns, wanted);
                           }));
    ToProto(image, resp->mutable_image());
    eventspb::ImageCreate event;
    event.set_name(image.name);
    event.mutable_labels()->insert(image.labels.begin(), image.labels.end());
    Publish(ns, "/images/create", event);
    return absl::OkStatus();
  });
}

::grpc::ServerUnaryReactor* ImagesService::Update(::grpc::CallbackServerContext* ctx,
                                                  const v1::UpdateRequest* req,
                                                  v1::UpdateResponse* resp) {
  return server::ReplyOffThread(ctx, "images.Update", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_RETURN_IF_ERROR(CheckName(req->image().name()));
    const metadata::Image wanted = FromProto(req->image());
    // The store interprets the mask (`labels`, `labels.<key>`, `target`; empty means labels
    // and target) and rejects other paths, so every Update caller gets the same rules.
    std::vector<std::string> paths(req->update_mask().paths().begin(),
                                   req->update_mask().paths().end());
    BERTH_ASSIGN_OR_RETURN(const metadata::Image image,
                           metadata_->WithTransaction([&](metadata::Transaction& tx) {
                             return tx.UpdateImage(ns, wanted, std::move(paths));
                           }));
    ToProto(image, resp->mutable_image());
    eventspb::ImageUpdate event;
    event.set_name(image.name);
    event.mutable_labels()->insert(image.labels.begin(), image.labels.end());
    Publish(ns, "/images/update", event);
    return absl::OkStatus();
  });
}

::grpc::ServerUnaryReactor* ImagesService::Delete(::grpc::CallbackServerContext* ctx,
                                                  const v1::DeleteRequest* req,
                                                  v1::DeleteResponse*) {
  return server::ReplyOffThread(ctx, "images.Delete", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_RETURN_IF_ERROR(CheckName(req->name()));
    // The guard compares the digest only (proto: "other fields are not compared").
    const std::string if_target = req->has_target() ? req->target().digest() : "";
    BERTH_RETURN_IF_ERROR(metadata_->WithTransaction(
        [&](metadata::Transaction& tx) { return tx.DeleteImage(ns, req->name(), if_target); }));
    eventspb::ImageDelete event;
    event.set_name(req->name());
    Publish(ns, "/images/delete", event);
    if (req->sync() && options_.collect_garbage) {
      // The image is gone whatever happens here; a failed collection is retried by the next.
      BERTH_RETURN_IF_ERROR(options_.collect_garbage(), "image deleted, but garbage collection");
    }
    return absl::OkStatus();
  });
}

}  // namespace berth::containerd::images
