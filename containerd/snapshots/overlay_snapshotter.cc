#include "containerd/snapshots/overlay_snapshotter.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"
#include "containerd/snapshots/disk_usage.h"
#include "common/mount/mount.h"
#include "glog/logging.h"

namespace berth::containerd::snapshots {
namespace {

using metadata::SnapshotKind;

// Names of the scratch entries Create makes in <root>/snapshots/overlayfs (and removes; a crash
// may leave them, and the next Create removes those).
constexpr char kProbePrefix[] = "probe-";
constexpr char kDtypePrefix[] = "dtype-";

// statfs(2) f_type of overlayfs (linux/magic.h OVERLAYFS_SUPER_MAGIC).
constexpr int64_t kOverlayfsMagic = 0x794c7630;

Kind ToKind(SnapshotKind kind) {
  switch (kind) {
    case SnapshotKind::kView:
      return Kind::kView;
    case SnapshotKind::kActive:
      return Kind::kActive;
    case SnapshotKind::kCommitted:
      return Kind::kCommitted;
  }
  return Kind::kActive;
}

Info ToInfo(const metadata::Snapshot& s) {
  Info info;
  info.name = s.name;
  info.parent = s.parent;
  info.kind = ToKind(s.kind);
  info.labels = s.labels;
  info.created_at = s.created_at;
  info.updated_at = s.updated_at;
  return info;
}

std::string Quote(absl::string_view s) { return absl::StrCat("\"", s, "\""); }

absl::Status FsyncDir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", dir));
  const int rc = fsync(fd);
  const int err = errno;
  close(fd);
  if (rc != 0) return absl::ErrnoToStatus(err, absl::StrCat("fsync ", dir));
  return absl::OkStatus();
}

absl::Status MakeDir(const std::string& path, mode_t mode) {
  if (mkdir(path.c_str(), mode) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("mkdir ", path));
  }
  // mkdir applies the umask; the modes here are part of the on-disk format.
  if (chmod(path.c_str(), mode) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("chmod ", path));
  }
  return absl::OkStatus();
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

}  // namespace

OverlaySnapshotter::OverlaySnapshotter(metadata::Store* store, OverlaySnapshotterOptions options)
    : store_(store),
      options_(std::move(options)),
      base_dir_(absl::StrCat(options_.root, "/snapshots/overlayfs")),
      snapshots_dir_(absl::StrCat(base_dir_, "/snapshots")),
      trash_dir_(absl::StrCat(base_dir_, "/trash")) {}

absl::StatusOr<std::unique_ptr<OverlaySnapshotter>> OverlaySnapshotter::Create(
    metadata::Store* store, OverlaySnapshotterOptions options) {
  if (store == nullptr) return absl::InvalidArgumentError("overlay snapshotter needs a store");
  if (options.root.empty() || options.root[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("snapshotter root ", Quote(options.root), " must be an absolute path"));
  }
  while (options.root.size() > 1 && options.root.back() == '/') options.root.pop_back();
  std::unique_ptr<OverlaySnapshotter> s(new OverlaySnapshotter(store, std::move(options)));
  BERTH_RETURN_IF_ERROR(fs::MakeDirs(s->snapshots_dir_, 0700));
  BERTH_RETURN_IF_ERROR(fs::MakeDirs(s->trash_dir_, 0700));
  BERTH_RETURN_IF_ERROR(s->RemoveCheckLeftovers());
  BERTH_RETURN_IF_ERROR(s->CheckFileSystem());
  BERTH_RETURN_IF_ERROR(s->ProbeOverlayMount());
  BERTH_RETURN_IF_ERROR(s->RestoreMissingDirs(), "restore snapshot directories");
  LOG(INFO) << "snapshotter ready name=" << kName << " dir=" << s->base_dir_;
  return s;
}

absl::Status OverlaySnapshotter::RemoveCheckLeftovers() {
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(base_dir_));
  for (const std::string& name : names) {
    if (absl::StartsWith(name, kProbePrefix) || absl::StartsWith(name, kDtypePrefix)) {
      BERTH_RETURN_IF_ERROR(fs::RemoveAll(absl::StrCat(base_dir_, "/", name)));
    }
  }
  return absl::OkStatus();
}

