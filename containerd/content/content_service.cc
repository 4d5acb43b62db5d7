#include "containerd/content/content_service.h"

#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "berth/containerd/events/v1/payloads.pb.h"
#include "common/daemon/memory.h"
#include "common/grpc/status_mapping.h"
#include "common/status/status_macros.h"
#include "containerd/filters/filter.h"
#include "containerd/server/proto_time.h"
#include "containerd/server/request_context.h"
#include "containerd/server/send_all_reactor.h"
#include "glog/logging.h"

namespace berth::containerd::content {
namespace {

using server::Reply;
using server::ToProtoTime;

// A List batch is cut once it holds this many bytes of encoded infos: well under gRPC's 4 MiB
// default receive limit, even with labels at their 4 KiB-per-label maximum.
constexpr size_t kListBatchBytes = 1 << 20;

void ToProto(const metadata::BlobInfo& info, v1::Info* out) {
  out->set_digest(info.digest);
  out->set_size(info.size);
  *out->mutable_created_at() = ToProtoTime(info.created_at);
  *out->mutable_updated_at() = ToProtoTime(info.updated_at);
  out->mutable_labels()->insert(info.labels.begin(), info.labels.end());
}

void ToProto(const IngestStatus& status, v1::IngestStatus* out) {
  out->set_ref(status.ref);
  out->set_offset(status.offset);
  out->set_total(status.total);
  if (status.expected.has_value()) out->set_expected(status.expected->ToString());
  *out->mutable_started_at() = ToProtoTime(status.started_at);
  *out->mutable_updated_at() = ToProtoTime(status.updated_at);
}

// List filter fields: `digest`, `size`, `labels.<key>`.
std::optional<std::string> InfoField(const metadata::BlobInfo& info,
                                     absl::Span<const std::string> path) {
  if (path.empty()) return std::nullopt;
  if (path[0] == "labels") return filters::LookupMap(path.subspan(1), info.labels);
  if (path.size() != 1) return std::nullopt;
  if (path[0] == "digest") return info.digest;
  if (path[0] == "size") return absl::StrCat(info.size);
  return std::nullopt;
}

// ListStatuses filter fields: `ref`, `expected`.
std::optional<std::string> StatusField(const IngestStatus& status,
                                       absl::Span<const std::string> path) {
  if (path.size() != 1) return std::nullopt;
  if (path[0] == "ref") return status.ref;
  if (path[0] == "expected") {
    return status.expected.has_value() ? status.expected->ToString() : std::string();
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<v1::ListResponse>> ListBatches(NamespacedStore& store,
                                                          const ::grpc::ServerContextBase& ctx,
                                                          const v1::ListRequest& req) {
  BERTH_ASSIGN_OR_RETURN(const std::string ns, server::RequestNamespace(ctx));
  BERTH_ASSIGN_OR_RETURN(const filters::Filter filter, filters::Filter::ParseAll(req.filters()));
  BERTH_ASSIGN_OR_RETURN(const std::vector<metadata::BlobInfo> infos,
                         store.List(ns, [&](const metadata::BlobInfo& info) {
                           return filter.Matches([&](absl::Span<const std::string> path) {
                             return InfoField(info, path);
                           });
                         }));
  std::vector<v1::ListResponse> batches;
  size_t batch_bytes = kListBatchBytes;  // start a new batch at the first info
  for (const metadata::BlobInfo& info : infos) {
    if (batch_bytes >= kListBatchBytes) {
      batches.emplace_back();
      batch_bytes = 0;
    }
    v1::Info* out = batches.back().add_infos();
    ToProto(info, out);
    batch_bytes += out->ByteSizeLong();
  }
  return batches;
}

// Content.Read: one chunk in flight at a time, read from the file just before it is sent, so a
// blob of any size costs at most one chunk of memory and a slow client slows the reads.
class ReadReactor final : public ::grpc::ServerWriteReactor<v1::ReadResponse> {
 public:
  ReadReactor(NamespacedStore& store, const ::grpc::ServerContextBase& ctx,
              const v1::ReadRequest& req) {
    if (absl::Status s = Open(store, ctx, req); !s.ok()) {
      Done(s);
      return;
    }
    Next();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Done(absl::CancelledError("client went away"));
      return;
    }
    Next();
  }
  void OnDone() override {
    // A layer's worth of buffers went through: give back what glibc keeps of it.
    if (moved_ >= static_cast<int64_t>(berth::daemon::kTrimThresholdBytes)) {
      berth::daemon::TrimSoon();
    }
    delete this;
  }

 private:
  absl::Status Open(NamespacedStore& store, const ::grpc::ServerContextBase& ctx,
                    const v1::ReadRequest& req) {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, server::RequestNamespace(ctx));
    if (req.offset() < 0 || req.size() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("read offset and size must not be "
                       "negative, got offset ",
                       req.offset(), " size ", req.size()));
    }
    BERTH_ASSIGN_OR_RETURN(reader_, store.OpenReader(ns, req.digest()));
    const int64_t blob_size = reader_->size();
    if (req.offset() > blob_size) {
      return absl::OutOfRangeError(absl::StrCat("read offset ", req.offset(),
                                                " is past the end of ", req.digest(), " (",
                                                blob_size, " bytes)"));
    }
    pos_ = req.offset();
    // A range running past the end is cut short at the end (written to avoid overflow).
    end_ = (req.size() == 0 || req.size() > blob_size - pos_) ? blob_size : pos_ + req.size();
    return absl::OkStatus();
  }

