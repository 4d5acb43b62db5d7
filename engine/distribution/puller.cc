#include "engine/distribution/puller.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
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

constexpr size_t kMaxDocument = 8 << 20;
// Bytes of a download gathered per content-store Write: the gRPC backend sends at most 1 MiB
// per message, each a round trip.
constexpr size_t kWriteBatch = 1 << 20;
// Batches a download may run ahead of the content store by.
constexpr size_t kWriteQueue = 4;

using WriterOr = absl::StatusOr<std::unique_ptr<images::BlobWriter>>;

// Hands a download's bytes to a content-store writer on a thread of its own, so that receiving
// from the registry and the round trips of the content store's Write overlap instead of taking
// turns (each Write blocks until the store has the bytes). curl's small pieces are gathered into
// kWriteBatch-sized Writes; at most kWriteQueue batches wait, so memory stays bounded.
class WriteBehind {
 public:
  explicit WriteBehind(images::BlobWriter* writer)
      : writer_(writer), thread_([this] { Run(); }) {}
  // Without a Drain first, what is still queued is dropped (the download failed).
  ~WriteBehind() {
    {
      absl::MutexLock l(&mu_);
      quit_ = true;
      queue_.clear();
    }
    thread_.join();
  }

  // Queues `data`; blocks while the queue is full. Returns the writer's first error, if any.
  absl::Status Append(absl::string_view data) {
    pending_.append(data.data(), data.size());
    if (pending_.size() < kWriteBatch) return absl::OkStatus();
    return Enqueue();
  }

  // Everything appended so far is with the writer (or the first error is returned).
  absl::Status Drain() {
    if (!pending_.empty()) BERTH_RETURN_IF_ERROR(Enqueue());
    absl::MutexLock l(&mu_);
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return (queue_.empty() && !busy_) || !error_.ok();
    };
    mu_.Await(absl::Condition(&idle));
    return error_;
  }

 private:
  absl::Status Enqueue() {
    absl::MutexLock l(&mu_);
    auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return queue_.size() < kWriteQueue || !error_.ok();
    };
    mu_.Await(absl::Condition(&room));
    if (!error_.ok()) return error_;
    queue_.push_back(std::move(pending_));
    pending_ = std::string();
    pending_.reserve(kWriteBatch);
    return absl::OkStatus();
  }

  void Run() {
    while (true) {
      std::string batch;
      {
        absl::MutexLock l(&mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return !queue_.empty() || quit_;
        };
        mu_.Await(absl::Condition(&ready));
        if (quit_) return;
        batch = std::move(queue_.front());
        queue_.pop_front();
        if (!error_.ok()) continue;  // after a failure nothing more is written
        busy_ = true;
      }
      absl::Status s = writer_->Write(batch);
      absl::MutexLock l(&mu_);
      busy_ = false;
      if (!s.ok() && error_.ok()) error_ = std::move(s);
    }
  }

  images::BlobWriter* const writer_;
  std::string pending_;  // the caller's side
  absl::Mutex mu_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool quit_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // last: starts once the members above exist
};

// Runs the pull's small content-store writes (storing the manifest and config, label updates:
// each a round trip and a metadata transaction with a sync of its own, and a blob commit two
// more) one after another, in order, on a thread of its own, so that they leave the critical
// path: the layer downloads start, the next layer is extracted, without waiting for any of
// them. Nothing reads what they write before Wait (ImageStore::Unpack reads the manifest, and
// the image is only named after it); until then the pull's lease keeps everything from garbage
// collection, as it does for the layers.
class SideWrites {
 public:
  SideWrites() : thread_([this] { Run(); }) {}
  // Without a Wait first, what is still queued is dropped (the pull failed).
  ~SideWrites() {
    {
      absl::MutexLock l(&mu_);
      quit_ = true;
      queue_.clear();
    }
    thread_.join();
  }

  void Post(std::function<absl::Status()> update) {
    absl::MutexLock l(&mu_);
    queue_.push_back(std::move(update));
  }

