#include "engine/images/images_service.h"

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/grpc/status_mapping.h"
#include "common/grpc/stream_queue.h"
#include "engine/images/archive.h"
#include "engine/images/chunk_pipe.h"
#include "engine/reference/reference.h"
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
      what, " is not implemented: this berthd was started without registry support"));
}

// Publishes one image event with the image's labels (looked up afterwards, as dockerd does:
// a deleted image has none).
void Emit(ImageStore* store, const ImageEventSink& events, const std::string& action,
          const std::string& id, const std::string& name) {
  if (!events) return;
  std::map<std::string, std::string> attributes;
  if (!id.empty()) {
    absl::StatusOr<v1::Image> img = store->Inspect(id);
    if (img.ok()) attributes.insert(img->config().labels().begin(), img->config().labels().end());
  }
  if (!name.empty()) attributes["name"] = name;
  events(action, id, std::move(attributes));
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
  SaveReactor(ImageStore* store, const v1::SaveImagesRequest& req, const ImageEventSink* events)
      : store_(store), events_(events), refs_(req.images().begin(), req.images().end()) {
    absl::StatusOr<std::unique_ptr<SaveStream>> s = SaveStream::Create(*store, refs_, req.format());
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
      if (*events_) {
        for (const auto& ref : refs_) {
          absl::StatusOr<LocalImage> img = store_->Resolve(ref);
          if (img.ok()) Emit(store_, *events_, "save", img->id, img->id);
        }
      }
      Finish(::grpc::Status::OK);
      return;
    }
    StartWrite(&msg_);
  }

  ImageStore* const store_;
  const ImageEventSink* const events_;
  std::vector<std::string> refs_;
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
  ImportReactor(ImageStore* store, v1::ImportImageResponse* resp, const ImageEventSink* events)
      : store_(store), resp_(resp), events_(events) {}

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
      Emit(store_, *events_, "import", *id, *id);
    } else {
      VLOG(1) << "rpc=Images.Import error=\"" << id.status().message() << "\"";
    }
    FinishOnce(id.status());
  }

  ImageStore* store_;
  v1::ImportImageResponse* resp_;
  const ImageEventSink* events_;
  ImportOptions opts_;
  std::string source_url_;
};

class LoadReactor final
    : public StreamingWork<::grpc::ServerBidiReactor<v1::LoadImagesRequest, v1::LoadImagesResponse>,
                           v1::LoadImagesRequest> {
 public:
  LoadReactor(ImageStore* store, const ImageEventSink* events) : store_(store), events_(events) {}

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
      Emit(store_, *events_, "load", l.image_id(), l.image_id());
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
  const ImageEventSink* events_;
  std::vector<v1::LoadImagesResponse> out_;
  size_t next_ = 0;
};

// Pull and Push: runs the transfer on a worker thread owned by the call and relays its
// messages in order. The worker waits for room in the queue (a slow client slows the transfer
// rather than growing memory) and ends the call with the transfer's status; a client that goes
// away sets `cancelled_`, which the transfer checks between chunks, and OnDone joins it.
template <typename Resp>
class TransferReactor final : public grpc_util::QueuedWriteReactor<Resp> {
 public:
  using Sink = std::function<void(Resp)>;
  // The transfer: sends its messages to the sink and returns its outcome.
  using Transfer = std::function<absl::Status(const Sink&, const std::atomic<bool>& cancelled)>;
  // Runs on the worker after a successful transfer (events), with every message it sent.
  using OnSuccess = std::function<void(const std::vector<Resp>& results)>;

  TransferReactor(const char* rpc, Transfer transfer, OnSuccess on_success) {
    grpc_util::Outlet<Resp> out = this->outlet();
    worker_ = std::thread([this, rpc, out, transfer = std::move(transfer),
                           on_success = std::move(on_success)] {
      std::vector<Resp> results;
      absl::Status s = transfer(
          [&](Resp m) {
            if (!IsProgress(m)) results.push_back(m);
            // A gone client is noticed through `cancelled_`; later messages are dropped.
            (void)out.SendWait(std::move(m));
          },
          cancelled_);
      if (s.ok() && cancelled_.load()) s = absl::CancelledError("the client went away");
      VLOG(1) << "rpc=Images." << rpc << " code=" << absl::StatusCodeToString(s.code());
      if (s.ok() && on_success) on_success(results);
      out.Close(s);
    });
  }

  void OnCancel() override {
    cancelled_.store(true);
    grpc_util::QueuedWriteReactor<Resp>::OnCancel();
  }

