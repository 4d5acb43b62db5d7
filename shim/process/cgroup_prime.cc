#include "shim/process/cgroup_prime.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"

namespace berth::shim::process {

absl::Status RewriteOwnCgroup(const CgroupRoots& roots) {
  const pid_t self = ::getpid();
  BERTH_ASSIGN_OR_RETURN(const CgroupDirs dirs, FindCgroupDirs(self, roots));
  const std::string& dir = !dirs.pids.empty() ? dirs.pids
                           : !dirs.cpu.empty() ? dirs.cpu
                                               : dirs.memory;
  if (dir.empty()) return absl::FailedPreconditionError("no cgroup directory of our own");
  const std::string file = dir + "/cgroup.procs";
  const int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, "open " + file);
  const std::string pid = std::to_string(self);
  const bool ok = ::write(fd, pid.data(), pid.size()) == static_cast<ssize_t>(pid.size());
  const int err = errno;
  ::close(fd);
  if (!ok) return absl::ErrnoToStatus(err, "write " + file);
  return absl::OkStatus();
}

void PrimeCgroupMigration() {
  std::thread([] {
    absl::Status s = RewriteOwnCgroup();
    VLOG(1) << "cgroup migration primed error=\"" << s.message() << "\"";
  }).detach();
}

}  // namespace berth::shim::process
