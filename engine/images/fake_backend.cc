#include "engine/images/fake_backend.h"

#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/digest/digest.h"

namespace berth::engine::images {

struct FakeBackend::State {
  absl::Mutex mu;
  struct Blob {
    std::string data;
    Labels labels;
    absl::Time created;
  };
  struct Snap {
    std::string parent;
    bool committed = false;
  };
  std::map<std::string, Blob> blobs;
  std::map<std::string, ImageRecord> images;
  std::map<std::string, Snap> snapshots;
  std::map<std::string, std::set<std::string>> leases;  // id -> "content:<d>"/"snap:<k>"
  std::set<std::string> ingests;
  std::vector<ContainerUse> containers;
  absl::Status next_apply_error;
  int next_id = 0;

  void CollectLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::set<std::string> live_blobs, live_snaps;
    std::vector<std::string> blob_queue, snap_queue;
    for (const auto& [name, rec] : images) blob_queue.push_back(rec.target.digest());
    for (const auto& [id, res] : leases) {
      for (const auto& r : res) {
        if (absl::StartsWith(r, "content:")) blob_queue.push_back(r.substr(8));
        if (absl::StartsWith(r, "snap:")) snap_queue.push_back(r.substr(5));
      }
    }
    for (const auto& [d, b] : blobs) {
      if (b.labels.count("berth.io/gc.root") > 0) blob_queue.push_back(d);
    }
    while (!blob_queue.empty() || !snap_queue.empty()) {
      if (!blob_queue.empty()) {
        std::string d = blob_queue.back();
        blob_queue.pop_back();
        auto it = blobs.find(d);
        if (it == blobs.end() || !live_blobs.insert(d).second) continue;
        for (const auto& [k, v] : it->second.labels) {
          if (absl::StartsWith(k, kGcRefContentPrefix)) blob_queue.push_back(v);
          if (k == kGcRefSnapshotOverlay) snap_queue.push_back(v);
        }
        continue;
      }
      std::string s = snap_queue.back();
      snap_queue.pop_back();
      auto it = snapshots.find(s);
      if (it == snapshots.end() || !live_snaps.insert(s).second) continue;
      if (!it->second.parent.empty()) snap_queue.push_back(it->second.parent);
    }
    for (auto it = blobs.begin(); it != blobs.end();) {
      it = live_blobs.count(it->first) ? std::next(it) : blobs.erase(it);
    }
    // Children before parents: repeat until stable.
    bool changed = true;
    while (changed) {
      changed = false;
      for (auto it = snapshots.begin(); it != snapshots.end();) {
        bool has_child = false;
        for (const auto& [k, s] : snapshots) has_child = has_child || s.parent == it->first;
        if (!live_snaps.count(it->first) && !has_child) {
          it = snapshots.erase(it);
          changed = true;
        } else {
          ++it;
        }
      }
    }
  }
};

namespace {

using State = FakeBackend::State;

absl::Status CheckLease(State& s, const std::string& lease) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  if (!lease.empty() && s.leases.count(lease) == 0) {
    return absl::NotFoundError(absl::StrCat("lease ", lease, " not found"));
  }
  return absl::OkStatus();
}

class Writer final : public BlobWriter {
 public:
  Writer(State* s, std::string ref, std::string expected, std::string lease)
      : s_(s), ref_(std::move(ref)), expected_(std::move(expected)), lease_(std::move(lease)) {}
  ~Writer() override {
    absl::MutexLock l(&s_->mu);
    s_->ingests.erase(ref_);
  }
  absl::Status Write(absl::string_view data) override {
    data_.append(data.data(), data.size());
    return absl::OkStatus();
  }
  absl::StatusOr<BlobInfo> Commit(const std::string& expected_digest, int64_t expected_size,
                                  const Labels& labels) override {
    std::string want = expected_.empty() ? expected_digest : expected_;
    std::string got = digest::Digest::FromBytes(data_)->ToString();
    if (!want.empty() && want != got) {
      return absl::FailedPreconditionError(
          absl::StrCat("unexpected commit digest ", got, ", expected ", want));
    }
    if (expected_size > 0 && expected_size != static_cast<int64_t>(data_.size())) {
      return absl::FailedPreconditionError("unexpected commit size");
    }
    absl::MutexLock l(&s_->mu);
    if (absl::Status st = CheckLease(*s_, lease_); !st.ok()) return st;
    auto& b = s_->blobs[got];
    if (b.data.empty() && b.labels.empty()) {
      b.data = data_;
      b.created = absl::Now();
    }
    for (const auto& [k, v] : labels) b.labels[k] = v;
    if (!lease_.empty()) s_->leases[lease_].insert("content:" + got);
    BlobInfo info;
    info.digest = got;
    info.size = static_cast<int64_t>(data_.size());
    info.labels = b.labels;
    return info;
  }

