#include "engine/images/grpc_backend.h"

#include <fcntl.h>
#include <google/protobuf/util/time_util.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "berth/containerd/containers/v1/containers.grpc.pb.h"
#include "berth/containerd/content/v1/content.grpc.pb.h"
#include "berth/containerd/diff/v1/diff.grpc.pb.h"
#include "berth/containerd/images/v1/images.grpc.pb.h"
#include "berth/containerd/leases/v1/leases.grpc.pb.h"
#include "berth/containerd/snapshots/v1/snapshots.grpc.pb.h"
#include "common/grpc/status_mapping.h"
#include "common/status/status_macros.h"

namespace berth::engine::images {
namespace {

namespace contentpb = ::berth::containerd::content::v1;
namespace imagespb = ::berth::containerd::images::v1;
namespace snapshotspb = ::berth::containerd::snapshots::v1;
namespace diffpb = ::berth::containerd::diff::v1;
namespace leasespb = ::berth::containerd::leases::v1;
namespace containerspb = ::berth::containerd::containers::v1;
using google::protobuf::util::TimeUtil;

absl::Status FromGrpc(const ::grpc::Status& st) { return grpc_util::FromGrpcStatus(st); }

absl::Time ToTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(ts));
}

// Shared by the clients: builds call contexts with namespace, lease and deadline.
struct Caller {
  GrpcBackendOptions options;
  std::unique_ptr<::grpc::ClientContext> Context(const std::string& lease = "",
                                                 bool data = false) const {
    auto ctx = std::make_unique<::grpc::ClientContext>();
    ctx->AddMetadata("berth-namespace", options.namespace_name);
    if (!lease.empty()) ctx->AddMetadata("berth-lease", lease);
    ctx->set_deadline(
        absl::ToChronoTime(absl::Now() + (data ? options.data_timeout : options.call_timeout)));
    return ctx;
  }
};

BlobInfo FromPb(const contentpb::Info& in) {
  BlobInfo out;
  out.digest = in.digest();
  out.size = in.size();
  out.created_at = ToTime(in.created_at());
  out.labels = Labels(in.labels().begin(), in.labels().end());
  return out;
}

class GrpcBlobWriter final : public BlobWriter {
 public:
  GrpcBlobWriter(const Caller& caller, contentpb::Content::Stub* stub, std::string ref,
                 std::string expected, const std::string& lease)
      : caller_(caller),
        stub_(stub),
        ref_(std::move(ref)),
        expected_(std::move(expected)),
        ctx_(caller.Context(lease, /*data=*/true)),
        stream_(stub->Write(ctx_.get())) {}

  ~GrpcBlobWriter() override {
    if (stream_open_) {
      // Close our stream first: Abort refuses while a Write stream holds the ref.
      ctx_->TryCancel();
      (void)stream_->Finish();
    }
    if (ingest_left_) {
      auto ctx = caller_.Context();
      contentpb::AbortRequest req;
      req.set_ref(ref_);
      contentpb::AbortResponse resp;
      (void)stub_->Abort(ctx.get(), req, &resp);
    }
  }

  // Sends a STAT carrying `expected`, so a blob that is present already is reported as
  // AlreadyExists before any byte is sent (and no ingest is started then).
  absl::Status Start() {
    contentpb::WriteRequest req;
    req.set_action(contentpb::WRITE_ACTION_STAT);
    req.set_ref(ref_);
    req.set_expected(expected_);
    absl::Status s = RoundTrip(req);
    if (absl::IsAlreadyExists(s)) ingest_left_ = false;
    return s;
  }

  // Sends `data` in WRITEs of at most 1 MiB without waiting for each answer: the server
  // answers every request, in order (proto Write rule 3), so the answers are collected
  // later, keeping at most kMaxUnanswered requests ahead. A failed WRITE ends the stream with
  // its status, which then surfaces from a later Write or from Commit.
  absl::Status Write(absl::string_view data) override {
    constexpr size_t kPiece = 1 << 20;
    while (!data.empty()) {
      absl::string_view piece = data.substr(0, kPiece);
      contentpb::WriteRequest req;
      req.set_action(contentpb::WRITE_ACTION_WRITE);
      req.set_offset(offset_);
      req.set_data(piece.data(), piece.size());
      BERTH_RETURN_IF_ERROR(Send(req));
      offset_ += static_cast<int64_t>(piece.size());
      data.remove_prefix(piece.size());
      while (unanswered_ > kMaxUnanswered) BERTH_RETURN_IF_ERROR(ReceiveOne());
    }
    return absl::OkStatus();
  }

