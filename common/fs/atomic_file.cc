#include "common/fs/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"

namespace berth::fs {
namespace {

constexpr absl::string_view kTempInfix = ".tmp-";
constexpr size_t kTempSuffixLength = 6;  // mkostemp's "XXXXXX"

// "." + base + ".tmp-XXXXXX" must fit in NAME_MAX, so a long base name is cut; the result
// still matches IsAtomicTempFileName, which is all cleanup needs.
std::string TempTemplate(absl::string_view dir, absl::string_view base) {
  const size_t max_base = NAME_MAX - 1 - kTempInfix.size() - kTempSuffixLength;
  if (base.size() > max_base) base = base.substr(0, max_base);
  return absl::StrCat(dir, "/.", base, kTempInfix, std::string(kTempSuffixLength, 'X'));
}

absl::Status WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, "write temp file");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status FsyncDir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open directory ", dir));
  const int rc = fsync(fd);
  const int fsync_errno = errno;
  close(fd);
  if (rc != 0) return absl::ErrnoToStatus(fsync_errno, absl::StrCat("fsync directory ", dir));
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, absl::string_view data, mode_t mode) {
  return WriteFileAtomically(path, data, mode, AtomicWriteOptions());
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view data, mode_t mode,
                                 const AtomicWriteOptions& options) {
  const auto error = [&path](int err, absl::string_view what) {
    return absl::ErrnoToStatus(err, absl::StrCat("write ", path, ": ", what));
  };
  if (path.empty()) return absl::InvalidArgumentError("write file atomically: empty path");
  if ((mode & ~static_cast<mode_t>(07777)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("write ", path, ": invalid mode 0", absl::Hex(mode)));
  }
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const absl::string_view base = slash == std::string::npos
                                     ? absl::string_view(path)
                                     : absl::string_view(path).substr(slash + 1);
  if (base.empty() || base == "." || base == "..") {
    return absl::InvalidArgumentError(absl::StrCat("write ", path, ": not a file name"));
  }

  std::string temp = TempTemplate(dir, base);
  int fd = mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return error(errno, absl::StrCat("create temp file in ", dir));
  // Runs last (declared first): the temp file goes on any failure before the rename.
  absl::Cleanup remove_temp = [&temp] { unlink(temp.c_str()); };
  absl::Cleanup close_fd = [&fd] {
    if (fd >= 0) close(fd);
  };

  if (fchmod(fd, mode) != 0) return error(errno, "chmod temp file");
  BERTH_RETURN_IF_ERROR(WriteAll(fd, data), absl::StrCat("write ", path));
  if (options.durable && fsync(fd) != 0) return error(errno, "fsync temp file");
  // close() can report a delayed write error (NFS, quota): check it before publishing.
  const int rc = close(fd);
  fd = -1;
  if (rc != 0) return error(errno, "close temp file");
  if (rename(temp.c_str(), path.c_str()) != 0) return error(errno, "rename temp file");
  std::move(remove_temp).Cancel();

  if (!options.durable) return absl::OkStatus();
  BERTH_RETURN_IF_ERROR(FsyncDir(dir),
                        absl::StrCat("write ", path, ": renamed, but durability unknown"));
  return absl::OkStatus();
}

bool IsAtomicTempFileName(absl::string_view name) {
  // "." + at least one character + ".tmp-" + six [A-Za-z0-9].
  if (name.size() < 2 + kTempInfix.size() + kTempSuffixLength || name[0] != '.') return false;
  const absl::string_view suffix = name.substr(name.size() - kTempSuffixLength);
  for (char c : suffix) {
    if (!absl::ascii_isalnum(c)) return false;
  }
  name.remove_suffix(kTempSuffixLength);
  return absl::EndsWith(name, kTempInfix);
}

absl::StatusOr<int> RemoveStaleTempFiles(const std::string& dir) {
  BERTH_ASSIGN_OR_RETURN(const std::vector<std::string> names, ListDir(dir),
                         "remove stale temp files");
  int removed = 0;
  absl::Status first_error;
  for (const std::string& name : names) {
    if (!IsAtomicTempFileName(name)) continue;
    const std::string path = absl::StrCat(dir, "/", name);
    struct stat st;
    // mkostemp only makes regular files: a directory or link with such a name is not ours.
    if (lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) continue;
    if (unlink(path.c_str()) == 0) {
      ++removed;
    } else if (errno != ENOENT && first_error.ok()) {
      first_error = absl::ErrnoToStatus(errno, absl::StrCat("remove stale temp file ", path));
    }
  }
  if (!first_error.ok()) return first_error;
  return removed;
}

}  // namespace berth::fs