  // Runs everything posted so far; returns the first error (after which nothing more runs).
  absl::Status Wait() {
    absl::MutexLock l(&mu_);
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return queue_.empty() && !busy_; };
    mu_.Await(absl::Condition(&idle));
    return error_;
  }

 private:
  void Run() {
    while (true) {
      std::function<absl::Status()> update;
      {
        absl::MutexLock l(&mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return !queue_.empty() || quit_;
        };
        mu_.Await(absl::Condition(&ready));
        if (quit_) return;
        update = std::move(queue_.front());
        queue_.pop_front();
        if (!error_.ok()) continue;
        busy_ = true;
      }
      absl::Status s = update();
      absl::MutexLock l(&mu_);
      busy_ = false;
      if (!s.ok() && error_.ok()) error_ = std::move(s);
    }
  }

  absl::Mutex mu_;
  std::deque<std::function<absl::Status()>> queue_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool quit_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // last: starts once the members above exist
};

// One tag (or digest) of one repository.
class PullJob {
 public:
  PullJob(images::ImageStore* store, RegistryClient* client, const Options& options,
          const PullerOptions& pull_options, const reference::Reference& ref,
          const v1::PullImageRequest& req, const images::Distribution::PullSink& out,
          const std::atomic<bool>& cancelled)
      : store_(store),
        content_(store->backend().content),
        client_(client),
        options_(options),
        pull_options_(pull_options),
        ref_(ref),
        req_(req),
        out_(out),
        cancelled_(cancelled) {}

  absl::Status Run();

 private:
  void Emit(const std::string& id, v1::TransferPhase phase, const std::string& status) {
    v1::PullImageResponse r;
    v1::TransferProgress* p = r.mutable_progress();
    p->set_id(id);
    p->set_phase(phase);
    p->set_status(status);
    out_(std::move(r));
  }
  absl::StatusOr<Descriptor> PickPlatform(const FetchedManifest& index);
  absl::StatusOr<std::string> FetchConfig(const Descriptor& config);
  absl::Status Transfer(const oci::Manifest& m, const std::vector<std::string>& diff_ids,
                        std::vector<bool> download, std::vector<bool> extract);
  WriterOr OpenLayerWriter(const Descriptor& layer);
  // Downloads `layer` into `writer` (opened by OpenLayerWriter; AlreadyExists: present).
  absl::Status Download(const Descriptor& layer, WriterOr writer);
  absl::Status Extract(size_t i, const oci::Manifest& m, const std::vector<std::string>& chain,
                       const std::vector<std::string>& diff_ids);
  void Fail(absl::Status s) {
    absl::MutexLock l(&mu_);
    if (first_error_.ok()) first_error_ = std::move(s);
    stop_ = true;
  }
  // Queues storing `body` (a manifest or config, already verified against `digest`) under the
  // pull's lease (see SideWrites).
  void PostSmallBlob(const std::string& what, std::string body, const std::string& digest) {
    side_.Post([this, what, body = std::move(body), digest] {
      return Annotate(WriteSmallBlob(content_, absl::StrCat("pull-", what, "-", store_->Unique()),
                                     body, digest, {}, lease_),
                      absl::StrCat("store ", what));
    });
  }
  // Queues adding this repository to the source label of `digest` (see SideWrites).
  void PostAddSource(const std::string& digest) {
    side_.Post([this, digest] {
      return Annotate(AddSource(content_, digest, SourceLabel(client_->host().host), ref_.path),
                      absl::StrCat("label ", digest));
    });
  }

  images::ImageStore* const store_;
  images::ContentStore* const content_;
  RegistryClient* const client_;
  const Options& options_;
  const PullerOptions& pull_options_;
  const reference::Reference ref_;
  const v1::PullImageRequest& req_;
  const images::Distribution::PullSink& out_;
  const std::atomic<bool>& cancelled_;

  std::string lease_;
  ProgressQueue progress_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  absl::Status first_error_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> downloaded_ ABSL_GUARDED_BY(mu_);
  // Last: destroyed (its thread joined) first, while everything its updates use still exists.
  SideWrites side_;
};

