#include "containerd/snapshots/snapshots_service.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "berth/containerd/events/v1/payloads.pb.h"
#include "common/status/status_macros.h"
#include "containerd/filters/filter.h"
#include "containerd/server/proto_time.h"
#include "containerd/server/request_context.h"
#include "containerd/server/send_all_reactor.h"
#include "glog/logging.h"

namespace berth::containerd::snapshots {
namespace {

namespace eventspb = ::berth::containerd::events::v1;
using server::Reply;
using server::RequestNamespace;

// A List batch is cut once it holds this many bytes of encoded infos: well under gRPC's 4 MiB
// default receive limit, even with labels at their 4 KiB-per-label maximum.
constexpr size_t kListBatchBytes = 1 << 20;

void ToProto(const Mount& mount, berth::types::v1::Mount* out) {
  out->set_type(mount.type);
  out->set_source(mount.source);
  out->set_target(mount.target);
  for (const std::string& option : mount.options) out->add_options(option);
}

template <typename Response>
void MountsToProto(const std::vector<Mount>& mounts, Response* resp) {
  for (const Mount& mount : mounts) ToProto(mount, resp->add_mounts());
}

v1::Kind ToProto(Kind kind) {
  switch (kind) {
    case Kind::kView:
      return v1::KIND_VIEW;
    case Kind::kActive:
      return v1::KIND_ACTIVE;
    case Kind::kCommitted:
      return v1::KIND_COMMITTED;
  }
  return v1::KIND_UNSPECIFIED;
}

void ToProto(const Info& info, v1::Info* out) {
  out->set_name(info.name);
  out->set_parent(info.parent);
  out->set_kind(ToProto(info.kind));
  *out->mutable_created_at() = server::ToProtoTime(info.created_at);
  *out->mutable_updated_at() = server::ToProtoTime(info.updated_at);
  out->mutable_labels()->insert(info.labels.begin(), info.labels.end());
}

Labels FromProto(const google::protobuf::Map<std::string, std::string>& labels) {
  return Labels(labels.begin(), labels.end());
}

// List filter fields: `name`, `parent`, `kind`, `labels.<key>`.
std::optional<std::string> InfoField(const Info& info, absl::Span<const std::string> path) {
  if (path.empty()) return std::nullopt;
  if (path[0] == "labels") return filters::LookupMap(path.subspan(1), info.labels);
  if (path.size() != 1) return std::nullopt;
  if (path[0] == "name") return info.name;
  if (path[0] == "parent") return info.parent;
  if (path[0] == "kind") return std::string(KindName(info.kind));
  return std::nullopt;
}

absl::Status CheckNotEmpty(absl::string_view what, const std::string& value) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " must not be empty"));
  return absl::OkStatus();
}

metadata::LeaseResource SnapshotResource(const Snapshotter& sn, const std::string& key) {
  return metadata::LeaseResource{absl::StrCat("snapshots/", sn.name()), key};
}

}  // namespace

SnapshotsService::SnapshotsService(metadata::Store* metadata,
                                   const std::vector<Snapshotter*>& snapshotters,
                                   events::Publisher* publisher)
    : metadata_(metadata), publisher_(publisher) {
  for (Snapshotter* sn : snapshotters) {
    const bool added = snapshotters_.emplace(std::string(sn->name()), sn).second;
    CHECK(added) << "two snapshotters named " << sn->name();
  }
}

absl::StatusOr<Snapshotter*> SnapshotsService::Find(const std::string& name) const {
  const std::string& wanted = name.empty() ? std::string(kDefaultSnapshotter) : name;
  auto it = snapshotters_.find(wanted);
  if (it == snapshotters_.end()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown snapshotter \"", wanted, "\""));
  }
  return it->second;
}

void SnapshotsService::Publish(const std::string& ns, const char* topic,
                               const google::protobuf::Message& event) {
  if (absl::Status s = publisher_->Publish(ns, topic, event); !s.ok()) {
    LOG(WARNING) << "publish " << topic << " ns=" << ns << " error=\"" << s.message() << "\"";
  }
}

absl::Status SnapshotsService::UnderLease(const std::optional<std::string>& lease,
                                          const std::string& ns,
                                          const metadata::LeaseResource& resource,
                                          absl::FunctionRef<absl::Status()> create) {
  if (!lease.has_value()) return create();
  BERTH_ASSIGN_OR_RETURN(
      const bool added,
      metadata_->WithTransaction([&](metadata::Transaction& tx) -> absl::StatusOr<bool> {
        BERTH_ASSIGN_OR_RETURN(const std::vector<metadata::LeaseResource> held,
                               tx.ListLeaseResources(ns, *lease), absl::StrCat("lease ", *lease));
        if (std::find(held.begin(), held.end(), resource) != held.end()) {
          return false;
        }
        BERTH_RETURN_IF_ERROR(tx.AddLeaseResource(ns, *lease, resource),
                              absl::StrCat("lease ", *lease));
        return true;
      }));
  absl::Status status = create();
  if (!status.ok() && added) {
    absl::Status s = metadata_->WithTransaction(
        [&](metadata::Transaction& tx) { return tx.DeleteLeaseResource(ns, *lease, resource); });
    if (!s.ok()) {
      // Harmless: a lease naming a snapshot that does not exist protects nothing.
      LOG(WARNING) << "drop lease resource lease=" << *lease << " id=" << resource.id << " error=\""
                   << s.message() << "\"";
    }
  }
  return status;
}