 private:
  static bool IsProgress(const Resp& m) { return m.has_progress(); }

  void OnFinished() override {
    cancelled_.store(true);
    if (worker_.joinable()) worker_.join();
  }

  std::atomic<bool> cancelled_{false};
  std::thread worker_;
};

// Publishes "pull"/"push" for each tag the transfer reported (the request's reference when
// it reported none), with Docker's id (familiar reference) and name (familiar name).
void EmitTransferEvents(ImageStore* store, const ImageEventSink& events, const char* action,
                        const std::vector<std::string>& refs) {
  if (!events) return;
  for (const auto& r : refs) {
    absl::StatusOr<reference::Reference> ref = reference::ParseNormalized(r);
    if (!ref.ok()) continue;
    const std::string id = ref->FamiliarString();
    std::map<std::string, std::string> attributes;
    if (absl::StatusOr<v1::Image> img = store->Inspect(id); img.ok()) {
      attributes.insert(img->config().labels().begin(), img->config().labels().end());
    }
    attributes["name"] = ref->FamiliarName();
    events(action, id, std::move(attributes));
  }
}

template <typename Resp>
std::vector<std::string> ResultRefs(const std::vector<Resp>& results, const std::string& fallback) {
  std::vector<std::string> refs;
  for (const auto& r : results) {
    if (r.has_result() && !r.result().reference().empty()) refs.push_back(r.result().reference());
  }
  if (refs.empty()) refs.push_back(fallback);
  return refs;
}

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
  if (s.ok() && events_) {
    absl::StatusOr<reference::Reference> ref = reference::ParseWithDefaultTag(req->target());
    absl::StatusOr<LocalImage> img = store_->Resolve(req->target());
    if (ref.ok() && img.ok()) Emit(store_, events_, "tag", img->id, ref->FamiliarString());
  }
  return Done(ctx, "Tag", s);
}

::grpc::ServerUnaryReactor* ImagesService::Remove(::grpc::CallbackServerContext* ctx,
                                                  const v1::RemoveImageRequest* req,
                                                  v1::RemoveImageResponse* resp) {
  // The id the untagged references belonged to, for their events.
  absl::StatusOr<LocalImage> before = absl::NotFoundError("no event sink");
  if (events_) before = store_->Resolve(req->image());
  absl::StatusOr<std::vector<v1::ImageDeleteEntry>> r = store_->Remove(req->image(), req->force());
  if (r.ok()) {
    for (auto& e : *r) {
      if (e.has_deleted()) LOG(INFO) << "image deleted id=" << e.deleted();
      if (e.has_untagged() && before.ok()) Emit(store_, events_, "untag", before->id, before->id);
      if (e.has_deleted()) Emit(store_, events_, "delete", e.deleted(), e.deleted());
      *resp->add_entries() = std::move(e);
    }
  }
  return Done(ctx, "Remove", r.status());
}

::grpc::ServerUnaryReactor* ImagesService::Prune(::grpc::CallbackServerContext* ctx,
                                                 const v1::PruneImagesRequest* req,
                                                 v1::PruneImagesResponse* resp) {
  absl::StatusOr<v1::PruneImagesResponse> r = store_->Prune(*req);
  if (r.ok()) {
    *resp = std::move(*r);
    if (events_) {
      // Each pruned image's entries are its untagged references, then its deletion.
      int untagged = 0;
      for (const auto& e : resp->entries()) {
        if (e.has_untagged()) ++untagged;
        if (!e.has_deleted()) continue;
        for (; untagged > 0; --untagged) {
          Emit(store_, events_, "untag", e.deleted(), e.deleted());
        }
        Emit(store_, events_, "delete", e.deleted(), e.deleted());
      }
      events_("prune", "", {{"reclaimed", absl::StrCat(resp->space_reclaimed())}});
    }
  }
  return Done(ctx, "Prune", r.status());
}

::grpc::ServerWriteReactor<v1::SaveImagesResponse>* ImagesService::Save(
    ::grpc::CallbackServerContext*, const v1::SaveImagesRequest* req) {
  return new SaveReactor(store_, *req, &events_);
}

::grpc::ServerBidiReactor<v1::LoadImagesRequest, v1::LoadImagesResponse>* ImagesService::Load(
    ::grpc::CallbackServerContext*) {
  auto* r = new LoadReactor(store_, &events_);
  r->Begin();
  return r;
}