  absl::StatusOr<BlobInfo> Commit(const std::string& expected_digest, int64_t expected_size,
                                  const Labels& labels) override {
    contentpb::WriteRequest req;
    req.set_action(contentpb::WRITE_ACTION_COMMIT);
    if (expected_size > 0) req.set_total(expected_size);
    if (!expected_digest.empty() && expected_.empty()) req.set_expected(expected_digest);
    for (const auto& [k, v] : labels) (*req.mutable_labels())[k] = v;
    absl::Status s = RoundTrip(req);
    const std::string digest = expected_.empty() ? expected_digest : expected_;
    if (absl::IsAlreadyExists(s) && !digest.empty()) {
      // Stored by someone else meanwhile: the server dropped our ingest and kept the
      // existing blob, without our labels.
      ingest_left_ = false;
      if (!labels.empty()) {
        auto ctx = caller_.Context();
        contentpb::UpdateRequest up;
        up.mutable_info()->set_digest(digest);
        for (const auto& [k, v] : labels) {
          (*up.mutable_info()->mutable_labels())[k] = v;
          up.mutable_update_mask()->add_paths("labels." + k);
        }
        contentpb::UpdateResponse resp;
        BERTH_RETURN_IF_ERROR(FromGrpc(stub_->Update(ctx.get(), up, &resp)));
      }
      BlobInfo info;
      info.digest = digest;
      info.size = offset_;
      info.labels = labels;
      return info;
    }
    BERTH_RETURN_IF_ERROR(s);
    ingest_left_ = false;
    BlobInfo info;
    info.digest = last_.digest();
    info.size = last_.total();
    info.labels = labels;
    stream_->WritesDone();
    stream_open_ = false;
    ::grpc::Status st = stream_->Finish();
    if (!st.ok()) return FromGrpc(st);
    return info;
  }

 private:
  // WRITEs sent ahead of their answers: each holds a 1 MiB message in the transport. Enough
  // for the server never to wait for the next message (it handles one at a time), few
  // enough to bound memory.
  static constexpr int kMaxUnanswered = 4;

  // Sends `req` and waits for its answer and for every earlier one; `last_` is its answer.
  absl::Status RoundTrip(contentpb::WriteRequest& req) {
    BERTH_RETURN_IF_ERROR(Send(req));
    while (unanswered_ > 0) BERTH_RETURN_IF_ERROR(ReceiveOne());
    return absl::OkStatus();
  }

  absl::Status Send(contentpb::WriteRequest& req) {
    if (!stream_open_) return absl::FailedPreconditionError("content write stream is closed");
    req.set_ref(ref_);
    if (!stream_->Write(req)) return StreamEnded();
    ++unanswered_;
    return absl::OkStatus();
  }

  // Reads the oldest answer still owed into `last_`.
  absl::Status ReceiveOne() {
    if (!stream_->Read(&last_)) return StreamEnded();
    --unanswered_;
    return absl::OkStatus();
  }

  // The server ended the stream (with the error of the request that failed) or it broke.
  absl::Status StreamEnded() {
    stream_open_ = false;
    unanswered_ = 0;
    absl::Status s = FromGrpc(stream_->Finish());
    if (s.ok()) s = absl::UnavailableError("content write stream ended early");
    return s;
  }

  const Caller& caller_;
  contentpb::Content::Stub* stub_;
  std::string ref_;
  std::string expected_;
  std::unique_ptr<::grpc::ClientContext> ctx_;
  std::unique_ptr<::grpc::ClientReaderWriter<contentpb::WriteRequest, contentpb::WriteResponse>>
      stream_;
  contentpb::WriteResponse last_;
  int64_t offset_ = 0;
  int unanswered_ = 0;  // requests sent whose answers were not read yet
  bool stream_open_ = true;
  bool ingest_left_ = true;
};