absl::StatusOr<Descriptor> PullJob::PickPlatform(const FetchedManifest& index) {
  BERTH_ASSIGN_OR_RETURN(oci::Index idx, oci::ParseIndex(index.body));
  const std::string os = !req_.platform().os().empty() ? req_.platform().os()
                                                       : store_->options().os;
  const std::string arch = !req_.platform().architecture().empty()
                               ? req_.platform().architecture()
                               : store_->options().architecture;
  const std::string& variant = req_.platform().variant();
  for (size_t i = 0; i < idx.manifests.size(); ++i) {
    const Descriptor& d = idx.manifests[i];
    if (!oci::IsManifest(d.media_type()) || !d.has_platform()) continue;
    if (d.platform().os() != os || d.platform().architecture() != arch) continue;
    if (!variant.empty() && d.platform().variant() != variant) continue;
    // Keep the chosen manifest from garbage collection for as long as the index lives.
    BERTH_RETURN_IF_ERROR(content_->SetLabels(
        index.descriptor.digest(), {{absl::StrCat(images::kGcRefContentPrefix, "m.", i),
                                     d.digest()}}));
    return d;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("no matching manifest for ", os, "/", arch,
                   variant.empty() ? "" : "/" + variant, " in the manifest list entries"));
}

absl::StatusOr<std::string> PullJob::FetchConfig(const Descriptor& config) {
  absl::StatusOr<std::string> have = content_->ReadAll(config.digest(), kMaxDocument);
  if (have.ok()) return have;
  HttpRequest req;
  req.url = absl::StrCat("/v2/", ref_.path, "/blobs/", config.digest());
  req.cancelled = &cancelled_;
  req.max_body = kMaxDocument;
  BERTH_ASSIGN_OR_RETURN(HttpResponse resp, client_->Do(req, {PullScope(ref_.path)}));
  if (resp.status != 200) {
    return ErrorFromResponse(resp, absl::StrCat("fetch image config ", config.digest()));
  }
  BERTH_ASSIGN_OR_RETURN(digest::Digest want, digest::Digest::Parse(config.digest()));
  if (!digest::VerifyBytes(want, resp.body).ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "image config ", config.digest(), ": digest mismatch: the registry sent other content"));
  }
  PostSmallBlob("config", resp.body, config.digest());
  return std::move(resp.body);
}

WriterOr PullJob::OpenLayerWriter(const Descriptor& layer) {
  return content_->OpenWriter(absl::StrCat("pull-", store_->Unique()), layer.digest(), lease_);
}

