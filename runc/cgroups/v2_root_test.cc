// ROOT test of the v2 manager on a real cgroup2 tree, on any host: a forked child makes a
// private mount namespace, mounts cgroup2 at a temp dir, makes its own test cgroup
// berth-test-<pid>-<n> there and points the manager at it (so the manager never writes the
// tree root's cgroup.subtree_control: the host's cgroup2 configuration stays as it is).
//
// On this VM the cgroup2 tree offers only hugetlb (v1 holds the other controllers), so this
// covers what v2 can do here: directories, cgroup.procs, cgroup.freeze, device rules as an
// eBPF program, listing, cgroup.kill and signals, removal. Resource files are covered by
// v2_manager_test on a fake tree.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "runc/cgroups/layout.h"
#include "runc/cgroups/manager.h"

namespace berth::runc::cgroups {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// Runs `body` in a forked child; returns what it returned, or a description of its death.
std::string RunInChild(const std::function<std::string()>& body) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return "pipe failed";
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::string out = body();
    size_t off = 0;
    while (off < out.size()) {
      ssize_t n = write(fds[1], out.data() + off, out.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::StrCat("child died (wait status ", status, "): ", out);
  }
  return out;
}

// A process (grandchild of the test) that, for each byte it reads on a pipe, tries to open
// /dev/null and /dev/zero and answers with two digits (1 = opened).
class DeviceProbe {
 public:
  DeviceProbe() {
    int cmd[2], res[2];
    if (pipe2(cmd, O_CLOEXEC) != 0 || pipe2(res, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      // Keep only the two pipe ends: an inherited copy of the test's result pipe would hold
      // the parent's read open if this process outlived the scenario.
      if (dup2(cmd[0], 100) < 0 || dup2(res[1], 101) < 0) _exit(1);
      close_range(3, 99, 0);
      close_range(102, ~0U, 0);
      cmd[0] = 100;
      res[1] = 101;
      for (;;) {
        char c;
        ssize_t n = read(cmd[0], &c, 1);
        if (n == 0) _exit(0);
        if (n < 0) continue;
        char answer[2];
        const char* devs[2] = {"/dev/null", "/dev/zero"};
        for (int i = 0; i < 2; ++i) {
          int fd = open(devs[i], O_RDONLY | O_CLOEXEC);
          answer[i] = fd >= 0 ? '1' : '0';
          if (fd >= 0) close(fd);
        }
        if (write(res[1], answer, 2) != 2) _exit(1);
      }
    }
    close(cmd[0]);
    close(res[1]);
    cmd_ = cmd[1];
    res_ = res[0];
  }
  ~DeviceProbe() {
    if (cmd_ >= 0) close(cmd_);
    if (res_ >= 0) close(res_);
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      Wait();
    }
  }
  pid_t pid() const { return pid_; }
  // "10" etc., or "" when no answer comes within `timeout_ms`.
  std::string Ask(int timeout_ms) {
    if (write(cmd_, "o", 1) != 1) return "";
    return Answer(timeout_ms);
  }
  std::string Answer(int timeout_ms) {
    struct pollfd p = {res_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) return "";
    char buf[2];
    if (read(res_, buf, 2) != 2) return "";
    return std::string(buf, 2);
  }
  int Wait() {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int cmd_ = -1;
  int res_ = -1;
  bool reaped_ = false;
};

#define CHECK_OR_RETURN(cond, ...) \
  if (!(cond)) return absl::StrCat("line ", __LINE__, ": ", #cond, ": ", ##__VA_ARGS__)
#define OK_OR_RETURN(expr)                                                                  \
  do {                                                                                      \
    absl::Status s_ = (expr);                                                               \
    if (!s_.ok()) return absl::StrCat("line ", __LINE__, ": ", #expr, ": ", s_.ToString()); \
  } while (0)

std::string V2Scenario(const std::string& name) {
  if (unshare(CLONE_NEWNS) != 0) return absl::StrCat("unshare: ", strerror(errno));
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return absl::StrCat("make / rprivate: ", strerror(errno));
  }
  char tmp[] = "/tmp/berth-cg2-XXXXXX";
  if (mkdtemp(tmp) == nullptr) return "mkdtemp failed";
  absl::Cleanup remove_tmp = [&] { rmdir(tmp); };
  if (mount("cgroup2", tmp, "cgroup2", 0, nullptr) != 0) {
    return absl::StrCat("mount cgroup2: ", strerror(errno));
  }
  absl::Cleanup unmount = [&] { umount2(tmp, MNT_DETACH); };
  const std::string root = absl::StrCat(tmp, "/", name);
  if (mkdir(root.c_str(), 0755) != 0) return absl::StrCat("mkdir ", root, ": ", strerror(errno));
  absl::Cleanup remove_root = [&] { rmdir(root.c_str()); };

  Options options;
  options.mountinfo = absl::StrCat("1 0 0:1 / ", root, " rw - cgroup2 cgroup2 rw\n");
  absl::StatusOr<std::unique_ptr<Manager>> made = NewManager(Config{"/pod/ctr", "ctr"}, options);
  OK_OR_RETURN(made.status());
  Manager& m = **made;
  // Whatever happens below, nothing stays behind.
  std::vector<std::unique_ptr<DeviceProbe>> probes;
  absl::Cleanup destroy = [&] {
    (void)m.Kill(SIGKILL);
    probes.clear();  // kills and reaps
    (void)m.Destroy();
  };
  CHECK_OR_RETURN(m.IsUnified());
  const std::string dir = absl::StrCat(root, "/pod/ctr");
  CHECK_OR_RETURN(m.Paths()[0].path == dir, m.Paths()[0].path);
  OK_OR_RETURN(m.Create());
  CHECK_OR_RETURN(Exists(dir + "/cgroup.procs"));
  CHECK_OR_RETURN(absl::StrContains(m.Serialize(), "\n- 2 "), m.Serialize());

  probes.push_back(std::make_unique<DeviceProbe>());
  DeviceProbe& probe = *probes.back();
  CHECK_OR_RETURN(probe.pid() > 0);
  OK_OR_RETURN(m.AddProcess(probe.pid()));
  std::string own = ReadFile(absl::StrCat("/proc/", probe.pid(), "/cgroup"));
  CHECK_OR_RETURN(absl::StrContains(own, absl::StrCat("0::/", name, "/pod/ctr")), own);
  absl::StatusOr<std::vector<pid_t>> pids = m.Pids();
  OK_OR_RETURN(pids.status());
  CHECK_OR_RETURN(*pids == std::vector<pid_t>{probe.pid()}, pids->size());
  CHECK_OR_RETURN(probe.Ask(2000) == "11");

  // Device rules: an eBPF program; a second Apply replaces the first (else both would apply).
  spec::DeviceCgroupRule deny_all;
  spec::DeviceCgroupRule allow;
  allow.allow = true;
  allow.type = "c";
  allow.major = 1;
  allow.minor = 5;  // /dev/zero
  allow.access = "rw";
  spec::Resources r;
  r.devices = {deny_all, allow};
  OK_OR_RETURN(m.Apply(r));
  std::string got = probe.Ask(2000);
  CHECK_OR_RETURN(got == "01", got);
  r.devices[1].minor = 3;  // /dev/null instead
  OK_OR_RETURN(m.Apply(r));
  got = probe.Ask(2000);
  CHECK_OR_RETURN(got == "10", got);

  // Controllers this cgroup does not have here are refused, naming the field.
  std::string controllers = ReadFile(dir + "/cgroup.controllers");
  if (!absl::StrContains(controllers, "memory")) {
    spec::Resources mem;
    mem.memory.emplace();
    mem.memory->limit = 1 << 24;
    absl::Status s = m.Apply(mem);
    CHECK_OR_RETURN(s.code() == absl::StatusCode::kUnimplemented, s.ToString());
    CHECK_OR_RETURN(absl::StrContains(s.message(), "linux.resources.memory"), s.ToString());
  }

  // Freeze: the probe stops answering until thawed.
  OK_OR_RETURN(m.Freeze());
  absl::StatusOr<bool> frozen = m.IsFrozen();
  OK_OR_RETURN(frozen.status());
  CHECK_OR_RETURN(*frozen);
  CHECK_OR_RETURN(absl::StrContains(ReadFile(dir + "/cgroup.events"), "frozen 1"));
  got = probe.Ask(300);
  CHECK_OR_RETURN(got.empty(), "answered while frozen: ", got);
  OK_OR_RETURN(m.Thaw());
  frozen = m.IsFrozen();
  OK_OR_RETURN(frozen.status());
  CHECK_OR_RETURN(!*frozen);
  got = probe.Answer(2000);
  CHECK_OR_RETURN(got == "10", "after thaw: ", got);

  absl::StatusOr<Stats> st = m.GetStats();
  OK_OR_RETURN(st.status());

  // Kill(SIGTERM): freeze, signal, thaw. Kill(SIGKILL): cgroup.kill.
  OK_OR_RETURN(m.Kill(SIGTERM));
  int status = probe.Wait();
  CHECK_OR_RETURN(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, status);
  frozen = m.IsFrozen();
  CHECK_OR_RETURN(frozen.ok() && !*frozen);
  probes.push_back(std::make_unique<DeviceProbe>());
  OK_OR_RETURN(m.AddProcess(probes.back()->pid()));
  // Via the state-file text, as `delete --force` does.
  absl::StatusOr<std::unique_ptr<Manager>> loaded = LoadManager(m.Serialize());
  OK_OR_RETURN(loaded.status());
  OK_OR_RETURN((*loaded)->Kill(SIGKILL));
  status = probes.back()->Wait();
  CHECK_OR_RETURN(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, status);

  OK_OR_RETURN((*loaded)->Destroy());
  CHECK_OR_RETURN(!Exists(dir));
  CHECK_OR_RETURN(!Exists(root + "/pod"));
  CHECK_OR_RETURN(Exists(root));  // the test's own cgroup: not the manager's to remove
  OK_OR_RETURN(m.Destroy());
  return "";
}

// Where the host mounts cgroup2, to clean up from outside if the child died half-way.
std::string HostCgroup2Mount() {
  for (const Hierarchy& h : ParseCgroupMounts(ReadFile("/proc/self/mountinfo"))) {
    if (h.unified && h.root == "/") return h.mount_point;
  }
  return "";
}

void RemoveLeftovers(const std::string& dir) {
  if (!Exists(dir)) return;
  for (absl::string_view line :
       absl::StrSplit(ReadFile(dir + "/cgroup.procs"), '\n', absl::SkipEmpty())) {
    int pid;
    if (absl::SimpleAtoi(line, &pid) && pid > 0) kill(pid, SIGKILL);  // our grandchildren
  }
  for (const char* sub : {"/pod/ctr", "/pod", ""}) {
    for (int i = 0; i < 100 && rmdir((dir + sub).c_str()) != 0 && errno == EBUSY; ++i) {
      usleep(10000);
    }
  }
}

TEST(V2RootTest, PrivateCgroup2Mount) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  if (!absl::StrContains(ReadFile("/proc/filesystems"), "cgroup2")) {
    GTEST_SKIP() << "no cgroup2 in this kernel";
  }
  const std::string name = absl::StrCat("berth-test-", getpid(), "-v2");
  const std::string host_mount = HostCgroup2Mount();
  absl::Cleanup leftovers = [&] {
    if (!host_mount.empty()) RemoveLeftovers(absl::StrCat(host_mount, "/", name));
  };
  EXPECT_EQ(RunInChild([&] { return V2Scenario(name); }), "");
  if (!host_mount.empty()) {
    EXPECT_FALSE(Exists(absl::StrCat(host_mount, "/", name)));
  }
}

}  // namespace
}  // namespace berth::runc::cgroups