// A blob read from berth-containerd's own file (InfoResponse.local_path) instead of through
// the Read stream: one copy from the page cache, no serialization, no socket. A push of a
// 212 MB image spent ~0.1 s of berth-containerd's CPU and as much of berthd's on the stream.
class FileBlobReader final : public BlobReader {
 public:
  // Reads [offset, end) of the open file `fd` (owned).
  FileBlobReader(int fd, int64_t offset, int64_t end) : fd_(fd), pos_(offset), end_(end) {}
  ~FileBlobReader() override { close(fd_); }

  absl::StatusOr<bool> Next(std::string* chunk) override {
    if (pos_ >= end_) return false;
    constexpr int64_t kChunk = 1 << 20;  // what the Read stream sends
    chunk->resize(static_cast<size_t>(std::min(kChunk, end_ - pos_)));
    ssize_t n;
    do {
      n = pread(fd_, chunk->data(), chunk->size(), pos_);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return absl::InternalError(absl::StrCat("read blob: ", strerror(errno)));
    if (n == 0) {
      return absl::DataLossError(absl::StrCat("blob file ended at byte ", pos_, " of ", end_));
    }
    chunk->resize(static_cast<size_t>(n));
    pos_ += n;
    return true;
  }

 private:
  const int fd_;
  int64_t pos_;
  const int64_t end_;
};

class GrpcBlobReader final : public BlobReader {
 public:
  GrpcBlobReader(std::unique_ptr<::grpc::ClientContext> ctx, contentpb::Content::Stub* stub,
                 const contentpb::ReadRequest& req)
      : ctx_(std::move(ctx)), reader_(stub->Read(ctx_.get(), req)) {}
  ~GrpcBlobReader() override {
    if (!done_) {
      ctx_->TryCancel();
      (void)reader_->Finish();
    }
  }
  absl::StatusOr<bool> Next(std::string* chunk) override {
    if (done_) return false;
    contentpb::ReadResponse resp;
    if (reader_->Read(&resp)) {
      *chunk = std::move(*resp.mutable_data());
      return true;
    }
    done_ = true;
    ::grpc::Status st = reader_->Finish();
    if (!st.ok()) return FromGrpc(st);
    return false;
  }

 private:
  std::unique_ptr<::grpc::ClientContext> ctx_;
  std::unique_ptr<::grpc::ClientReader<contentpb::ReadResponse>> reader_;
  bool done_ = false;
};

class GrpcContent final : public ContentStore {
 public:
  GrpcContent(const Caller& caller, std::shared_ptr<::grpc::Channel> ch)
      : caller_(caller), stub_(contentpb::Content::NewStub(ch)) {}

  absl::StatusOr<BlobInfo> Info(const std::string& digest) override {
    auto ctx = caller_.Context();
    contentpb::InfoRequest req;
    req.set_digest(digest);
    contentpb::InfoResponse resp;
    ::grpc::Status st = stub_->Info(ctx.get(), req, &resp);
    if (!st.ok()) return FromGrpc(st);
    return FromPb(resp.info());
  }

  absl::StatusOr<std::string> ReadAll(const std::string& digest, int64_t max_size) override {
    // Documents (manifests, configs) are small: one Read stream, not Info + a file.
    absl::StatusOr<std::unique_ptr<BlobReader>> r = OpenStream(digest, 0, 0);
    if (!r.ok()) return r.status();
    std::string out, chunk;
    while (true) {
      absl::StatusOr<bool> more = (*r)->Next(&chunk);
      if (!more.ok()) return more.status();
      if (!*more) break;
      out += chunk;
      if (static_cast<int64_t>(out.size()) > max_size) {
        return absl::FailedPreconditionError(
            absl::StrCat("blob ", digest, " is larger than ", max_size, " bytes"));
      }
    }
    return out;
  }

  absl::StatusOr<std::unique_ptr<BlobReader>> OpenReader(const std::string& digest, int64_t offset,
                                                         int64_t size) override {
    if (std::unique_ptr<BlobReader> local = OpenLocal(digest, offset, size)) return local;
    return OpenStream(digest, offset, size);
  }

