#include "engine/distribution/pusher.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/digest/digest.h"
#include "common/digest/hasher.h"
#include "common/status/status_macros.h"
#include "engine/distribution/blobs.h"
#include "engine/distribution/progress.h"
#include "engine/distribution/registry_client.h"
#include "engine/distribution/workers.h"
#include "engine/reference/reference.h"

namespace berth::engine::distribution {
namespace {

namespace oci = images::oci;
using images::Descriptor;

constexpr int64_t kMaxDocument = 8 << 20;
// Compressed blocks (GzipOptions::block_size each) waiting for the upload, at most.
constexpr size_t kQueuedBlocks = 4;

bool Uncompressed(const std::string& media_type) {
  return media_type == oci::kMediaTypeLayer || media_type == oci::kDockerLayer;
}

// A source for HttpRequest::body_source reading a blob from the content store.
class BlobSource {
 public:
  BlobSource(std::unique_ptr<images::BlobReader> reader, std::function<void(int64_t)> on_progress)
      : reader_(std::move(reader)), on_progress_(std::move(on_progress)) {}
  absl::StatusOr<size_t> Read(char* buf, size_t max) {
    while (at_ >= chunk_.size()) {
      if (eof_) return 0;
      BERTH_ASSIGN_OR_RETURN(bool more, reader_->Next(&chunk_));
      at_ = 0;
      if (!more) {
        eof_ = true;
        chunk_.clear();
      }
    }
    size_t n = std::min(max, chunk_.size() - at_);
    std::memcpy(buf, chunk_.data() + at_, n);
    at_ += n;
    sent_ += static_cast<int64_t>(n);
    on_progress_(sent_);
    return n;
  }

 private:
  std::unique_ptr<images::BlobReader> reader_;
  std::function<void(int64_t)> on_progress_;
  std::string chunk_;
  size_t at_ = 0;
  bool eof_ = false;
  int64_t sent_ = 0;
};

// Pieces of the gzip stream handed from the compressing thread to curl's read callback:
// bounded, so compression runs at most a few blocks ahead of the upload.
class ChunkQueue {
 public:
  explicit ChunkQueue(size_t capacity) : capacity_(capacity) {}

  // Producer. Blocks while the queue is full; Cancelled once the consumer has given up.
  absl::Status Push(GzipPiece&& piece) {
    absl::MutexLock l(&mu_);
    auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return chunks_.size() < capacity_ || abandoned_;
    };
    mu_.Await(absl::Condition(&room));
    if (abandoned_) return absl::CancelledError("upload stopped");
    chunks_.push_back(std::move(piece));
    return absl::OkStatus();
  }
  // Producer: no more data; `end` is OK or why the data stops short.
  void Close(absl::Status end) {
    absl::MutexLock l(&mu_);
    closed_ = true;
    end_ = std::move(end);
  }

  // Consumer: copies up to `max` bytes into `buf`; 0 at a clean end, the producer's error
  // after a failed one.
  absl::StatusOr<size_t> Read(char* buf, size_t max) {
    absl::MutexLock l(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !chunks_.empty() || closed_;
    };
    mu_.Await(absl::Condition(&ready));
    if (chunks_.empty()) {
      if (!end_.ok()) return end_;
      return 0;
    }
    const GzipPiece& front = chunks_.front();
    const size_t n = front.Read(at_, buf, max);
    at_ += n;
    if (at_ == front.size()) {
      chunks_.pop_front();
      at_ = 0;
    }
    return n;
  }
  // Consumer: stops the producer (its Push fails from now on).
  void Abandon() {
    absl::MutexLock l(&mu_);
    abandoned_ = true;
    chunks_.clear();
  }

 private:
  const size_t capacity_;
  absl::Mutex mu_;
  std::deque<GzipPiece> chunks_ ABSL_GUARDED_BY(mu_);
  size_t at_ ABSL_GUARDED_BY(mu_) = 0;  // bytes of the front piece already read
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool abandoned_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status end_ ABSL_GUARDED_BY(mu_);
};

class PushJob {
 public:
  PushJob(images::ImageStore* store, RegistryClient* client, const Options& options,
          const GzipOptions& gzip, const reference::Reference& ref,
          const images::Distribution::PushSink& out, const std::atomic<bool>& cancelled)
      : store_(store),
        content_(store->backend().content),
        client_(client),
        options_(options),
        gzip_(gzip),
        ref_(ref),
        out_(out),
        cancelled_(cancelled) {}

