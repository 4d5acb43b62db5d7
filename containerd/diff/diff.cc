#include "containerd/diff/diff.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "containerd/diff/archive_io.h"
#include "containerd/diff/fs_util.h"
#include "containerd/diff/whiteout.h"

namespace berth::containerd::diff {
namespace {

using internal::LayerWriter;
using internal::PathError;
using internal::UniqueFd;
using Xattrs = std::vector<std::pair<std::string, std::string>>;

constexpr size_t kReadChunk = 256 * 1024;

struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using Entry = std::unique_ptr<archive_entry, EntryDeleter>;

std::string Child(const std::string& rel, const std::string& name) {
  return rel.empty() ? name : absl::StrCat(rel, "/", name);
}

// The xattrs a layer carries: all but trusted.* (overlayfs' bookkeeping: opaque, origin,
// impure, redirect...; not portable, and not something a layer may set, see apply.h) and
// security.selinux (this host's label, which the runtime assigns per container anyway).
absl::StatusOr<Xattrs> LayerXattrs(int dir_fd, const std::string& name) {
  BERTH_ASSIGN_OR_RETURN(Xattrs all, internal::ListXattrsAt(dir_fd, name));
  Xattrs out;
  for (auto& [k, v] : all) {
    if (absl::StartsWith(k, "trusted.") || k == "security.selinux") continue;
    out.emplace_back(std::move(k), std::move(v));
  }
  return out;
}

absl::StatusOr<std::string> ReadLinkAt(int dir_fd, const std::string& name,
                                       const std::string& rel) {
  std::string buf(256, '\0');
  for (;;) {
    const ssize_t n = readlinkat(dir_fd, name.c_str(), buf.data(), buf.size());
    if (n < 0) return PathError(errno, "readlink", rel);
    if (static_cast<size_t>(n) < buf.size()) {
      buf.resize(static_cast<size_t>(n));
      return buf;
    }
    buf.resize(buf.size() * 2);
  }
}

// Turns files into tar entries: headers from lstat and xattrs, data read by fd, hardlinks by
// inode.
class TarEmitter {
 public:
  TarEmitter(LayerWriter& writer, const DiffOptions& options)
      : writer_(writer), options_(options), buf_(kReadChunk) {}

  // Writes the entry for `name` in `dir_fd` (at `rel`), which lstat gave as `st`. For a
  // regular file the data comes from `data_fd` if given (a metacopy file's lower), else from
  // the file itself. Sockets are skipped: tar cannot hold them (Docker skips them as well).
  absl::Status Emit(int dir_fd, const std::string& name, const std::string& rel,
                    const struct stat& st, int data_fd = -1);
  // ".wh.<name>" in `dir_rel`, owned and timed like `st` (the overlay whiteout, or the
  // directory the entry vanished from).
  absl::Status EmitWhiteout(const std::string& dir_rel, const std::string& name,
                            const struct stat& st);
  // "<dir_rel>/.wh..wh..opq", owned and timed like the directory.
  absl::Status EmitOpaque(const std::string& dir_rel, const struct stat& dir_st);

  uint64_t entries() const { return entries_; }
  uint64_t whiteouts() const { return whiteouts_; }

 private:
  Entry NewEntry(const std::string& path, const struct stat& st);
  absl::Status WriteData(int fd, const std::string& rel, off_t size);

