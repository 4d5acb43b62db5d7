#include "registry/storage/blob_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/digest/hasher.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"

namespace berth::registry::storage {
namespace {

absl::Time MtimeOf(const struct stat& st) {
  return absl::TimeFromTimespec(st.st_mtim);
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& what) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("write ", what));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<BlobStore>> BlobStore::Open(std::string dir, std::string tmp_dir,
                                                           bool fsync, bool clear_tmp,
                                                           StorageObserver* observer) {
  BERTH_RETURN_IF_ERROR(fs::MakeDirs(dir, 0700), "blob store");
  if (clear_tmp) {
    // Leftovers of writes cut short by a crash: never visible as blobs, so safe to drop.
    BERTH_RETURN_IF_ERROR(fs::RemoveAll(tmp_dir), "blob store: clear temp dir");
  }
  BERTH_RETURN_IF_ERROR(fs::MakeDirs(tmp_dir, 0700), "blob store");
  std::unique_ptr<BlobStore> store(
      new BlobStore(std::move(dir), std::move(tmp_dir), fsync, observer));
  int64_t count = 0;
  BERTH_RETURN_IF_ERROR(
      store->ForEach([&count](const digest::Digest&, absl::Time, uint64_t) { ++count; }),
      "blob store: count blobs");
  store->CountChanged(count);
  return store;
}

void BlobStore::CountChanged(int64_t delta) {
  if (delta == 0) return;
  count_.fetch_add(delta);
  if (observer_ != nullptr) observer_->BlobsStoredChanged(delta);
}

std::string BlobStore::PathFor(const digest::Digest& d) const {
  return absl::StrCat(dir_, "/", d.algorithm(), "/", d.hex().substr(0, 2), "/", d.hex());
}

absl::StatusOr<uint64_t> BlobStore::Size(const digest::Digest& d) const {
  struct stat st;
  if (stat(PathFor(d).c_str(), &st) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("blob ", d.ToString()));
  }
  return static_cast<uint64_t>(st.st_size);
}

absl::StatusOr<BlobStore::OpenBlob> BlobStore::Open(const digest::Digest& d) const {
  OpenBlob out;
  out.fd.reset(open(PathFor(d).c_str(), O_RDONLY | O_CLOEXEC));
  if (!out.fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("blob ", d.ToString()));
  struct stat st;
  if (fstat(out.fd.get(), &st) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("stat blob ", d.ToString()));
  }
  out.size = static_cast<uint64_t>(st.st_size);
  return out;
}

absl::StatusOr<std::string> BlobStore::Read(const digest::Digest& d, uint64_t max_bytes) const {
  BERTH_ASSIGN_OR_RETURN(OpenBlob blob, Open(d));
  if (blob.size > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("blob ", d.ToString(), " has ", blob.size, " bytes, over ", max_bytes));
  }
  std::string out(blob.size, '\0');
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = read(blob.fd.get(), out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("read blob ", d.ToString()));
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

absl::Status BlobStore::Adopt(const std::string& path, const digest::Digest& d) {
  const std::string target = PathFor(d);
  BERTH_RETURN_IF_ERROR(fs::MakeDirs(target.substr(0, target.rfind('/')), 0700), "store blob");
  if (fsync_) {
    fs::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid() || fdatasync(fd.get()) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("store blob ", d.ToString(), ": sync"));
    }
  }
  absl::ReaderMutexLock lock(&gc_mu_);
  // RENAME_NOREPLACE tells a new blob from one another push stored first, which keeps the
  // count right when two clients push the same layer at once.
  if (renameat2(AT_FDCWD, path.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) == 0) {
    CountChanged(1);
    return absl::OkStatus();
  }
  if (errno != EEXIST) {
    return absl::ErrnoToStatus(errno, absl::StrCat("store blob ", d.ToString()));
  }
  unlink(path.c_str());
  if (utimensat(AT_FDCWD, target.c_str(), nullptr, 0) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("touch blob ", d.ToString()));
  }
  return absl::OkStatus();
}

absl::Status BlobStore::Write(const digest::Digest& d, absl::string_view data) {
  BERTH_RETURN_IF_ERROR(digest::VerifyBytes(d, data));
  std::string tmp = absl::StrCat(tmp_dir_, "/blob-XXXXXX");
  fs::UniqueFd fd(mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "store blob: create temp file");
  absl::Cleanup remove_tmp = [&tmp] { unlink(tmp.c_str()); };
  BERTH_RETURN_IF_ERROR(WriteAll(fd.get(), data, tmp));
  if (fchmod(fd.get(), 0600) != 0) return absl::ErrnoToStatus(errno, "store blob: chmod");
  fd.reset();
  BERTH_RETURN_IF_ERROR(Adopt(tmp, d));
  std::move(remove_tmp).Cancel();
  return absl::OkStatus();
}

absl::Status BlobStore::Touch(const digest::Digest& d) {
  absl::ReaderMutexLock lock(&gc_mu_);
  if (utimensat(AT_FDCWD, PathFor(d).c_str(), nullptr, 0) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("blob ", d.ToString()));
  }
  return absl::OkStatus();
}

absl::Status BlobStore::ForEach(
    const std::function<void(const digest::Digest&, absl::Time, uint64_t)>& fn) const {
  absl::StatusOr<std::vector<std::string>> algorithms = fs::ListDir(dir_);
  if (!algorithms.ok()) return algorithms.status();
  for (const std::string& alg : *algorithms) {
    const std::string alg_dir = absl::StrCat(dir_, "/", alg);
    absl::StatusOr<std::vector<std::string>> prefixes = fs::ListDir(alg_dir);
    if (!prefixes.ok()) continue;  // not a directory: nothing of ours
    for (const std::string& prefix : *prefixes) {
      const std::string prefix_dir = absl::StrCat(alg_dir, "/", prefix);
      absl::StatusOr<std::vector<std::string>> names = fs::ListDir(prefix_dir);
      if (!names.ok()) continue;
      for (const std::string& name : *names) {
        absl::StatusOr<digest::Digest> d = digest::Digest::Parse(absl::StrCat(alg, ":", name));
        if (!d.ok() || d->hex().substr(0, 2) != prefix) continue;
        struct stat st;
        if (stat(absl::StrCat(prefix_dir, "/", name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
          continue;  // removed meanwhile, or not a file
        }
        fn(*d, MtimeOf(st), static_cast<uint64_t>(st.st_size));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> BlobStore::DeleteIfOlder(const digest::Digest& d, absl::Time cutoff) {
  absl::WriterMutexLock lock(&gc_mu_);
  const std::string path = PathFor(d);
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return false;
    return absl::ErrnoToStatus(errno, absl::StrCat("stat blob ", d.ToString()));
  }
  if (MtimeOf(st) >= cutoff) return false;
  if (unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return false;
    return absl::ErrnoToStatus(errno, absl::StrCat("delete blob ", d.ToString()));
  }
  CountChanged(-1);
  return true;
}

}  // namespace berth::registry::storage