 private:
  State* s_;
  std::string ref_, expected_, lease_, data_;
};

class Reader final : public BlobReader {
 public:
  explicit Reader(std::string data) : data_(std::move(data)) {}
  absl::StatusOr<bool> Next(std::string* chunk) override {
    if (at_ >= data_.size()) return false;
    *chunk = data_.substr(at_, 1000);
    at_ += chunk->size();
    return true;
  }

 private:
  std::string data_;
  size_t at_ = 0;
};

class Content final : public ContentStore {
 public:
  explicit Content(State* s) : s_(s) {}
  absl::StatusOr<BlobInfo> Info(const std::string& d) override {
    absl::MutexLock l(&s_->mu);
    auto it = s_->blobs.find(d);
    if (it == s_->blobs.end())
      return absl::NotFoundError(absl::StrCat("content ", d, " not found"));
    return BlobInfo{d, static_cast<int64_t>(it->second.data.size()), it->second.created,
                    it->second.labels};
  }
  absl::StatusOr<std::string> ReadAll(const std::string& d, int64_t max) override {
    absl::MutexLock l(&s_->mu);
    auto it = s_->blobs.find(d);
    if (it == s_->blobs.end())
      return absl::NotFoundError(absl::StrCat("content ", d, " not found"));
    if (static_cast<int64_t>(it->second.data.size()) > max) {
      return absl::FailedPreconditionError("too large");
    }
    return it->second.data;
  }
  absl::StatusOr<std::unique_ptr<BlobReader>> OpenReader(const std::string& d, int64_t offset,
                                                         int64_t size) override {
    absl::StatusOr<std::string> all = ReadAll(d, INT64_MAX);
    if (!all.ok()) return all.status();
    std::string part = all->substr(std::min<size_t>(offset, all->size()));
    if (size > 0) part = part.substr(0, size);
    return std::unique_ptr<BlobReader>(new Reader(part));
  }
  absl::StatusOr<std::unique_ptr<BlobWriter>> OpenWriter(const std::string& ref,
                                                         const std::string& expected,
                                                         const std::string& lease) override {
    absl::MutexLock l(&s_->mu);
    if (absl::Status st = CheckLease(*s_, lease); !st.ok()) return st;
    if (!expected.empty() && s_->blobs.count(expected) > 0) {
      return absl::AlreadyExistsError(absl::StrCat("content ", expected, " exists"));
    }
    if (!s_->ingests.insert(ref).second) return absl::UnavailableError("ref locked");
    return std::unique_ptr<BlobWriter>(new Writer(s_, ref, expected, lease));
  }
  absl::Status SetLabels(const std::string& d, const Labels& labels) override {
    absl::MutexLock l(&s_->mu);
    auto it = s_->blobs.find(d);
    if (it == s_->blobs.end())
      return absl::NotFoundError(absl::StrCat("content ", d, " not found"));
    for (const auto& [k, v] : labels) {
      if (v.empty()) {
        it->second.labels.erase(k);
      } else {
        it->second.labels[k] = v;
      }
    }
    return absl::OkStatus();
  }

 private:
  State* s_;
};