  absl::StatusOr<std::unique_ptr<BlobReader>> OpenStream(const std::string& digest,
                                                         int64_t offset, int64_t size) {
    contentpb::ReadRequest req;
    req.set_digest(digest);
    req.set_offset(offset);
    req.set_size(size);
    return std::unique_ptr<BlobReader>(
        new GrpcBlobReader(caller_.Context("", /*data=*/true), stub_.get(), req));
  }

  // The blob's file when berth-containerd names one and it can be opened here as what Info
  // says it is (that very file, regular, of the blob's size); null otherwise (then the Read
  // stream, which also reports errors such as a missing blob or a bad range).
  std::unique_ptr<BlobReader> OpenLocal(const std::string& digest, int64_t offset, int64_t size) {
    auto ctx = caller_.Context();
    contentpb::InfoRequest req;
    req.set_digest(digest);
    req.set_want_local_path(true);
    contentpb::InfoResponse resp;
    if (!stub_->Info(ctx.get(), req, &resp).ok() || resp.local_path().empty()) return nullptr;
    const int64_t blob_size = resp.info().size();
    if (offset < 0 || size < 0 || offset > blob_size) return nullptr;
    int fd = open(resp.local_path().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return nullptr;
    struct stat st;
    // The same file berth-containerd named (not another one at that path in another mount
    // namespace), a regular file of the blob's size.
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != blob_size ||
        static_cast<uint64_t>(st.st_dev) != resp.local_dev() ||
        static_cast<uint64_t>(st.st_ino) != resp.local_ino()) {
      close(fd);
      return nullptr;
    }
    const int64_t end = (size == 0 || size > blob_size - offset) ? blob_size : offset + size;
    return std::make_unique<FileBlobReader>(fd, offset, end);
  }

  absl::StatusOr<std::unique_ptr<BlobWriter>> OpenWriter(const std::string& ref,
                                                         const std::string& expected_digest,
                                                         const std::string& lease) override {
    auto w = std::make_unique<GrpcBlobWriter>(caller_, stub_.get(), ref, expected_digest, lease);
    if (absl::Status s = w->Start(); !s.ok()) return s;
    return std::unique_ptr<BlobWriter>(std::move(w));
  }

  absl::Status SetLabels(const std::string& digest, const Labels& labels) override {
    auto ctx = caller_.Context();
    contentpb::UpdateRequest req;
    req.mutable_info()->set_digest(digest);
    for (const auto& [k, v] : labels) {
      if (!v.empty()) (*req.mutable_info()->mutable_labels())[k] = v;
      req.mutable_update_mask()->add_paths("labels." + k);
    }
    contentpb::UpdateResponse resp;
    return FromGrpc(stub_->Update(ctx.get(), req, &resp));
  }

 private:
  const Caller& caller_;
  std::unique_ptr<contentpb::Content::Stub> stub_;
};

ImageRecord FromPb(const imagespb::Image& in) {
  ImageRecord out;
  out.name = in.name();
  out.labels = Labels(in.labels().begin(), in.labels().end());
  out.target = in.target();
  out.created_at = ToTime(in.created_at());
  out.updated_at = ToTime(in.updated_at());
  return out;
}

void ToPb(const ImageRecord& in, imagespb::Image* out) {
  out->set_name(in.name);
  for (const auto& [k, v] : in.labels) (*out->mutable_labels())[k] = v;
  *out->mutable_target() = in.target;
}

class GrpcImages final : public ImageRecords {
 public:
  GrpcImages(const Caller& caller, std::shared_ptr<::grpc::Channel> ch)
      : caller_(caller), stub_(imagespb::Images::NewStub(ch)) {}