absl::Status OverlaySnapshotter::CheckFileSystem() {
  struct statfs sfs;
  if (statfs(snapshots_dir_.c_str(), &sfs) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("statfs ", snapshots_dir_));
  }
  if (static_cast<int64_t>(sfs.f_type) == kOverlayfsMagic) {
    return absl::FailedPreconditionError(absl::StrCat(
        "snapshot directory ", snapshots_dir_,
        " is on overlayfs, which cannot hold overlay upper dirs: put berth-containerd's root on "
        "ext4, xfs or btrfs (in a container, on a volume)"));
  }
  // overlayfs needs d_type to find whiteouts (xfs formatted with ftype=0 lacks it).
  std::string probe = absl::StrCat(base_dir_, "/", kDtypePrefix, "XXXXXX");
  const int fd = mkstemp(probe.data());
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("create file in ", base_dir_));
  close(fd);
  absl::Cleanup remove_probe = [&probe] { unlink(probe.c_str()); };
  const std::string probe_name = probe.substr(base_dir_.size() + 1);
  DIR* d = opendir(base_dir_.c_str());
  if (d == nullptr) return absl::ErrnoToStatus(errno, absl::StrCat("open ", base_dir_));
  unsigned char type = DT_UNKNOWN;
  while (struct dirent* e = readdir(d)) {
    if (probe_name == e->d_name) type = e->d_type;
  }
  closedir(d);
  if (type == DT_UNKNOWN) {
    return absl::FailedPreconditionError(
        absl::StrCat("the file system of ", base_dir_,
                     " does not report file types in directory entries (d_type), which overlayfs "
                     "needs (for xfs: mkfs.xfs -n ftype=1)"));
  }
  return absl::OkStatus();
}

absl::Status OverlaySnapshotter::ProbeOverlayMount() {
  if (!options_.probe_mount || geteuid() != 0) return absl::OkStatus();
  std::string dir = absl::StrCat(base_dir_, "/", kProbePrefix, "XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrCat("create probe directory in ", base_dir_));
  }
  absl::Cleanup remove_dir = [&dir] {
    if (absl::Status s = fs::RemoveAll(dir); !s.ok()) LOG(WARNING) << "remove probe: " << s;
  };
  for (const char* sub : {"l1", "l2", "u", "w", "m"}) {
    BERTH_RETURN_IF_ERROR(MakeDir(absl::StrCat(dir, "/", sub), 0700));
  }
  const Mount probe{"overlay",
                    "overlay",
                    "",
                    {absl::StrCat("lowerdir=", dir, "/l1:", dir, "/l2"),
                     absl::StrCat("upperdir=", dir, "/u"), absl::StrCat("workdir=", dir, "/w")}};
  const std::string target = absl::StrCat(dir, "/m");
  if (absl::Status s = mount_util::MountAll({probe}, target); !s.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("overlayfs does not work on ", base_dir_, ": ", s.message()));
  }
  return mount_util::UnmountAll(target, MNT_DETACH);
}

absl::Status OverlaySnapshotter::RestoreMissingDirs() {
  struct Entry {
    metadata::Snapshot snapshot;
    std::string ns;
    std::optional<int64_t> parent_id;
  };
  auto load = [&](metadata::Transaction& tx) -> absl::StatusOr<std::vector<Entry>> {
    std::vector<Entry> out;
    BERTH_ASSIGN_OR_RETURN(std::vector<metadata::Namespace> namespaces, tx.ListNamespaces());
    for (const metadata::Namespace& ns : namespaces) {
      BERTH_ASSIGN_OR_RETURN(std::vector<metadata::Snapshot> list,
                             tx.ListSnapshots(ns.name, kName));
      absl::flat_hash_map<std::string, int64_t> ids;
      for (const metadata::Snapshot& s : list) ids[s.name] = s.id;
      for (metadata::Snapshot& s : list) {
        std::optional<int64_t> parent;
        if (auto it = ids.find(s.parent); it != ids.end()) parent = it->second;
        out.push_back({std::move(s), ns.name, parent});
      }
    }
    return out;
  };
  BERTH_ASSIGN_OR_RETURN(std::vector<Entry> all, store_->WithReadTransaction(load));
  for (const Entry& e : all) {
    const std::string dir = SnapshotDir(e.snapshot.id);
    const bool active = e.snapshot.kind == SnapshotKind::kActive;
    if (Exists(dir + "/fs")) {
      // Only the work dir is missing: overlayfs empties it on every mount anyway.
      if (active && !Exists(dir + "/work")) {
        LOG(WARNING) << "snapshot work directory missing, made again: namespace=" << e.ns
                     << " key=" << e.snapshot.name << " id=" << e.snapshot.id;
        BERTH_RETURN_IF_ERROR(MakeDir(dir + "/work", 0700));
      }
      continue;
    }
    if (e.snapshot.kind == SnapshotKind::kCommitted) {
      LOG(ERROR) << "committed snapshot lost its directory, snapshots on it cannot be mounted: "
                 << "namespace=" << e.ns << " name=" << e.snapshot.name << " id=" << e.snapshot.id
                 << " dir=" << dir;
      continue;
    }
    LOG(WARNING) << "snapshot directory missing, made again empty: namespace=" << e.ns
                 << " key=" << e.snapshot.name << " id=" << e.snapshot.id;
    BERTH_RETURN_IF_ERROR(MakeSnapshotDirs(e.snapshot.id, e.snapshot.kind, e.parent_id),
                          absl::StrCat("snapshot ", Quote(e.snapshot.name)));
  }
  return absl::OkStatus();
}