absl::StatusOr<std::vector<Mount>> SnapshotsService::Create(
    const ::grpc::CallbackServerContext& ctx, const std::string& ns, Snapshotter* sn, bool active,
    const std::string& key, const std::string& parent, const Labels& labels) {
  BERTH_RETURN_IF_ERROR(CheckNotEmpty("snapshot key", key));
  BERTH_ASSIGN_OR_RETURN(const std::optional<std::string> lease, server::RequestLease(ctx));
  std::vector<Mount> mounts;
  BERTH_RETURN_IF_ERROR(UnderLease(lease, ns, SnapshotResource(*sn, key), [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(
        mounts, active ? sn->Prepare(ns, key, parent, labels) : sn->View(ns, key, parent, labels));
    return absl::OkStatus();
  }));
  return mounts;
}

::grpc::ServerUnaryReactor* SnapshotsService::Prepare(::grpc::CallbackServerContext* ctx,
                                                      const v1::PrepareRequest* req,
                                                      v1::PrepareResponse* resp) {
  return server::ReplyOffThread(ctx, "snapshots.Prepare", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_ASSIGN_OR_RETURN(Snapshotter* const sn, Find(req->snapshotter()));
    BERTH_ASSIGN_OR_RETURN(
        const std::vector<Mount> mounts,
        Create(*ctx, ns, sn, /*active=*/true, req->key(), req->parent(), FromProto(req->labels())));
    MountsToProto(mounts, resp);
    eventspb::SnapshotPrepare event;
    event.set_key(req->key());
    event.set_parent(req->parent());
    event.set_snapshotter(std::string(sn->name()));
    Publish(ns, "/snapshot/prepare", event);
    return absl::OkStatus();
  });
}

::grpc::ServerUnaryReactor* SnapshotsService::View(::grpc::CallbackServerContext* ctx,
                                                   const v1::ViewRequest* req,
                                                   v1::ViewResponse* resp) {
  return server::ReplyOffThread(ctx, "snapshots.View", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_ASSIGN_OR_RETURN(Snapshotter* const sn, Find(req->snapshotter()));
    BERTH_ASSIGN_OR_RETURN(const std::vector<Mount> mounts,
                           Create(*ctx, ns, sn, /*active=*/false, req->key(), req->parent(),
                                  FromProto(req->labels())));
    MountsToProto(mounts, resp);
    return absl::OkStatus();
  });
}

::grpc::ServerUnaryReactor* SnapshotsService::Mounts(::grpc::CallbackServerContext* ctx,
                                                     const v1::MountsRequest* req,
                                                     v1::MountsResponse* resp) {
  return Reply(ctx, "snapshots.Mounts", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_ASSIGN_OR_RETURN(Snapshotter* const sn, Find(req->snapshotter()));
    BERTH_RETURN_IF_ERROR(CheckNotEmpty("snapshot key", req->key()));
    BERTH_ASSIGN_OR_RETURN(const std::vector<Mount> mounts, sn->Mounts(ns, req->key()));
    MountsToProto(mounts, resp);
    return absl::OkStatus();
  }());
}

::grpc::ServerUnaryReactor* SnapshotsService::Commit(::grpc::CallbackServerContext* ctx,
                                                     const v1::CommitRequest* req,
                                                     v1::CommitResponse*) {
  return server::ReplyOffThread(ctx, "snapshots.Commit", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_ASSIGN_OR_RETURN(Snapshotter* const sn, Find(req->snapshotter()));
    BERTH_RETURN_IF_ERROR(CheckNotEmpty("snapshot name", req->name()));
    BERTH_RETURN_IF_ERROR(CheckNotEmpty("snapshot key", req->key()));
    BERTH_ASSIGN_OR_RETURN(const std::optional<std::string> lease, server::RequestLease(*ctx));
    const Labels labels = FromProto(req->labels());
    BERTH_RETURN_IF_ERROR(UnderLease(lease, ns, SnapshotResource(*sn, req->name()), [&]() {
      return sn->Commit(ns, req->name(), req->key(), labels);
    }));
    eventspb::SnapshotCommit event;
    event.set_key(req->key());
    event.set_name(req->name());
    event.set_snapshotter(std::string(sn->name()));
    Publish(ns, "/snapshot/commit", event);
    return absl::OkStatus();
  });
}