  // Pushes `target`; returns the manifest (or index) the registry now holds.
  absl::StatusOr<Descriptor> Run(const Descriptor& target);

 private:
  void Emit(const std::string& id, v1::TransferPhase phase, const std::string& status) {
    v1::PushImageResponse r;
    v1::TransferProgress* p = r.mutable_progress();
    p->set_id(id);
    p->set_phase(phase);
    p->set_status(status);
    out_(std::move(r));
  }
  std::vector<std::string> Scopes() const { return {PushScope(ref_.path)}; }
  // Pushes one image manifest's config and layers, then the manifest under `ref` (a tag, or
  // its digest for the children of an index). Returns what the registry holds.
  absl::StatusOr<Descriptor> PushManifest(const Descriptor& manifest, const std::string& ref);
  // Pushes uncompressed layer `layer` as gzip; returns the descriptor pushed.
  absl::StatusOr<Descriptor> PushUncompressed(const Descriptor& layer, const std::string& id);
  // Compresses `layer` and streams the gzip into a new upload (POST, PATCH, PUT), in one pass:
  // the compressed bytes are never stored. Returns the gzip's digest and size.
  absl::StatusOr<std::pair<std::string, int64_t>> CompressAndUpload(const Descriptor& layer,
                                                                    const std::string& id);
  // HEAD, then a cross-repository mount from one of `sources`. True when the registry has
  // `blob` in the target repository afterwards; progress says which way.
  absl::StatusOr<bool> SkipOrMount(const Descriptor& blob, const std::vector<std::string>& sources,
                                   const std::string& id, bool show);
  absl::Status PushBlob(const Descriptor& blob, const std::string& id, bool show);
  void Fail(absl::Status s) {
    absl::MutexLock l(&mu_);
    if (first_error_.ok()) first_error_ = std::move(s);
    stop_ = true;
  }

  images::ImageStore* const store_;
  images::ContentStore* const content_;
  RegistryClient* const client_;
  const Options& options_;
  const GzipOptions& gzip_;
  const reference::Reference ref_;
  const images::Distribution::PushSink& out_;
  const std::atomic<bool>& cancelled_;

