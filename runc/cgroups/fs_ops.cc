#include "runc/cgroups/fs_ops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "runc/cgroups/manager.h"

namespace berth::runc::cgroups {
namespace {

class KernelCgroupFs final : public CgroupFs {
 public:
  int Mkdir(const std::string& path) override { return mkdir(path.c_str(), 0755) == 0 ? 0 : errno; }
  int Rmdir(const std::string& path) override { return rmdir(path.c_str()) == 0 ? 0 : errno; }

  int WriteFile(const std::string& path, absl::string_view value) override {
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    int err = 0;
    ssize_t n;
    do {
      n = write(fd, value.data(), value.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      err = errno;
    } else if (static_cast<size_t>(n) != value.size()) {
      err = EIO;  // cgroupfs takes a value in one write; a short one means it was cut
    }
    close(fd);
    return err;
  }

  int ReadFile(const std::string& path, std::string* out) override {
    out->clear();
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    char buf[4096];
    int err = 0;
    for (;;) {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n < 0) {
        if (errno == EINTR) continue;
        err = errno;
        break;
      }
      if (n == 0) break;
      out->append(buf, static_cast<size_t>(n));
    }
    close(fd);
    return err;
  }

  bool Exists(const std::string& path) override { return access(path.c_str(), F_OK) == 0; }

