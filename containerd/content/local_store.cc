#include "containerd/content/local_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"
#include "containerd/content/ingest.h"
#include "containerd/content/local_writer.h"
#include "glog/logging.h"

namespace berth::containerd::content {
namespace {

using internal::IngestLock;
using internal::StoreContext;

constexpr mode_t kBlobsDirMode = 0755;
constexpr mode_t kIngestRootMode = 0700;
// Read's chunk: the gRPC adapter sends at most 1 MiB of data per message (proto Read).
constexpr int64_t kReadChunk = 1 << 20;

using internal::FromTimespec;
using internal::IsIngestDirName;

absl::Status BlobNotFound(const digest::Digest& d) {
  return absl::NotFoundError(absl::StrCat("content ", d.ToString(), " not found"));
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

absl::Status IngestNotFound(absl::string_view ref) {
  return absl::NotFoundError(absl::StrCat("ingest ref ", internal::QuoteRef(ref), " not found"));
}

class LocalReader : public ReaderAt {
 public:
  LocalReader(int fd, int64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)) {}
  ~LocalReader() override { close(fd_); }

  int64_t size() const override { return size_; }

  absl::StatusOr<size_t> ReadAt(int64_t offset, absl::Span<char> buf) override {
    if (offset < 0) return absl::InvalidArgumentError(absl::StrCat("negative offset ", offset));
    if (offset > size_) {
      return absl::OutOfRangeError(
          absl::StrCat("offset ", offset, " is past the end of ", path_, " (", size_, " bytes)"));
    }
    size_t done = 0;
    while (done < buf.size()) {
      const ssize_t n =
          pread(fd_, buf.data() + done, buf.size() - done, offset + static_cast<int64_t>(done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::ErrnoToStatus(errno, absl::StrCat("read ", path_));
      }
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    return done;
  }

 private:
  const int fd_;
  const int64_t size_;
  const std::string path_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LocalStore>> LocalStore::Create(LocalStoreOptions options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("content store: empty dir");
  if (options.now == nullptr) options.now = [] { return absl::Now(); };
  auto ctx = std::make_shared<StoreContext>();
  ctx->blobs_dir = absl::StrCat(options.dir, "/blobs");
  ctx->ingest_dir = absl::StrCat(options.dir, "/ingest");
  ctx->now = std::move(options.now);
  ctx->locks = std::make_shared<internal::RefLockTable>();
  // Blobs are only ever renamed into blobs/<algorithm>/, never written there, so those
  // directories hold no temp files to clean.
  for (absl::string_view alg : digest::SupportedAlgorithms()) {
    BERTH_RETURN_IF_ERROR(fs::MakeDirs(absl::StrCat(ctx->blobs_dir, "/", alg), kBlobsDirMode),
                          "open content store");
  }
  BERTH_RETURN_IF_ERROR(fs::MakeDirs(ctx->ingest_dir, kIngestRootMode), "open content store");
  std::unique_ptr<LocalStore> store(new LocalStore(std::move(ctx)));
  BERTH_ASSIGN_OR_RETURN(const int removed, store->CleanIngests(), "open content store");
  LOG(INFO) << "content store opened dir=" << options.dir
            << " removed_incomplete_ingests=" << removed;
  return store;
}

LocalStore::LocalStore(std::shared_ptr<const StoreContext> ctx) : ctx_(std::move(ctx)) {}
LocalStore::~LocalStore() = default;

std::string LocalStore::BlobPath(const digest::Digest& digest) const {
  return ctx_->BlobPath(digest);
}

absl::StatusOr<std::string> LocalStore::IngestPath(absl::string_view ref) const {
  BERTH_ASSIGN_OR_RETURN(const std::string name, internal::IngestDirName(ref));
  return absl::StrCat(ctx_->ingest_dir, "/", name);
}

absl::StatusOr<int> LocalStore::CleanIngests() {
  BERTH_ASSIGN_OR_RETURN(const std::vector<std::string> names, fs::ListDir(ctx_->ingest_dir));
  int removed = 0;
  for (const std::string& name : names) {
    if (!IsIngestDirName(name)) continue;
    absl::StatusOr<IngestLock> lock = IngestLock::ForDir(absl::StrCat(ctx_->ingest_dir, "/", name));
    // Held: a live writer (another process) owns it. Gone: someone removed it meanwhile.
    if (absl::IsUnavailable(lock.status()) || absl::IsNotFound(lock.status())) continue;
    BERTH_RETURN_IF_ERROR(lock.status());
    BERTH_RETURN_IF_ERROR(fs::RemoveStaleTempFiles(lock->dir()).status());
    absl::StatusOr<internal::IngestMeta> meta = internal::ReadIngestMeta(lock->dir());
    if (meta.ok()) continue;
    if (!absl::IsNotFound(meta.status())) return meta.status();
    // No bookkeeping, or a damaged one (a crash before its rename reached the disk): the
    // ingest cannot be resumed, so its bytes go; the client sends them again.
    if (Exists(absl::StrCat(lock->dir(), "/", internal::kMetaFile))) {
      LOG(WARNING) << "dropping ingest with damaged bookkeeping dir=" << lock->dir() << ": "
                   << meta.status().message();
    }
    BERTH_RETURN_IF_ERROR(internal::RemoveIngestDir(lock->dir()));
    ++removed;
  }
  return removed;
}

absl::StatusOr<BlobInfo> LocalStore::Info(const digest::Digest& digest) {
  const std::string path = BlobPath(digest);
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return BlobNotFound(digest);
    return absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InternalError(absl::StrCat(path, " is not a regular file"));
  }
  const absl::Time t = FromTimespec(st.st_mtim);
  return BlobInfo{digest, st.st_size, t, t};
}

absl::Status LocalStore::Walk(const WalkCallback& fn) {
  for (absl::string_view alg : digest::SupportedAlgorithms()) {
    const std::string dir = absl::StrCat(ctx_->blobs_dir, "/", alg);
    absl::StatusOr<std::vector<std::string>> names = fs::ListDir(dir);
    if (absl::IsNotFound(names.status())) continue;
    BERTH_RETURN_IF_ERROR(names.status(), "walk content");
    for (const std::string& name : *names) {
      // Anything that is not a well-formed digest name was not put there by this store.
      absl::StatusOr<digest::Digest> d = digest::Digest::Parse(absl::StrCat(alg, ":", name));
      if (!d.ok()) continue;
      absl::StatusOr<BlobInfo> info = Info(*d);
      if (absl::IsNotFound(info.status())) continue;  // deleted during the walk
      BERTH_RETURN_IF_ERROR(info.status(), "walk content");
      BERTH_RETURN_IF_ERROR(fn(*info));
    }
  }
  return absl::OkStatus();
}

absl::Status LocalStore::Delete(const digest::Digest& digest) {
  const std::string path = BlobPath(digest);
  if (unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return BlobNotFound(digest);
    return absl::ErrnoToStatus(errno, absl::StrCat("delete content ", digest.ToString()));
  }
  // Make the removal durable. Not fatal if it is not: a blob that comes back after a power cut
  // is whole and correct, and garbage collection removes it again.
  const std::string dir = path.substr(0, path.rfind('/'));
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync(fd) != 0) PLOG(WARNING) << "fsync " << dir << " after delete";
  if (fd >= 0) close(fd);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ReaderAt>> LocalStore::OpenReader(const digest::Digest& digest) {
  const std::string path = BlobPath(digest);
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return BlobNotFound(digest);
    return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return absl::ErrnoToStatus(err, absl::StrCat("stat ", path));
  }
  return std::make_unique<LocalReader>(fd, st.st_size, path);
}

absl::Status LocalStore::Read(const digest::Digest& digest, int64_t offset, int64_t size,
                              const ReadCallback& fn) {
  if (offset < 0 || size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("read ", digest.ToString(), ": negative offset or size"));
  }
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<ReaderAt> reader, OpenReader(digest));
  const int64_t blob_size = reader->size();
  if (offset > blob_size) {
    return absl::OutOfRangeError(absl::StrCat("read ", digest.ToString(), ": offset ", offset,
                                              " is past its size ", blob_size));
  }
  // Written as a comparison, not offset + size, which could overflow.
  const int64_t end = (size == 0 || size > blob_size - offset) ? blob_size : offset + size;
  // One buffer of at most 1 MiB, whatever the blob's size.
  std::unique_ptr<char[]> buf(new char[std::min(kReadChunk, std::max<int64_t>(end - offset, 1))]);
  for (int64_t pos = offset; pos < end;) {
    const size_t want = static_cast<size_t>(std::min(kReadChunk, end - pos));
    BERTH_ASSIGN_OR_RETURN(const size_t n, reader->ReadAt(pos, absl::Span<char>(buf.get(), want)),
                           absl::StrCat("read ", digest.ToString()));
    if (n == 0) {
      // Blobs never change, so a short file means someone damaged the store.
      return absl::DataLossError(absl::StrCat("read ", digest.ToString(), ": blob ends at ", pos,
                                              ", expected ", blob_size, " bytes"));
    }
    BERTH_RETURN_IF_ERROR(fn(pos, absl::string_view(buf.get(), n)));
    pos += static_cast<int64_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Writer>> LocalStore::OpenWriter(
    absl::string_view ref, int64_t total, const std::optional<digest::Digest>& expected) {
  if (ref.empty()) return absl::InvalidArgumentError("open ingest: empty ref");
  if (total < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("open ingest ", internal::QuoteRef(ref), ": negative total ", total));
  }
  if (expected.has_value()) {
    // Lets clients skip uploading what the store already has (proto Write step 2), before any
    // ingest is created or locked.
    struct stat st;
    if (lstat(BlobPath(*expected).c_str(), &st) == 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("content ", expected->ToString(), " already exists"));
    }
  }
  BERTH_ASSIGN_OR_RETURN(const std::string path, IngestPath(ref));
  BERTH_ASSIGN_OR_RETURN(IngestLock lock,
                         IngestLock::ForRef(ctx_->locks, ref, path, /*create=*/true));
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<internal::LocalWriter> writer,
                         internal::LocalWriter::Open(ctx_, std::move(lock), ref, total, expected));
  return std::unique_ptr<Writer>(std::move(writer));
}