  std::string lease_;
  ProgressQueue progress_;
  std::atomic<bool> stop_{false};
  std::atomic<int> compressing_{0};  // layers in CompressAndUpload
  absl::Mutex mu_;
  absl::Status first_error_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<bool> PushJob::SkipOrMount(const Descriptor& blob,
                                          const std::vector<std::string>& sources,
                                          const std::string& id, bool show) {
  absl::StatusOr<int64_t> have = client_->StatBlob(ref_.path, blob.digest(), Scopes(), &stop_);
  if (have.ok()) {
    if (show) progress_.Post(id, v1::TRANSFER_PHASE_LAYER_ALREADY_EXISTS, "Layer already exists");
    return true;
  }
  if (!absl::IsNotFound(have.status())) return have.status();
  // A cross-repository mount from where the blob came from (same registry).
  for (const auto& from : sources) {
    if (from == ref_.path) continue;
    BERTH_ASSIGN_OR_RETURN(
        std::string location,
        client_->StartUpload(ref_.path, blob.digest(), from,
                             {PushScope(ref_.path), PullScope(from)}, &stop_));
    if (location.empty()) {
      if (show) {
        progress_.Post(id, v1::TRANSFER_PHASE_MOUNTED_FROM, absl::StrCat("Mounted from ", from));
      }
      return true;
    }
    // The registry opened a plain upload instead; it expires unused.
    break;
  }
  return false;
}

absl::Status PushJob::PushBlob(const Descriptor& blob, const std::string& id, bool show) {
  const std::string host = client_->host().host;
  absl::StatusOr<images::BlobInfo> info = content_->Info(blob.digest());
  std::vector<std::string> sources;
  if (info.ok()) sources = Sources(*info, SourceLabel(host));
  BERTH_ASSIGN_OR_RETURN(bool there, SkipOrMount(blob, sources, id, show));
  if (there) return AddSource(content_, blob.digest(), SourceLabel(host), ref_.path);
  BERTH_ASSIGN_OR_RETURN(std::string location,
                         client_->StartUpload(ref_.path, "", "", Scopes(), &stop_));
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<images::BlobReader> reader,
                         content_->OpenReader(blob.digest()));
  const int64_t size = blob.size();
  auto source = std::make_shared<BlobSource>(std::move(reader), [&, size](int64_t sent) {
    if (show) progress_.Post(id, v1::TRANSFER_PHASE_PUSHING, "Pushing", sent, size);
  });
  BERTH_RETURN_IF_ERROR(client_->FinishUpload(
      location, blob.digest(), size,
      [source](char* buf, size_t max) { return source->Read(buf, max); }, Scopes(), &stop_));
  if (show) progress_.Post(id, v1::TRANSFER_PHASE_PUSHED, "Pushed", size, size);
  return AddSource(content_, blob.digest(), SourceLabel(host), ref_.path);
}

absl::StatusOr<std::pair<std::string, int64_t>> PushJob::CompressAndUpload(
    const Descriptor& layer, const std::string& id) {
  BERTH_ASSIGN_OR_RETURN(std::string location,
                         client_->StartUpload(ref_.path, "", "", Scopes(), &stop_));
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<images::BlobReader> reader,
                         content_->OpenReader(layer.digest()));
  ChunkQueue queue(kQueuedBlocks);
  digest::Sha256Hasher hasher;
  // Layers compressed side by side already keep the CPUs busy: each gets its share of them
  // rather than all of them (more threads than CPUs only adds switches and thread starts).
  GzipOptions gzip = gzip_;
  const int compressing = compressing_.fetch_add(1) + 1;
  absl::Cleanup done_compressing = [this] { compressing_.fetch_sub(1); };
  if (gzip.threads <= 0) {
    gzip.threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / compressing);
  }
  int64_t consumed = 0;
  // Compression runs on its own thread (and GzipCompress on more) while this one uploads.
  std::thread compressor([&] {
    absl::Status s = GzipCompress(
        [&](std::string* chunk) -> absl::StatusOr<bool> {
          if (stop_.load() || cancelled_.load()) return absl::CancelledError("push cancelled");
          absl::StatusOr<bool> more = reader->Next(chunk);
          if (more.ok() && *more) {
            consumed += static_cast<int64_t>(chunk->size());
            // The upload's size is not known before the end: progress counts layer bytes.
            progress_.Post(id, v1::TRANSFER_PHASE_PUSHING, "Pushing", consumed, layer.size());
          }
          return more;
        },
        [&](GzipPiece&& piece) { return queue.Push(std::move(piece)); },
        gzip);
    queue.Close(Annotate(s, absl::StrCat("compress layer ", layer.digest())));
  });
  // Hashed as curl takes it: the bytes are in cache then, and stored blocks only exist framed
  // in curl's buffer.
  absl::StatusOr<std::string> next = client_->PatchUpload(
      location,
      [&](char* buf, size_t max) -> absl::StatusOr<size_t> {
        absl::StatusOr<size_t> n = queue.Read(buf, max);
        if (n.ok()) hasher.Update(absl::string_view(buf, *n));
        return n;
      },
      Scopes(), &stop_);
  queue.Abandon();
  compressor.join();
  if (!next.ok()) return next.status();
  const int64_t size = static_cast<int64_t>(hasher.size());
  BERTH_ASSIGN_OR_RETURN(digest::Digest d, hasher.Finish());
  BERTH_RETURN_IF_ERROR(client_->FinishUpload(*next, d.ToString(), 0, nullptr, Scopes(), &stop_));
  progress_.Post(id, v1::TRANSFER_PHASE_PUSHED, "Pushed", layer.size(), layer.size());
  return std::make_pair(d.ToString(), size);
}