class Images final : public ImageRecords {
 public:
  explicit Images(State* s) : s_(s) {}
  absl::StatusOr<ImageRecord> Get(const std::string& name) override {
    absl::MutexLock l(&s_->mu);
    auto it = s_->images.find(name);
    if (it == s_->images.end())
      return absl::NotFoundError(absl::StrCat("image ", name, " not found"));
    return it->second;
  }
  absl::StatusOr<std::vector<ImageRecord>> List() override {
    absl::MutexLock l(&s_->mu);
    std::vector<ImageRecord> out;
    for (const auto& [k, v] : s_->images) out.push_back(v);
    return out;
  }
  absl::StatusOr<ImageRecord> Create(const ImageRecord& r) override {
    absl::MutexLock l(&s_->mu);
    if (s_->images.count(r.name))
      return absl::AlreadyExistsError(absl::StrCat("image ", r.name, " exists"));
    ImageRecord rec = r;
    rec.created_at = rec.updated_at = absl::Now();
    s_->images[r.name] = rec;
    return rec;
  }
  absl::StatusOr<ImageRecord> Update(const ImageRecord& r) override {
    absl::MutexLock l(&s_->mu);
    auto it = s_->images.find(r.name);
    if (it == s_->images.end())
      return absl::NotFoundError(absl::StrCat("image ", r.name, " not found"));
    it->second.target = r.target;
    it->second.labels = r.labels;
    it->second.updated_at = absl::Now();
    return it->second;
  }
  absl::Status Delete(const std::string& name, bool sync, const std::string& expected) override {
    absl::MutexLock l(&s_->mu);
    auto it = s_->images.find(name);
    if (it == s_->images.end())
      return absl::NotFoundError(absl::StrCat("image ", name, " not found"));
    if (!expected.empty() && it->second.target.digest() != expected) {
      return absl::FailedPreconditionError("image was moved");
    }
    s_->images.erase(it);
    if (sync) s_->CollectLocked();
    return absl::OkStatus();
  }

 private:
  State* s_;
};

class Snaps final : public Snapshots {
 public:
  explicit Snaps(State* s) : s_(s) {}
  absl::StatusOr<std::vector<Mount>> Prepare(const std::string& key, const std::string& parent,
                                             const std::string& lease) override {
    absl::MutexLock l(&s_->mu);
    if (absl::Status st = CheckLease(*s_, lease); !st.ok()) return st;
    if (s_->snapshots.count(key)) return absl::AlreadyExistsError("snapshot exists");
    if (!parent.empty()) {
      auto p = s_->snapshots.find(parent);
      if (p == s_->snapshots.end()) return absl::NotFoundError("parent not found");
      if (!p->second.committed) return absl::FailedPreconditionError("parent not committed");
    }
    s_->snapshots[key] = {parent, false};
    if (!lease.empty()) s_->leases[lease].insert("snap:" + key);
    Mount m;
    m.set_type("bind");
    m.set_source("/fake/" + key);
    return std::vector<Mount>{m};
  }
  absl::Status Commit(const std::string& name, const std::string& key,
                      const std::string& lease) override {
    absl::MutexLock l(&s_->mu);
    if (absl::Status st = CheckLease(*s_, lease); !st.ok()) return st;
    auto it = s_->snapshots.find(key);
    if (it == s_->snapshots.end()) return absl::NotFoundError("no such key");
    if (s_->snapshots.count(name)) return absl::AlreadyExistsError("name exists");
    State::Snap snap = it->second;
    snap.committed = true;
    s_->snapshots.erase(it);
    s_->snapshots[name] = snap;
    if (!lease.empty()) s_->leases[lease].insert("snap:" + name);
    return absl::OkStatus();
  }
  absl::Status Remove(const std::string& key) override {
    absl::MutexLock l(&s_->mu);
    if (!s_->snapshots.count(key)) return absl::NotFoundError("no such snapshot");
    for (const auto& [k, s] : s_->snapshots) {
      if (s.parent == key) return absl::FailedPreconditionError("has children");
    }
    s_->snapshots.erase(key);
    return absl::OkStatus();
  }
  absl::StatusOr<SnapshotInfo> Stat(const std::string& key) override {
    absl::MutexLock l(&s_->mu);
    auto it = s_->snapshots.find(key);
    if (it == s_->snapshots.end()) return absl::NotFoundError("no such snapshot");
    return SnapshotInfo{key, it->second.parent, it->second.committed, {}};
  }
  absl::StatusOr<std::vector<SnapshotInfo>> List() override {
    absl::MutexLock l(&s_->mu);
    std::vector<SnapshotInfo> out;
    for (const auto& [k, s] : s_->snapshots) out.push_back({k, s.parent, s.committed, {}});
    return out;
  }

