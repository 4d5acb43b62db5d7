#include "runc/cgroups/fake_cgroupfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace berth::runc::cgroups::testing {
namespace {

int WriteWhole(const std::string& path, absl::string_view content, bool create) {
  int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
  if (fd < 0) return errno;
  ssize_t n = write(fd, content.data(), content.size());
  int err = n < 0 ? errno : 0;
  close(fd);
  return err;
}

constexpr char kUnlimitedV1[] = "9223372036854771712";

}  // namespace

absl::StatusOr<std::unique_ptr<FakeCgroupFs>> FakeCgroupFs::Create() {
  absl::StatusOr<berth::testing::TempDir> dir = berth::testing::TempDir::Create();
  if (!dir.ok()) return dir.status();
  return std::unique_ptr<FakeCgroupFs>(new FakeCgroupFs(std::move(*dir)));
}

absl::Status FakeCgroupFs::AddHierarchy(const std::string& mount_point, FileMap files,
                                        FileMap root_files) {
  std::string abs = absl::StrCat(root(), mount_point);
  std::string cur = root();
  for (absl::string_view part : absl::StrSplit(mount_point, '/', absl::SkipEmpty())) {
    cur = absl::StrCat(cur, "/", part);
    if (mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno, absl::StrCat("mkdir ", cur));
    }
  }
  FileMap all = files;
  for (const auto& [name, content] : root_files) all[name] = content;
  for (const auto& [name, content] : all) {
    if (int err = WriteWhole(absl::StrCat(abs, "/", name), content, true); err != 0) {
      return absl::ErrnoToStatus(err, absl::StrCat("create ", abs, "/", name));
    }
  }
  hierarchies_.push_back(Hierarchy{abs, std::move(files)});
  return absl::OkStatus();
}

FileMap FakeCgroupFs::V1Files(absl::string_view controllers) {
  FileMap f = {{"cgroup.procs", ""},
               {"tasks", ""},
               {"cgroup.clone_children", "0\n"},
               {"notify_on_release", "0\n"}};
  for (absl::string_view c : absl::StrSplit(controllers, ',')) {
    if (c == "cpu") {
      f.insert({{"cpu.shares", "1024\n"},
                {"cpu.cfs_period_us", "100000\n"},
                {"cpu.cfs_quota_us", "-1\n"},
                {"cpu.cfs_burst_us", "0\n"},
                {"cpu.rt_period_us", "1000000\n"},
                {"cpu.rt_runtime_us", "0\n"},
                {"cpu.idle", "0\n"},
                {"cpu.stat", "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n"}});
    } else if (c == "cpuacct") {
      f.insert({{"cpuacct.usage", "0\n"},
                {"cpuacct.usage_percpu", "0 0 \n"},
                {"cpuacct.stat", "user 0\nsystem 0\n"}});
    } else if (c == "cpuset") {
      f.insert({{"cpuset.cpus", "\n"}, {"cpuset.mems", "\n"}});
    } else if (c == "memory") {
      f.insert({{"memory.limit_in_bytes", absl::StrCat(kUnlimitedV1, "\n")},
                {"memory.soft_limit_in_bytes", absl::StrCat(kUnlimitedV1, "\n")},
                {"memory.memsw.limit_in_bytes", absl::StrCat(kUnlimitedV1, "\n")},
                {"memory.kmem.limit_in_bytes", absl::StrCat(kUnlimitedV1, "\n")},
                {"memory.kmem.tcp.limit_in_bytes", absl::StrCat(kUnlimitedV1, "\n")},
                {"memory.usage_in_bytes", "0\n"},
                {"memory.max_usage_in_bytes", "0\n"},
                {"memory.memsw.usage_in_bytes", "0\n"},
                {"memory.failcnt", "0\n"},
                {"memory.swappiness", "60\n"},
                {"memory.use_hierarchy", "1\n"},
                {"memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"},
                {"memory.stat", "cache 0\nrss 0\nswap 0\n"}});
    } else if (c == "devices") {
      f.insert({{"devices.allow", ""}, {"devices.deny", ""}, {"devices.list", "a *:* rwm\n"}});
    } else if (c == "freezer") {
      f.insert({{"freezer.state", "THAWED\n"}});
    } else if (c == "blkio") {
      // This VM's kernel: BFQ statistics and throttling, but no weight files.
      for (const char* name :
           {"blkio.bfq.io_service_bytes", "blkio.bfq.io_service_bytes_recursive",
            "blkio.bfq.io_serviced", "blkio.bfq.io_serviced_recursive",
            "blkio.throttle.io_service_bytes", "blkio.throttle.io_service_bytes_recursive",
            "blkio.throttle.io_serviced", "blkio.throttle.io_serviced_recursive",
            "blkio.throttle.read_bps_device", "blkio.throttle.read_iops_device",
            "blkio.throttle.write_bps_device", "blkio.throttle.write_iops_device",
            "blkio.reset_stats"}) {
        f.insert({name, ""});
      }
    } else if (c == "pids") {
      f.insert({{"pids.max", "max\n"}, {"pids.current", "0\n"}});
    } else if (c == "hugetlb") {
      f.insert({{"hugetlb.2MB.limit_in_bytes", absl::StrCat(kUnlimitedV1, "\n")},
                {"hugetlb.1GB.limit_in_bytes", absl::StrCat(kUnlimitedV1, "\n")}});
    } else if (c == "net_cls") {
      f.insert({{"net_cls.classid", "0\n"}});
    } else if (c == "net_prio") {
      f.insert({{"net_prio.ifpriomap", "lo 0\n"}, {"net_prio.prioidx", "1\n"}});
    }
  }
  return f;
}