absl::StatusOr<Descriptor> PushJob::PushUncompressed(const Descriptor& layer,
                                                     const std::string& id) {
  const std::string host = client_->host().host;
  BERTH_ASSIGN_OR_RETURN(images::BlobInfo info, content_->Info(layer.digest()),
                         absl::StrCat("layer ", layer.digest()));
  Descriptor out;
  out.set_media_type(layer.media_type() == oci::kDockerLayer ? oci::kDockerLayerGzip
                                                             : oci::kMediaTypeLayerGzip);
  // A gzip blob an earlier berth kept in the content store: push it as it is.
  if (auto it = info.labels.find(kGzipLabel); it != info.labels.end()) {
    absl::StatusOr<images::BlobInfo> gz = content_->Info(it->second);
    if (gz.ok()) {
      out.set_digest(gz->digest);
      out.set_size(gz->size);
      BERTH_RETURN_IF_ERROR(PushBlob(out, id, true));
      return out;
    }
  }
  // A gzip made by an earlier push: the registry may have it, or have it elsewhere.
  auto d = info.labels.find(kGzipDigestLabel);
  auto z = info.labels.find(kGzipSizeLabel);
  int64_t known_size = 0;
  if (d != info.labels.end() && z != info.labels.end() &&
      absl::SimpleAtoi(z->second, &known_size) && digest::Digest::Parse(d->second).ok()) {
    out.set_digest(d->second);
    out.set_size(known_size);
    BERTH_ASSIGN_OR_RETURN(bool there,
                           SkipOrMount(out, Sources(info, GzipSourceLabel(host)), id, true));
    if (there) {
      BERTH_RETURN_IF_ERROR(AddSource(content_, layer.digest(), GzipSourceLabel(host), ref_.path));
      return out;
    }
  }
  BERTH_ASSIGN_OR_RETURN(auto made, CompressAndUpload(layer, id));
  out.set_digest(made.first);
  out.set_size(made.second);
  BERTH_RETURN_IF_ERROR(content_->SetLabels(
      layer.digest(),
      {{kGzipDigestLabel, made.first}, {kGzipSizeLabel, absl::StrCat(made.second)}}));
  BERTH_RETURN_IF_ERROR(AddSource(content_, layer.digest(), GzipSourceLabel(host), ref_.path));
  return out;
}