  void Next() {
    if (pos_ >= end_) {
      Done(absl::OkStatus());
      return;
    }
    const int64_t want = std::min<int64_t>(kReadChunkSize, end_ - pos_);
    std::string* data = resp_.mutable_data();  // reused: its capacity stays at one chunk
    data->resize(static_cast<size_t>(want));
    absl::StatusOr<size_t> got = reader_->ReadAt(pos_, absl::MakeSpan(data->data(), data->size()));
    if (!got.ok()) {
      Done(got.status());
      return;
    }
    if (*got == 0) {
      Done(absl::DataLossError(
          absl::StrCat("blob ended at byte ", pos_, ", before its size ", reader_->size())));
      return;
    }
    data->resize(*got);
    moved_ += static_cast<int64_t>(*got);
    resp_.set_offset(pos_);
    pos_ += static_cast<int64_t>(*got);
    StartWrite(&resp_);
  }

  void Done(const absl::Status& status) {
    VLOG(1) << "rpc=content.Read code=" << absl::StatusCodeToString(status.code());
    reader_.reset();
    Finish(grpc_util::ToGrpcStatus(status));
  }

  std::unique_ptr<ReaderAt> reader_;
  int64_t pos_ = 0;
  int64_t end_ = 0;
  int64_t moved_ = 0;  // bytes sent
  v1::ReadResponse resp_;
};

// Content.Write: read a request, act on it, answer it, and only then read the next, so the
// responses pair with the requests in order (proto Write rule 3). Any error ends the stream with
// that status; the ingest stays resumable (rule 5) except after a successful COMMIT.
class WriteReactor final : public ::grpc::ServerBidiReactor<v1::WriteRequest, v1::WriteResponse> {
 public:
  WriteReactor(NamespacedStore& store, const ::grpc::ServerContextBase& ctx) : store_(store) {
    absl::StatusOr<std::string> ns = server::RequestNamespace(ctx);
    absl::StatusOr<std::optional<std::string>> lease = server::RequestLease(ctx);
    if (!ns.ok() || !lease.ok()) {
      End(!ns.ok() ? ns.status() : lease.status());
      return;
    }
    ns_ = std::move(*ns);
    lease_ = std::move(*lease);
    StartRead(&req_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The client half-closed or went away without COMMIT: keep the ingest for a resume.
      End(absl::OkStatus());
      return;
    }
    if (absl::Status s = Handle(); !s.ok()) {
      End(s);
      return;
    }
    StartWrite(&resp_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      End(absl::CancelledError("client went away"));
      return;
    }
    if (committed_) {
      End(absl::OkStatus());  // the proto: after COMMIT the server ends the stream with OK
      return;
    }
    req_.Clear();
    StartRead(&req_);
  }

  void OnDone() override {
    // A layer's worth of buffers went through: give back what glibc keeps of it.
    if (moved_ >= static_cast<int64_t>(berth::daemon::kTrimThresholdBytes)) {
      berth::daemon::TrimSoon();
    }
    delete this;
  }