FileMap FakeCgroupFs::V1RootFiles(absl::string_view controllers) {
  FileMap f;
  for (absl::string_view c : absl::StrSplit(controllers, ',')) {
    if (c == "cpuset") f.insert({{"cpuset.cpus", "0-1\n"}, {"cpuset.mems", "0\n"}});
  }
  return f;
}

FileMap FakeCgroupFs::V2Files() {
  return {{"cgroup.procs", ""},
          {"cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n"},
          {"cgroup.subtree_control", "\n"},
          {"cgroup.events", "populated 0\nfrozen 0\n"},
          {"cgroup.freeze", "0\n"},
          {"cgroup.kill", ""},
          {"cgroup.type", "domain\n"},
          {"cpu.weight", "100\n"},
          {"cpu.max", "max 100000\n"},
          {"cpu.max.burst", "0\n"},
          {"cpu.idle", "0\n"},
          {"cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"},
          {"cpuset.cpus", "\n"},
          {"cpuset.mems", "\n"},
          {"memory.max", "max\n"},
          {"memory.high", "max\n"},
          {"memory.low", "0\n"},
          {"memory.swap.max", "max\n"},
          {"memory.current", "0\n"},
          {"memory.swap.current", "0\n"},
          {"memory.peak", "0\n"},
          {"memory.stat", "anon 0\nfile 0\n"},
          {"memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"},
          {"pids.max", "max\n"},
          {"pids.current", "0\n"},
          {"io.max", ""},
          {"io.weight", "default 100\n"},
          {"io.stat", ""},
          {"hugetlb.2MB.max", "max\n"},
          {"hugetlb.1GB.max", "max\n"},
          {"rdma.max", ""},
          {"misc.max", ""}};
}

std::vector<std::string> FakeCgroupFs::WritesTo(absl::string_view suffix) const {
  std::vector<std::string> out;
  for (const Write& w : writes_) {
    if (absl::EndsWith(w.path, suffix)) out.push_back(w.value);
  }
  return out;
}

void FakeCgroupFs::FailWrites(absl::string_view suffix, int err, int times) {
  failures_.push_back(Failure{std::string(suffix), err, times});
}

void FakeCgroupFs::RewriteWrites(absl::string_view suffix,
                                 std::function<std::string(absl::string_view)> fn) {
  rewrites_.push_back(Rewrite{std::string(suffix), std::move(fn)});
}