absl::StatusOr<Descriptor> PushJob::PushManifest(const Descriptor& manifest,
                                                 const std::string& ref) {
  BERTH_ASSIGN_OR_RETURN(oci::Manifest m, store_->ReadManifest(manifest.digest()));
  BERTH_ASSIGN_OR_RETURN(std::string raw, content_->ReadAll(manifest.digest(), kMaxDocument));
  const size_t n = m.layers.size();
  std::vector<Descriptor> pushed(n);
  for (size_t i = 0; i < n; ++i) {
    Emit(ShortId(m.layers[i].digest()), v1::TRANSFER_PHASE_PREPARING, "Preparing");
  }
  const size_t workers =
      std::min(n, static_cast<size_t>(std::max(1, options_.max_concurrent_uploads)));
  for (size_t i = workers; i < n; ++i) {
    Emit(ShortId(m.layers[i].digest()), v1::TRANSFER_PHASE_WAITING, "Waiting");
  }
  // The config goes up beside the layers (nothing refers to it before the manifest), so the
  // push does not end with three more round trips after the last layer.
  std::thread config([&] {
    if (absl::Status s = PushBlob(m.config, "", false); !s.ok()) {
      Fail(Annotate(s, "push image config"));
    }
  });
  const std::function<absl::Status(size_t)> push_layer = [&](size_t i) -> absl::Status {
    const Descriptor& layer = m.layers[i];
    const std::string id = ShortId(layer.digest());
    absl::StatusOr<Descriptor> blob = layer;
    if (Uncompressed(layer.media_type())) {
      blob = PushUncompressed(layer, id);
    } else if (absl::Status s = PushBlob(layer, id, true); !s.ok()) {
      blob = s;
    }
    if (!blob.ok()) return Annotate(blob.status(), absl::StrCat("push layer ", id));
    absl::MutexLock l(&mu_);
    pushed[i] = *blob;
    return absl::OkStatus();
  };
  const std::function<void(absl::Status)> fail = [this](absl::Status s) { Fail(std::move(s)); };
  const std::function<void()> close = [this] { progress_.Close(); };
  std::vector<std::thread> threads = StartWorkers(n, workers, stop_, push_layer, fail, close);
  progress_.Relay(
      [&] {
        if (cancelled_.load() && !stop_.load()) Fail(absl::CancelledError("push cancelled"));
      },
      [&](v1::TransferProgress p) {
        v1::PushImageResponse r;
        *r.mutable_progress() = std::move(p);
        out_(std::move(r));
      });
  for (auto& t : threads) t.join();
  config.join();
  {
    absl::MutexLock l(&mu_);
    BERTH_RETURN_IF_ERROR(first_error_);
  }
  if (cancelled_.load()) return absl::CancelledError("push cancelled");

  // The manifest as pushed: the same document unless layers were compressed on the way.
  std::string body = raw;
  bool changed = false;
  for (size_t i = 0; i < n; ++i) changed = changed || pushed[i].digest() != m.layers[i].digest();
  if (changed) {
    BERTH_ASSIGN_OR_RETURN(nlohmann::json doc, oci::ParseJson(raw, "manifest"));
    nlohmann::json& layers = doc["layers"];
    if (!layers.is_array() || layers.size() != n) {
      return absl::InternalError("manifest layers changed while pushing");
    }
    for (size_t i = 0; i < n; ++i) {
      layers[i]["mediaType"] = pushed[i].media_type();
      layers[i]["digest"] = pushed[i].digest();
      layers[i]["size"] = pushed[i].size();
    }
    // nlohmann's objects keep keys sorted: the same image always makes the same bytes.
    body = doc.dump();
  }
  const std::string media_type = m.media_type.empty() ? manifest.media_type() : m.media_type;
  BERTH_ASSIGN_OR_RETURN(std::string digest,
                         client_->PutManifest(ref_.path, ref, media_type, body, &cancelled_));
  Descriptor out;
  out.set_media_type(media_type);
  out.set_digest(digest);
  out.set_size(static_cast<int64_t>(body.size()));
  if (changed) {
    // Keep the pushed manifest (and through its labels the compressed layers) as long as the
    // local one, so the next push finds the same blobs and the repo digest stays resolvable.
    images::Labels labels = {{absl::StrCat(images::kGcRefContentPrefix, "config"),
                              m.config.digest()}};
    for (size_t i = 0; i < n; ++i) {
      labels[absl::StrCat(images::kGcRefContentPrefix, "l.", i)] = pushed[i].digest();
    }
    BERTH_RETURN_IF_ERROR(WriteSmallBlob(content_, absl::StrCat("push-manifest-", store_->Unique()),
                                         body, digest, labels, lease_));
    BERTH_RETURN_IF_ERROR(content_->SetLabels(
        manifest.digest(),
        {{absl::StrCat(images::kGcRefContentPrefix, "pushed.", client_->host().host, "/",
                       ref_.path),
          digest}}));
  }
  return out;
}

absl::StatusOr<Descriptor> PushJob::Run(const Descriptor& target) {
  const images::Backend& b = store_->backend();
  BERTH_ASSIGN_OR_RETURN(lease_, b.leases->Create(absl::Hours(1)), "create lease");
  absl::Cleanup drop_lease = [&] { (void)b.leases->Delete(lease_, false); };
  Emit("", v1::TRANSFER_PHASE_UNSPECIFIED,
       absl::StrCat("The push refers to repository [", ref_.Name(), "]"));
  Descriptor pushed;
  if (oci::IsIndex(target.media_type())) {
    BERTH_ASSIGN_OR_RETURN(std::string raw, content_->ReadAll(target.digest(), kMaxDocument));
    BERTH_ASSIGN_OR_RETURN(oci::Index index, oci::ParseIndex(raw));
    bool all_present = true;
    for (const auto& d : index.manifests) all_present = all_present && content_->Info(d.digest()).ok();
    if (all_present) {
      for (const auto& d : index.manifests) {
        if (!oci::IsManifest(d.media_type())) continue;
        BERTH_ASSIGN_OR_RETURN(Descriptor child, PushManifest(d, d.digest()));
        if (child.digest() != d.digest()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "cannot push index ", target.digest(), ": its manifest ", d.digest(),
              " has uncompressed layers (push one platform instead)"));
        }
      }
      BERTH_ASSIGN_OR_RETURN(std::string digest,
                             client_->PutManifest(ref_.path, ref_.tag, target.media_type(), raw,
                                                  &cancelled_));
      pushed = target;
      pushed.set_digest(digest);
    } else {
      BERTH_ASSIGN_OR_RETURN(Descriptor manifest, store_->PlatformManifest(target));
      BERTH_ASSIGN_OR_RETURN(pushed, PushManifest(manifest, ref_.tag));
    }
  } else {
    BERTH_ASSIGN_OR_RETURN(pushed, PushManifest(target, ref_.tag));
  }
  Emit("", v1::TRANSFER_PHASE_UNSPECIFIED,
       absl::StrCat(ref_.tag, ": digest: ", pushed.digest(), " size: ", pushed.size()));
  v1::PushImageResponse r;
  v1::PushImageResult* res = r.mutable_result();
  res->set_reference(ref_.String());
  res->set_digest(pushed.digest());
  res->set_size(pushed.size());
  out_(std::move(r));
  return pushed;
}

}  // namespace