::grpc::ServerUnaryReactor* SnapshotsService::Remove(::grpc::CallbackServerContext* ctx,
                                                     const v1::RemoveRequest* req,
                                                     v1::RemoveResponse*) {
  return server::ReplyOffThread(ctx, "snapshots.Remove", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_ASSIGN_OR_RETURN(Snapshotter* const sn, Find(req->snapshotter()));
    BERTH_RETURN_IF_ERROR(CheckNotEmpty("snapshot key", req->key()));
    BERTH_RETURN_IF_ERROR(sn->Remove(ns, req->key()));
    eventspb::SnapshotRemove event;
    event.set_key(req->key());
    event.set_snapshotter(std::string(sn->name()));
    Publish(ns, "/snapshot/remove", event);
    return absl::OkStatus();
  });
}

::grpc::ServerUnaryReactor* SnapshotsService::Stat(::grpc::CallbackServerContext* ctx,
                                                   const v1::StatRequest* req,
                                                   v1::StatResponse* resp) {
  return Reply(ctx, "snapshots.Stat", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_ASSIGN_OR_RETURN(Snapshotter* const sn, Find(req->snapshotter()));
    BERTH_RETURN_IF_ERROR(CheckNotEmpty("snapshot key", req->key()));
    BERTH_ASSIGN_OR_RETURN(const Info info, sn->Stat(ns, req->key()));
    ToProto(info, resp->mutable_info());
    return absl::OkStatus();
  }());
}

::grpc::ServerUnaryReactor* SnapshotsService::Update(::grpc::CallbackServerContext* ctx,
                                                     const v1::UpdateRequest* req,
                                                     v1::UpdateResponse* resp) {
  return Reply(ctx, "snapshots.Update", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_ASSIGN_OR_RETURN(Snapshotter* const sn, Find(req->snapshotter()));
    BERTH_RETURN_IF_ERROR(CheckNotEmpty("snapshot name", req->info().name()));
    Info wanted;
    wanted.name = req->info().name();
    wanted.labels = FromProto(req->info().labels());
    // The snapshotter interprets the mask (`labels`, `labels.<key>`; empty means `labels`).
    std::vector<std::string> paths(req->update_mask().paths().begin(),
                                   req->update_mask().paths().end());
    BERTH_ASSIGN_OR_RETURN(const Info info, sn->Update(ns, wanted, std::move(paths)));
    ToProto(info, resp->mutable_info());
    return absl::OkStatus();
  }());
}

::grpc::ServerUnaryReactor* SnapshotsService::Usage(::grpc::CallbackServerContext* ctx,
                                                    const v1::UsageRequest* req,
                                                    v1::UsageResponse* resp) {
  return server::ReplyOffThread(ctx, "snapshots.Usage", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_ASSIGN_OR_RETURN(Snapshotter* const sn, Find(req->snapshotter()));
    BERTH_RETURN_IF_ERROR(CheckNotEmpty("snapshot key", req->key()));
    BERTH_ASSIGN_OR_RETURN(const DiskUsage usage, sn->Usage(ns, req->key()));
    resp->set_size(usage.size);
    resp->set_inodes(usage.inodes);
    return absl::OkStatus();
  });
}

::grpc::ServerWriteReactor<v1::ListResponse>* SnapshotsService::List(
    ::grpc::CallbackServerContext* ctx, const v1::ListRequest* req) {
  auto batches = [&]() -> absl::StatusOr<std::vector<v1::ListResponse>> {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, RequestNamespace(*ctx));
    BERTH_ASSIGN_OR_RETURN(Snapshotter* const sn, Find(req->snapshotter()));
    BERTH_ASSIGN_OR_RETURN(const filters::Filter filter, filters::Filter::ParseAll(req->filters()));
    BERTH_ASSIGN_OR_RETURN(const std::vector<Info> infos, sn->List(ns, [&](const Info& info) {
      return filter.Matches(
          [&](absl::Span<const std::string> path) { return InfoField(info, path); });
    }));
    std::vector<v1::ListResponse> out;
    size_t batch_bytes = kListBatchBytes;  // start a new batch at the first info
    for (const Info& info : infos) {
      if (batch_bytes >= kListBatchBytes) {
        out.emplace_back();
        batch_bytes = 0;
      }
      v1::Info* added = out.back().add_infos();
      ToProto(info, added);
      batch_bytes += added->ByteSizeLong();
    }
    return out;
  };
  return new server::SendAllReactor<v1::ListResponse>("snapshots.List", batches());
}

::grpc::ServerUnaryReactor* SnapshotsService::Cleanup(::grpc::CallbackServerContext* ctx,
                                                      const v1::CleanupRequest* req,
                                                      v1::CleanupResponse*) {
  return server::ReplyOffThread(ctx, "snapshots.Cleanup", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(Snapshotter* const sn, Find(req->snapshotter()));
    return sn->Cleanup();
  });
}

}  // namespace berth::containerd::snapshots