absl::Status PullJob::Download(const Descriptor& layer, WriterOr writer) {
  const std::string id = ShortId(layer.digest());
  if (absl::IsAlreadyExists(writer.status())) {
    PostAddSource(layer.digest());
    progress_.Post(id, v1::TRANSFER_PHASE_DOWNLOAD_COMPLETE, "Download complete");
    return absl::OkStatus();
  }
  if (!writer.ok()) return writer.status();
  const int64_t size = layer.size();
  int64_t written = 0;  // received, whether already with the writer or still queued
  // The digest is verified by the content store, which hashes what it writes anyway and
  // refuses to commit other content under `layer.digest()` (hashing here too cost a tenth of
  // a pull's CPU).
  auto feeder = std::make_unique<WriteBehind>(writer->get());
  for (int attempt = 0;; ++attempt) {
    HttpRequest req;
    req.url = absl::StrCat("/v2/", ref_.path, "/blobs/", layer.digest());
    req.cancelled = &stop_;
    const int64_t start = written;
    if (start > 0) req.headers.push_back(absl::StrCat("Range: bytes=", start, "-"));
    req.on_success_headers = [start](const HttpResponse& r) -> absl::Status {
      if (start > 0 && r.status != 206) return absl::AbortedError("range not honoured");
      return absl::OkStatus();
    };
    req.body_sink = [&](absl::string_view data) -> absl::Status {
      if (written + static_cast<int64_t>(data.size()) > size) {
        return absl::FailedPreconditionError(
            absl::StrCat("layer ", layer.digest(), ": the registry sent more than the ", size,
                         " bytes the manifest gives"));
      }
      written += static_cast<int64_t>(data.size());
      BERTH_RETURN_IF_ERROR(feeder->Append(data));
      progress_.Post(id, v1::TRANSFER_PHASE_DOWNLOADING, "Downloading", written, size);
      return absl::OkStatus();
    };
    absl::StatusOr<HttpResponse> resp = client_->Do(req, {PullScope(ref_.path)});
    // What arrived is kept even when the transfer broke: a retry resumes after it.
    BERTH_RETURN_IF_ERROR(feeder->Drain(), absl::StrCat("store layer ", id));
    absl::Status failure;
    if (resp.ok() && resp->status != 200 && resp->status != 206) {
      return ErrorFromResponse(*resp, absl::StrCat("download layer ", id));
    }
    if (resp.ok() && written < size) {
      failure = absl::UnavailableError(absl::StrCat("download layer ", id, ": the body ended after ",
                                                    written, " of ", size, " bytes"));
    } else if (!resp.ok()) {
      failure = resp.status();
    }
    if (failure.ok()) break;
    if (absl::IsAborted(failure)) {
      // The server sent the whole blob again instead of the range: start over.
      feeder.reset();
      writer = OpenLayerWriter(layer);
      if (!writer.ok()) return writer.status();
      feeder = std::make_unique<WriteBehind>(writer->get());
      written = 0;
    } else if (!IsRetryable(failure) || stop_.load()) {
      return Annotate(failure, absl::StrCat("download layer ", id));
    }
    if (attempt >= pull_options_.retries) {
      return Annotate(failure, absl::StrCat("download layer ", id, " (gave up after ",
                                            attempt + 1, " attempts)"));
    }
    const absl::Duration delay = pull_options_.backoff * (1 << std::min(attempt, 6));
    progress_.Post(id, v1::TRANSFER_PHASE_RETRYING,
                   absl::StrCat("Retrying in ", absl::FormatDuration(delay)));
    const absl::Time until = absl::Now() + delay;
    while (absl::Now() < until && !stop_.load()) absl::SleepFor(absl::Milliseconds(20));
    if (stop_.load()) return absl::CancelledError("pull stopped");
  }
  progress_.Post(id, v1::TRANSFER_PHASE_VERIFYING_CHECKSUM, "Verifying Checksum");
  feeder.reset();
  absl::StatusOr<images::BlobInfo> stored = (*writer)->Commit(layer.digest(), size, {});
  if (absl::IsFailedPrecondition(stored.status())) {
    // The store's own words name its digest or size check; say what it means for a pull.
    return absl::FailedPreconditionError(
        absl::StrCat("layer ", layer.digest(), ": digest mismatch: the registry sent other "
                     "content (", stored.status().message(), ")"));
  }
  BERTH_RETURN_IF_ERROR(stored.status(), absl::StrCat("store layer ", id));
  PostAddSource(layer.digest());
  progress_.Post(id, v1::TRANSFER_PHASE_DOWNLOAD_COMPLETE, "Download complete");
  return absl::OkStatus();
}

absl::Status PullJob::Extract(size_t i, const oci::Manifest& m,
                              const std::vector<std::string>& chain,
                              const std::vector<std::string>& diff_ids) {
  const images::Backend& b = store_->backend();
  const Descriptor& layer = m.layers[i];
  const std::string id = ShortId(layer.digest());
  progress_.Post(id, v1::TRANSFER_PHASE_EXTRACTING, "Extracting", 0, layer.size());
  // The same steps as ImageStore::Unpack, one layer at a time, so unpacking overlaps the
  // downloads still running; Unpack at the end then finds every chain present.
  const std::string key = absl::StrCat("extract-", store_->Unique(), "-", chain[i].substr(7, 12));
  const std::string parent = i == 0 ? "" : chain[i - 1];
  BERTH_ASSIGN_OR_RETURN(std::vector<images::Mount> mounts,
                         b.snapshots->Prepare(key, parent, lease_), "prepare snapshot");
  absl::Cleanup remove_key = [&] { (void)b.snapshots->Remove(key); };
  BERTH_ASSIGN_OR_RETURN(Descriptor applied, b.differ->Apply(layer, mounts),
                         absl::StrCat("apply layer ", layer.digest()));
  if (applied.digest() != diff_ids[i]) {
    return absl::FailedPreconditionError(absl::StrCat("layer ", layer.digest(), " has diff id ",
                                                      applied.digest(), ", the image config says ",
                                                      diff_ids[i]));
  }
  if (layer.digest() != applied.digest()) {
    const std::string digest = layer.digest();
    const images::Labels labels = {{images::kUncompressedSizeLabel, absl::StrCat(applied.size())},
                                   {kUncompressedLabel, applied.digest()}};
    side_.Post([this, digest, labels] {
      return Annotate(content_->SetLabels(digest, labels), absl::StrCat("label ", digest));
    });
  }
  absl::Status s = b.snapshots->Commit(chain[i], key, lease_);
  if (s.ok()) {
    std::move(remove_key).Cancel();
  } else if (!absl::IsAlreadyExists(s)) {
    return Annotate(s, "commit snapshot");
  }
  progress_.Post(id, v1::TRANSFER_PHASE_PULL_COMPLETE, "Pull complete", layer.size(),
                 layer.size());
  return absl::OkStatus();
}

