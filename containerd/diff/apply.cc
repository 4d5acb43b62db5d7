#include "containerd/diff/apply.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status/status_macros.h"
#include "containerd/diff/archive_io.h"
#include "containerd/diff/fs_util.h"
#include "containerd/diff/whiteout.h"

namespace berth::containerd::diff {
namespace {

using internal::LayerReader;
using internal::PathError;
using internal::UniqueFd;

// A directory whose mode and times are set after the whole layer is written: creating entries
// in it would move its mtime again, and a read-only mode would stop an unprivileged caller from
// creating them at all.
struct DeferredDir {
  std::string rel;
  size_t depth = 0;
  mode_t mode = 0;
  struct timespec times[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
};

// Where a file's metadata is applied: through an fd when we hold one (regular files,
// directories), else by (parent fd, name) without following the name.
struct Target {
  int fd = -1;
  int parent = -1;
  const std::string* name = nullptr;
  bool is_symlink = false;
};

// atime/mtime from the entry, with nanoseconds when the tar has them (pax); a time the tar
// does not carry is left alone (UTIME_OMIT). atime defaults to mtime, as in Docker.
void EntryTimes(archive_entry* e, struct timespec ts[2]) {
  ts[1] = {0, UTIME_OMIT};
  if (archive_entry_mtime_is_set(e)) {
    ts[1].tv_sec = archive_entry_mtime(e);
    ts[1].tv_nsec = archive_entry_mtime_nsec(e);
  }
  ts[0] = ts[1];
  if (archive_entry_atime_is_set(e)) {
    ts[0].tv_sec = archive_entry_atime(e);
    ts[0].tv_nsec = archive_entry_atime_nsec(e);
  }
}

class Applier {
 public:
  Applier(int root_fd, const ApplyOptions& options, std::vector<UniqueFd> lowers)
      : root_(root_fd), options_(options), lowers_(std::move(lowers)) {}

  absl::Status ApplyEntry(archive_entry* e, LayerReader& reader);
  // Sets the deferred directory modes and times. Call once, after the last entry.
  absl::Status FinishDirs();

  // Counts for AppliedLayer (entries, whiteouts, skipped_*).
  struct Counts {
    uint64_t entries = 0;
    uint64_t whiteouts = 0;
    uint64_t skipped_devices = 0;
    uint64_t skipped_xattrs = 0;
  };
  const Counts& counts() const { return stats_; }

 private:
  // The directory holding comps[0..n), opened beneath the root without following symlinks;
  // missing directories are created (with metadata from the lower layers, see ApplyOptions).
  // The fd belongs to a one-entry cache (tar entries come grouped by directory) and stays valid
  // until the next call.
  absl::StatusOr<int> OpenParent(const std::vector<std::string>& comps, size_t n);
  absl::StatusOr<UniqueFd> CreateParents(const std::vector<std::string>& comps, size_t n);
  // Gives a directory this apply created implicitly the metadata of the same directory in the
  // topmost lower layer that has one.
  absl::Status InitImplicitDir(int parent, const std::string& name, const std::string& rel);

  absl::Status ApplyWhiteout(const std::vector<std::string>& comps, const std::string& base);
  absl::Status ApplyHardlink(int parent, const std::string& base, const std::string& rel,
                             const char* link);
  absl::Status WriteRegular(int parent, const std::string& base, const std::string& rel,
                            archive_entry* e, LayerReader& reader);
  absl::Status ApplyDirectory(int dir_fd, const std::string& rel, size_t depth, archive_entry* e);
  absl::Status SetOwnerModeXattrs(const Target& t, const std::string& rel, archive_entry* e,
                                  bool set_mode);
  absl::Status SetXattrs(const Target& t, const std::string& rel, archive_entry* e);
  absl::Status SetTimes(const Target& t, const std::string& rel, archive_entry* e);
  // Removes every entry below the directory `dir_fd` (at `rel`) that this layer did not create.
  absl::Status RemoveNotCreated(int dir_fd, const std::string& rel);
  // Records that this layer created `rel`, and that each of its ancestors has a descendant
  // from this layer, so no whiteout of this layer can hide any of them (layer.md: whiteouts
  // apply only to lower layers).
  void MarkCreated(const std::string& rel);
  void Defer(const std::string& rel, size_t depth, mode_t mode, const struct timespec ts[2]);

