#include "containerd/leases/leases_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/status/status_macros.h"
#include "containerd/filters/filter.h"
#include "containerd/server/proto_time.h"
#include "containerd/server/request_context.h"

namespace berth::containerd::leases {
namespace {

using server::Reply;
using server::RequestNamespace;

void ToProto(const metadata::Lease& lease, v1::Lease* out) {
  out->set_id(lease.id);
  out->mutable_labels()->insert(lease.labels.begin(), lease.labels.end());
  *out->mutable_created_at() = server::ToProtoTime(lease.created_at);
  if (lease.expires_at.has_value()) {
    *out->mutable_expires_at() = server::ToProtoTime(*lease.expires_at);
  }
}

// List filter fields: `id`, `labels.<key>`.
std::optional<std::string> LeaseField(const metadata::Lease& lease,
                                      absl::Span<const std::string> path) {
  if (path.empty()) return std::nullopt;
  if (path[0] == "labels") return filters::LookupMap(path.subspan(1), lease.labels);
  if (path.size() == 1 && path[0] == "id") return lease.id;
  return std::nullopt;
}

absl::Status CheckLeaseId(absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("lease id must not be empty");
  return absl::OkStatus();
}

metadata::LeaseResource FromProto(const v1::Resource& resource) {
  return metadata::LeaseResource{resource.type(), resource.id()};
}

}  // namespace

LeasesService::LeasesService(metadata::Store* metadata, LeasesServiceOptions options)
    : metadata_(metadata), options_(std::move(options)) {}

::grpc::ServerUnaryReactor* LeasesService::Create(::grpc::CallbackServerContext* ctx,
                                                  const v1::CreateRequest* req,
                                                  v1::CreateResponse* resp) {
  return server::ReplyOffThread(ctx, "leases.Create", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    metadata::Lease lease;
    lease.id = req->id();
    if (lease.id.empty()) {
      id::IdSource* ids = options_.ids != nullptr ? options_.ids : &random_ids_;
      BERTH_ASSIGN_OR_RETURN(lease.id, ids->NewId(), "generate lease id");
    }
    lease.labels.insert(req->labels().begin(), req->labels().end());
    switch (req->expiration_case()) {
      case v1::CreateRequest::kExpiresAt: {
        BERTH_ASSIGN_OR_RETURN(lease.expires_at, server::FromProtoTime(req->expires_at()),
                               "expires_at");
        break;
      }
      case v1::CreateRequest::kTtl: {
        BERTH_ASSIGN_OR_RETURN(const absl::Duration ttl, server::FromProtoDuration(req->ttl()),
                               "ttl");
        if (ttl <= absl::ZeroDuration()) {
          return absl::InvalidArgumentError(
              absl::StrCat("ttl must be positive, got ", absl::FormatDuration(ttl)));
        }
        lease.expires_at = options_.clock() + ttl;
        break;
      }
      case v1::CreateRequest::EXPIRATION_NOT_SET:
        break;
    }
    // The store checks the id grammar, the labels, and `berth.io/gc.expire` (RFC 3339, not
    // together with an expiration), so a lease can never be stored breaking those rules.
    BERTH_ASSIGN_OR_RETURN(const metadata::Lease created,
                           metadata_->WithTransaction([&](metadata::Transaction& tx) {
                             return tx.CreateLease(ns, lease);
                           }));
    ToProto(created, resp->mutable_lease());
    return absl::OkStatus();
  });
}

::grpc::ServerUnaryReactor* LeasesService::Delete(::grpc::CallbackServerContext* ctx,
                                                  const v1::DeleteRequest* req,
                                                  v1::DeleteResponse*) {
  return server::ReplyOffThread(ctx, "leases.Delete", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_RETURN_IF_ERROR(CheckLeaseId(req->id()));
    BERTH_RETURN_IF_ERROR(metadata_->WithTransaction(
        [&](metadata::Transaction& tx) { return tx.DeleteLease(ns, req->id()); }));
    if (req->sync() && options_.collect_garbage) {
      BERTH_RETURN_IF_ERROR(options_.collect_garbage(), "lease deleted, but garbage collection");
    }
    return absl::OkStatus();
  });
}

::grpc::ServerUnaryReactor* LeasesService::List(::grpc::CallbackServerContext* ctx,
                                                const v1::ListRequest* req,
                                                v1::ListResponse* resp) {
  return Reply(ctx, "leases.List", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_ASSIGN_OR_RETURN(const filters::Filter filter, filters::Filter::ParseAll(req->filters()));
    BERTH_ASSIGN_OR_RETURN(const std::vector<metadata::Lease> leases,
                           metadata_->WithReadTransaction([&](metadata::Transaction& tx) {
                             return tx.ListLeases(ns, [&](const metadata::Lease& lease) {
                               return filter.Matches([&](absl::Span<const std::string> path) {
                                 return LeaseField(lease, path);
                               });
                             });
                           }));
    for (const metadata::Lease& lease : leases) ToProto(lease, resp->add_leases());
    return absl::OkStatus();
  }());
}

::grpc::ServerUnaryReactor* LeasesService::AddResource(::grpc::CallbackServerContext* ctx,
                                                       const v1::AddResourceRequest* req,
                                                       v1::AddResourceResponse*) {
  return Reply(ctx, "leases.AddResource", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_RETURN_IF_ERROR(CheckLeaseId(req->lease_id()));
    return metadata_->WithTransaction([&](metadata::Transaction& tx) {
      return tx.AddLeaseResource(ns, req->lease_id(), FromProto(req->resource()));
    });
  }());
}

::grpc::ServerUnaryReactor* LeasesService::DeleteResource(::grpc::CallbackServerContext* ctx,
                                                          const v1::DeleteResourceRequest* req,
                                                          v1::DeleteResourceResponse*) {
  return Reply(ctx, "leases.DeleteResource", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_RETURN_IF_ERROR(CheckLeaseId(req->lease_id()));
    return metadata_->WithTransaction([&](metadata::Transaction& tx) {
      return tx.DeleteLeaseResource(ns, req->lease_id(), FromProto(req->resource()));
    });
  }());
}

::grpc::ServerUnaryReactor* LeasesService::ListResources(::grpc::CallbackServerContext* ctx,
                                                         const v1::ListResourcesRequest* req,
                                                         v1::ListResourcesResponse* resp) {
  return Reply(ctx, "leases.ListResources", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_RETURN_IF_ERROR(CheckLeaseId(req->lease_id()));
    BERTH_ASSIGN_OR_RETURN(const std::vector<metadata::LeaseResource> resources,
                           metadata_->WithReadTransaction([&](metadata::Transaction& tx) {
                             return tx.ListLeaseResources(ns, req->lease_id());
                           }));
    for (const metadata::LeaseResource& r : resources) {
      v1::Resource* out = resp->add_resources();
      out->set_id(r.id);
      out->set_type(r.type);
    }
    return absl::OkStatus();
  }());
}

}  // namespace berth::containerd::leases