::grpc::ServerReadReactor<v1::ImportImageRequest>* ImagesService::Import(
    ::grpc::CallbackServerContext*, v1::ImportImageResponse* resp) {
  auto* r = new ImportReactor(store_, resp, &events_);
  r->Begin();
  return r;
}

::grpc::ServerWriteReactor<v1::PullImageResponse>* ImagesService::Pull(
    ::grpc::CallbackServerContext*, const v1::PullImageRequest* req) {
  if (distribution_ == nullptr) return new FailWriter<v1::PullImageResponse>(NotYet("pull"));
  VLOG(1) << "rpc=Images.Pull ref=" << req->reference();
  using Reactor = TransferReactor<v1::PullImageResponse>;
  return new Reactor(
      "Pull",
      [d = distribution_, r = *req](const Reactor::Sink& out, const std::atomic<bool>& cancelled) {
        return d->Pull(r, out, cancelled);
      },
      [this, ref = req->reference()](const std::vector<v1::PullImageResponse>& results) {
        for (const auto& r : results) {
          LOG(INFO) << "image pulled ref=" << r.result().reference()
                    << " digest=" << r.result().digest() << " id=" << r.result().image_id();
        }
        EmitTransferEvents(store_, events_, "pull", ResultRefs(results, ref));
      });
}

::grpc::ServerWriteReactor<v1::PushImageResponse>* ImagesService::Push(
    ::grpc::CallbackServerContext*, const v1::PushImageRequest* req) {
  if (distribution_ == nullptr) return new FailWriter<v1::PushImageResponse>(NotYet("push"));
  VLOG(1) << "rpc=Images.Push ref=" << req->reference();
  using Reactor = TransferReactor<v1::PushImageResponse>;
  return new Reactor(
      "Push",
      [d = distribution_, r = *req](const Reactor::Sink& out, const std::atomic<bool>& cancelled) {
        return d->Push(r, out, cancelled);
      },
      [this, ref = req->reference()](const std::vector<v1::PushImageResponse>& results) {
        for (const auto& r : results) {
          LOG(INFO) << "image pushed ref=" << r.result().reference()
                    << " digest=" << r.result().digest();
        }
        EmitTransferEvents(store_, events_, "push", ResultRefs(results, ref));
      });
}

::grpc::ServerUnaryReactor* ImagesService::InspectDistribution(
    ::grpc::CallbackServerContext* ctx, const v1::InspectDistributionRequest* req,
    v1::InspectDistributionResponse* resp) {
  if (distribution_ == nullptr) {
    return Done(ctx, "InspectDistribution", NotYet("distribution inspect"));
  }
  auto* reactor = ctx->DefaultReactor();
  if (!executor_.Run([this, reactor, req, resp] {
        absl::StatusOr<v1::InspectDistributionResponse> r =
            distribution_->InspectDistribution(*req);
        if (r.ok()) *resp = std::move(*r);
        VLOG(1) << "rpc=Images.InspectDistribution code="
                << absl::StatusCodeToString(r.status().code());
        reactor->Finish(ToGrpcStatus(r.status()));
      })) {
    reactor->Finish(::grpc::Status(::grpc::StatusCode::UNAVAILABLE, "berthd is shutting down"));
  }
  return reactor;
}

::grpc::ServerUnaryReactor* ImagesService::Search(::grpc::CallbackServerContext* ctx,
                                                  const v1::SearchImagesRequest*,
                                                  v1::SearchImagesResponse*) {
  return Done(ctx, "Search", absl::UnimplementedError("search is not implemented by berthd"));
}

::grpc::ServerUnaryReactor* ImagesService::Login(::grpc::CallbackServerContext* ctx,
                                                 const v1::LoginRequest* req,
                                                 v1::LoginResponse* resp) {
  if (distribution_ == nullptr) return Done(ctx, "Login", NotYet("login"));
  auto* reactor = ctx->DefaultReactor();
  if (!executor_.Run([this, reactor, req, resp] {
        absl::StatusOr<v1::LoginResponse> r = distribution_->Login(*req);
        if (r.ok()) *resp = std::move(*r);
        // Never the credentials: only where and how it went.
        VLOG(1) << "rpc=Images.Login server=" << req->auth().server_address()
                << " code=" << absl::StatusCodeToString(r.status().code());
        reactor->Finish(ToGrpcStatus(r.status()));
      })) {
    reactor->Finish(::grpc::Status(::grpc::StatusCode::UNAVAILABLE, "berthd is shutting down"));
  }
  return reactor;
}

}  // namespace berth::engine::images