absl::Status PullJob::Transfer(const oci::Manifest& m, const std::vector<std::string>& diff_ids,
                               std::vector<bool> download, std::vector<bool> extract) {
  const std::vector<std::string> chain = oci::ChainIds(diff_ids);
  const size_t n = m.layers.size();
  {
    absl::MutexLock l(&mu_);
    downloaded_.assign(n, false);
    for (size_t i = 0; i < n; ++i) downloaded_[i] = !download[i];
  }
  std::vector<size_t> queue;
  for (size_t i = 0; i < n; ++i) {
    if (download[i]) queue.push_back(i);
  }
  const size_t workers =
      std::min(queue.size(), static_cast<size_t>(std::max(1, options_.max_concurrent_downloads)));
  for (size_t q = workers; q < queue.size(); ++q) {
    progress_.Post(ShortId(m.layers[queue[q]].digest()), v1::TRANSFER_PHASE_WAITING, "Waiting");
  }
  // Every ingest is opened now, all at once and in the background: opening one costs a round
  // trip and a synced metadata transaction (the lease's record of the ingest), which would
  // otherwise delay each download's start, layer after layer, as slots free up.
  std::vector<WriterOr> writers;
  std::vector<absl::Notification> opened(n);
  writers.reserve(n);
  for (size_t i = 0; i < n; ++i) writers.emplace_back(absl::UnknownError("not opened"));
  std::vector<std::thread> openers;
  absl::Cleanup join_openers = [&] {
    for (auto& t : openers) t.join();
  };
  for (size_t i : queue) {
    openers.emplace_back([&, i] {
      writers[i] = OpenLayerWriter(m.layers[i]);
      opened[i].Notify();
    });
  }
  const std::function<absl::Status(size_t)> download_layer = [&](size_t q) -> absl::Status {
    const size_t i = queue[q];
    opened[i].WaitForNotification();
    BERTH_RETURN_IF_ERROR(Download(m.layers[i], std::move(writers[i])));
    absl::MutexLock l(&mu_);
    downloaded_[i] = true;
    return absl::OkStatus();
  };
  const std::function<void(absl::Status)> fail = [this](absl::Status s) { Fail(s); };
  std::vector<std::thread> threads =
      StartWorkers(queue.size(), workers, stop_, download_layer, fail);
  threads.emplace_back([&] {
    for (size_t i = 0; i < n && !stop_.load(); ++i) {
      {
        absl::MutexLock l(&mu_);
        auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return downloaded_[i] || stop_.load();
        };
        mu_.Await(absl::Condition(&ready));
        if (stop_.load()) break;
      }
      if (!extract[i]) {
        // Downloaded, but its snapshot was already unpacked (the same diff under another
        // digest, e.g. a local image pushed compressed): the layer is complete as it is.
        if (download[i]) {
          progress_.Post(ShortId(m.layers[i].digest()), v1::TRANSFER_PHASE_PULL_COMPLETE,
                         "Pull complete", m.layers[i].size(), m.layers[i].size());
        }
        continue;
      }
      absl::Status s = Extract(i, m, chain, diff_ids);
      if (!s.ok()) Fail(s);
    }
    progress_.Close();
  });
  // This thread relays the lines (the sink's contract) and watches for cancellation.
  progress_.Relay(
      [&] {
        if (cancelled_.load() && !stop_.load()) Fail(absl::CancelledError("pull cancelled"));
      },
      [&](v1::TransferProgress p) {
        v1::PullImageResponse r;
        *r.mutable_progress() = std::move(p);
        out_(std::move(r));
      });
  for (auto& t : threads) t.join();
  absl::MutexLock l(&mu_);
  return first_error_;
}

