#include "containerd/content/ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/digest/digest.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"

namespace berth::containerd::content::internal {
namespace {

constexpr mode_t kIngestDirMode = 0700;
constexpr mode_t kIngestFileMode = 0600;

// OpenWriter loses a race only when a committer or cleaner removes the directory between our
// open and our flock; a few retries are plenty, and a bound keeps a bug from spinning forever.
constexpr int kLockAttempts = 8;

std::string Join(const std::string& dir, absl::string_view name) {
  return absl::StrCat(dir, "/", name);
}

// Long enough to tell refs apart in a message, short enough that a hostile multi-KB ref
// does not flood the log.
constexpr size_t kMaxQuotedRef = 200;

}  // namespace

absl::Time FromTimespec(const struct timespec& ts) {
  return absl::FromUnixSeconds(ts.tv_sec) + absl::Nanoseconds(ts.tv_nsec);
}

absl::StatusOr<std::string> IngestDirName(absl::string_view ref) {
  BERTH_ASSIGN_OR_RETURN(const digest::Digest d, digest::Digest::FromBytes(ref), "hash ingest ref");
  return std::string(d.hex());
}

bool IsIngestDirName(absl::string_view name) {
  if (name.size() != 64) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'); });
}

std::string QuoteRef(absl::string_view ref) {
  if (ref.size() > kMaxQuotedRef) {
    return absl::StrCat("\"", absl::CHexEscape(ref.substr(0, kMaxQuotedRef)), "\"... (", ref.size(),
                        " bytes)");
  }
  return absl::StrCat("\"", absl::CHexEscape(ref), "\"");
}

bool RefLockTable::TryLock(absl::string_view ref) {
  absl::MutexLock lock(&mu_);
  return held_.insert(std::string(ref)).second;
}

void RefLockTable::Unlock(absl::string_view ref) {
  absl::MutexLock lock(&mu_);
  held_.erase(std::string(ref));
}

absl::StatusOr<int> IngestLock::LockDirFd(const std::string& dir, bool create,
                                          absl::string_view what) {
  for (int attempt = 0; attempt < kLockAttempts; ++attempt) {
    if (create && mkdir(dir.c_str(), kIngestDirMode) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno, absl::StrCat("create ingest dir ", dir));
    }
    const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) {
        if (!create) return absl::NotFoundError(absl::StrCat(what, " not found"));
        continue;  // removed between mkdir and open: make it again
      }
      return absl::ErrnoToStatus(errno, absl::StrCat("open ingest dir ", dir));
    }
    absl::Cleanup close_fd = [fd] { close(fd); };
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) return absl::UnavailableError(absl::StrCat(what, " is locked"));
      return absl::ErrnoToStatus(errno, absl::StrCat("lock ingest dir ", dir));
    }
    // The holder we waited for may have removed the directory (commit, abort, cleanup) before
    // letting go; then we hold a lock on a dead inode and must start over on the live path.
    struct stat by_fd, by_path;
    if (fstat(fd, &by_fd) != 0) return absl::ErrnoToStatus(errno, "stat locked ingest dir");
    if (lstat(dir.c_str(), &by_path) == 0 && by_fd.st_dev == by_path.st_dev &&
        by_fd.st_ino == by_path.st_ino) {
      std::move(close_fd).Cancel();
      return fd;
    }
    if (!create) return absl::NotFoundError(absl::StrCat(what, " not found"));
  }
  return absl::UnavailableError(absl::StrCat(what, ": directory kept being replaced, retry"));
}

absl::StatusOr<IngestLock> IngestLock::ForRef(std::shared_ptr<RefLockTable> table,
                                              absl::string_view ref, const std::string& dir,
                                              bool create) {
  const std::string what = absl::StrCat("ingest ref ", QuoteRef(ref));
  if (!table->TryLock(ref)) return absl::UnavailableError(absl::StrCat(what, " is locked"));
  absl::Cleanup unlock = [&table, ref] { table->Unlock(ref); };
  BERTH_ASSIGN_OR_RETURN(const int fd, LockDirFd(dir, create, what));
  std::move(unlock).Cancel();
  IngestLock lock;
  lock.table_ = std::move(table);
  lock.ref_ = std::string(ref);
  lock.dir_ = dir;
  lock.fd_ = fd;
  return lock;
}

absl::StatusOr<IngestLock> IngestLock::ForDir(const std::string& dir) {
  BERTH_ASSIGN_OR_RETURN(const int fd,
                         LockDirFd(dir, /*create=*/false, absl::StrCat("ingest dir ", dir)));
  IngestLock lock;
  lock.dir_ = dir;
  lock.fd_ = fd;
  return lock;
}

IngestLock::IngestLock(IngestLock&& other) noexcept
    : table_(std::move(other.table_)),
      ref_(std::move(other.ref_)),
      dir_(std::move(other.dir_)),
      fd_(std::exchange(other.fd_, -1)) {}