void FakeCgroupFs::OnWrite(
    absl::string_view suffix,
    std::function<void(const std::string& dir, absl::string_view value)> fn) {
  hooks_.push_back(Hook{std::string(suffix), std::move(fn)});
}

std::string FakeCgroupFs::Read(absl::string_view path) const {
  std::string out;
  int fd = open(absl::StrCat(root(), path).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

absl::Status FakeCgroupFs::Put(absl::string_view path, absl::string_view content) {
  std::string abs = absl::StrCat(root(), path);
  if (int err = WriteWhole(abs, content, true); err != 0) {
    return absl::ErrnoToStatus(err, absl::StrCat("put ", abs));
  }
  return absl::OkStatus();
}

bool FakeCgroupFs::Has(absl::string_view path) const {
  return access(absl::StrCat(root(), path).c_str(), F_OK) == 0;
}

absl::Status FakeCgroupFs::MakeCgroup(absl::string_view path) {
  std::string abs = absl::StrCat(root(), path);
  if (int err = Mkdir(abs); err != 0) return absl::ErrnoToStatus(err, absl::StrCat("mkdir ", abs));
  return absl::OkStatus();
}

const FileMap* FakeCgroupFs::FilesFor(const std::string& path) const {
  const Hierarchy* best = nullptr;
  for (const Hierarchy& h : hierarchies_) {
    if (absl::StartsWith(path, absl::StrCat(h.mount_point, "/")) &&
        (best == nullptr || h.mount_point.size() > best->mount_point.size())) {
      best = &h;
    }
  }
  return best == nullptr ? nullptr : &best->files;
}

int FakeCgroupFs::Mkdir(const std::string& path) {
  if (mkdir(path.c_str(), 0755) != 0) return errno;
  if (const FileMap* files = FilesFor(path)) {
    for (const auto& [name, content] : *files) {
      if (int err = WriteWhole(absl::StrCat(path, "/", name), content, true); err != 0) {
        return err;
      }
    }
  }
  return 0;
}

int FakeCgroupFs::Rmdir(const std::string& path) {
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return errno;
  std::vector<std::string> files;
  bool subdirs = false;
  while (struct dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    if (e->d_type == DT_DIR) subdirs = true;
    files.emplace_back(e->d_name);
  }
  closedir(d);
  if (subdirs) return ENOTEMPTY;
  std::string procs;
  ReadFile(absl::StrCat(path, "/cgroup.procs"), &procs);
  if (!absl::StripAsciiWhitespace(procs).empty()) return EBUSY;
  for (const std::string& f : files) unlink(absl::StrCat(path, "/", f).c_str());
  return rmdir(path.c_str()) == 0 ? 0 : errno;
}

int FakeCgroupFs::WriteFile(const std::string& path, absl::string_view value) {
  for (Failure& f : failures_) {
    if (f.times != 0 && absl::EndsWith(path, f.suffix)) {
      if (f.times > 0) --f.times;
      return f.err;
    }
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return errno;
  if (S_ISDIR(st.st_mode)) return EISDIR;
  std::string stored(value);
  for (const Rewrite& r : rewrites_) {
    if (absl::EndsWith(path, r.suffix)) stored = r.fn(value);
  }
  if (absl::EndsWith(path, "/cgroup.procs")) {
    std::string now;
    ReadFile(path, &now);
    stored = absl::StrCat(now, stored, "\n");
  }
  if (int err = WriteWhole(path, stored, false); err != 0) return err;
  writes_.push_back(Write{path.substr(root().size()), std::string(value)});
  for (const Hook& h : hooks_) {
    if (absl::EndsWith(path, h.suffix)) h.fn(path.substr(0, path.rfind('/')), value);
  }
  return 0;
}

int FakeCgroupFs::ReadFile(const std::string& path, std::string* out) {
  return RealCgroupFs().ReadFile(path, out);
}

bool FakeCgroupFs::Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

int FakeCgroupFs::ListSubdirs(const std::string& path, std::vector<std::string>* names) {
  return RealCgroupFs().ListSubdirs(path, names);
}

}  // namespace berth::runc::cgroups::testing