absl::Status PullJob::Run() {
  const std::string familiar_name = ref_.FamiliarName();
  const std::string tag_or_digest = ref_.digest.empty() ? ref_.tag : ref_.digest;
  BERTH_ASSIGN_OR_RETURN(reference::Reference record_ref, reference::ParseDockerRef(ref_.String()));
  const std::string record_name = record_ref.String();

  Emit(tag_or_digest, v1::TRANSFER_PHASE_UNSPECIFIED, absl::StrCat("Pulling from ", ref_.path));
  BERTH_ASSIGN_OR_RETURN(FetchedManifest top,
                         client_->GetManifest(ref_.path, tag_or_digest, familiar_name, &cancelled_));

  const images::Backend& b = store_->backend();
  BERTH_ASSIGN_OR_RETURN(lease_, b.leases->Create(pull_options_.lease_ttl), "create lease");
  bool ok = false;
  absl::Cleanup drop_lease = [&] {
    // On success the image record holds everything; on failure the lease keeps what was
    // fetched until it expires, so a retried pull does not download it again.
    if (ok) (void)b.leases->Delete(lease_, false);
  };

  PostSmallBlob("manifest", top.body, top.descriptor.digest());
  Descriptor manifest_desc = top.descriptor;
  std::string manifest_body = top.body;
  if (oci::IsIndex(top.descriptor.media_type())) {
    // PickPlatform labels the index, which must be stored by then.
    BERTH_RETURN_IF_ERROR(side_.Wait());
    BERTH_ASSIGN_OR_RETURN(Descriptor pick, PickPlatform(top));
    BERTH_ASSIGN_OR_RETURN(FetchedManifest child,
                           client_->GetManifest(ref_.path, pick.digest(), familiar_name,
                                                &cancelled_));
    if (!oci::IsManifest(child.descriptor.media_type())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "manifest ", pick.digest(), ": unsupported media type ", child.descriptor.media_type()));
    }
    PostSmallBlob("manifest", child.body, child.descriptor.digest());
    manifest_desc = child.descriptor;
    manifest_body = std::move(child.body);
  }
  BERTH_ASSIGN_OR_RETURN(oci::Manifest m, oci::ParseManifest(manifest_body),
                         absl::StrCat("manifest ", manifest_desc.digest()));
  for (const auto& l : m.layers) {
    if (!oci::IsLayer(l.media_type())) {
      return absl::FailedPreconditionError(
          absl::StrCat("layer ", l.digest(), ": unsupported media type ", l.media_type()));
    }
  }
  BERTH_ASSIGN_OR_RETURN(std::string config_body, FetchConfig(m.config));
  BERTH_ASSIGN_OR_RETURN(nlohmann::json config, oci::ParseJson(config_body, "image config"));
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> diff_ids, oci::DiffIds(config));
  if (diff_ids.size() != m.layers.size()) {
    return absl::FailedPreconditionError(absl::StrCat("image config lists ", diff_ids.size(),
                                                      " layers, the manifest ",
                                                      m.layers.size()));
  }
  const std::vector<std::string> chain = oci::ChainIds(diff_ids);

  // Up to date: the name already points here and the image is complete.
  absl::StatusOr<images::ImageRecord> existing = b.images->Get(record_name);
  const bool same_target =
      existing.ok() && existing->target.digest() == top.descriptor.digest();
  const bool unpacked = chain.empty() || b.snapshots->Stat(chain.back()).ok();
  bool complete = same_target && unpacked;
  std::vector<bool> download(m.layers.size()), extract(m.layers.size());
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const bool have_blob = content_->Info(m.layers[i].digest()).ok();
    const bool have_snapshot = b.snapshots->Stat(chain[i]).ok();
    complete = complete && have_blob;
    download[i] = !have_blob;
    extract[i] = !have_snapshot;
  }
  if (!complete) {
    for (size_t i = 0; i < m.layers.size(); ++i) {
      const std::string id = ShortId(m.layers[i].digest());
      if (!download[i] && !extract[i]) {
        Emit(id, v1::TRANSFER_PHASE_ALREADY_EXISTS, "Already exists");
      } else {
        Emit(id, v1::TRANSFER_PHASE_PULLING_FS_LAYER, "Pulling fs layer");
      }
    }
    // Source labels go on in the background (SideWrites): these documents now, each layer
    // once it is stored (Download), those already present now.
    std::vector<std::string> documents = {top.descriptor.digest()};
    for (const std::string& d : {manifest_desc.digest(), m.config.digest()}) {
      if (std::find(documents.begin(), documents.end(), d) == documents.end()) {
        documents.push_back(d);
      }
    }
    for (const std::string& d : documents) PostAddSource(d);
    for (size_t i = 0; i < m.layers.size(); ++i) {
      if (!download[i]) PostAddSource(m.layers[i].digest());
    }
    BERTH_RETURN_IF_ERROR(Transfer(m, diff_ids, download, extract));
    // Unpack reads the manifest: everything queued must be stored first.
    BERTH_RETURN_IF_ERROR(side_.Wait());
    // Labels for garbage collection (and the checks) exactly as import and load set them.
    BERTH_RETURN_IF_ERROR(store_->Unpack(manifest_desc, lease_));
    BERTH_RETURN_IF_ERROR(store_->SetName(record_name, top.descriptor), "name image");
  }
  BERTH_RETURN_IF_ERROR(side_.Wait());  // up to date: the manifest written again, if it was gone
  ok = true;
  Emit("", v1::TRANSFER_PHASE_UNSPECIFIED, absl::StrCat("Digest: ", top.descriptor.digest()));
  Emit("", v1::TRANSFER_PHASE_UNSPECIFIED,
       absl::StrCat(complete ? "Status: Image is up to date for "
                             : "Status: Downloaded newer image for ",
                    record_ref.FamiliarString()));
  v1::PullImageResponse r;
  v1::PullImageResult* res = r.mutable_result();
  res->set_reference(record_name);
  res->set_digest(top.descriptor.digest());
  res->set_image_id(m.config.digest());
  res->set_up_to_date(complete);
  out_(std::move(r));
  return absl::OkStatus();
}

}  // namespace