  LayerWriter& writer_;
  const DiffOptions& options_;
  std::vector<char> buf_;
  absl::flat_hash_map<std::pair<dev_t, ino_t>, std::string> links_;
  uint64_t entries_ = 0;
  uint64_t whiteouts_ = 0;
};

Entry TarEmitter::NewEntry(const std::string& path, const struct stat& st) {
  Entry e(archive_entry_new());
  archive_entry_copy_pathname(e.get(), path.c_str());
  archive_entry_set_uid(e.get(), st.st_uid);
  archive_entry_set_gid(e.get(), st.st_gid);
  archive_entry_set_perm(e.get(), st.st_mode & 07777);
  struct timespec mtime = st.st_mtim;
  if (!options_.nanosecond_mtimes) mtime.tv_nsec = 0;
  if (options_.source_date_epoch.has_value()) {
    const struct timespec epoch = absl::ToTimespec(*options_.source_date_epoch);
    if (mtime.tv_sec > epoch.tv_sec ||
        (mtime.tv_sec == epoch.tv_sec && mtime.tv_nsec > epoch.tv_nsec)) {
      mtime = epoch;
    }
  }
  archive_entry_set_mtime(e.get(), mtime.tv_sec, mtime.tv_nsec);
  return e;
}

absl::Status TarEmitter::WriteData(int fd, const std::string& rel, off_t size) {
  off_t done = 0;
  while (done < size) {
    const size_t want = static_cast<size_t>(std::min<off_t>(size - done, buf_.size()));
    const ssize_t n = read(fd, buf_.data(), want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return PathError(errno, "read", rel);
    }
    if (n == 0) {
      // The header already promised `size` bytes; padding would put made-up data in the layer.
      return absl::FailedPreconditionError(
          absl::StrCat("read ", rel, ": file shrank while the layer was written"));
    }
    BERTH_RETURN_IF_ERROR(writer_.WriteData(buf_.data(), static_cast<size_t>(n), rel));
    done += n;
  }
  return absl::OkStatus();
}

absl::Status TarEmitter::Emit(int dir_fd, const std::string& name, const std::string& rel,
                              const struct stat& st, int data_fd) {
  if (S_ISSOCK(st.st_mode)) return absl::OkStatus();
  Entry e = NewEntry(rel, st);
  if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
    auto [it, first] = links_.emplace(std::make_pair(st.st_dev, st.st_ino), rel);
    if (!first) {
      archive_entry_set_filetype(e.get(), AE_IFREG);
      archive_entry_copy_hardlink(e.get(), it->second.c_str());
      archive_entry_set_size(e.get(), 0);
      ++entries_;
      return writer_.WriteHeader(e.get(), rel);
    }
  }
  switch (st.st_mode & S_IFMT) {
    case S_IFREG:
      archive_entry_set_filetype(e.get(), AE_IFREG);
      archive_entry_set_size(e.get(), st.st_size);
      break;
    case S_IFDIR:
      archive_entry_set_filetype(e.get(), AE_IFDIR);
      break;
    case S_IFLNK: {
      archive_entry_set_filetype(e.get(), AE_IFLNK);
      BERTH_ASSIGN_OR_RETURN(const std::string target, ReadLinkAt(dir_fd, name, rel));
      archive_entry_copy_symlink(e.get(), target.c_str());
      break;
    }
    case S_IFCHR:
    case S_IFBLK:
      archive_entry_set_filetype(e.get(), S_ISCHR(st.st_mode) ? AE_IFCHR : AE_IFBLK);
      archive_entry_set_rdevmajor(e.get(), major(st.st_rdev));
      archive_entry_set_rdevminor(e.get(), minor(st.st_rdev));
      break;
    case S_IFIFO:
      archive_entry_set_filetype(e.get(), AE_IFIFO);
      break;
    default:
      return absl::FailedPreconditionError(absl::StrCat(rel, ": unknown file type"));
  }
  BERTH_ASSIGN_OR_RETURN(const Xattrs xattrs, LayerXattrs(dir_fd, name));
  for (const auto& [k, v] : xattrs) {
    archive_entry_xattr_add_entry(e.get(), k.c_str(), v.data(), v.size());
  }

  UniqueFd own_fd;
  if (S_ISREG(st.st_mode) && st.st_size > 0 && data_fd < 0) {
    // O_NOFOLLOW plus the inode check: the file read is the one that was listed, never what a
    // symlink swapped in after the listing points to. O_NONBLOCK: never hang on a fifo that
    // was swapped in either (the inode check then refuses it).
    own_fd.reset(openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!own_fd.valid()) return PathError(errno, "open", rel);
    struct stat now;
    if (fstat(own_fd.get(), &now) != 0) return PathError(errno, "fstat", rel);
    if (!S_ISREG(now.st_mode) || now.st_ino != st.st_ino || now.st_dev != st.st_dev) {
      return absl::FailedPreconditionError(
          absl::StrCat("open ", rel, ": file was replaced while the layer was written"));
    }
    data_fd = own_fd.get();
  }
  ++entries_;
  BERTH_RETURN_IF_ERROR(writer_.WriteHeader(e.get(), rel));
  if (S_ISREG(st.st_mode) && st.st_size > 0) return WriteData(data_fd, rel, st.st_size);
  return absl::OkStatus();
}

absl::Status TarEmitter::EmitWhiteout(const std::string& dir_rel, const std::string& name,
                                      const struct stat& st) {
  const std::string rel = Child(dir_rel, absl::StrCat(kWhiteoutPrefix, name));
  Entry e = NewEntry(rel, st);
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_perm(e.get(), 0600);
  archive_entry_set_size(e.get(), 0);
  ++entries_;
  ++whiteouts_;
  return writer_.WriteHeader(e.get(), rel);
}

absl::Status TarEmitter::EmitOpaque(const std::string& dir_rel, const struct stat& dir_st) {
  const std::string rel = Child(dir_rel, std::string(kOpaqueWhiteout));
  Entry e = NewEntry(rel, dir_st);
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_perm(e.get(), dir_st.st_mode & 0777);
  archive_entry_set_size(e.get(), 0);
  ++entries_;
  ++whiteouts_;
  return writer_.WriteHeader(e.get(), rel);
}

// ---------------------------------------------------------------------------------------------
// Diff: an overlay upperdir.

class UpperWalker {
 public:
  UpperWalker(TarEmitter& emitter, const std::vector<UniqueFd>& lowers)
      : emitter_(emitter), lowers_(lowers) {}