absl::StatusOr<DiskUsage> OverlaySnapshotter::MeasureFs(int64_t id) const {
  absl::StatusOr<DiskUsage> usage = DirDiskUsage(SnapshotDir(id) + "/fs");
  if (absl::IsNotFound(usage.status())) {
    // The record exists, so NotFound would mislead: the data is gone.
    return absl::DataLossError(usage.status().message());
  }
  return usage;
}

std::string OverlaySnapshotter::SnapshotDir(int64_t id) const {
  return absl::StrCat(snapshots_dir_, "/", id);
}

absl::Status OverlaySnapshotter::MakeSnapshotDirs(int64_t id, SnapshotKind kind,
                                                  std::optional<int64_t> parent_id) {
  const std::string dir = SnapshotDir(id);
  if (Exists(dir)) {
    // Left by a creation whose transaction never committed (a crash): SQLite hands the id out
    // again, so the directory never held anything a caller saw. Never adopt it.
    LOG(WARNING) << "removing stale snapshot directory " << dir;
    BERTH_ASSIGN_OR_RETURN(std::string entry, MoveToTrash(std::to_string(id)));
    if (!entry.empty()) {
      if (absl::Status s = DeleteClaimedTrash(entry); !s.ok()) {
        LOG(WARNING) << "stale snapshot directory left in trash for Cleanup: " << s;
      }
    }
  }
  BERTH_RETURN_IF_ERROR(MakeDir(dir, 0700));
  absl::Cleanup undo = [&dir] {
    if (absl::Status s = fs::RemoveAll(dir); !s.ok()) LOG(WARNING) << s;
  };
  const std::string fs_dir = dir + "/fs";
  BERTH_RETURN_IF_ERROR(MakeDir(fs_dir, 0755));
  if (parent_id) {
    // The upper dir's root attributes are what the merged root shows: keep the parent's.
    const std::string parent_fs = SnapshotDir(*parent_id) + "/fs";
    struct stat st;
    if (stat(parent_fs.c_str(), &st) != 0) {
      if (errno == ENOENT) {
        return absl::DataLossError(absl::StrCat("directory of the parent snapshot (id ", *parent_id,
                                                ") is missing: ", parent_fs));
      }
      return absl::ErrnoToStatus(errno, absl::StrCat("stat ", parent_fs));
    }
    if (chown(fs_dir.c_str(), st.st_uid, st.st_gid) != 0 ||
        chmod(fs_dir.c_str(), st.st_mode & 07777) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("copy owner and mode to ", fs_dir));
    }
  }
  if (kind == SnapshotKind::kActive) BERTH_RETURN_IF_ERROR(MakeDir(dir + "/work", 0700));
  // Durable before the record is: a record must never outlive its directory.
  BERTH_RETURN_IF_ERROR(FsyncDir(dir));
  BERTH_RETURN_IF_ERROR(FsyncDir(snapshots_dir_));
  std::move(undo).Cancel();
  return absl::OkStatus();
}

std::vector<Mount> OverlaySnapshotter::MountsFor(SnapshotKind kind,
                                                 const std::vector<int64_t>& chain) const {
  auto fs_of = [this](int64_t id) { return SnapshotDir(id) + "/fs"; };
  const int64_t self = chain.front();
  std::vector<std::string> lowers;
  for (size_t i = 1; i < chain.size(); ++i) lowers.push_back(fs_of(chain[i]));
  const std::string lowerdir = absl::StrCat("lowerdir=", absl::StrJoin(lowers, ":"));
  if (kind == SnapshotKind::kActive) {
    if (lowers.empty()) return {Mount{"bind", fs_of(self), "", {"rw", "rbind"}}};
    return {Mount{"overlay",
                  "overlay",
                  "",
                  {lowerdir, absl::StrCat("upperdir=", fs_of(self)),
                   absl::StrCat("workdir=", SnapshotDir(self), "/work")}}};
  }
  if (lowers.empty()) return {Mount{"bind", fs_of(self), "", {"ro", "rbind"}}};
  if (lowers.size() == 1) return {Mount{"bind", lowers[0], "", {"ro", "rbind"}}};
  return {Mount{"overlay", "overlay", "", {"ro", lowerdir}}};
}