 private:
  State* s_;
};

class FakeDiffer final : public Differ {
 public:
  explicit FakeDiffer(State* s) : s_(s) {}
  absl::StatusOr<Descriptor> Apply(const Descriptor& layer,
                                   const std::vector<Mount>& mounts) override {
    absl::MutexLock l(&s_->mu);
    if (!s_->next_apply_error.ok()) {
      absl::Status e = s_->next_apply_error;
      s_->next_apply_error = absl::OkStatus();
      return e;
    }
    if (mounts.empty()) return absl::InvalidArgumentError("no mounts");
    auto it = s_->blobs.find(layer.digest());
    if (it == s_->blobs.end()) return absl::NotFoundError("layer blob not found");
    if (absl::EndsWith(layer.media_type(), "gzip")) {
      return absl::UnimplementedError("fake differ: gzip layers are not supported");
    }
    if (it->second.data.size() % 512 != 0) {
      return absl::FailedPreconditionError("not a valid tar");
    }
    Descriptor out;
    out.set_media_type("application/vnd.oci.image.layer.v1.tar");
    out.set_digest(layer.digest());
    out.set_size(static_cast<int64_t>(it->second.data.size()));
    return out;
  }

 private:
  State* s_;
};

class FakeLeases final : public Leases {
 public:
  explicit FakeLeases(State* s) : s_(s) {}
  absl::StatusOr<std::string> Create(absl::Duration) override {
    absl::MutexLock l(&s_->mu);
    std::string id = absl::StrCat("lease-", s_->next_id++);
    s_->leases[id];
    return id;
  }
  absl::Status Delete(const std::string& id, bool sync) override {
    absl::MutexLock l(&s_->mu);
    if (!s_->leases.erase(id)) return absl::NotFoundError("no such lease");
    if (sync) s_->CollectLocked();
    return absl::OkStatus();
  }

 private:
  State* s_;
};

class Containers final : public ContainerRecords {
 public:
  explicit Containers(State* s) : s_(s) {}
  absl::StatusOr<std::vector<ContainerUse>> List() override {
    absl::MutexLock l(&s_->mu);
    return s_->containers;
  }

 private:
  State* s_;
};

}  // namespace

struct FakeBackend::Services {
  Content content;
  Images images;
  Snaps snapshots;
  FakeDiffer differ;
  FakeLeases leases;
  Containers containers;
  explicit Services(State* s)
      : content(s), images(s), snapshots(s), differ(s), leases(s), containers(s) {}
};

FakeBackend::FakeBackend()
    : state_(std::make_unique<State>()), services_(std::make_unique<Services>(state_.get())) {}

FakeBackend::~FakeBackend() = default;

Backend FakeBackend::backend() {
  Services* s = services_.get();
  return Backend{&s->content, &s->images, &s->snapshots, &s->differ, &s->leases, &s->containers};
}

void FakeBackend::SetContainers(std::vector<ContainerUse> containers) {
  absl::MutexLock l(&state_->mu);
  state_->containers = std::move(containers);
}
void FakeBackend::FailNextApply(absl::Status s) {
  absl::MutexLock l(&state_->mu);
  state_->next_apply_error = std::move(s);
}
size_t FakeBackend::BlobCount() {
  absl::MutexLock l(&state_->mu);
  return state_->blobs.size();
}
size_t FakeBackend::SnapshotCount() {
  absl::MutexLock l(&state_->mu);
  return state_->snapshots.size();
}
size_t FakeBackend::LeaseCount() {
  absl::MutexLock l(&state_->mu);
  return state_->leases.size();
}
size_t FakeBackend::IngestCount() {
  absl::MutexLock l(&state_->mu);
  return state_->ingests.size();
}
std::vector<std::string> FakeBackend::SnapshotNames() {
  absl::MutexLock l(&state_->mu);
  std::vector<std::string> out;
  for (const auto& [k, s] : state_->snapshots) out.push_back(k);
  return out;
}
void FakeBackend::Collect() {
  absl::MutexLock l(&state_->mu);
  state_->CollectLocked();
}

}  // namespace berth::engine::images