  const int root_;
  const ApplyOptions& options_;
  std::vector<UniqueFd> lowers_;
  std::string cached_rel_;
  UniqueFd cached_fd_;
  absl::flat_hash_set<std::string> created_;
  std::vector<DeferredDir> dirs_;
  absl::flat_hash_map<std::string, size_t> dir_index_;
  Counts stats_;
};

void Applier::MarkCreated(const std::string& rel) {
  if (!created_.insert(rel).second) return;
  std::string p = rel;
  for (size_t slash = p.rfind('/'); slash != std::string::npos; slash = p.rfind('/')) {
    p.resize(slash);
    if (!created_.insert(p).second) return;  // its ancestors are in already
  }
}

void Applier::Defer(const std::string& rel, size_t depth, mode_t mode,
                    const struct timespec ts[2]) {
  DeferredDir d{rel, depth, mode, {ts[0], ts[1]}};
  auto [it, inserted] = dir_index_.emplace(rel, dirs_.size());
  if (inserted) {
    dirs_.push_back(std::move(d));
  } else {
    dirs_[it->second] = std::move(d);  // a directory listed twice: the later entry wins
  }
}

absl::Status Applier::InitImplicitDir(int parent, const std::string& name, const std::string& rel) {
  struct stat st;
  bool have_lower = false;
  if (options_.overlay) {
    for (const UniqueFd& lower : lowers_) {
      absl::StatusOr<UniqueFd> fd = internal::OpenDirBeneath(lower.get(), rel);
      if (fd.ok()) {
        if (fstat(fd->get(), &st) != 0) return PathError(errno, "stat lower", rel);
        have_lower = true;
        break;
      }
      // Missing in this layer: look further down. Anything else (a file, a whiteout or a
      // symlink in the way) means the lower layers below are hidden here: stop.
      if (!absl::IsNotFound(fd.status())) break;
    }
  }
  struct timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
  mode_t mode = 0755;
  if (have_lower) {
    if (options_.preserve_ownership &&
        fchownat(parent, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) {
      return PathError(errno, "chown", rel);
    }
    mode = st.st_mode & 07777;
    ts[0] = st.st_atim;
    ts[1] = st.st_mtim;
  }
  const size_t depth = static_cast<size_t>(std::count(rel.begin(), rel.end(), '/')) + 1;
  Defer(rel, depth, mode, ts);
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> Applier::CreateParents(const std::vector<std::string>& comps, size_t n) {
  UniqueFd cur(fcntl(root_, F_DUPFD_CLOEXEC, 0));
  if (!cur.valid()) return absl::ErrnoToStatus(errno, "dup target fd");
  for (size_t i = 0; i < n; ++i) {
    absl::StatusOr<UniqueFd> next = internal::OpenChildDir(cur.get(), comps[i]);
    if (!next.ok() && absl::IsNotFound(next.status())) {
      const std::string rel = internal::JoinComponents(comps, i + 1);
      // 0700 until FinishDirs sets the real mode: nobody else needs in before that.
      if (mkdirat(cur.get(), comps[i].c_str(), 0700) != 0 && errno != EEXIST) {
        return PathError(errno, "mkdir", rel);
      }
      BERTH_RETURN_IF_ERROR(InitImplicitDir(cur.get(), comps[i], rel));
      MarkCreated(rel);
      next = internal::OpenChildDir(cur.get(), comps[i]);
    }
    if (!next.ok()) return next.status();
    cur = std::move(*next);
  }
  return cur;
}

absl::StatusOr<int> Applier::OpenParent(const std::vector<std::string>& comps, size_t n) {
  std::string rel = internal::JoinComponents(comps, n);
  if (cached_fd_.valid() && rel == cached_rel_) return cached_fd_.get();
  absl::StatusOr<UniqueFd> fd = internal::OpenDirBeneath(root_, rel);
  if (!fd.ok() && absl::IsNotFound(fd.status())) fd = CreateParents(comps, n);
  if (!fd.ok()) return fd.status();
  cached_fd_ = std::move(*fd);
  cached_rel_ = std::move(rel);
  return cached_fd_.get();
}

absl::Status Applier::SetXattrs(const Target& t, const std::string& rel, archive_entry* e) {
  if (archive_entry_xattr_reset(e) == 0) return absl::OkStatus();
  const std::string proc_path = t.fd >= 0 ? "" : internal::ProcPathAt(t.parent, *t.name);
  const char* key = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
    if (absl::StartsWith(key, "trusted.")) {
      ++stats_.skipped_xattrs;
      continue;
    }
    const int r = t.fd >= 0 ? fsetxattr(t.fd, key, value, size, 0)
                            : lsetxattr(proc_path.c_str(), key, value, size, 0);
    if (r == 0) continue;
    const int err = errno;
    // ENOTSUP: the file system has no xattrs (or not this namespace). EPERM: user.* on a
    // symlink or device, which the kernel never allows, or security.* for a caller that asked
    // not to act as root (preserve_ownership false). Neither is the layer's fault.
    if (err == ENOTSUP ||
        (err == EPERM && (!options_.preserve_ownership || absl::StartsWith(key, "user.")))) {
      ++stats_.skipped_xattrs;
      continue;
    }
    return PathError(err, absl::StrCat("set xattr ", key, " on"), rel);
  }
  return absl::OkStatus();
}

absl::Status Applier::SetOwnerModeXattrs(const Target& t, const std::string& rel, archive_entry* e,
                                         bool set_mode) {
  // Order matters: chown clears setuid/setgid bits and security.capability, so the mode and
  // xattrs come after it.
  if (options_.preserve_ownership) {
    const uid_t uid = static_cast<uid_t>(archive_entry_uid(e));
    const gid_t gid = static_cast<gid_t>(archive_entry_gid(e));
    const int r = t.fd >= 0 ? fchown(t.fd, uid, gid)
                            : fchownat(t.parent, t.name->c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
    if (r != 0) return PathError(errno, "chown", rel);
  }
  if (set_mode && !t.is_symlink) {
    const mode_t mode = archive_entry_perm(e) & 07777;
    // fchmodat without AT_SYMLINK_NOFOLLOW is safe here: the name is not a symlink (we just
    // created it as a fifo or device in a directory opened without following any).
    const int r = t.fd >= 0 ? fchmod(t.fd, mode) : fchmodat(t.parent, t.name->c_str(), mode, 0);
    if (r != 0) return PathError(errno, "chmod", rel);
  }
  return SetXattrs(t, rel, e);
}

absl::Status Applier::SetTimes(const Target& t, const std::string& rel, archive_entry* e) {
  struct timespec ts[2];
  EntryTimes(e, ts);
  const int r = t.fd >= 0 ? futimens(t.fd, ts)
                          : utimensat(t.parent, t.name->c_str(), ts, AT_SYMLINK_NOFOLLOW);
  if (r != 0) return PathError(errno, "set times of", rel);
  return absl::OkStatus();
}

absl::Status Applier::RemoveNotCreated(int dir_fd, const std::string& rel) {
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> names, internal::ListDirAt(dir_fd));
  for (const std::string& name : names) {
    const std::string child = rel.empty() ? name : absl::StrCat(rel, "/", name);
    if (!created_.contains(child)) {
      BERTH_RETURN_IF_ERROR(internal::RemoveAllAt(dir_fd, name));
      continue;
    }
    struct stat st;
    bool exists = false;
    BERTH_RETURN_IF_ERROR(internal::StatAt(dir_fd, name, &st, &exists));
    if (exists && S_ISDIR(st.st_mode)) {
      BERTH_ASSIGN_OR_RETURN(UniqueFd sub, internal::OpenChildDir(dir_fd, name));
      BERTH_RETURN_IF_ERROR(RemoveNotCreated(sub.get(), child));
    }
  }
  return absl::OkStatus();
}

absl::Status Applier::ApplyWhiteout(const std::vector<std::string>& comps,
                                    const std::string& base) {
  const size_t n = comps.size() - 1;
  const std::string dir_rel = internal::JoinComponents(comps, n);
  if (base == kOpaqueWhiteout) {
    ++stats_.whiteouts;
    int dir_fd = -1;
    if (options_.overlay) {
      // The directory must exist in the upperdir to carry the xattr (it hides the lower
      // layers' directory of the same path).
      BERTH_ASSIGN_OR_RETURN(dir_fd, OpenParent(comps, n));
      if (fsetxattr(dir_fd, kOverlayOpaqueXattr, "y", 1, 0) != 0) {
        return PathError(errno, "set trusted.overlay.opaque on", dir_rel);
      }
    } else {
      absl::StatusOr<UniqueFd> fd = internal::OpenDirBeneath(root_, dir_rel);
      if (absl::IsNotFound(fd.status())) return absl::OkStatus();  // nothing to hide
      if (!fd.ok()) return fd.status();
      cached_fd_ = std::move(*fd);
      cached_rel_ = dir_rel;
      dir_fd = cached_fd_.get();
    }
    // Whatever the target held in this directory before this layer is hidden now. In an
    // overlay upperdir that is normally nothing (a fresh snapshot), in a plain directory it is
    // the lower layers' content.
    return RemoveNotCreated(dir_fd, dir_rel);
  }
  if (absl::StartsWith(base, kWhiteoutMetaPrefix)) {
    return absl::OkStatus();  // AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): not a whiteout
  }
  const std::string name = base.substr(kWhiteoutPrefix.size());
  if (name.empty() || name == "." || name == "..") {
    return absl::FailedPreconditionError(absl::StrCat("invalid whiteout name \"", base, "\""));
  }
  ++stats_.whiteouts;
  const std::string victim = dir_rel.empty() ? name : absl::StrCat(dir_rel, "/", name);
  if (created_.contains(victim)) return absl::OkStatus();  // same-layer entries stay
  if (options_.overlay) {
    BERTH_ASSIGN_OR_RETURN(const int parent, OpenParent(comps, n));
    BERTH_RETURN_IF_ERROR(internal::RemoveAllAt(parent, name));
    if (mknodat(parent, name.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0) {
      return PathError(errno, "create overlay whiteout", victim);
    }
    return absl::OkStatus();
  }
  absl::StatusOr<UniqueFd> parent = internal::OpenDirBeneath(root_, dir_rel);
  if (absl::IsNotFound(parent.status())) return absl::OkStatus();  // nothing to delete
  if (!parent.ok()) return parent.status();
  return internal::RemoveAllAt(parent->get(), name);
}

absl::Status Applier::ApplyHardlink(int parent, const std::string& base, const std::string& rel,
                                    const char* link) {
  absl::StatusOr<std::vector<std::string>> target = internal::CleanEntryPath(link);
  if (!target.ok()) return Annotate(target.status(), "hardlink target");
  if (target->empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("hardlink ", rel, " -> \"", link, "\": target is the root directory"));
  }
  const std::string target_rel = internal::JoinComponents(*target);
  if (target_rel == rel) return absl::OkStatus();  // a link to itself: nothing to do
  const std::string& target_base = target->back();
  absl::StatusOr<UniqueFd> target_dir =
      internal::OpenDirBeneath(root_, internal::JoinComponents(*target, target->size() - 1));
  struct stat st;
  bool exists = false;
  if (target_dir.ok()) {
    BERTH_RETURN_IF_ERROR(internal::StatAt(target_dir->get(), target_base, &st, &exists));
  } else if (!absl::IsNotFound(target_dir.status())) {
    return Annotate(target_dir.status(), absl::StrCat("hardlink ", rel, " -> ", target_rel));
  }
  if (!exists) {
    return absl::FailedPreconditionError(absl::StrCat("hardlink ", rel, " -> ", target_rel,
                                                      ": target not found in the layer or target"));
  }
  if (S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("hardlink ", rel, " -> ", target_rel, ": target is a directory"));
  }
  BERTH_RETURN_IF_ERROR(internal::RemoveAllAt(parent, base));
  // Flags 0: if the target is a symlink, the new name links to the symlink itself.
  if (linkat(target_dir->get(), target_base.c_str(), parent, base.c_str(), 0) != 0) {
    return PathError(errno, absl::StrCat("link ", target_rel, " to"), rel);
  }
  MarkCreated(rel);
  return absl::OkStatus();
}

absl::Status Applier::WriteRegular(int parent, const std::string& base, const std::string& rel,
                                   archive_entry* e, LayerReader& reader) {
  // O_EXCL|O_NOFOLLOW: the old entry was removed just before, so anything found here now is
  // not ours to write through.
  UniqueFd fd(
      openat(parent, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return PathError(errno, "create", rel);
  for (;;) {
    const void* data = nullptr;
    size_t size = 0;
    int64_t offset = 0;
    BERTH_ASSIGN_OR_RETURN(const bool more, reader.ReadBlock(&data, &size, &offset));
    if (!more) break;
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t w = pwrite(fd.get(), p, size, offset);
      if (w < 0) {
        if (errno == EINTR) continue;
        return PathError(errno, "write", rel);
      }
      p += w;
      size -= static_cast<size_t>(w);
      offset += w;
    }
  }
  // Sparse entries may end in a hole, which writes never reach.
  if (archive_entry_size_is_set(e) && ftruncate(fd.get(), archive_entry_size(e)) != 0) {
    return PathError(errno, "truncate", rel);
  }
  const Target t{fd.get(), parent, &base, false};
  BERTH_RETURN_IF_ERROR(SetOwnerModeXattrs(t, rel, e, /*set_mode=*/true));
  return SetTimes(t, rel, e);
}

absl::Status Applier::ApplyDirectory(int dir_fd, const std::string& rel, size_t depth,
                                     archive_entry* e) {
  const Target t{dir_fd, -1, nullptr, false};
  BERTH_RETURN_IF_ERROR(SetOwnerModeXattrs(t, rel, e, /*set_mode=*/false));
  struct timespec ts[2];
  EntryTimes(e, ts);
  Defer(rel, depth, archive_entry_perm(e) & 07777, ts);
  return absl::OkStatus();
}

absl::Status Applier::ApplyEntry(archive_entry* e, LayerReader& reader) {
  ++stats_.entries;
  const char* raw = archive_entry_pathname(e);
  if (raw == nullptr) return absl::FailedPreconditionError("tar entry without a name");
  BERTH_ASSIGN_OR_RETURN(const std::vector<std::string> comps, internal::CleanEntryPath(raw));
  const mode_t type = archive_entry_filetype(e);
  const char* link = archive_entry_hardlink(e);
  if (comps.empty()) {
    // "./" or "/": the layer's root directory, i.e. the target itself: only its metadata.
    if (type != AE_IFDIR || link != nullptr) {
      return absl::FailedPreconditionError("entry for the root is not a directory");
    }
    return ApplyDirectory(root_, "", 0, e);
  }
  const std::string& base = comps.back();
  if (absl::StartsWith(base, kWhiteoutPrefix)) return ApplyWhiteout(comps, base);

  const std::string rel = internal::JoinComponents(comps);
  const bool is_device = link == nullptr && (type == AE_IFCHR || type == AE_IFBLK);
  if (is_device && !options_.allow_devices) {
    ++stats_.skipped_devices;
    return absl::OkStatus();
  }
  if (link == nullptr && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK &&
      type != AE_IFIFO && !is_device) {
    return absl::FailedPreconditionError(
        absl::StrFormat("unsupported tar entry type 0%o", static_cast<unsigned>(type)));
  }
  BERTH_ASSIGN_OR_RETURN(const int parent, OpenParent(comps, comps.size() - 1));
  if (link != nullptr) return ApplyHardlink(parent, base, rel, link);

  struct stat st;
  bool exists = false;
  BERTH_RETURN_IF_ERROR(internal::StatAt(parent, base, &st, &exists));
  // An existing entry is replaced, except a directory by a directory, which merges (Docker and
  // containerd do the same): a layer that adds one file to /etc must not empty /etc.
  if (exists && !(S_ISDIR(st.st_mode) && type == AE_IFDIR)) {
    BERTH_RETURN_IF_ERROR(internal::RemoveAllAt(parent, base));
  }
  MarkCreated(rel);
  const Target by_name{-1, parent, &base, type == AE_IFLNK};
  switch (type) {
    case AE_IFREG:
      return WriteRegular(parent, base, rel, e, reader);
    case AE_IFDIR: {
      if (!(exists && S_ISDIR(st.st_mode)) && mkdirat(parent, base.c_str(), 0700) != 0) {
        return PathError(errno, "mkdir", rel);
      }
      BERTH_ASSIGN_OR_RETURN(UniqueFd dir, internal::OpenChildDir(parent, base));
      return ApplyDirectory(dir.get(), rel, comps.size(), e);
    }
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(e);
      if (target == nullptr) return absl::FailedPreconditionError("symlink without a target");
      if (symlinkat(target, parent, base.c_str()) != 0) return PathError(errno, "symlink", rel);
      break;
    }
    default: {  // fifo or (allowed) device
      const dev_t dev =
          type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
      if (mknodat(parent, base.c_str(), type | 0600, dev) != 0) {
        return PathError(errno, "mknod", rel);
      }
      break;
    }
  }
  BERTH_RETURN_IF_ERROR(SetOwnerModeXattrs(by_name, rel, e, /*set_mode=*/true));
  return SetTimes(by_name, rel, e);
}

absl::Status Applier::FinishDirs() {
  cached_fd_.reset();
  // Deepest first, so that an unprivileged caller still gets through a directory whose final
  // mode denies it before it has finished with the directories below.
  std::stable_sort(dirs_.begin(), dirs_.end(),
                   [](const DeferredDir& a, const DeferredDir& b) { return a.depth > b.depth; });
  for (const DeferredDir& d : dirs_) {
    absl::StatusOr<UniqueFd> fd = internal::OpenDirBeneath(root_, d.rel);
    // Gone or replaced by a non-directory later in the layer (whiteout, replacement): the
    // metadata no longer has a directory to go to.
    if (absl::IsNotFound(fd.status()) || absl::IsFailedPrecondition(fd.status())) continue;
    if (!fd.ok()) return fd.status();
    if (fchmod(fd->get(), d.mode) != 0) return PathError(errno, "chmod", d.rel);
    if (futimens(fd->get(), d.times) != 0) return PathError(errno, "set times of", d.rel);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AppliedLayer> Apply(const ReadFn& layer, const std::string& target_dir,
                                   const ApplyOptions& options) {
  BERTH_ASSIGN_OR_RETURN(UniqueFd root, internal::OpenDirectory(target_dir, "target"));
  std::vector<UniqueFd> lowers;
  if (options.overlay) {
    for (const std::string& dir : options.lower_dirs) {
      BERTH_ASSIGN_OR_RETURN(UniqueFd fd, internal::OpenDirectory(dir, "lower"));
      lowers.push_back(std::move(fd));
    }
  }
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<LayerReader> reader, LayerReader::Create(layer));
  Applier applier(root.get(), options, std::move(lowers));
  for (;;) {
    BERTH_ASSIGN_OR_RETURN(archive_entry * entry, reader->Next());
    if (entry == nullptr) break;
    const char* name = archive_entry_pathname(entry);
    BERTH_RETURN_IF_ERROR(applier.ApplyEntry(entry, *reader),
                          absl::StrCat("entry \"", name != nullptr ? name : "", "\""));
  }
  BERTH_RETURN_IF_ERROR(applier.FinishDirs());
  BERTH_ASSIGN_OR_RETURN(LayerReader::Summary summary, reader->Finish());
  if (options.sync && syncfs(root.get()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("syncfs ", target_dir));
  }
  AppliedLayer out{std::move(summary.diff_id)};
  out.entries = applier.counts().entries;
  out.whiteouts = applier.counts().whiteouts;
  out.skipped_devices = applier.counts().skipped_devices;
  out.skipped_xattrs = applier.counts().skipped_xattrs;
  out.size = summary.size;
  out.compressed_size = summary.compressed_size;
  out.compression = summary.compression;
  return out;
}

absl::StatusOr<AppliedLayer> ApplyFd(int fd, const std::string& target_dir,
                                     const ApplyOptions& options) {
  return Apply(FdReader(fd), target_dir, options);
}

}  // namespace berth::containerd::diff