absl::StatusOr<std::vector<Mount>> OverlaySnapshotter::CreateSnapshot(SnapshotKind kind,
                                                                      absl::string_view ns,
                                                                      absl::string_view key,
                                                                      absl::string_view parent,
                                                                      const Labels& labels) {
  std::optional<int64_t> made;  // the id whose directories exist, to undo on failure
  absl::StatusOr<std::vector<Mount>> mounts =
      store_->WithTransaction([&](metadata::Transaction& tx) -> absl::StatusOr<std::vector<Mount>> {
        metadata::Snapshot record;
        record.name = std::string(key);
        record.parent = std::string(parent);
        record.kind = kind;
        record.labels = labels;
        BERTH_ASSIGN_OR_RETURN(metadata::Snapshot s, tx.CreateSnapshot(ns, kName, record));
        BERTH_ASSIGN_OR_RETURN(std::vector<int64_t> chain, tx.SnapshotChainIds(ns, kName, key));
        std::optional<int64_t> parent_id;
        if (chain.size() > 1) parent_id = chain[1];
        BERTH_RETURN_IF_ERROR(MakeSnapshotDirs(s.id, kind, parent_id));
        made = s.id;
        if (options_.before_commit_for_testing) options_.before_commit_for_testing(s.id);
        return MountsFor(kind, chain);
      });
  if (!mounts.ok() && made) {
    // The record was rolled back (or never committed): its directories must go too.
    absl::StatusOr<std::string> entry = MoveToTrash(std::to_string(*made));
    absl::Status s = entry.status();
    if (entry.ok() && !entry->empty()) s = DeleteClaimedTrash(*entry);
    if (!s.ok()) LOG(WARNING) << "directory of a failed snapshot creation left for Cleanup: " << s;
  }
  if (mounts.ok()) {
    VLOG(1) << "snapshot created namespace=" << ns << " key=" << key
            << " kind=" << metadata::SnapshotKindName(kind) << " parent=" << parent
            << " id=" << *made;
  }
  return mounts;
}

absl::StatusOr<std::vector<Mount>> OverlaySnapshotter::Prepare(absl::string_view ns,
                                                               absl::string_view key,
                                                               absl::string_view parent,
                                                               const Labels& labels) {
  return CreateSnapshot(SnapshotKind::kActive, ns, key, parent, labels);
}

absl::StatusOr<std::vector<Mount>> OverlaySnapshotter::View(absl::string_view ns,
                                                            absl::string_view key,
                                                            absl::string_view parent,
                                                            const Labels& labels) {
  return CreateSnapshot(SnapshotKind::kView, ns, key, parent, labels);
}

absl::StatusOr<std::vector<Mount>> OverlaySnapshotter::Mounts(absl::string_view ns,
                                                              absl::string_view key) {
  return store_->WithReadTransaction(
      [&](metadata::Transaction& tx) -> absl::StatusOr<std::vector<Mount>> {
        BERTH_ASSIGN_OR_RETURN(metadata::Snapshot s, tx.GetSnapshot(ns, kName, key));
        if (s.kind == SnapshotKind::kCommitted) {
          return absl::FailedPreconditionError(
              absl::StrCat("snapshot ", Quote(key),
                           " is committed: prepare or view a snapshot on top of it to mount it"));
        }
        BERTH_ASSIGN_OR_RETURN(std::vector<int64_t> chain, tx.SnapshotChainIds(ns, kName, key));
        return MountsFor(s.kind, chain);
      });
}