  absl::StatusOr<ImageRecord> Get(const std::string& name) override {
    auto ctx = caller_.Context();
    imagespb::GetRequest req;
    req.set_name(name);
    imagespb::GetResponse resp;
    ::grpc::Status st = stub_->Get(ctx.get(), req, &resp);
    if (!st.ok()) return FromGrpc(st);
    return FromPb(resp.image());
  }
  absl::StatusOr<std::vector<ImageRecord>> List() override {
    auto ctx = caller_.Context();
    imagespb::ListResponse resp;
    ::grpc::Status st = stub_->List(ctx.get(), imagespb::ListRequest(), &resp);
    if (!st.ok()) return FromGrpc(st);
    std::vector<ImageRecord> out;
    for (const auto& i : resp.images()) out.push_back(FromPb(i));
    return out;
  }
  absl::StatusOr<ImageRecord> Create(const ImageRecord& record) override {
    auto ctx = caller_.Context();
    imagespb::CreateRequest req;
    ToPb(record, req.mutable_image());
    imagespb::CreateResponse resp;
    ::grpc::Status st = stub_->Create(ctx.get(), req, &resp);
    if (!st.ok()) return FromGrpc(st);
    return FromPb(resp.image());
  }
  absl::StatusOr<ImageRecord> Update(const ImageRecord& record) override {
    auto ctx = caller_.Context();
    imagespb::UpdateRequest req;
    ToPb(record, req.mutable_image());
    req.mutable_update_mask()->add_paths("target");
    req.mutable_update_mask()->add_paths("labels");
    imagespb::UpdateResponse resp;
    ::grpc::Status st = stub_->Update(ctx.get(), req, &resp);
    if (!st.ok()) return FromGrpc(st);
    return FromPb(resp.image());
  }
  absl::Status Delete(const std::string& name, bool sync,
                      const std::string& expected_target) override {
    auto ctx = caller_.Context("", /*data=*/sync);
    imagespb::DeleteRequest req;
    req.set_name(name);
    req.set_sync(sync);
    if (!expected_target.empty()) req.mutable_target()->set_digest(expected_target);
    imagespb::DeleteResponse resp;
    return FromGrpc(stub_->Delete(ctx.get(), req, &resp));
  }

 private:
  const Caller& caller_;
  std::unique_ptr<imagespb::Images::Stub> stub_;
};

SnapshotInfo FromPb(const snapshotspb::Info& in) {
  SnapshotInfo out;
  out.name = in.name();
  out.parent = in.parent();
  out.committed = in.kind() == snapshotspb::KIND_COMMITTED;
  out.labels = Labels(in.labels().begin(), in.labels().end());
  return out;
}

class GrpcSnapshots final : public Snapshots {
 public:
  GrpcSnapshots(const Caller& caller, std::shared_ptr<::grpc::Channel> ch)
      : caller_(caller), stub_(snapshotspb::Snapshots::NewStub(ch)) {}

  absl::StatusOr<std::vector<Mount>> Prepare(const std::string& key, const std::string& parent,
                                             const std::string& lease) override {
    auto ctx = caller_.Context(lease);
    snapshotspb::PrepareRequest req;
    req.set_key(key);
    req.set_parent(parent);
    snapshotspb::PrepareResponse resp;
    ::grpc::Status st = stub_->Prepare(ctx.get(), req, &resp);
    if (!st.ok()) return FromGrpc(st);
    return std::vector<Mount>(resp.mounts().begin(), resp.mounts().end());
  }
  absl::Status Commit(const std::string& name, const std::string& key,
                      const std::string& lease) override {
    auto ctx = caller_.Context(lease);
    snapshotspb::CommitRequest req;
    req.set_name(name);
    req.set_key(key);
    snapshotspb::CommitResponse resp;
    return FromGrpc(stub_->Commit(ctx.get(), req, &resp));
  }
  absl::Status Remove(const std::string& key) override {
    auto ctx = caller_.Context();
    snapshotspb::RemoveRequest req;
    req.set_key(key);
    snapshotspb::RemoveResponse resp;
    return FromGrpc(stub_->Remove(ctx.get(), req, &resp));
  }
  absl::StatusOr<SnapshotInfo> Stat(const std::string& key) override {
    auto ctx = caller_.Context();
    snapshotspb::StatRequest req;
    req.set_key(key);
    snapshotspb::StatResponse resp;
    ::grpc::Status st = stub_->Stat(ctx.get(), req, &resp);
    if (!st.ok()) return FromGrpc(st);
    return FromPb(resp.info());
  }
  absl::StatusOr<std::vector<SnapshotInfo>> List() override {
    auto ctx = caller_.Context();
    auto reader = stub_->List(ctx.get(), snapshotspb::ListRequest());
    std::vector<SnapshotInfo> out;
    snapshotspb::ListResponse resp;
    while (reader->Read(&resp)) {
      for (const auto& i : resp.infos()) out.push_back(FromPb(i));
    }
    ::grpc::Status st = reader->Finish();
    if (!st.ok()) return FromGrpc(st);
    return out;
  }