absl::Status Puller::Pull(const v1::PullImageRequest& req,
                          const images::Distribution::PullSink& out,
                          const std::atomic<bool>& cancelled) {
  BERTH_ASSIGN_OR_RETURN(reference::Reference ref, reference::ParseNormalized(req.reference()));
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<RegistryClient> client,
                         NewClient(http_, options_, ref.domain, req.auth()));
  std::vector<reference::Reference> refs;
  if (req.all_tags()) {
    if (!ref.tag.empty() || !ref.digest.empty()) {
      return absl::InvalidArgumentError("tag can't be used with --all-tags/-a");
    }
    BERTH_ASSIGN_OR_RETURN(std::vector<std::string> tags,
                           client->ListTags(ref.path, &cancelled),
                           absl::StrCat("pull ", ref.FamiliarName()));
    if (tags.empty()) {
      return absl::NotFoundError(absl::StrCat("no tags for ", ref.FamiliarName()));
    }
    std::sort(tags.begin(), tags.end());
    for (const auto& t : tags) {
      reference::Reference r = ref;
      r.tag = t;
      refs.push_back(std::move(r));
    }
  } else {
    BERTH_ASSIGN_OR_RETURN(ref, reference::ParseWithDefaultTag(req.reference()));
    refs.push_back(ref);
  }
  for (const auto& r : refs) {
    if (cancelled.load()) return absl::CancelledError("pull cancelled");
    PullJob job(store_, client.get(), options_, pull_options_, r, req, out, cancelled);
    BERTH_RETURN_IF_ERROR(job.Run());
  }
  return absl::OkStatus();
}

}  // namespace berth::engine::distribution