IngestLock& IngestLock::operator=(IngestLock&& other) noexcept {
  if (this != &other) {
    Release();
    table_ = std::move(other.table_);
    ref_ = std::move(other.ref_);
    dir_ = std::move(other.dir_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void IngestLock::Release() {
  // Closing the last descriptor drops the flock. It goes before the table entry, so a writer
  // of this process that gets the entry next finds the flock free.
  if (fd_ >= 0) close(std::exchange(fd_, -1));
  if (table_ != nullptr) {
    table_->Unlock(ref_);
    table_.reset();
  }
}

namespace {

constexpr absl::string_view kMetaVersion = "berth-ingest 1";

std::string FormatMetaTime(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone());
}

// Takes the next line (without its '\n') off the front of `text`; false if there is no '\n'.
bool NextLine(absl::string_view* text, absl::string_view* line) {
  const size_t nl = text->find('\n');
  if (nl == absl::string_view::npos) return false;
  *line = text->substr(0, nl);
  text->remove_prefix(nl + 1);
  return true;
}

// The value of line "<key> <value>", or nullopt if the line has another key.
std::optional<absl::string_view> Field(absl::string_view line, absl::string_view key) {
  if (!absl::ConsumePrefix(&line, key) || !absl::ConsumePrefix(&line, " ")) return std::nullopt;
  return line;
}

absl::Status Damaged(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("ingest bookkeeping ", what));
}

absl::StatusOr<absl::Time> ParseTimeField(absl::string_view line, absl::string_view key) {
  std::optional<absl::string_view> value = Field(line, key);
  if (!value) return Damaged(absl::StrCat("lacks ", key));
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, *value, &t, &err)) {
    return Damaged(absl::StrCat("has a bad ", key, ": ", err));
  }
  return t;
}

}  // namespace

std::string EncodeIngestMeta(const IngestMeta& meta) {
  std::string out = absl::StrCat(kMetaVersion, "\ntotal ", meta.total, "\n");
  if (meta.expected.has_value()) absl::StrAppend(&out, "expected ", meta.expected->ToString(), "\n");
  absl::StrAppend(&out, "startedat ", FormatMetaTime(meta.started_at), "\nupdatedat ",
                  FormatMetaTime(meta.updated_at), "\nref ", meta.ref.size(), "\n", meta.ref, "\n");
  return out;
}

absl::StatusOr<IngestMeta> DecodeIngestMeta(absl::string_view text) {
  absl::string_view line;
  if (!NextLine(&text, &line) || line != kMetaVersion) return Damaged("has no version line");
  IngestMeta meta;
  if (!NextLine(&text, &line)) return Damaged("ends early");
  std::optional<absl::string_view> total = Field(line, "total");
  if (!total || !absl::SimpleAtoi(*total, &meta.total) || meta.total < 0) {
    return Damaged("has a bad total");
  }
  if (!NextLine(&text, &line)) return Damaged("ends early");
  if (std::optional<absl::string_view> expected = Field(line, "expected")) {
    absl::StatusOr<digest::Digest> d = digest::Digest::Parse(*expected);
    if (!d.ok()) return Damaged(absl::StrCat("has a bad expected digest: ", d.status().message()));
    meta.expected = *std::move(d);
    if (!NextLine(&text, &line)) return Damaged("ends early");
  }
  BERTH_ASSIGN_OR_RETURN(meta.started_at, ParseTimeField(line, "startedat"));
  if (!NextLine(&text, &line)) return Damaged("ends early");
  BERTH_ASSIGN_OR_RETURN(meta.updated_at, ParseTimeField(line, "updatedat"));
  if (!NextLine(&text, &line)) return Damaged("ends early");
  std::optional<absl::string_view> ref_size = Field(line, "ref");
  size_t n = 0;
  if (!ref_size || !absl::SimpleAtoi(*ref_size, &n)) return Damaged("has a bad ref size");
  // Exactly the ref and one newline must be left: fewer is a file cut short.
  if (text.size() != n + 1 || text.back() != '\n') return Damaged("is cut short or overlong");
  meta.ref = std::string(text.substr(0, n));
  if (meta.ref.empty()) return Damaged("has an empty ref");
  return meta;
}

absl::Status WriteIngestMeta(const std::string& dir, const IngestMeta& meta) {
  fs::AtomicWriteOptions options;
  options.durable = false;
  return fs::WriteFileAtomically(Join(dir, kMetaFile), EncodeIngestMeta(meta), kIngestFileMode,
                                 options);
}

absl::StatusOr<IngestMeta> ReadIngestMeta(const std::string& dir) {
  const std::string path = Join(dir, kMetaFile);
  BERTH_ASSIGN_OR_RETURN(const std::string text, fs::ReadFile(path));
  absl::StatusOr<IngestMeta> meta = DecodeIngestMeta(text);
  if (!meta.ok()) {
    // What a power cut can leave of an unsynced rename: no usable ingest (see the header).
    return absl::NotFoundError(absl::StrCat(path, ": ", meta.status().message()));
  }
  return meta;
}

absl::StatusOr<IngestStatus> ReadIngestStatus(const std::string& dir) {
  BERTH_ASSIGN_OR_RETURN(IngestMeta meta, ReadIngestMeta(dir));
  IngestStatus status;
  status.ref = std::move(meta.ref);
  status.total = meta.total;
  status.expected = std::move(meta.expected);
  status.started_at = meta.started_at;
  status.updated_at = meta.updated_at;
  struct stat st;
  if (stat(Join(dir, kDataFile).c_str(), &st) == 0) {
    status.offset = st.st_size;
    // updatedat is only written when a writer closes (one file write per stream, not per
    // chunk), so a live or killed writer's progress shows in the data file's mtime.
    status.updated_at = std::max(status.updated_at, FromTimespec(st.st_mtim));
  } else if (errno != ENOENT) {
    // A missing data file is an ingest whose commit moved the data and then crashed: it reads
    // as empty, which is what resuming it would give.
    return absl::ErrnoToStatus(errno, absl::StrCat("stat ", Join(dir, kDataFile)));
  }
  return status;
}

absl::Status RemoveIngestDir(const std::string& dir) {
  if (unlink(Join(dir, kMetaFile).c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("remove ", Join(dir, kMetaFile)));
  }
  return fs::RemoveAll(dir);
}

}  // namespace berth::containerd::content::internal
