#include "runc/container/process_setup.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace berth::runc::container {
namespace {

constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

int LastCap() {
  static int last = [] {
    int v = CAP_LAST_CAP;
    if (FILE* f = fopen("/proc/sys/kernel/cap_last_cap", "re")) {
      if (fscanf(f, "%d", &v) != 1) v = CAP_LAST_CAP;
      fclose(f);
    }
    return v;
  }();
  return last;
}

bool Contains(const std::vector<int>& set, int cap) {
  for (int c : set) {
    if (c == cap) return true;
  }
  return false;
}

void SetBits(const std::vector<int>& caps, __u32* words) {
  for (int c : caps) words[c / 32] |= 1u << (c % 32);
}

}  // namespace

absl::Status ApplyRlimits(const std::vector<spec::Rlimit>& rlimits) {
  for (size_t i = 0; i < rlimits.size(); ++i) {
    const spec::Rlimit& r = rlimits[i];
    struct rlimit lim = {r.soft, r.hard};
    if (setrlimit(r.resource, &lim) != 0) {
      int err = errno;
      std::string hint;
      if (err == EPERM) {
        struct rlimit cur;
        getrlimit(r.resource, &cur);
        hint = absl::StrCat(" (hard limit ", r.hard, " is above this host's ", cur.rlim_max,
                            " and raising it needs CAP_SYS_RESOURCE)");
      }
      return absl::ErrnoToStatus(err, absl::StrCat("process.rlimits[", i, "] (", r.type,
                                                   "): setrlimit", hint));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyOomScoreAdj(int adj) {
  int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, "process.oomScoreAdj: open oom_score_adj");
  const std::string v = std::to_string(adj);
  ssize_t n = write(fd, v.data(), v.size());
  int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(v.size())) {
    return absl::ErrnoToStatus(err, absl::StrCat("process.oomScoreAdj: write ", adj,
                                                 adj < 0 ? " (lowering needs CAP_SYS_RESOURCE)"
                                                         : ""));
  }
  return absl::OkStatus();
}

absl::Status ApplyPersonality(const spec::Personality& p) {
  unsigned long persona = PER_LINUX;
  if (p.domain == "LINUX32") {
    persona = PER_LINUX32;
  } else if (p.domain != "LINUX") {
    return absl::InvalidArgumentError(
        absl::StrCat("linux.personality.domain: unknown domain \"", p.domain, "\""));
  }
  if (personality(persona) < 0) return absl::ErrnoToStatus(errno, "linux.personality");
  return absl::OkStatus();
}

absl::Status ApplyUserAndCapabilities(const spec::Process& p, bool setgroups_allowed) {
  const spec::Capabilities* caps = p.capabilities ? &*p.capabilities : nullptr;
  if (caps != nullptr) {
    for (int c = 0; c <= LastCap(); ++c) {
      if (!Contains(caps->bounding, c) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 &&
          errno != EINVAL) {
        return absl::ErrnoToStatus(errno, absl::StrCat("drop capability ", c, " from bounding set"));
      }
    }
    // Keep permitted capabilities across the uid change; they are narrowed right after.
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return absl::ErrnoToStatus(errno, "PR_SET_KEEPCAPS");
  }
  if (setgroups_allowed) {
    std::vector<gid_t> groups(p.user.additional_gids.begin(), p.user.additional_gids.end());
    if (setgroups(groups.size(), groups.data()) != 0) {
      return absl::ErrnoToStatus(errno, "process.user.additionalGids: setgroups");
    }
  } else if (!p.user.additional_gids.empty()) {
    return absl::InvalidArgumentError(
        "process.user.additionalGids: cannot set groups when the user namespace denies "
        "setgroups");
  }
  if (setresgid(p.user.gid, p.user.gid, p.user.gid) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("process.user.gid: setgid ", p.user.gid));
  }
  if (setresuid(p.user.uid, p.user.uid, p.user.uid) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("process.user.uid: setuid ", p.user.uid));
  }
  if (p.user.umask) umask(*p.user.umask);
  if (caps == nullptr) return absl::OkStatus();
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return absl::ErrnoToStatus(errno, "PR_SET_KEEPCAPS");

  __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  __u32 eff[2] = {0, 0}, perm[2] = {0, 0}, inh[2] = {0, 0};
  SetBits(caps->effective, eff);
  SetBits(caps->permitted, perm);
  SetBits(caps->inheritable, inh);
  for (int i = 0; i < 2; ++i) {
    data[i].effective = eff[i];
    data[i].permitted = perm[i];
    data[i].inheritable = inh[i];
  }
  if (syscall(SYS_capset, &hdr, data) != 0) {
    return absl::ErrnoToStatus(errno, "process.capabilities: capset");
  }
  for (int c : caps->ambient) {
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) != 0) {
      return absl::ErrnoToStatus(
          errno, absl::StrCat("process.capabilities.ambient: raise capability ", c,
                              " (it must also be permitted and inheritable)"));
    }
  }
  return absl::OkStatus();
}

absl::Status SetNoNewPrivileges() {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return absl::ErrnoToStatus(errno, "process.noNewPrivileges");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> LookPath(const std::string& file,
                                     const std::vector<std::string>& env) {
  auto check = [](const std::string& path) -> absl::Status {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return absl::ErrnoToStatus(errno, path);
    if (S_ISDIR(st.st_mode) || (st.st_mode & 0111) == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("exec: \"", path, "\": permission denied (not an executable file)"));
    }
    return absl::OkStatus();
  };
  if (absl::StrContains(file, "/")) {
    absl::Status s = check(file);
    if (absl::IsNotFound(s)) {
      return absl::NotFoundError(
          absl::StrCat("exec: \"", file, "\": stat ", file, ": no such file or directory"));
    }
    if (!s.ok()) return s;
    return file;
  }
  std::string path_env = kDefaultPath;
  for (const auto& e : env) {
    if (absl::StartsWith(e, "PATH=")) path_env = e.substr(5);
  }
  absl::Status last = absl::NotFoundError("");
  for (absl::string_view dir : absl::StrSplit(path_env, ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", file);
    absl::Status s = check(candidate);
    if (s.ok()) return candidate;
    if (!absl::IsNotFound(s)) last = s;
  }
  if (!absl::IsNotFound(last)) return last;
  return absl::NotFoundError(
      absl::StrCat("exec: \"", file, "\": executable file not found in $PATH"));
}

int WaitForeground(pid_t pid) {
  sigset_t all;
  sigfillset(&all);
  sigset_t old;
  sigprocmask(SIG_BLOCK, &all, &old);
  int code = 255;
  while (true) {
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (r < 0 && errno != EINTR) break;
    // SIGCHLD is blocked too, so its arrival ends the wait at once; the timeout only bounds a
    // lost wake-up.
    timespec ts = {0, 50 * 1000 * 1000};
    siginfo_t info;
    int sig = sigtimedwait(&all, &info, &ts);
    if (sig > 0 && sig != SIGCHLD) kill(pid, sig);
  }
  sigprocmask(SIG_SETMASK, &old, nullptr);
  return code;
}

}  // namespace berth::runc::container