absl::Status Pusher::Push(const v1::PushImageRequest& req,
                          const images::Distribution::PushSink& out,
                          const std::atomic<bool>& cancelled) {
  BERTH_ASSIGN_OR_RETURN(reference::Reference ref, reference::ParseNormalized(req.reference()));
  if (!ref.digest.empty()) {
    return absl::InvalidArgumentError("cannot push a digest reference");
  }
  // The local records to push: the one named, or with all_tags every tag of the repository.
  std::vector<std::pair<reference::Reference, images::ImageRecord>> todo;
  BERTH_ASSIGN_OR_RETURN(std::vector<images::ImageRecord> records, store_->backend().images->List(),
                         "list images");
  for (const auto& r : records) {
    absl::StatusOr<reference::Reference> rr = reference::ParseNormalized(r.name);
    if (!rr.ok() || rr->Name() != ref.Name() || rr->tag.empty() || !rr->digest.empty()) continue;
    if (req.all_tags() ? ref.tag.empty() || rr->tag == ref.tag
                       : rr->tag == (ref.tag.empty() ? reference::kDefaultTag : ref.tag)) {
      todo.emplace_back(*rr, r);
    }
  }
  if (todo.empty()) {
    reference::Reference shown = ref;
    if (!req.all_tags() && shown.tag.empty()) shown.tag = reference::kDefaultTag;
    return absl::NotFoundError(
        absl::StrCat("An image does not exist locally with the tag: ", shown.FamiliarString()));
  }
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<RegistryClient> client,
                         NewClient(http_, options_, ref.domain, req.auth()));
  for (const auto& [r, record] : todo) {
    Descriptor t = record.target;
    if (oci::IsIndex(t.media_type()) && !req.platform().os().empty()) {
      BERTH_ASSIGN_OR_RETURN(t, store_->PlatformManifest(t));
    }
    PushJob job(store_, client.get(), options_, gzip_, r, out, cancelled);
    BERTH_ASSIGN_OR_RETURN(Descriptor pushed, job.Run(t));
    if (pushed.digest() != record.target.digest()) RecordPushedDigest(record, pushed.digest());
  }
  return absl::OkStatus();
}

void Pusher::RecordPushedDigest(const images::ImageRecord& pushed_record,
                                const std::string& digest) {
  images::ImageRecords* records = store_->backend().images;
  absl::StatusOr<images::ImageRecord> now = records->Get(pushed_record.name);
  // Moved or removed meanwhile: the digest no longer describes it.
  if (!now.ok() || now->target.digest() != pushed_record.target.digest()) return;
  images::ImageRecord updated = *now;
  // One label per record: an older push's (for another target) is dropped.
  for (auto it = updated.labels.begin(); it != updated.labels.end();) {
    it = absl::StartsWith(it->first, images::kPushedDigestLabelPrefix) ? updated.labels.erase(it)
                                                                        : std::next(it);
  }
  updated.labels[absl::StrCat(images::kPushedDigestLabelPrefix, now->target.digest())] = digest;
  // Best effort: the push itself succeeded; only `inspect` would show the local digest.
  (void)records->Update(updated);
}

}  // namespace berth::engine::distribution