  // Emits everything below the upper directory `dir_fd` (at `rel`).
  absl::Status Walk(int dir_fd, const std::string& rel);

 private:
  // The file holding the data of metacopy file `name` (at `rel`) in `dir_fd`: the file its
  // trusted.overlay.redirect names (absolute from the layer root, or relative to its
  // directory), or the same path, in the topmost lower dir that has a full copy.
  absl::StatusOr<UniqueFd> OpenMetacopyData(int dir_fd, const std::string& name,
                                            const std::string& rel, off_t size);

  TarEmitter& emitter_;
  const std::vector<UniqueFd>& lowers_;
};

absl::StatusOr<UniqueFd> UpperWalker::OpenMetacopyData(int dir_fd, const std::string& name,
                                                       const std::string& rel, off_t size) {
  // Where the data lives is given by the redirect of the file; a lower copy that is itself
  // metacopy (a committed snapshot mounted with metacopy) passes us on with its own redirect.
  auto next_path = [&](int fd_dir, const std::string& n, const std::string& cur,
                       std::string* path) -> absl::Status {
    std::string redirect;
    bool found = false;
    BERTH_RETURN_IF_ERROR(
        internal::GetXattrAt(fd_dir, n, kOverlayRedirectXattr, &redirect, &found));
    if (!found) {
      *path = cur;
    } else if (absl::StartsWith(redirect, "/")) {
      *path = redirect.substr(1);
    } else {
      const size_t s = cur.rfind('/');
      *path = Child(s == std::string::npos ? "" : cur.substr(0, s), redirect);
    }
    return absl::OkStatus();
  };
  std::string path;
  BERTH_RETURN_IF_ERROR(next_path(dir_fd, name, rel, &path));
  for (const UniqueFd& lower : lowers_) {
    absl::StatusOr<std::vector<std::string>> comps = internal::CleanEntryPath(path);
    if (!comps.ok() || comps->empty()) break;
    const std::string base = comps->back();
    absl::StatusOr<UniqueFd> parent =
        internal::OpenDirBeneath(lower.get(), internal::JoinComponents(*comps, comps->size() - 1));
    if (!parent.ok()) continue;
    UniqueFd fd(
        openat(parent->get(), base.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid()) continue;
    struct stat st;
    if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    std::string meta;
    bool is_meta = false;
    BERTH_RETURN_IF_ERROR(
        internal::GetXattrAt(parent->get(), base, kOverlayMetacopyXattr, &meta, &is_meta));
    if (is_meta) {
      const std::string cur = path;
      BERTH_RETURN_IF_ERROR(next_path(parent->get(), base, cur, &path));
      continue;
    }
    if (st.st_size != size) break;
    return fd;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      rel, ": overlay metacopy file whose data is in none of the lower dirs (looked for ", path,
      ")"));
}

absl::Status UpperWalker::Walk(int dir_fd, const std::string& rel) {
  BERTH_ASSIGN_OR_RETURN(const std::vector<std::string> names, internal::ListDirAt(dir_fd));
  for (const std::string& name : names) {
    const std::string child = Child(rel, name);
    struct stat st;
    bool exists = false;
    BERTH_RETURN_IF_ERROR(internal::StatAt(dir_fd, name, &st, &exists));
    if (!exists) continue;  // removed since the listing
    if (internal::IsOverlayWhiteout(st)) {
      BERTH_RETURN_IF_ERROR(emitter_.EmitWhiteout(rel, name, st));
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      std::string value;
      bool found = false;
      BERTH_RETURN_IF_ERROR(
          internal::GetXattrAt(dir_fd, name, kOverlayRedirectXattr, &value, &found));
      if (found) {
        return absl::FailedPreconditionError(absl::StrCat(
            child, ": directory renamed by overlayfs redirect_dir (trusted.overlay.redirect=",
            value, "); an upperdir diff cannot express it: mount with redirect_dir=off"));
      }
      BERTH_RETURN_IF_ERROR(
          internal::GetXattrAt(dir_fd, name, kOverlayOpaqueXattr, &value, &found));
      BERTH_RETURN_IF_ERROR(emitter_.Emit(dir_fd, name, child, st));
      if (found && value == "y") BERTH_RETURN_IF_ERROR(emitter_.EmitOpaque(child, st));
      BERTH_ASSIGN_OR_RETURN(UniqueFd sub, internal::OpenChildDir(dir_fd, name));
      BERTH_RETURN_IF_ERROR(Walk(sub.get(), child));
      continue;
    }
    if (S_ISREG(st.st_mode)) {
      std::string value;
      bool metacopy = false;
      BERTH_RETURN_IF_ERROR(
          internal::GetXattrAt(dir_fd, name, kOverlayMetacopyXattr, &value, &metacopy));
      if (metacopy) {
        BERTH_ASSIGN_OR_RETURN(UniqueFd data, OpenMetacopyData(dir_fd, name, child, st.st_size));
        BERTH_RETURN_IF_ERROR(emitter_.Emit(dir_fd, name, child, st, data.get()));
        continue;
      }
    }
    BERTH_RETURN_IF_ERROR(emitter_.Emit(dir_fd, name, child, st));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// DiffDirs: two plain trees.

class PairWalker {
 public:
  explicit PairWalker(TarEmitter& emitter) : emitter_(emitter) {}

  // Compares the directory `upper_fd` with `lower_fd` (-1: no such directory in the lower tree,
  // everything is new), both at `rel`.
  absl::Status Walk(int lower_fd, int upper_fd, const std::string& rel);

 private:
  // A directory of the upper tree that is written only if something below it is (or it
  // changed itself): Docker includes such parents so that their metadata is restored.
  struct Pending {
    int parent_fd;
    std::string name;
    std::string rel;
    struct stat st;
    bool emitted;
  };
  absl::Status EmitPending();
  absl::StatusOr<bool> Changed(int lower_fd, int upper_fd, const std::string& name,
                               const std::string& rel, const struct stat& l, const struct stat& u);

  TarEmitter& emitter_;
  std::vector<Pending> pending_;  // the upper directories on the current path
};

absl::Status PairWalker::EmitPending() {
  for (Pending& p : pending_) {
    if (p.emitted) continue;
    BERTH_RETURN_IF_ERROR(emitter_.Emit(p.parent_fd, p.name, p.rel, p.st));
    p.emitted = true;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> PairWalker::Changed(int lower_fd, int upper_fd, const std::string& name,
                                         const std::string& rel, const struct stat& l,
                                         const struct stat& u) {
  if (l.st_mode != u.st_mode || l.st_uid != u.st_uid || l.st_gid != u.st_gid) return true;
  if (!S_ISDIR(u.st_mode)) {
    // A directory's size and mtime change with its entries, which are compared one by one.
    if (l.st_size != u.st_size || l.st_mtim.tv_sec != u.st_mtim.tv_sec ||
        l.st_mtim.tv_nsec != u.st_mtim.tv_nsec) {
      return true;
    }
  }
  if ((S_ISCHR(u.st_mode) || S_ISBLK(u.st_mode)) && l.st_rdev != u.st_rdev) return true;
  if (S_ISLNK(u.st_mode)) {
    BERTH_ASSIGN_OR_RETURN(const std::string lt, ReadLinkAt(lower_fd, name, rel));
    BERTH_ASSIGN_OR_RETURN(const std::string ut, ReadLinkAt(upper_fd, name, rel));
    if (lt != ut) return true;
  }
  BERTH_ASSIGN_OR_RETURN(const Xattrs lx, LayerXattrs(lower_fd, name));
  BERTH_ASSIGN_OR_RETURN(const Xattrs ux, LayerXattrs(upper_fd, name));
  return lx != ux;
}

absl::Status PairWalker::Walk(int lower_fd, int upper_fd, const std::string& rel) {
  BERTH_ASSIGN_OR_RETURN(const std::vector<std::string> upper, internal::ListDirAt(upper_fd));
  std::vector<std::string> lower;
  if (lower_fd >= 0) {
    BERTH_ASSIGN_OR_RETURN(lower, internal::ListDirAt(lower_fd));
  }
  struct stat dir_st;
  if (fstat(upper_fd, &dir_st) != 0) return PathError(errno, "fstat", rel);

  // Both lists are sorted: merge them.
  size_t li = 0;
  size_t ui = 0;
  while (li < lower.size() || ui < upper.size()) {
    const bool take_lower = ui == upper.size() || (li < lower.size() && lower[li] < upper[ui]);
    const bool take_upper = li == lower.size() || (ui < upper.size() && upper[ui] < lower[li]);
    if (take_lower) {  // gone from the upper tree: a whiteout
      BERTH_RETURN_IF_ERROR(EmitPending());
      BERTH_RETURN_IF_ERROR(emitter_.EmitWhiteout(rel, lower[li], dir_st));
      ++li;
      continue;
    }
    const std::string& name = upper[ui];
    const bool in_lower = !take_upper;
    ++ui;
    if (in_lower) ++li;
    const std::string child = Child(rel, name);
    struct stat u;
    bool exists = false;
    BERTH_RETURN_IF_ERROR(internal::StatAt(upper_fd, name, &u, &exists));
    if (!exists) continue;
    struct stat l;
    bool lower_exists = false;
    if (in_lower) BERTH_RETURN_IF_ERROR(internal::StatAt(lower_fd, name, &l, &lower_exists));
    bool changed = true;
    if (lower_exists) {
      BERTH_ASSIGN_OR_RETURN(changed, Changed(lower_fd, upper_fd, name, child, l, u));
    }
    if (!S_ISDIR(u.st_mode)) {
      if (!changed) continue;
      BERTH_RETURN_IF_ERROR(EmitPending());
      BERTH_RETURN_IF_ERROR(emitter_.Emit(upper_fd, name, child, u));
      continue;
    }
    // A directory: written now if it is new or changed, else only if something below is.
    BERTH_ASSIGN_OR_RETURN(UniqueFd sub_upper, internal::OpenChildDir(upper_fd, name));
    UniqueFd sub_lower;
    if (lower_exists && S_ISDIR(l.st_mode)) {
      BERTH_ASSIGN_OR_RETURN(sub_lower, internal::OpenChildDir(lower_fd, name));
    }
    pending_.push_back(Pending{upper_fd, name, child, u, false});
    if (changed) BERTH_RETURN_IF_ERROR(EmitPending());
    const absl::Status s = Walk(sub_lower.valid() ? sub_lower.get() : -1, sub_upper.get(), child);
    pending_.pop_back();
    BERTH_RETURN_IF_ERROR(s);
  }
  return absl::OkStatus();
}

// Sets up the writer, runs `walk`, and collects the result.
absl::StatusOr<DiffResult> WriteLayer(const WriteFn& out, const DiffOptions& options,
                                      const std::function<absl::Status(TarEmitter&)>& walk) {
  std::optional<int> level = options.level;
  if (!level.has_value()) {
    if (options.compression == Compression::kGzip) level = kDefaultGzipLevel;
    if (options.compression == Compression::kZstd) level = kDefaultZstdLevel;
  }
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<LayerWriter> writer,
                         LayerWriter::Create(out, options.compression, level));
  TarEmitter emitter(*writer, options);
  BERTH_RETURN_IF_ERROR(walk(emitter));
  BERTH_ASSIGN_OR_RETURN(LayerWriter::Summary s, writer->Finish());
  DiffResult r{std::move(s.diff_id), s.uncompressed_size, std::move(s.digest), s.size};
  r.compression = options.compression;
  r.entries = emitter.entries();
  r.whiteouts = emitter.whiteouts();
  return r;
}

}  // namespace

absl::StatusOr<DiffResult> Diff(const std::vector<std::string>& lower_dirs,
                                const std::string& upper_dir, const WriteFn& out,
                                const DiffOptions& options) {
  BERTH_ASSIGN_OR_RETURN(UniqueFd upper, internal::OpenDirectory(upper_dir, "upper"));
  std::vector<UniqueFd> lowers;
  for (const std::string& dir : lower_dirs) {
    BERTH_ASSIGN_OR_RETURN(UniqueFd fd, internal::OpenDirectory(dir, "lower"));
    lowers.push_back(std::move(fd));
  }
  return WriteLayer(out, options, [&](TarEmitter& emitter) {
    UpperWalker walker(emitter, lowers);
    return walker.Walk(upper.get(), "");
  });
}

absl::StatusOr<DiffResult> DiffDirs(const std::string& lower_dir, const std::string& upper_dir,
                                    const WriteFn& out, const DiffOptions& options) {
  BERTH_ASSIGN_OR_RETURN(UniqueFd upper, internal::OpenDirectory(upper_dir, "upper"));
  UniqueFd lower;
  if (!lower_dir.empty()) {
    BERTH_ASSIGN_OR_RETURN(lower, internal::OpenDirectory(lower_dir, "lower"));
  }
  return WriteLayer(out, options, [&](TarEmitter& emitter) {
    PairWalker walker(emitter);
    return walker.Walk(lower.valid() ? lower.get() : -1, upper.get(), "");
  });
}

}  // namespace berth::containerd::diff