absl::StatusOr<IngestStatus> LocalStore::Status(absl::string_view ref) {
  if (ref.empty()) return absl::InvalidArgumentError("ingest status: empty ref");
  BERTH_ASSIGN_OR_RETURN(const std::string path, IngestPath(ref));
  absl::StatusOr<IngestStatus> status = internal::ReadIngestStatus(path);
  if (absl::IsNotFound(status.status())) return IngestNotFound(ref);
  BERTH_RETURN_IF_ERROR(status.status(), absl::StrCat("ingest status ", internal::QuoteRef(ref)));
  if (status->ref != ref) return IngestNotFound(ref);
  return status;
}

absl::StatusOr<std::vector<IngestStatus>> LocalStore::ListStatuses(absl::string_view ref_prefix) {
  BERTH_ASSIGN_OR_RETURN(const std::vector<std::string> names, fs::ListDir(ctx_->ingest_dir),
                         "list ingests");
  std::vector<IngestStatus> out;
  for (const std::string& name : names) {
    if (!IsIngestDirName(name)) continue;
    const std::string dir = absl::StrCat(ctx_->ingest_dir, "/", name);
    absl::StatusOr<IngestStatus> status = internal::ReadIngestStatus(dir);
    if (absl::IsNotFound(status.status())) continue;  // starting, ending, or just gone
    if (!status.ok()) {
      // One damaged ingest must not hide all the others; nobody else will report it.
      LOG(ERROR) << "skipping unreadable ingest dir=" << dir << ": " << status.status();
      continue;
    }
    if (!absl::StartsWith(status->ref, ref_prefix)) continue;
    out.push_back(*std::move(status));
  }
  std::sort(out.begin(), out.end(),
            [](const IngestStatus& a, const IngestStatus& b) { return a.ref < b.ref; });
  return out;
}