absl::Status OverlaySnapshotter::Commit(absl::string_view ns, absl::string_view name,
                                        absl::string_view key, const Labels& labels) {
  BERTH_ASSIGN_OR_RETURN(metadata::Snapshot active,
                         store_->WithReadTransaction([&](metadata::Transaction& tx) {
                           return tx.GetSnapshot(ns, kName, key);
                         }));
  // Measured outside the write lock: the snapshot is no longer written to (its mounts are gone, as
  // Commit requires), so the number stays true.
  std::optional<DiskUsage> usage;
  if (active.kind == SnapshotKind::kActive) {
    BERTH_ASSIGN_OR_RETURN(usage, MeasureFs(active.id),
                           absl::StrCat("commit ", Quote(key), ": measure disk usage"));
  }
  BERTH_RETURN_IF_ERROR(store_->WithTransaction([&](metadata::Transaction& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(metadata::Snapshot committed,
                           tx.CommitSnapshot(ns, kName, key, name, labels));
    if (usage && committed.id == active.id) {
      BERTH_RETURN_IF_ERROR(tx.SetSnapshotUsage(ns, kName, name, {usage->size, usage->inodes}));
    }
    return absl::OkStatus();
  }));
  VLOG(1) << "snapshot committed namespace=" << ns << " key=" << key << " name=" << name
          << " id=" << active.id;
  return absl::OkStatus();
}

absl::Status OverlaySnapshotter::Remove(absl::string_view ns, absl::string_view key) {
  BERTH_ASSIGN_OR_RETURN(metadata::Snapshot removed,
                         store_->WithTransaction([&](metadata::Transaction& tx) {
                           return tx.RemoveSnapshot(ns, kName, key);
                         }));
  // The record is gone for good; from here on failures only leave an orphan for Cleanup.
  absl::StatusOr<std::string> entry = MoveToTrash(std::to_string(removed.id));
  absl::Status s = entry.status();
  if (entry.ok() && !entry->empty()) s = DeleteClaimedTrash(*entry);
  if (!s.ok()) {
    LOG(WARNING) << "snapshot removed but its directory is left for Cleanup: namespace=" << ns
                 << " key=" << key << " id=" << removed.id << ": " << s;
  }
  VLOG(1) << "snapshot removed namespace=" << ns << " key=" << key << " id=" << removed.id;
  return absl::OkStatus();
}

absl::StatusOr<Info> OverlaySnapshotter::Stat(absl::string_view ns, absl::string_view key) {
  BERTH_ASSIGN_OR_RETURN(metadata::Snapshot s,
                         store_->WithReadTransaction([&](metadata::Transaction& tx) {
                           return tx.GetSnapshot(ns, kName, key);
                         }));
  return ToInfo(s);
}

absl::StatusOr<int64_t> OverlaySnapshotter::SnapshotId(absl::string_view ns,
                                                       absl::string_view key) {
  BERTH_ASSIGN_OR_RETURN(metadata::Snapshot s,
                         store_->WithReadTransaction([&](metadata::Transaction& tx) {
                           return tx.GetSnapshot(ns, kName, key);
                         }));
  return s.id;
}

absl::StatusOr<Info> OverlaySnapshotter::Update(absl::string_view ns, const Info& info,
                                                std::vector<std::string> paths) {
  metadata::Snapshot record;
  record.name = info.name;
  record.labels = info.labels;
  BERTH_ASSIGN_OR_RETURN(metadata::Snapshot s,
                         store_->WithTransaction([&](metadata::Transaction& tx) {
                           return tx.UpdateSnapshot(ns, kName, record, std::move(paths));
                         }));
  return ToInfo(s);
}

absl::StatusOr<DiskUsage> OverlaySnapshotter::Usage(absl::string_view ns, absl::string_view key) {
  BERTH_ASSIGN_OR_RETURN(metadata::Snapshot s,
                         store_->WithReadTransaction([&](metadata::Transaction& tx) {
                           return tx.GetSnapshot(ns, kName, key);
                         }));
  const bool committed = s.kind == SnapshotKind::kCommitted;
  if (committed && s.usage) return DiskUsage{s.usage->size, s.usage->inodes};
  BERTH_ASSIGN_OR_RETURN(DiskUsage usage, MeasureFs(s.id),
                         absl::StrCat("usage of snapshot ", Quote(key)));
  if (committed) {
    // A committed snapshot never changes: remember the answer (it was missing, e.g. the record
    // predates usage caching).
    absl::Status cached = store_->WithTransaction([&](metadata::Transaction& tx) -> absl::Status {
      BERTH_ASSIGN_OR_RETURN(metadata::Snapshot now, tx.GetSnapshot(ns, kName, key));
      if (now.id != s.id) return absl::OkStatus();  // replaced meanwhile
      return tx.SetSnapshotUsage(ns, kName, key, {usage.size, usage.inodes});
    });
    if (!cached.ok()) LOG(WARNING) << "cache usage of snapshot " << key << ": " << cached;
  }
  return usage;
}