 private:
  absl::Status Handle() {
    resp_.Clear();
    resp_.set_action(req_.action());
    if (req_.action() != v1::WRITE_ACTION_STAT && req_.action() != v1::WRITE_ACTION_WRITE &&
        req_.action() != v1::WRITE_ACTION_COMMIT) {
      return absl::InvalidArgumentError("write action must be STAT, WRITE or COMMIT");
    }
    std::optional<digest::Digest> expected;
    if (!req_.expected().empty()) {
      BERTH_ASSIGN_OR_RETURN(expected, ParseRequestDigest(req_.expected()), "expected");
    }
    if (req_.total() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("total must not be negative, got ", req_.total()));
    }
    if (writer_ == nullptr) {
      if (req_.ref().empty()) {
        return absl::InvalidArgumentError("the first write request must set ref");
      }
      BERTH_ASSIGN_OR_RETURN(writer_,
                             store_.OpenWriter(ns_, req_.ref(), lease_, req_.total(), expected));
    } else {
      if (!req_.ref().empty() && req_.ref() != writer_->ref()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "ref \"", req_.ref(), "\" differs from the stream's ref \"", writer_->ref(), "\""));
      }
      if (req_.total() != 0 || expected.has_value()) {
        BERTH_RETURN_IF_ERROR(writer_->SetExpected(req_.total(), expected));
      }
    }

    switch (req_.action()) {
      case v1::WRITE_ACTION_WRITE:
        BERTH_RETURN_IF_ERROR(writer_->Write(req_.offset(), req_.data()));
        moved_ += static_cast<int64_t>(req_.data().size());
        return Progress();
      case v1::WRITE_ACTION_COMMIT:
        return Commit(expected);
      default:
        return Progress();
    }
  }

  absl::Status Commit(const std::optional<digest::Digest>& expected) {
    if (!req_.data().empty()) {
      BERTH_RETURN_IF_ERROR(writer_->Write(req_.offset(), req_.data()));
      moved_ += static_cast<int64_t>(req_.data().size());
    }
    const IngestStatus before = writer_->Status();
    const metadata::Labels labels(req_.labels().begin(), req_.labels().end());
    BERTH_ASSIGN_OR_RETURN(const metadata::BlobInfo info,
                           writer_->Commit(req_.total(), expected, labels));
    writer_.reset();  // committed: the ref is released already
    committed_ = true;
    resp_.set_offset(info.size);
    resp_.set_total(info.size);
    resp_.set_digest(info.digest);
    *resp_.mutable_started_at() = ToProtoTime(before.started_at);
    *resp_.mutable_updated_at() = ToProtoTime(before.updated_at);
    return absl::OkStatus();
  }

  absl::Status Progress() {
    const IngestStatus status = writer_->Status();
    BERTH_ASSIGN_OR_RETURN(const digest::Digest received, writer_->Digest());
    resp_.set_offset(status.offset);
    resp_.set_total(status.total);
    resp_.set_digest(received.ToString());
    *resp_.mutable_started_at() = ToProtoTime(status.started_at);
    *resp_.mutable_updated_at() = ToProtoTime(status.updated_at);
    return absl::OkStatus();
  }

  void End(const absl::Status& status) {
    if (writer_ != nullptr) {
      // Release the ref before the client learns the stream ended, so it can resume at once.
      if (absl::Status s = writer_->Close(); !s.ok()) {
        LOG(WARNING) << "close ingest ns=" << ns_ << " ref=\"" << writer_->ref() << "\" error=\""
                     << s.message() << "\"";
      }
      writer_.reset();
    }
    VLOG(1) << "rpc=content.Write ns=" << ns_
            << " code=" << absl::StatusCodeToString(status.code());
    Finish(grpc_util::ToGrpcStatus(status));
  }

  NamespacedStore& store_;
  std::string ns_;
  std::optional<std::string> lease_;
  std::unique_ptr<NamespacedWriter> writer_;
  bool committed_ = false;
  int64_t moved_ = 0;  // bytes received
  v1::WriteRequest req_;
  v1::WriteResponse resp_;
};

}  // namespace

::grpc::ServerUnaryReactor* ContentService::Info(::grpc::CallbackServerContext* ctx,
                                                 const v1::InfoRequest* req,
                                                 v1::InfoResponse* resp) {
  return Reply(ctx, "content.Info", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, server::RequestNamespace(*ctx));
    BERTH_ASSIGN_OR_RETURN(const metadata::BlobInfo info, store_->Info(ns, req->digest()));
    ToProto(info, resp->mutable_info());
    if (!req->want_local_path()) return absl::OkStatus();
    if (absl::StatusOr<digest::Digest> d = digest::Digest::Parse(info.digest); d.ok()) {
      const std::string path = store_->blobs()->LocalPath(*d);
      struct stat st;
      if (!path.empty() && stat(path.c_str(), &st) == 0) {
        resp->set_local_path(path);
        resp->set_local_dev(static_cast<uint64_t>(st.st_dev));
        resp->set_local_ino(static_cast<uint64_t>(st.st_ino));
      }
    }
    return absl::OkStatus();
  }());
}

