#include "containerd/content/local_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/fs/atomic_file.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"

namespace berth::containerd::content::internal {
namespace {

constexpr mode_t kDataMode = 0600;
// Blobs are immutable: read-only files make an accidental in-place edit fail loudly.
constexpr mode_t kBlobMode = 0444;
constexpr size_t kChunk = 1 << 20;
// How much written data StartWriteback lets gather before it starts its writeback.
constexpr int64_t kWritebackStretch = 8 << 20;

absl::Status FsyncDir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open directory ", dir));
  const int rc = fsync(fd);
  const int err = errno;
  close(fd);
  if (rc != 0) return absl::ErrnoToStatus(err, absl::StrCat("fsync directory ", dir));
  return absl::OkStatus();
}

// Moves the finished data file to its blob path without ever replacing an existing blob:
// renameat2(RENAME_NOREPLACE) makes "already exists" an atomic answer, so two committers of
// the same digest (in two processes) cannot both think they stored it. File systems without
// RENAME_NOREPLACE get link(2), which fails with EEXIST just as atomically, then unlink.
// Returns errno-style: 0, EEXIST, or another error.
int RenameNoReplace(const std::string& from, const std::string& to) {
  if (renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  if (link(from.c_str(), to.c_str()) != 0) return errno;
  unlink(from.c_str());  // the blob is in place; a leftover ingest link goes with the ingest
  return 0;
}

}  // namespace

std::string StoreContext::BlobPath(const digest::Digest& d) const {
  return absl::StrCat(blobs_dir, "/", d.algorithm(), "/", d.hex());
}

absl::Status MergeExpectations(int64_t* total, std::optional<digest::Digest>* expected,
                               int64_t new_total,
                               const std::optional<digest::Digest>& new_expected) {
  if (new_total < 0) {
    return absl::InvalidArgumentError(absl::StrCat("negative total ", new_total));
  }
  if (new_total != 0) {
    if (*total != 0 && *total != new_total) {
      return absl::InvalidArgumentError(
          absl::StrCat("total cannot change from ", *total, " to ", new_total));
    }
    *total = new_total;
  }
  if (new_expected.has_value()) {
    if (expected->has_value() && **expected != *new_expected) {
      return absl::InvalidArgumentError(absl::StrCat("expected digest cannot change from ",
                                                     (*expected)->ToString(), " to ",
                                                     new_expected->ToString()));
    }
    *expected = new_expected;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LocalWriter>> LocalWriter::Open(
    std::shared_ptr<const StoreContext> ctx, IngestLock lock, absl::string_view ref, int64_t total,
    const std::optional<digest::Digest>& expected) {
  std::unique_ptr<LocalWriter> w(
      new LocalWriter(std::move(ctx), std::move(lock), std::string(ref)));
  if (absl::Status s = w->Init(total, expected); !s.ok()) {
    // Nothing was written on behalf of the caller; let go without touching updatedat.
    w->state_ = State::kClosed;
    if (w->fd_ >= 0) close(std::exchange(w->fd_, -1));
    return Annotate(s, absl::StrCat("open ingest ", QuoteRef(ref)));
  }
  return w;
}

std::string LocalWriter::Path(absl::string_view name) const {
  return absl::StrCat(lock_.dir(), "/", name);
}

absl::Status LocalWriter::Init(int64_t total, const std::optional<digest::Digest>& expected) {
  // We hold the lock, so no WriteFileAtomically into this directory can be in flight: any temp
  // file here is from a writer that was killed.
  BERTH_RETURN_IF_ERROR(fs::RemoveStaleTempFiles(lock_.dir()).status());
  const std::string data_path = Path(kDataFile);
  absl::StatusOr<IngestMeta> meta = ReadIngestMeta(lock_.dir());
  if (meta.ok()) {
    // Resume.
    if (meta->ref != ref_) {
      // Two refs with one sha256 do not happen; this is a tampered or corrupt directory.
      return absl::InternalError(
          absl::StrCat("ingest dir ", lock_.dir(), " belongs to ref ", QuoteRef(meta->ref)));
    }
    total_ = meta->total;
    expected_ = meta->expected;
    started_at_ = meta->started_at;
    fd_ = open(data_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, kDataMode);
    if (fd_ < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", data_path));
    struct stat st;
    if (fstat(fd_, &st) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("stat ", data_path));
    // The data file's size is the offset: pwrite puts bytes in the page cache before it
    // returns, so even a writer killed mid-chunk leaves exactly the bytes it wrote.
    offset_ = st.st_size;
    updated_at_ = ctx_->now();
    const int64_t old_total = total_;
    const std::optional<digest::Digest> old_expected = expected_;
    BERTH_RETURN_IF_ERROR(MergeExpectations(&total_, &expected_, total, expected));
    if (total_ != 0 && offset_ > total_) {
      return absl::InvalidArgumentError(
          absl::StrCat("total ", total_, " is less than the ", offset_, " bytes received"));
    }
    BERTH_ASSIGN_OR_RETURN(digest::Hasher d,
                           HashData(expected_ ? expected_->algorithm() : digest::kSha256));
    digester_.emplace(std::move(d));
    if (total_ != old_total || expected_ != old_expected) {
      BERTH_RETURN_IF_ERROR(WriteMeta(meta->updated_at));
    }
    return absl::OkStatus();
  }
  if (!absl::IsNotFound(meta.status())) return meta.status();

  // Start: no usable `ingest` file, so this directory is new or what a crash left of a start
  // or a removal. Whatever else is in it is rewritten.
  BERTH_RETURN_IF_ERROR(MergeExpectations(&total_, &expected_, total, expected));
  fd_ = open(data_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, kDataMode);
  if (fd_ < 0) return absl::ErrnoToStatus(errno, absl::StrCat("create ", data_path));
  BERTH_ASSIGN_OR_RETURN(digest::Hasher d,
                         digest::Hasher::Create(expected_ ? expected_->algorithm() : digest::kSha256));
  digester_.emplace(std::move(d));
  offset_ = 0;
  started_at_ = updated_at_ = ctx_->now();
  // Last: from here on the ingest exists for Status, ListStatuses and resume. One file, not
  // synced: see ingest.h on what a crash may cost.
  return WriteMeta(updated_at_);
}

absl::Status LocalWriter::WriteMeta(absl::Time updated_at) const {
  IngestMeta meta;
  meta.ref = ref_;
  meta.total = total_;
  meta.expected = expected_;
  meta.started_at = started_at_;
  meta.updated_at = updated_at;
  return WriteIngestMeta(lock_.dir(), meta);
}

absl::StatusOr<digest::Hasher> LocalWriter::HashData(absl::string_view algorithm) const {
  BERTH_ASSIGN_OR_RETURN(digest::Hasher d, digest::Hasher::Create(algorithm));
  std::unique_ptr<char[]> buf(new char[kChunk]);
  int64_t pos = 0;
  while (pos < offset_) {
    const size_t want = static_cast<size_t>(std::min<int64_t>(kChunk, offset_ - pos));
    const ssize_t n = pread(fd_, buf.get(), want, pos);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("read ", Path(kDataFile)));
    }
    if (n == 0) {
      return absl::DataLossError(
          absl::StrCat(Path(kDataFile), " ends at ", pos, ", expected ", offset_, " bytes"));
    }
    d.Update(absl::string_view(buf.get(), static_cast<size_t>(n)));
    pos += n;
  }
  return d;
}

LocalWriter::~LocalWriter() {
  if (state_ != State::kOpen) return;
  if (absl::Status s = Close(); !s.ok()) {
    LOG(WARNING) << "close ingest ref=" << QuoteRef(ref_) << ": " << s;
  }
}

absl::Status LocalWriter::CheckOpen() const {
  switch (state_) {
    case State::kOpen:
      return absl::OkStatus();
    case State::kCommitted:
      return absl::FailedPreconditionError(
          absl::StrCat("ingest ", QuoteRef(ref_), " was committed"));
    case State::kClosed:
      break;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("ingest ", QuoteRef(ref_), " writer is closed"));
}

IngestStatus LocalWriter::Status() const {
  IngestStatus s;
  s.ref = ref_;
  s.offset = offset_;
  s.total = total_;
  s.expected = expected_;
  s.started_at = started_at_;
  s.updated_at = updated_at_;
  return s;
}

absl::StatusOr<digest::Digest> LocalWriter::Digest() const {
  if (!digester_.has_value()) return absl::FailedPreconditionError("writer has no data");
  return digester_->Peek();
}

absl::Status LocalWriter::SetExpected(int64_t total,
                                      const std::optional<digest::Digest>& expected) {
  BERTH_RETURN_IF_ERROR(CheckOpen());
  int64_t new_total = total_;
  std::optional<digest::Digest> new_expected = expected_;
  BERTH_RETURN_IF_ERROR(MergeExpectations(&new_total, &new_expected, total, expected),
                        absl::StrCat("ingest ", QuoteRef(ref_)));
  if (new_total == total_ && new_expected == expected_) return absl::OkStatus();
  if (new_total != 0 && offset_ > new_total) {
    return absl::InvalidArgumentError(absl::StrCat("ingest ", QuoteRef(ref_), ": total ", new_total,
                                                   " is less than the ", offset_,
                                                   " bytes received"));
  }
  // Keep the running digest in the algorithm that Commit will check, so Digest() answers in
  // the client's terms and Commit need not re-read the data.
  std::optional<digest::Hasher> rehashed;
  if (new_expected && new_expected->algorithm() != digester_->algorithm()) {
    BERTH_ASSIGN_OR_RETURN(digest::Hasher d, HashData(new_expected->algorithm()));
    rehashed.emplace(std::move(d));
  }
  const int64_t old_total = total_;
  std::optional<digest::Digest> old_expected = std::move(expected_);
  total_ = new_total;
  expected_ = std::move(new_expected);
  if (absl::Status s = WriteMeta(updated_at_); !s.ok()) {
    total_ = old_total;
    expected_ = std::move(old_expected);
    return s;
  }
  if (rehashed) digester_ = std::move(rehashed);
  return absl::OkStatus();
}

absl::Status LocalWriter::Write(int64_t offset, absl::string_view data) {
  BERTH_RETURN_IF_ERROR(CheckOpen());
  if (offset != 0 && offset != offset_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "ingest ", QuoteRef(ref_), ": offset ", offset, " is not the current offset ", offset_));
  }
  if (total_ != 0 && static_cast<int64_t>(data.size()) > total_ - offset) {
    return absl::InvalidArgumentError(absl::StrCat("ingest ", QuoteRef(ref_), ": writing ",
                                                   data.size(), " bytes at ", offset,
                                                   " goes past the total of ", total_));
  }
  if (offset == 0 && offset_ != 0) {
    // Start over (proto: offset 0 discards everything received so far).
    if (ftruncate(fd_, 0) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("truncate ", Path(kDataFile)));
    }
    offset_ = 0;
    BERTH_RETURN_IF_ERROR(digester_->Reset());
  }
  updated_at_ = ctx_->now();
  while (!data.empty()) {
    const ssize_t n = pwrite(fd_, data.data(), data.size(), offset_);
    if (n < 0) {
      if (errno == EINTR) continue;
      // offset_ and the digest cover exactly what reached the file, so the caller can resume.
      return absl::ErrnoToStatus(errno, absl::StrCat("write ", Path(kDataFile)));
    }
    digester_->Update(data.substr(0, static_cast<size_t>(n)));
    offset_ += n;
    data.remove_prefix(static_cast<size_t>(n));
  }
  StartWriteback();
  return absl::OkStatus();
}