  int ListSubdirs(const std::string& path, std::vector<std::string>* names) override {
    names->clear();
    DIR* d = opendir(path.c_str());
    if (d == nullptr) return errno;
    while (struct dirent* e = readdir(d)) {
      if (e->d_type != DT_DIR) continue;  // cgroupfs fills d_type
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      names->emplace_back(e->d_name);
    }
    closedir(d);
    return 0;
  }
};

bool IsValueError(int err) {
  return err == EINVAL || err == ERANGE || err == EOVERFLOW || err == EBUSY || err == ENOSPC ||
         err == ENODEV;
}

}  // namespace

CgroupFs& RealCgroupFs() {
  static KernelCgroupFs* fs = new KernelCgroupFs();
  return *fs;
}

namespace internal {

std::string JoinPath(absl::string_view dir, absl::string_view name) {
  if (dir.empty()) return std::string(name);
  if (name.empty()) return std::string(dir);
  if (dir.back() == '/') return absl::StrCat(dir, name);
  return absl::StrCat(dir, "/", name);
}

absl::Status ErrnoStatus(int err, absl::string_view field, absl::string_view what) {
  std::string msg = field.empty() ? absl::StrCat(what, ": ", std::strerror(err))
                                  : absl::StrCat(field, ": ", what, ": ", std::strerror(err));
  if (!field.empty() && IsValueError(err)) return absl::InvalidArgumentError(msg);
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EPERM:
    case EACCES:
      return absl::PermissionDeniedError(msg);
    default:
      return absl::ErrnoToStatus(
          err, field.empty() ? std::string(what) : absl::StrCat(field, ": ", what));
  }
}

absl::Status WriteErrorStatus(int err, absl::string_view field, const std::string& path,
                              absl::string_view value) {
  if (err == 0) return absl::OkStatus();
  if (err == ENOENT && !field.empty()) {
    return absl::UnimplementedError(
        absl::StrCat(field, ": ", path, " does not exist: not supported by this kernel"));
  }
  return ErrnoStatus(err, field, absl::StrCat("write \"", value, "\" to ", path));
}

absl::Status WriteField(CgroupFs& fs, absl::string_view field, const std::string& dir,
                        absl::string_view file, absl::string_view value) {
  std::string path = JoinPath(dir, file);
  return WriteErrorStatus(fs.WriteFile(path, value), field, path, value);
}

absl::StatusOr<std::string> ReadTrimmed(CgroupFs& fs, const std::string& dir,
                                        absl::string_view file) {
  std::string path = JoinPath(dir, file);
  std::string out;
  if (int err = fs.ReadFile(path, &out); err != 0) {
    return ErrnoStatus(err, "", absl::StrCat("read ", path));
  }
  absl::StripAsciiWhitespace(&out);
  return out;
}

absl::StatusOr<uint64_t> ReadUint(CgroupFs& fs, const std::string& dir, absl::string_view file) {
  absl::StatusOr<std::string> s = ReadTrimmed(fs, dir, file);
  if (!s.ok()) return s.status();
  if (*s == "max") return kUnlimited;
  uint64_t v;
  if (absl::SimpleAtoi(*s, &v)) return v;
  int64_t neg;  // v1 files show -1 for "no limit" in a few places
  if (absl::SimpleAtoi(*s, &neg) && neg < 0) return kUnlimited;
  return absl::InvalidArgumentError(
      absl::StrCat("parse ", JoinPath(dir, file), ": not a number: \"", *s, "\""));
}

uint64_t ReadUintOrZero(CgroupFs& fs, const std::string& dir, absl::string_view file) {
  absl::StatusOr<uint64_t> v = ReadUint(fs, dir, file);
  return v.ok() ? *v : 0;
}

bool ParseKeyValueLine(absl::string_view line, absl::string_view* key, uint64_t* value) {
  line = absl::StripAsciiWhitespace(line);
  size_t sp = line.find(' ');
  if (sp == absl::string_view::npos) return false;
  *key = line.substr(0, sp);
  absl::string_view v = absl::StripAsciiWhitespace(line.substr(sp + 1));
  if (v == "max") {
    *value = kUnlimited;
    return true;
  }
  return absl::SimpleAtoi(v, value);
}

absl::Status CollectPids(CgroupFs& fs, const std::string& dir, std::vector<pid_t>* pids) {
  std::string procs;
  std::string procs_path = JoinPath(dir, "cgroup.procs");
  if (int err = fs.ReadFile(procs_path, &procs); err != 0) {
    if (err == ENOENT || err == ENODEV) return absl::OkStatus();  // removed meanwhile
    return ErrnoStatus(err, "", absl::StrCat("read ", procs_path));
  }
  absl::string_view rest = procs;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    absl::string_view line = absl::StripAsciiWhitespace(rest.substr(0, nl));
    rest = nl == absl::string_view::npos ? absl::string_view() : rest.substr(nl + 1);
    int pid;
    if (!line.empty() && absl::SimpleAtoi(line, &pid) && pid > 0) pids->push_back(pid);
  }
  std::vector<std::string> children;
  if (int err = fs.ListSubdirs(dir, &children); err != 0) {
    if (err == ENOENT) return absl::OkStatus();
    return ErrnoStatus(err, "", absl::StrCat("list ", dir));
  }
  for (const std::string& child : children) {
    absl::Status s = CollectPids(fs, JoinPath(dir, child), pids);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

void Backoff(int* step) {
  int n = (*step)++;
  absl::Duration d = absl::Microseconds(100) * (1 << (n < 7 ? n : 7));
  if (d > absl::Milliseconds(10)) d = absl::Milliseconds(10);
  absl::SleepFor(d);
}

absl::Status RemoveCgroupTree(CgroupFs& fs, const std::string& dir, absl::Duration timeout) {
  std::vector<std::string> children;
  if (int err = fs.ListSubdirs(dir, &children); err != 0) {
    if (err == ENOENT) return absl::OkStatus();
    return ErrnoStatus(err, "", absl::StrCat("list ", dir));
  }
  absl::Status first;
  for (const std::string& child : children) {
    absl::Status s = RemoveCgroupTree(fs, JoinPath(dir, child), timeout);
    if (first.ok()) first = s;
  }
  if (!first.ok()) return first;
  absl::Time deadline = absl::Now() + timeout;
  int step = 0;
  for (;;) {
    int err = fs.Rmdir(dir);
    if (err == 0 || err == ENOENT) return absl::OkStatus();
    if (err != EBUSY || absl::Now() >= deadline) {
      if (err == EBUSY) {
        return absl::FailedPreconditionError(absl::StrCat(
            "remove cgroup ", dir, ": processes remain in it (", std::strerror(err), ")"));
      }
      return ErrnoStatus(err, "", absl::StrCat("remove cgroup ", dir));
    }
    Backoff(&step);
  }
}

}  // namespace internal
}  // namespace berth::runc::cgroups