::grpc::ServerUnaryReactor* ContentService::Update(::grpc::CallbackServerContext* ctx,
                                                   const v1::UpdateRequest* req,
                                                   v1::UpdateResponse* resp) {
  return Reply(ctx, "content.Update", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, server::RequestNamespace(*ctx));
    metadata::BlobInfo wanted;
    wanted.digest = req->info().digest();
    wanted.labels.insert(req->info().labels().begin(), req->info().labels().end());
    std::vector<std::string> paths(req->update_mask().paths().begin(),
                                   req->update_mask().paths().end());
    BERTH_ASSIGN_OR_RETURN(const metadata::BlobInfo info,
                           store_->Update(ns, wanted, std::move(paths)));
    ToProto(info, resp->mutable_info());
    return absl::OkStatus();
  }());
}

::grpc::ServerWriteReactor<v1::ListResponse>* ContentService::List(
    ::grpc::CallbackServerContext* ctx, const v1::ListRequest* req) {
  return new server::SendAllReactor<v1::ListResponse>("content.List", ListBatches(*store_, *ctx, *req));
}

::grpc::ServerUnaryReactor* ContentService::Delete(::grpc::CallbackServerContext* ctx,
                                                   const v1::DeleteRequest* req,
                                                   v1::DeleteResponse*) {
  return server::ReplyOffThread(ctx, "content.Delete", blocking_, [=]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, server::RequestNamespace(*ctx));
    BERTH_RETURN_IF_ERROR(store_->Delete(ns, req->digest()));
    berth::containerd::events::v1::ContentDelete event;
    event.set_digest(req->digest());
    if (absl::Status s = publisher_->Publish(ns, "/content/delete", event); !s.ok()) {
      LOG(WARNING) << "publish /content/delete ns=" << ns << " error=\"" << s.message() << "\"";
    }
    return absl::OkStatus();
  });
}

::grpc::ServerWriteReactor<v1::ReadResponse>* ContentService::Read(
    ::grpc::CallbackServerContext* ctx, const v1::ReadRequest* req) {
  return new ReadReactor(*store_, *ctx, *req);
}

::grpc::ServerUnaryReactor* ContentService::Status(::grpc::CallbackServerContext* ctx,
                                                   const v1::StatusRequest* req,
                                                   v1::StatusResponse* resp) {
  return Reply(ctx, "content.Status", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, server::RequestNamespace(*ctx));
    BERTH_ASSIGN_OR_RETURN(const IngestStatus status, store_->Status(ns, req->ref()));
    ToProto(status, resp->mutable_status());
    return absl::OkStatus();
  }());
}

::grpc::ServerUnaryReactor* ContentService::ListStatuses(::grpc::CallbackServerContext* ctx,
                                                         const v1::ListStatusesRequest* req,
                                                         v1::ListStatusesResponse* resp) {
  return Reply(ctx, "content.ListStatuses", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, server::RequestNamespace(*ctx));
    BERTH_ASSIGN_OR_RETURN(const filters::Filter filter, filters::Filter::ParseAll(req->filters()));
    BERTH_ASSIGN_OR_RETURN(const std::vector<IngestStatus> statuses, store_->ListStatuses(ns));
    for (const IngestStatus& status : statuses) {
      if (filter.Matches(
              [&](absl::Span<const std::string> path) { return StatusField(status, path); })) {
        ToProto(status, resp->add_statuses());
      }
    }
    return absl::OkStatus();
  }());
}

::grpc::ServerBidiReactor<v1::WriteRequest, v1::WriteResponse>* ContentService::Write(
    ::grpc::CallbackServerContext* ctx) {
  return new WriteReactor(*store_, *ctx);
}

::grpc::ServerUnaryReactor* ContentService::Abort(::grpc::CallbackServerContext* ctx,
                                                  const v1::AbortRequest* req, v1::AbortResponse*) {
  return Reply(ctx, "content.Abort", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(const std::string ns, server::RequestNamespace(*ctx));
    return store_->Abort(ns, req->ref());
  }());
}

}  // namespace berth::containerd::content