void LocalWriter::StartWriteback() {
  // The commit must fsync the whole blob before it returns; left until then, the fsync of a
  // 50 MiB layer waits for all of it to reach the disk (tens of ms, more under load) right on
  // a pull's critical path. So writeback of each finished stretch is started now, in the
  // background (SYNC_FILE_RANGE_WRITE neither waits for the I/O nor makes anything durable:
  // durability is still the commit's fsync, which then finds little left to do).
  if (offset_ < writeback_from_) writeback_from_ = 0;  // restarted at offset 0
  if (offset_ - writeback_from_ < kWritebackStretch) return;
  if (sync_file_range(fd_, writeback_from_, offset_ - writeback_from_, SYNC_FILE_RANGE_WRITE) !=
      0) {
    // Only an optimization (EINVAL/ENOSYS on file systems without it): the commit's fsync
    // does the work instead.
    VLOG(2) << "sync_file_range " << Path(kDataFile) << ": " << strerror(errno);
  }
  writeback_from_ = offset_;
}

absl::StatusOr<BlobInfo> LocalWriter::Commit(int64_t size,
                                             const std::optional<digest::Digest>& expected) {
  BERTH_RETURN_IF_ERROR(CheckOpen());
  const std::string what = absl::StrCat("commit ingest ", QuoteRef(ref_));
  // Checked against the ingest's expectations but not recorded: a failed commit leaves the
  // ingest exactly as it was.
  int64_t want_size = total_;
  std::optional<digest::Digest> want_digest = expected_;
  BERTH_RETURN_IF_ERROR(MergeExpectations(&want_size, &want_digest, size, expected), what);
  if (want_size != 0 && offset_ != want_size) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": size mismatch: expected ", want_size, " bytes, got ", offset_));
  }
  absl::StatusOr<digest::Digest> peeked;
  if (want_digest && want_digest->algorithm() != digester_->algorithm()) {
    // A digest in another algorithm than the running one (given only now): hash the data
    // again without disturbing the running digest, which a failed commit must leave as is.
    BERTH_ASSIGN_OR_RETURN(const digest::Hasher other, HashData(want_digest->algorithm()), what);
    peeked = other.Peek();
  } else {
    peeked = digester_->Peek();
  }
  BERTH_ASSIGN_OR_RETURN(const digest::Digest actual, std::move(peeked), what);
  if (want_digest && actual != *want_digest) {
    return absl::FailedPreconditionError(absl::StrCat(what, ": digest mismatch: expected ",
                                                      want_digest->ToString(), ", got ",
                                                      actual.ToString()));
  }

  const std::string data_path = Path(kDataFile);
  const std::string blob_path = ctx_->BlobPath(actual);
  // The blob must never be visible before its bytes are on disk.
  if (fsync(fd_) != 0) return absl::ErrnoToStatus(errno, absl::StrCat(what, ": fsync data"));
  if (fchmod(fd_, kBlobMode) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat(what, ": chmod data"));
  }
  // Until the rename succeeds this is still a resumable ingest, and reopening it needs write
  // permission on the data file.
  absl::Cleanup restore_mode = [this] { fchmod(fd_, kDataMode); };
  const absl::Time committed_at = ctx_->now();
  // Info's created_at comes from the blob's mtime, so stamp it with the commit time.
  const struct timespec times[2] = {absl::ToTimespec(committed_at), absl::ToTimespec(committed_at)};
  if (futimens(fd_, times) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat(what, ": set data times"));
  }
  const int err = RenameNoReplace(data_path, blob_path);
  if (err == EEXIST) {
    std::move(restore_mode).Cancel();  // the ingest goes entirely
    FinishCommitted();
    return absl::AlreadyExistsError(absl::StrCat("content ", actual.ToString(), " already exists"));
  }
  if (err != 0) {
    return absl::ErrnoToStatus(err, absl::StrCat(what, ": move data to ", blob_path));
  }
  std::move(restore_mode).Cancel();
  const std::string blob_dir = blob_path.substr(0, blob_path.rfind('/'));
  absl::Status durable = FsyncDir(blob_dir);
  FinishCommitted();
  if (!durable.ok()) {
    return Annotate(
        durable, absl::StrCat(what, ": stored as ", actual.ToString(), ", but durability unknown"));
  }
  return BlobInfo{actual, offset_, committed_at, committed_at};
}

void LocalWriter::FinishCommitted() {
  state_ = State::kCommitted;
  if (fd_ >= 0) close(std::exchange(fd_, -1));
  // The blob is safe whatever happens here; a leftover directory lost its `ref` first (or has
  // no data) and is removed by the next cleanup.
  if (absl::Status s = RemoveIngestDir(lock_.dir()); !s.ok()) {
    LOG(WARNING) << "remove committed ingest ref=" << QuoteRef(ref_) << ": " << s;
  }
  lock_.Release();
}

absl::Status LocalWriter::Close() {
  if (state_ != State::kOpen) return absl::OkStatus();
  state_ = State::kClosed;
  absl::Status result;
  // No fsync: the data is synced when it is committed, and what a crash may cost before then
  // is the unsynced tail of an ingest, which the commit's digest check would catch anyway.
  if (close(std::exchange(fd_, -1)) != 0) {
    result = absl::ErrnoToStatus(errno, absl::StrCat("close ", Path(kDataFile)));
  }
  absl::Status s = WriteMeta(updated_at_);
  if (result.ok()) result = s;
  lock_.Release();
  return result;
}

}  // namespace berth::containerd::content::internal
