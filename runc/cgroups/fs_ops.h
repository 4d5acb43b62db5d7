// The file-system calls of the cgroupfs driver, behind a small interface so that the logic is
// tested on a fake tree without root (fake_cgroupfs.h), and the helpers that turn their errno
// values into statuses naming the config.json field.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace berth::runc::cgroups {

// Each call returns 0 or an errno value, as the kernel reports it: the callers map errno to
// meaning (EBUSY from rmdir, ENOENT for a file this kernel lacks, ...).
class CgroupFs {
 public:
  virtual ~CgroupFs() = default;
  virtual int Mkdir(const std::string& path) = 0;  // mode 0755; EEXIST if there
  virtual int Rmdir(const std::string& path) = 0;
  // One write(2) of `value` to an existing file (no O_CREAT: cgroupfs files are made by the
  // kernel).
  virtual int WriteFile(const std::string& path, absl::string_view value) = 0;
  virtual int ReadFile(const std::string& path, std::string* out) = 0;
  virtual bool Exists(const std::string& path) = 0;
  // The names of the subdirectories (child cgroups) of `path`.
  virtual int ListSubdirs(const std::string& path, std::vector<std::string>* names) = 0;
};

// The kernel.
CgroupFs& RealCgroupFs();

namespace internal {

std::string JoinPath(absl::string_view dir, absl::string_view name);

// A status for errno `err` from `what` ("write \"1\" to /x/memory.max"), with `field` (e.g.
// "linux.resources.memory.limit") in front when not empty. Codes: EINVAL, ERANGE, EOVERFLOW,
// EBUSY, ENOSPC, ENODEV -> InvalidArgument when a field is named (the kernel rejected a value);
// ENOENT -> NotFound; EPERM, EACCES -> PermissionDenied; others as absl::ErrnoToStatus.
absl::Status ErrnoStatus(int err, absl::string_view field, absl::string_view what);

// The status for `err` from writing `value` to `path` (OK for 0), as WriteField reports it.
absl::Status WriteErrorStatus(int err, absl::string_view field, const std::string& path,
                              absl::string_view value);

// Writes `value` to dir/file, mapping errors as ErrnoStatus; a missing file is Unimplemented
// ("not supported by this kernel") when a field is named.
absl::Status WriteField(CgroupFs& fs, absl::string_view field, const std::string& dir,
                        absl::string_view file, absl::string_view value);

// dir/file with surrounding white space removed.
absl::StatusOr<std::string> ReadTrimmed(CgroupFs& fs, const std::string& dir,
                                        absl::string_view file);
// A number, or kUnlimited for "max". InvalidArgument naming the file if it does not parse.
absl::StatusOr<uint64_t> ReadUint(CgroupFs& fs, const std::string& dir, absl::string_view file);
// Like ReadUint, but 0 when the file is missing or does not parse (for statistics).
uint64_t ReadUintOrZero(CgroupFs& fs, const std::string& dir, absl::string_view file);

// Calls `fn(key, value)` for each "key value" line of a flat keyed file (memory.stat,
// cpu.stat, cgroup.events, ...); lines whose value is not a number are skipped.
template <typename Fn>
void ForEachKeyValue(absl::string_view text, Fn fn);
bool ParseKeyValueLine(absl::string_view line, absl::string_view* key, uint64_t* value);

// Appends the pids in dir/cgroup.procs and in every cgroup below it. A directory that
// vanishes meanwhile is skipped.
absl::Status CollectPids(CgroupFs& fs, const std::string& dir, std::vector<pid_t>* pids);

// Removes cgroup `dir` and the cgroups below it (depth first), retrying EBUSY (processes
// still exiting) until `timeout`. OK if it does not exist.
absl::Status RemoveCgroupTree(CgroupFs& fs, const std::string& dir, absl::Duration timeout);

// Sleeps with a growing back-off: 0.1 ms, 0.2 ms, ... up to 10 ms. `*step` counts calls.
void Backoff(int* step);

template <typename Fn>
void ForEachKeyValue(absl::string_view text, Fn fn) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    absl::string_view line = text.substr(0, nl);
    text = nl == absl::string_view::npos ? absl::string_view() : text.substr(nl + 1);
    absl::string_view key;
    uint64_t value;
    if (ParseKeyValueLine(line, &key, &value)) fn(key, value);
  }
}

}  // namespace internal
}  // namespace berth::runc::cgroups
