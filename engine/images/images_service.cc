#include "engine/images/images_service.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "common/grpc/status_mapping.h"
#include "engine/images/archive.h"
#include "engine/images/chunk_pipe.h"
#include "glog/logging.h"

namespace berth::engine::images {
namespace {

using grpc_util::ToGrpcStatus;

constexpr size_t kPipeChunks = 8;
constexpr size_t kSaveMessageBytes = 1 << 20;

::grpc::ServerUnaryReactor* Done(::grpc::CallbackServerContext* ctx, const char* rpc,
                                 const absl::Status& s) {
  VLOG(1) << "rpc=Images." << rpc << " code=" << absl::StatusCodeToString(s.code());
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

absl::Status NotYet(const char* what) {
  return absl::UnimplementedError(absl::StrCat(
      what, " is not implemented yet: berthd does not talk to registries in this version"));
}

template <typename Response>
class FailWriter final : public ::grpc::ServerWriteReactor<Response> {
 public:
  explicit FailWriter(const absl::Status& s) { this->Finish(ToGrpcStatus(s)); }
  void OnDone() override { delete this; }
};

// Save: writes the SaveStream's chunks, batched into messages of about 1 MiB.
class SaveReactor final : public ::grpc::ServerWriteReactor<v1::SaveImagesResponse> {
 public:
  SaveReactor(ImageStore* store, const v1::SaveImagesRequest& req) {
    std::vector<std::string> refs(req.images().begin(), req.images().end());
    absl::StatusOr<std::unique_ptr<SaveStream>> s = SaveStream::Create(*store, refs, req.format());
    if (!s.ok()) {
      Finish(ToGrpcStatus(s.status()));
      return;
    }
    stream_ = std::move(*s);
    Next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(::grpc::Status(::grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    std::string* data = msg_.mutable_data();
    data->clear();
    std::string chunk;
    while (data->size() < kSaveMessageBytes) {
      absl::StatusOr<bool> more = stream_->Next(&chunk);
      if (!more.ok()) {
        LOG(ERROR) << "image save failed error=\"" << more.status().message() << "\"";
        Finish(ToGrpcStatus(more.status()));
        return;
      }
      if (!*more) break;
      data->append(chunk);
    }
    if (data->empty()) {
      Finish(::grpc::Status::OK);
      return;
    }
    StartWrite(&msg_);
  }

  std::unique_ptr<SaveStream> stream_;
  v1::SaveImagesResponse msg_;
};

// Shared read side of Import and Load: the first message carries options, later ones data
// chunks that go into the pipe; `Work` runs on a worker thread.
template <typename Base, typename Request>
class StreamingWork : public Base {
 public:
  StreamingWork()
      : pipe_(kPipeChunks, [this] {
          absl::MutexLock l(&mu_);
          if (!finished_) this->StartRead(&req_);
        }) {}

  void Begin() { this->StartRead(&req_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      pipe_.Close(absl::OkStatus());
      if (!started_) FinishOnce(absl::InvalidArgumentError("the stream carried no options"));
      return;
    }
    if (!started_) {
      if (!HasOptions(req_)) {
        FinishOnce(absl::InvalidArgumentError("the first message must carry options"));
        return;
      }
      started_ = true;
      TakeOptions(req_);
      worker_ = std::thread([this] { Work(pipe_); });
      this->StartRead(&req_);
      return;
    }
    if (pipe_.Push(std::move(*MutableData(req_)))) {
      absl::MutexLock l(&mu_);
      if (!finished_) this->StartRead(&req_);
    }
  }
  void OnCancel() override { pipe_.Close(absl::CancelledError("the client cancelled")); }
  void OnDone() override {
    pipe_.Close(absl::CancelledError("call ended"));
    if (worker_.joinable()) worker_.join();
    delete this;
  }

 protected:
  virtual bool HasOptions(const Request& r) = 0;
  virtual void TakeOptions(const Request& r) = 0;
  virtual std::string* MutableData(Request& r) = 0;
  virtual void Work(ByteSource& source) = 0;

  void FinishOnce(const absl::Status& s) {
    absl::MutexLock l(&mu_);
    if (finished_) return;
    finished_ = true;
    this->Finish(ToGrpcStatus(s));
  }
  // Stops reading (a worker that failed early does not want the rest).
  void StopReading() {
    absl::MutexLock l(&mu_);
    finished_ = true;
  }

  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  ChunkPipe pipe_;

 private:
  Request req_;
  bool started_ = false;
  std::thread worker_;
};

class ImportReactor final : public StreamingWork<::grpc::ServerReadReactor<v1::ImportImageRequest>,
                                                 v1::ImportImageRequest> {
 public:
  ImportReactor(ImageStore* store, v1::ImportImageResponse* resp) : store_(store), resp_(resp) {}

 private:
  bool HasOptions(const v1::ImportImageRequest& r) override { return r.has_options(); }
  void TakeOptions(const v1::ImportImageRequest& r) override {
    opts_.reference = r.options().reference();
    opts_.changes.assign(r.options().changes().begin(), r.options().changes().end());
    opts_.message = r.options().message();
    opts_.os = r.options().platform().os();
    opts_.architecture = r.options().platform().architecture();
    opts_.variant = r.options().platform().variant();
    source_url_ = r.options().source_url();
  }
  std::string* MutableData(v1::ImportImageRequest& r) override { return r.mutable_data(); }
  void Work(ByteSource& source) override {
    absl::StatusOr<std::string> id =
        source_url_.empty()
            ? store_->Import(opts_, source)
            : absl::UnimplementedError("import from a URL is not supported; send the tarball");
    if (id.ok()) {
      resp_->set_image_id(*id);
      LOG(INFO) << "image imported id=" << *id << " ref=" << opts_.reference;
    } else {
      VLOG(1) << "rpc=Images.Import error=\"" << id.status().message() << "\"";
    }
    FinishOnce(id.status());
  }

  ImageStore* store_;
  v1::ImportImageResponse* resp_;
  ImportOptions opts_;
  std::string source_url_;
};

class LoadReactor final
    : public StreamingWork<::grpc::ServerBidiReactor<v1::LoadImagesRequest, v1::LoadImagesResponse>,
                           v1::LoadImagesRequest> {
 public:
  explicit LoadReactor(ImageStore* store) : store_(store) {}

  void OnWriteDone(bool ok) override {
    if (!ok) {
      FinishOnce(absl::CancelledError("client went away"));
      return;
    }
    WriteNext();
  }

 private:
  bool HasOptions(const v1::LoadImagesRequest& r) override { return r.has_options(); }
  void TakeOptions(const v1::LoadImagesRequest&) override {}
  std::string* MutableData(v1::LoadImagesRequest& r) override { return r.mutable_data(); }
  void Work(ByteSource& source) override {
    absl::StatusOr<std::vector<v1::LoadedImage>> loaded = LoadArchive(*store_, source);
    if (!loaded.ok()) {
      VLOG(1) << "rpc=Images.Load error=\"" << loaded.status().message() << "\"";
      FinishOnce(loaded.status());
      return;
    }
    StopReading();
    for (const auto& l : *loaded) {
      LOG(INFO) << "image loaded id=" << l.image_id() << " ref=" << l.reference();
      *out_.emplace_back().mutable_loaded() = l;
    }
    WriteNext();
  }
  void WriteNext() {
    if (next_ == out_.size()) {
      this->Finish(::grpc::Status::OK);
      return;
    }
    StartWrite(&out_[next_++]);
  }

  ImageStore* store_;
  std::vector<v1::LoadImagesResponse> out_;
  size_t next_ = 0;
};

}  // namespace

::grpc::ServerUnaryReactor* ImagesService::List(::grpc::CallbackServerContext* ctx,
                                                const v1::ListImagesRequest* req,
                                                v1::ListImagesResponse* resp) {
  absl::StatusOr<std::vector<v1::ImageSummary>> r = store_->ListSummaries(*req);
  if (r.ok()) {
    for (auto& s : *r) *resp->add_images() = std::move(s);
  }
  return Done(ctx, "List", r.status());
}

::grpc::ServerUnaryReactor* ImagesService::Inspect(::grpc::CallbackServerContext* ctx,
                                                   const v1::InspectImageRequest* req,
                                                   v1::InspectImageResponse* resp) {
  absl::StatusOr<v1::Image> r = store_->Inspect(req->image());
  if (r.ok()) *resp->mutable_image() = std::move(*r);
  return Done(ctx, "Inspect", r.status());
}

::grpc::ServerUnaryReactor* ImagesService::History(::grpc::CallbackServerContext* ctx,
                                                   const v1::ImageHistoryRequest* req,
                                                   v1::ImageHistoryResponse* resp) {
  absl::StatusOr<std::vector<v1::ImageHistoryEntry>> r = store_->History(req->image());
  if (r.ok()) {
    for (auto& e : *r) *resp->add_entries() = std::move(e);
  }
  return Done(ctx, "History", r.status());
}

::grpc::ServerUnaryReactor* ImagesService::Tag(::grpc::CallbackServerContext* ctx,
                                               const v1::TagImageRequest* req,
                                               v1::TagImageResponse*) {
  absl::Status s = store_->Tag(req->image(), req->target());
  if (s.ok()) LOG(INFO) << "image tagged image=" << req->image() << " tag=" << req->target();
  return Done(ctx, "Tag", s);
}

::grpc::ServerUnaryReactor* ImagesService::Remove(::grpc::CallbackServerContext* ctx,
                                                  const v1::RemoveImageRequest* req,
                                                  v1::RemoveImageResponse* resp) {
  absl::StatusOr<std::vector<v1::ImageDeleteEntry>> r = store_->Remove(req->image(), req->force());
  if (r.ok()) {
    for (auto& e : *r) {
      if (e.has_deleted()) LOG(INFO) << "image deleted id=" << e.deleted();
      *resp->add_entries() = std::move(e);
    }
  }
  return Done(ctx, "Remove", r.status());
}

::grpc::ServerUnaryReactor* ImagesService::Prune(::grpc::CallbackServerContext* ctx,
                                                 const v1::PruneImagesRequest* req,
                                                 v1::PruneImagesResponse* resp) {
  absl::StatusOr<v1::PruneImagesResponse> r = store_->Prune(*req);
  if (r.ok()) *resp = std::move(*r);
  return Done(ctx, "Prune", r.status());
}

::grpc::ServerWriteReactor<v1::SaveImagesResponse>* ImagesService::Save(
    ::grpc::CallbackServerContext*, const v1::SaveImagesRequest* req) {
  return new SaveReactor(store_, *req);
}

::grpc::ServerBidiReactor<v1::LoadImagesRequest, v1::LoadImagesResponse>* ImagesService::Load(
    ::grpc::CallbackServerContext*) {
  auto* r = new LoadReactor(store_);
  r->Begin();
  return r;
}

::grpc::ServerReadReactor<v1::ImportImageRequest>* ImagesService::Import(
    ::grpc::CallbackServerContext*, v1::ImportImageResponse* resp) {
  auto* r = new ImportReactor(store_, resp);
  r->Begin();
  return r;
}

::grpc::ServerWriteReactor<v1::PullImageResponse>* ImagesService::Pull(
    ::grpc::CallbackServerContext*, const v1::PullImageRequest*) {
  return new FailWriter<v1::PullImageResponse>(NotYet("pull"));
}

::grpc::ServerWriteReactor<v1::PushImageResponse>* ImagesService::Push(
    ::grpc::CallbackServerContext*, const v1::PushImageRequest*) {
  return new FailWriter<v1::PushImageResponse>(NotYet("push"));
}

::grpc::ServerUnaryReactor* ImagesService::InspectDistribution(
    ::grpc::CallbackServerContext* ctx, const v1::InspectDistributionRequest*,
    v1::InspectDistributionResponse*) {
  return Done(ctx, "InspectDistribution", NotYet("distribution inspect"));
}

::grpc::ServerUnaryReactor* ImagesService::Search(::grpc::CallbackServerContext* ctx,
                                                  const v1::SearchImagesRequest*,
                                                  v1::SearchImagesResponse*) {
  return Done(ctx, "Search", NotYet("search"));
}

::grpc::ServerUnaryReactor* ImagesService::Login(::grpc::CallbackServerContext* ctx,
                                                 const v1::LoginRequest*, v1::LoginResponse*) {
  return Done(ctx, "Login", NotYet("login"));
}

}  // namespace berth::engine::images
