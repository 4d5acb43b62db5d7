#include "registry/storage/upload_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"

namespace berth::registry::storage {
namespace {

constexpr char kRepositoryFile[] = "repository";
constexpr char kDataFile[] = "data";

absl::Status UnknownSession(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("upload ", id, " not found"));
}

}  // namespace

bool IsValidUploadId(absl::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? id[i] != '-' : !(absl::ascii_isdigit(id[i]) || (id[i] >= 'a' && id[i] <= 'f'))) {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// UploadSession

UploadSession::UploadSession(UploadSession&& other) noexcept
    : store_(other.store_), id_(std::move(other.id_)), repository_(std::move(other.repository_)),
      fd_(std::move(other.fd_)), offset_(other.offset_), ended_(other.ended_) {
  other.ended_ = true;  // the moved-from handle releases nothing
}

UploadSession::~UploadSession() {
  if (!ended_) store_->Release(id_);
}

absl::Status UploadSession::Append(absl::string_view data) {
  UploadStore::Entry* entry = store_->EntryFor(id_);
  // Only hash what is known to be in the file in order; otherwise Commit rereads the file.
  const bool hashing = entry->hasher.has_value() && entry->hashed == offset_;
  while (!data.empty()) {
    const ssize_t n = write(fd_.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      entry->hasher.reset();
      struct stat st;
      if (fstat(fd_.get(), &st) == 0) offset_ = static_cast<uint64_t>(st.st_size);
      return absl::ErrnoToStatus(err, absl::StrCat("upload ", id_, ": write"));
    }
    if (hashing) entry->hasher->Update(data.substr(0, static_cast<size_t>(n)));
    offset_ += static_cast<uint64_t>(n);
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (hashing) entry->hashed = offset_;
  return absl::OkStatus();
}

absl::Status UploadSession::Commit(const digest::Digest& expected) {
  const std::string data_path = absl::StrCat(store_->SessionDir(id_), "/", kDataFile);
  UploadStore::Entry* entry = store_->EntryFor(id_);
  absl::StatusOr<digest::Digest> actual = absl::InternalError("unset");
  if (entry->hasher && entry->hashed == offset_ &&
      entry->hasher->algorithm() == expected.algorithm()) {
    actual = entry->hasher->Peek();
  } else {
    // After a restart or a failed write: recompute from what is on disk.
    actual = digest::DigestFile(data_path, expected.algorithm());
  }
  if (!actual.ok()) return actual.status();
  if (*actual != expected) {
    ended_ = true;
    store_->Remove(id_);
    return absl::InvalidArgumentError(absl::StrCat("upload ", id_, ": digest mismatch: expected ",
                                                   expected.ToString(), ", content is ",
                                                   actual->ToString()));
  }
  fd_.reset();
  BERTH_RETURN_IF_ERROR(store_->blobs_->Adopt(data_path, expected),
                        absl::StrCat("upload ", id_));
  BERTH_RETURN_IF_ERROR(store_->repositories_->LinkBlob(repository_, expected),
                        absl::StrCat("upload ", id_));
  ended_ = true;
  store_->Remove(id_);
  return absl::OkStatus();
}

absl::Status UploadSession::Cancel() {
  ended_ = true;
  fd_.reset();
  store_->Remove(id_);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// UploadStore

absl::StatusOr<std::unique_ptr<UploadStore>> UploadStore::Open(std::string dir, BlobStore* blobs,
                                                               RepositoryStore* repositories,
                                                               UploadOptions options) {
  BERTH_RETURN_IF_ERROR(fs::MakeDirs(dir, 0700), "upload store");
  std::unique_ptr<UploadStore> store(
      new UploadStore(std::move(dir), blobs, repositories, std::move(options)));
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(store->dir_),
                         "upload store");
  int64_t count = 0;
  for (const std::string& n : names) {
    if (IsValidUploadId(n)) ++count;
  }
  {
    absl::MutexLock lock(&store->mu_);
    store->count_ = count;
  }
  if (count > 0 && store->options_.observer != nullptr) {
    store->options_.observer->UploadsOpenChanged(count);
  }
  return store;
}

std::string UploadStore::SessionDir(absl::string_view id) const {
  return absl::StrCat(dir_, "/", id);
}

absl::Time UploadStore::Now() const { return options_.clock ? options_.clock() : absl::Now(); }

absl::StatusOr<std::string> UploadStore::NewId() {
  absl::StatusOr<std::string> hex =
      options_.ids != nullptr ? options_.ids->NewId() : id::GenerateId();
  if (!hex.ok()) return hex.status();
  if (hex->size() < 32) return absl::InternalError("upload id source returned a short id");
  std::string h = hex->substr(0, 32);
  // A version 4 (random) UUID, as the spec's "Location MUST contain a UUID" suggests.
  h[12] = '4';
  h[16] = "89ab"[absl::ascii_isdigit(h[16]) ? (h[16] - '0') % 4 : (h[16] - 'a') % 4];
  return absl::StrCat(h.substr(0, 8), "-", h.substr(8, 4), "-", h.substr(12, 4), "-",
                      h.substr(16, 4), "-", h.substr(20));
}

UploadStore::Entry* UploadStore::EntryFor(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto& e = entries_[id];
  if (e == nullptr) e = std::make_unique<Entry>();
  return e.get();
}

absl::StatusOr<UploadSession> UploadStore::Create(absl::string_view repository) {
  BERTH_ASSIGN_OR_RETURN(std::string id, NewId());
  const std::string dir = SessionDir(id);
  if (mkdir(dir.c_str(), 0700) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("create upload ", id));
  }
  // Atomic but not synced, even with --fsync: the sync (file and directory) would cost
  // two of the five syncs of a blob push, and what it protects against is small. A session is
  // not content: after a crash that lost this file the session is simply unknown (the client
  // starts its upload again), and a session's data is flushed when it is committed.
  fs::AtomicWriteOptions write_options;
  write_options.durable = false;
  absl::Status st = fs::WriteFileAtomically(absl::StrCat(dir, "/", kRepositoryFile), repository,
                                            0600, write_options);
  fs::UniqueFd fd;
  if (st.ok()) {
    fd.reset(open(absl::StrCat(dir, "/", kDataFile).c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600));
    if (!fd.valid()) st = absl::ErrnoToStatus(errno, absl::StrCat("create upload ", id, " data"));
  }
  if (!st.ok()) {
    fs::RemoveAll(dir).IgnoreError();
    return st;
  }
  {
    absl::MutexLock lock(&mu_);
    auto& e = entries_[id];
    e = std::make_unique<Entry>();
    e->busy = true;
    e->hasher.emplace(digest::Sha256Hasher());
    ++count_;
  }
  if (options_.observer != nullptr) options_.observer->UploadsOpenChanged(1);
  return UploadSession(this, id, std::string(repository), std::move(fd), 0);
}

absl::StatusOr<UploadSession> UploadStore::Acquire(absl::string_view repository,
                                                   absl::string_view id_view) {
  if (!IsValidUploadId(id_view)) return UnknownSession(id_view);
  const std::string id(id_view);
  const std::string dir = SessionDir(id);
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it != entries_.end() && it->second->busy) {
    return absl::FailedPreconditionError(
        absl::StrCat("upload ", id, " is being written by another request"));
  }
  absl::StatusOr<std::string> owner = fs::ReadFile(absl::StrCat(dir, "/", kRepositoryFile));
  if (!owner.ok() || *owner != repository) return UnknownSession(id);
  fs::UniqueFd fd(open(absl::StrCat(dir, "/", kDataFile).c_str(),
                       O_WRONLY | O_APPEND | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return UnknownSession(id);
    return absl::ErrnoToStatus(errno, absl::StrCat("open upload ", id));
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return absl::ErrnoToStatus(errno, "stat upload data");
  const uint64_t offset = static_cast<uint64_t>(st.st_size);
  auto& e = entries_[id];
  if (e == nullptr) e = std::make_unique<Entry>();
  e->busy = true;
  if (e->hasher && e->hashed != offset) e->hasher.reset();
  if (!e->hasher && offset == 0) {
    e->hasher.emplace(digest::Sha256Hasher());
    e->hashed = 0;
  }
  return UploadSession(this, id, std::string(repository), std::move(fd), offset);
}

absl::StatusOr<uint64_t> UploadStore::Offset(absl::string_view repository,
                                             absl::string_view id) const {
  if (!IsValidUploadId(id)) return UnknownSession(id);
  const std::string dir = SessionDir(id);
  absl::StatusOr<std::string> owner = fs::ReadFile(absl::StrCat(dir, "/", kRepositoryFile));
  if (!owner.ok() || *owner != repository) return UnknownSession(id);
  struct stat st;
  if (stat(absl::StrCat(dir, "/", kDataFile).c_str(), &st) != 0) return UnknownSession(id);
  return static_cast<uint64_t>(st.st_size);
}

void UploadStore::Release(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it != entries_.end()) it->second->busy = false;
}

void UploadStore::Remove(const std::string& id) {
  {
    absl::MutexLock lock(&mu_);
    // Files first, under the lock, so an Acquire never finds a half-removed session.
    fs::RemoveAll(SessionDir(id)).IgnoreError();
    entries_.erase(id);
    --count_;
  }
  if (options_.observer != nullptr) options_.observer->UploadsOpenChanged(-1);
}

absl::StatusOr<int> UploadStore::SweepExpired() {
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(dir_), "sweep uploads");
  const absl::Time cutoff = Now() - options_.ttl;
  int removed = 0;
  for (const std::string& id : names) {
    if (!IsValidUploadId(id)) continue;
    const std::string dir = SessionDir(id);
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(id);
    if (it != entries_.end() && it->second->busy) continue;
    struct stat st;
    if (stat(absl::StrCat(dir, "/", kDataFile).c_str(), &st) != 0 &&
        stat(dir.c_str(), &st) != 0) {
      continue;  // removed meanwhile
    }
    if (absl::TimeFromTimespec(st.st_mtim) >= cutoff) continue;
    if (!fs::RemoveAll(dir).ok()) continue;
    entries_.erase(id);
    --count_;
    ++removed;
    if (options_.observer != nullptr) options_.observer->UploadsOpenChanged(-1);
  }
  return removed;
}

int64_t UploadStore::count() const {
  absl::MutexLock lock(&mu_);
  return count_;
}

}  // namespace berth::registry::storage