absl::StatusOr<std::vector<Info>> OverlaySnapshotter::List(
    absl::string_view ns, const std::function<bool(const Info&)>& filter) {
  BERTH_ASSIGN_OR_RETURN(std::vector<metadata::Snapshot> list,
                         store_->WithReadTransaction([&](metadata::Transaction& tx) {
                           return tx.ListSnapshots(ns, kName);
                         }));
  std::vector<Info> out;
  out.reserve(list.size());
  for (const metadata::Snapshot& s : list) {
    Info info = ToInfo(s);
    if (!filter || filter(info)) out.push_back(std::move(info));
  }
  return out;
}

absl::Status OverlaySnapshotter::Walk(absl::string_view ns,
                                      const std::function<absl::Status(const Info&)>& fn) {
  // Listed first, outside any transaction, so fn may call back into the snapshotter.
  BERTH_ASSIGN_OR_RETURN(std::vector<Info> list, List(ns));
  for (const Info& info : list) BERTH_RETURN_IF_ERROR(fn(info));
  return absl::OkStatus();
}

absl::StatusOr<std::string> OverlaySnapshotter::MoveToTrash(const std::string& name) {
  const std::string from = absl::StrCat(snapshots_dir_, "/", name);
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string entry;
    {
      absl::MutexLock lock(&trash_mu_);
      entry =
          absl::StrCat(name, "-", absl::Hex(absl::ToUnixNanos(absl::Now())), "-", ++trash_counter_);
      if (!trash_busy_.insert(entry).second) continue;
    }
    const std::string to = absl::StrCat(trash_dir_, "/", entry);
    if (renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
      return entry;  // claimed by the caller until DeleteClaimedTrash
    }
    const int err = errno;
    {
      absl::MutexLock lock(&trash_mu_);
      trash_busy_.erase(entry);
    }
    if (err == EEXIST) continue;              // a leftover of an earlier run has this name
    if (err == ENOENT) return std::string();  // already moved (by Cleanup) or never made
    return absl::ErrnoToStatus(err, absl::StrCat("move ", from, " to ", to));
  }
  return absl::InternalError(absl::StrCat("no free trash name for ", from));
}

bool OverlaySnapshotter::ClaimTrash(const std::string& entry) {
  absl::MutexLock lock(&trash_mu_);
  return trash_busy_.insert(entry).second;
}

absl::Status OverlaySnapshotter::DeleteClaimedTrash(const std::string& entry) {
  absl::Status s = fs::RemoveAll(absl::StrCat(trash_dir_, "/", entry));
  absl::MutexLock lock(&trash_mu_);
  trash_busy_.erase(entry);
  return s;
}

absl::Status OverlaySnapshotter::Cleanup() {
  std::vector<std::string> moved;
  // A write transaction, though it writes nothing: holding the writer lock means no creation is
  // between "directory made" and "record committed", so every directory without a record really is
  // an orphan.
  BERTH_RETURN_IF_ERROR(store_->WithTransaction([&](metadata::Transaction& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(std::vector<int64_t> ids, tx.ListAllSnapshotIds(kName));
    absl::flat_hash_set<std::string> keep;
    for (int64_t id : ids) keep.insert(std::to_string(id));
    BERTH_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(snapshots_dir_));
    for (const std::string& name : names) {
      if (keep.contains(name)) continue;
      BERTH_ASSIGN_OR_RETURN(std::string entry, MoveToTrash(name));
      if (!entry.empty()) moved.push_back(std::move(entry));
    }
    return absl::OkStatus();
  }),
                        "cleanup");
  absl::Status first;
  for (const std::string& entry : moved) first.Update(DeleteClaimedTrash(entry));
  // Whatever else is in the trash was left by failed or interrupted deletions.
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> leftovers, fs::ListDir(trash_dir_), "cleanup");
  int removed_leftovers = 0;
  const absl::flat_hash_set<std::string> tried(moved.begin(), moved.end());
  for (const std::string& entry : leftovers) {
    if (tried.contains(entry)) continue;
    if (!ClaimTrash(entry)) continue;  // being deleted by someone else right now
    absl::Status s = DeleteClaimedTrash(entry);
    if (s.ok()) ++removed_leftovers;
    first.Update(s);
  }
  if (!moved.empty() || removed_leftovers > 0) {
    LOG(INFO) << "snapshot cleanup name=" << kName << " orphans=" << moved.size()
              << " trash_leftovers=" << removed_leftovers;
  }
  return Annotate(first, "cleanup");
}

}  // namespace berth::containerd::snapshots