 private:
  const Caller& caller_;
  std::unique_ptr<snapshotspb::Snapshots::Stub> stub_;
};

class GrpcDiffer final : public Differ {
 public:
  GrpcDiffer(const Caller& caller, std::shared_ptr<::grpc::Channel> ch)
      : caller_(caller), stub_(diffpb::Diff::NewStub(ch)) {}
  absl::StatusOr<Descriptor> Apply(const Descriptor& layer,
                                   const std::vector<Mount>& mounts) override {
    auto ctx = caller_.Context("", /*data=*/true);
    diffpb::ApplyRequest req;
    *req.mutable_diff() = layer;
    for (const auto& m : mounts) *req.add_mounts() = m;
    diffpb::ApplyResponse resp;
    ::grpc::Status st = stub_->Apply(ctx.get(), req, &resp);
    if (!st.ok()) return FromGrpc(st);
    return resp.applied();
  }

 private:
  const Caller& caller_;
  std::unique_ptr<diffpb::Diff::Stub> stub_;
};

class GrpcLeases final : public Leases {
 public:
  GrpcLeases(const Caller& caller, std::shared_ptr<::grpc::Channel> ch)
      : caller_(caller), stub_(leasespb::Leases::NewStub(ch)) {}
  absl::StatusOr<std::string> Create(absl::Duration ttl) override {
    auto ctx = caller_.Context();
    leasespb::CreateRequest req;
    (*req.mutable_labels())["berth.io/owner"] = "berthd";
    *req.mutable_ttl() = TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(ttl));
    leasespb::CreateResponse resp;
    ::grpc::Status st = stub_->Create(ctx.get(), req, &resp);
    if (!st.ok()) return FromGrpc(st);
    return resp.lease().id();
  }
  absl::Status Delete(const std::string& id, bool sync) override {
    auto ctx = caller_.Context("", /*data=*/sync);
    leasespb::DeleteRequest req;
    req.set_id(id);
    req.set_sync(sync);
    leasespb::DeleteResponse resp;
    return FromGrpc(stub_->Delete(ctx.get(), req, &resp));
  }

 private:
  const Caller& caller_;
  std::unique_ptr<leasespb::Leases::Stub> stub_;
};

class GrpcContainers final : public ContainerRecords {
 public:
  GrpcContainers(const Caller& caller, std::shared_ptr<::grpc::Channel> ch)
      : caller_(caller), stub_(containerspb::Containers::NewStub(ch)) {}
  absl::StatusOr<std::vector<ContainerUse>> List() override {
    auto ctx = caller_.Context();
    containerspb::ListResponse resp;
    ::grpc::Status st = stub_->List(ctx.get(), containerspb::ListRequest(), &resp);
    if (!st.ok()) return FromGrpc(st);
    std::vector<ContainerUse> out;
    for (const auto& c : resp.containers()) out.push_back({c.id(), c.image()});
    return out;
  }

 private:
  const Caller& caller_;
  std::unique_ptr<containerspb::Containers::Stub> stub_;
};

}  // namespace

struct GrpcBackend::Impl {
  Caller caller;
  GrpcContent content;
  GrpcImages images;
  GrpcSnapshots snapshots;
  GrpcDiffer differ;
  GrpcLeases leases;
  GrpcContainers containers;
  Impl(std::shared_ptr<::grpc::Channel> ch, GrpcBackendOptions o)
      : caller{std::move(o)},
        content(caller, ch),
        images(caller, ch),
        snapshots(caller, ch),
        differ(caller, ch),
        leases(caller, ch),
        containers(caller, ch) {}
};

GrpcBackend::GrpcBackend(std::shared_ptr<::grpc::Channel> channel, GrpcBackendOptions options)
    : impl_(std::make_unique<Impl>(std::move(channel), std::move(options))) {}
GrpcBackend::~GrpcBackend() = default;

Backend GrpcBackend::backend() {
  return Backend{&impl_->content, &impl_->images, &impl_->snapshots,
                 &impl_->differ,  &impl_->leases, &impl_->containers};
}

}  // namespace berth::engine::images