absl::Status LocalStore::Abort(absl::string_view ref) {
  if (ref.empty()) return absl::InvalidArgumentError("abort ingest: empty ref");
  BERTH_ASSIGN_OR_RETURN(const std::string path, IngestPath(ref));
  absl::StatusOr<IngestLock> lock = IngestLock::ForRef(ctx_->locks, ref, path, /*create=*/false);
  if (absl::IsNotFound(lock.status())) return IngestNotFound(ref);
  BERTH_RETURN_IF_ERROR(lock.status(), "abort");
  absl::StatusOr<internal::IngestMeta> stored = internal::ReadIngestMeta(lock->dir());
  if (absl::IsNotFound(stored.status())) {
    // An incomplete directory: not an ingest, but garbage; remove it while we hold it.
    BERTH_RETURN_IF_ERROR(internal::RemoveIngestDir(lock->dir()),
                          absl::StrCat("abort ", internal::QuoteRef(ref)));
    return IngestNotFound(ref);
  }
  BERTH_RETURN_IF_ERROR(stored.status(), absl::StrCat("abort ", internal::QuoteRef(ref)));
  if (stored->ref != ref) return IngestNotFound(ref);
  return Annotate(internal::RemoveIngestDir(lock->dir()),
                  absl::StrCat("abort ", internal::QuoteRef(ref)));
}

absl::StatusOr<int> LocalStore::RemoveStaleIngests(
    absl::Duration max_age, const std::function<bool(const IngestStatus&)>& keep) {
  BERTH_ASSIGN_OR_RETURN(const std::vector<std::string> names, fs::ListDir(ctx_->ingest_dir),
                         "remove stale ingests");
  const absl::Time now = ctx_->now();
  int removed = 0;
  absl::Status first_error;
  for (const std::string& name : names) {
    if (!IsIngestDirName(name)) continue;
    absl::StatusOr<IngestLock> lock = IngestLock::ForDir(absl::StrCat(ctx_->ingest_dir, "/", name));
    if (absl::IsUnavailable(lock.status()) || absl::IsNotFound(lock.status())) continue;
    absl::Status s = lock.status();
    if (s.ok()) {
      // Read under the lock, so the age and the removal concern the same state.
      absl::StatusOr<IngestStatus> status = internal::ReadIngestStatus(lock->dir());
      // An incomplete directory that nobody holds is debris of a crash.
      const bool stale =
          absl::IsNotFound(status.status()) ||
          (status.ok() && now - status->updated_at > max_age && !(keep && keep(*status)));
      if (!status.ok() && !absl::IsNotFound(status.status())) {
        s = status.status();
      } else if (stale) {
        s = internal::RemoveIngestDir(lock->dir());
        if (s.ok()) {
          ++removed;
          if (status.ok()) {
            LOG(INFO) << "stale ingest removed ref=" << internal::QuoteRef(status->ref)
                      << " offset=" << status->offset;
          }
        }
      }
    }
    if (!s.ok() && first_error.ok()) first_error = Annotate(s, "remove stale ingests");
  }
  if (!first_error.ok()) return first_error;
  return removed;
}

}  // namespace berth::containerd::content
