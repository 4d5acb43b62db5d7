// Root-only tests of PrepareRootfs / EnterRootfs / FinalizeRootfs. Each case forks a child
// that unshares a mount namespace (and pid, net, ipc, uts, cgroup or user namespaces as the
// case needs) and makes "/" rprivate before anything else, so nothing reaches the host's mount
// table; the child forks again (pid 1 of the new pid namespace), which builds the container
// from a tiny busybox rootfs and checks the result from inside. Failed checks come back as
// lines on a pipe; the parent asserts there are none and that no mount under the test's
// temp dir is visible afterwards.
#include "runc/linux/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runc/spec/mount_options.h"

namespace berth::runc::linux {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::TempDir;
using spec::NamespaceType;
using ::testing::IsEmpty;

constexpr long kMqueueMagic = 0x19800202;

// ---------------------------------------------------------------------------------------
// Child-side helpers (no gtest in forked processes).

// Collects failed checks of a child and writes each as one line to the report pipe.
class Checker {
 public:
  explicit Checker(int fd) : fd_(fd) {}

  void Fail(const std::string& what) {
    std::string line = what;
    for (char& c : line) {
      if (c == '\n') c = ' ';
    }
    line.push_back('\n');
    (void)!write(fd_, line.data(), line.size());
  }
  bool Expect(bool ok, const std::string& what) {
    if (!ok) Fail(what);
    return ok;
  }
  bool ExpectOk(const absl::Status& s, const std::string& what) {
    if (!s.ok()) Fail(absl::StrCat(what, ": ", s.ToString()));
    return s.ok();
  }

 private:
  int fd_;
};

std::string ErrnoName(int e) { return e == 0 ? "success" : strerror(e); }

// errno of opening `path` for writing (0 if it worked).
int OpenWriteErrno(const std::string& path, int extra_flags = 0) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC | extra_flags, 0644);
  if (fd < 0) return errno;
  close(fd);
  return 0;
}

long FsType(const std::string& path) {
  struct statfs st;
  return statfs(path.c_str(), &st) == 0 ? static_cast<long>(st.f_type) : -1;
}

bool ReadOnly(const std::string& path) {
  struct statvfs st;
  return statvfs(path.c_str(), &st) == 0 && (st.f_flag & ST_RDONLY) != 0;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Readlink(const std::string& path) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
  return n < 0 ? "" : std::string(buf, n);
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// Runs argv in a child and returns its wait status (-1 if fork failed).
int RunProgram(const std::vector<const char*>& argv) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    std::vector<char*> args;
    for (const char* a : argv) args.push_back(const_cast<char*>(a));
    args.push_back(nullptr);
    int null = open("/dev/null", O_RDWR);
    dup2(null, 1);
    dup2(null, 2);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

void CheckCharDevice(Checker& c, const std::string& path, unsigned major_no, unsigned minor_no) {
  struct stat st;
  if (!c.Expect(stat(path.c_str(), &st) == 0, path + " exists")) return;
  c.Expect(S_ISCHR(st.st_mode), path + " is a char device");
  c.Expect(major(st.st_rdev) == major_no && minor(st.st_rdev) == minor_no,
           absl::StrCat(path, " is ", major_no, ":", minor_no, ", got ", major(st.st_rdev), ":",
                        minor(st.st_rdev)));
}

// ---------------------------------------------------------------------------------------
// Parent-side harness.

struct Isolation {
  int unshare_flags = CLONE_NEWNS | CLONE_NEWPID;
  // A new user namespace (created first, so it owns the others) mapping all ids to themselves.
  bool user_namespace = false;
  // Run in the child before the grandchild is forked (e.g. to change /sys/fs/cgroup there).
  std::function<std::string()> setup;
};

bool WriteAll(int fd, const std::string& s) {
  return write(fd, s.data(), s.size()) == static_cast<ssize_t>(s.size());
}

// Runs `body` as pid 1 of a new pid namespace inside new namespaces; returns the lines it
// reported (plus a line if a process died abnormally).
std::vector<std::string> RunIsolated(const Isolation& iso,
                                     const std::function<void(Checker&)>& body) {
  int report[2], to_parent[2], to_child[2];
  if (pipe2(report, O_CLOEXEC) != 0 || pipe2(to_parent, O_CLOEXEC) != 0 ||
      pipe2(to_child, O_CLOEXEC) != 0) {
    return {"pipe failed"};
  }
  pid_t child = fork();
  if (child < 0) return {"fork failed"};
  if (child == 0) {
    close(report[0]);
    Checker c(report[1]);
    char byte = 0;
    if (iso.user_namespace) {
      if (unshare(CLONE_NEWUSER) != 0) {
        c.Fail(absl::StrCat("unshare user: ", ErrnoName(errno)));
        _exit(1);
      }
      if (write(to_parent[1], "u", 1) != 1 || read(to_child[0], &byte, 1) != 1 || byte != 'm') {
        c.Fail("user namespace mapping handshake failed");
        _exit(1);
      }
    }
    if (unshare(iso.unshare_flags) != 0) {
      c.Fail(absl::StrCat("unshare: ", ErrnoName(errno)));
      _exit(1);
    }
    // First thing in the new mount namespace: cut it off from the host's.
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      c.Fail(absl::StrCat("make / rprivate: ", ErrnoName(errno)));
      _exit(1);
    }
    if (iso.setup) {
      std::string err = iso.setup();
      if (!err.empty()) {
        c.Fail("setup: " + err);
        _exit(1);
      }
    }
    pid_t grandchild = fork();
    if (grandchild < 0) {
      c.Fail("fork grandchild failed");
      _exit(1);
    }
    if (grandchild == 0) {
      body(c);
      _exit(0);
    }
    int status = 0;
    waitpid(grandchild, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      c.Fail(absl::StrCat("container process ended abnormally, wait status ", status));
    }
    _exit(0);
  }
  close(report[1]);
  close(to_parent[1]);
  close(to_child[0]);
  std::vector<std::string> lines;
  if (iso.user_namespace) {
    char byte = 0;
    if (read(to_parent[0], &byte, 1) == 1) {
      // Root in the initial namespace may map every id.
      const std::string map = "0 0 4294967295\n";
      std::string base = absl::StrCat("/proc/", child, "/");
      int u = open((base + "uid_map").c_str(), O_WRONLY | O_CLOEXEC);
      int g = open((base + "gid_map").c_str(), O_WRONLY | O_CLOEXEC);
      if (u < 0 || g < 0 || !WriteAll(u, map) || !WriteAll(g, map)) {
        lines.push_back(absl::StrCat("write id maps: ", ErrnoName(errno)));
      }
      if (u >= 0) close(u);
      if (g >= 0) close(g);
      (void)!write(to_child[1], "m", 1);
    }
  }
  close(to_child[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(report[0], buf, sizeof(buf))) > 0) out.append(buf, n);
  close(report[0]);
  close(to_parent[0]);
  int status = 0;
  waitpid(child, &status, 0);
  for (absl::string_view l : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    lines.emplace_back(l);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    lines.push_back(absl::StrCat("namespace child ended abnormally, wait status ", status));
  }
  return lines;
}

// Mount points in this (the test's) mount namespace under `dir`.
std::vector<std::string> MountsUnder(const std::string& dir) {
  std::vector<std::string> found;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StrContains(line, dir)) found.push_back(line);
  }
  return found;
}

spec::Mount MakeMount(const std::string& destination, const std::string& type,
                      const std::string& source, std::vector<std::string> options) {
  spec::Mount m;
  m.destination = destination;
  m.type = type;
  m.source = source;
  m.options = options;
  spec::ApplyMountOptions(options, &m);
  return m;
}

// A bundle: <tmp>/rootfs with busybox, <tmp>/host with files to bind-mount.
class RootfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    auto dir = TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(std::move(*dir));
    ASSERT_EQ(chmod(dir_->path().c_str(), 0755), 0);
    rootfs_ = dir_->Sub("rootfs");
    for (const char* d : {"rootfs", "rootfs/bin", "rootfs/etc", "rootfs/usr", "host"}) {
      ASSERT_EQ(mkdir(dir_->Sub(d).c_str(), 0755), 0) << d;
    }
    {
      std::ifstream in("/bin/busybox", std::ios::binary);
      ASSERT_TRUE(in.good()) << "needs /bin/busybox (busybox-static)";
      std::ofstream out(rootfs_ + "/bin/busybox", std::ios::binary);
      out << in.rdbuf();
    }
    ASSERT_EQ(chmod((rootfs_ + "/bin/busybox").c_str(), 0755), 0);
    for (const char* tool : {"sh", "cat", "true", "ls", "echo"}) {
      ASSERT_EQ(symlink("busybox", (rootfs_ + "/bin/" + tool).c_str()), 0);
    }
    std::ofstream(rootfs_ + "/etc/passwd") << "root:x:0:0:root:/:/bin/sh\n";
    std::ofstream(dir_->Sub("host/data.txt")) << "host data\n";
    std::ofstream(dir_->Sub("host/file.txt")) << "bound file\n";
    unique_ = absl::StrCat("berth-rootfs-test-", getpid());
  }

  void TearDown() override {
    if (dir_) {
      EXPECT_THAT(MountsUnder(dir_->path()), IsEmpty());
    }
  }

  // runc's default config (`runc spec`) for this rootfs, without a cgroup namespace.
  spec::Spec DefaultSpec() {
    spec::Spec s;
    s.root.path = rootfs_;
    s.mounts = {
        MakeMount("/proc", "proc", "proc", {}),
        MakeMount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
        MakeMount("/dev/pts", "devpts", "devpts",
                  {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
        MakeMount("/dev/shm", "tmpfs", "shm",
                  {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
        MakeMount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
        MakeMount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
        MakeMount("/sys/fs/cgroup", "cgroup", "cgroup",
                  {"nosuid", "noexec", "nodev", "relatime", "ro"}),
    };
    for (NamespaceType t : {NamespaceType::kPid, NamespaceType::kNetwork, NamespaceType::kIpc,
                            NamespaceType::kUts, NamespaceType::kMount}) {
      s.linux.namespaces.push_back({t, ""});
    }
    s.linux.masked_paths = {"/proc/acpi",        "/proc/asound",        "/proc/kcore",
                            "/proc/keys",        "/proc/latency_stats", "/proc/timer_list",
                            "/proc/timer_stats", "/proc/sched_debug",   "/sys/firmware",
                            "/proc/scsi"};
    s.linux.readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"};
    return s;
  }

  static constexpr int kDefaultFlags =
      CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;

  // Prepare + Enter + Finalize, reporting failures; true if all three worked.
  static bool SetUpContainer(Checker& c, const spec::Spec& s, const RootfsOptions& o) {
    return c.ExpectOk(PrepareRootfs(s, o), "PrepareRootfs") &&
           c.ExpectOk(EnterRootfs(s, o), "EnterRootfs") &&
           c.ExpectOk(FinalizeRootfs(s, o), "FinalizeRootfs");
  }

  // What every container built from DefaultSpec() should look like.
  // host_has_kcore: this VM's kernel has no /proc/kcore, and a missing masked path is skipped.
  static void CheckDefaultContainer(Checker& c) {
    const bool host_has_kcore = host_has_kcore_;
    c.Expect(Readlink("/proc/self") == "1", "/proc/self is pid 1, got " + Readlink("/proc/self"));
    c.Expect(Exists("/bin/busybox") && !Exists("/usr/bin"), "/ is the busybox rootfs");

    // /dev
    c.Expect(FsType("/dev") == TMPFS_MAGIC, "/dev is a tmpfs");
    CheckCharDevice(c, "/dev/null", 1, 3);
    CheckCharDevice(c, "/dev/zero", 1, 5);
    CheckCharDevice(c, "/dev/full", 1, 7);
    CheckCharDevice(c, "/dev/random", 1, 8);
    CheckCharDevice(c, "/dev/urandom", 1, 9);
    CheckCharDevice(c, "/dev/tty", 5, 0);
    {
      int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
      char b;
      c.Expect(fd >= 0 && write(fd, "x", 1) == 1 && read(fd, &b, 1) == 0, "/dev/null works");
      if (fd >= 0) close(fd);
      struct stat st;
      c.Expect(stat("/dev/null", &st) == 0 && (st.st_mode & 07777) == 0666,
               "/dev/null has mode 0666");
    }
    c.Expect(FsType("/dev/pts") == DEVPTS_SUPER_MAGIC, "/dev/pts is a devpts");
    c.Expect(Readlink("/dev/ptmx") == "pts/ptmx", "/dev/ptmx -> pts/ptmx");
    {
      int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (c.Expect(m >= 0, "open /dev/ptmx: " + ErrnoName(errno))) {
        c.Expect(grantpt(m) == 0 && unlockpt(m) == 0, "unlock pty");
        const char* name = ptsname(m);
        c.Expect(name != nullptr && absl::StartsWith(name, "/dev/pts/"),
                 absl::StrCat("pty slave under /dev/pts, got ", name ? name : "null"));
        int s = name ? open(name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
        c.Expect(s >= 0, "open pty slave");
        if (s >= 0) close(s);
        close(m);
      }
    }
    c.Expect(FsType("/dev/shm") == TMPFS_MAGIC, "/dev/shm is a tmpfs");
    c.Expect(FsType("/dev/mqueue") == kMqueueMagic, "/dev/mqueue is an mqueue");
    c.Expect(Readlink("/dev/fd") == "/proc/self/fd", "/dev/fd link");
    c.Expect(Readlink("/dev/stdin") == "/proc/self/fd/0", "/dev/stdin link");
    c.Expect(Readlink("/dev/stdout") == "/proc/self/fd/1", "/dev/stdout link");
    c.Expect(Readlink("/dev/stderr") == "/proc/self/fd/2", "/dev/stderr link");
    c.Expect(Exists("/dev/core") == host_has_kcore, "/dev/core only if the host has /proc/kcore");

    // /sys and cgroups, read-only.
    c.Expect(Exists("/sys/kernel"), "/sys shows sysfs");
    c.Expect(ReadOnly("/sys"), "/sys is read-only");
    c.Expect(ReadOnly("/sys/fs/cgroup"), "/sys/fs/cgroup is read-only");
    c.Expect(mkdir("/sys/fs/cgroup/x", 0755) != 0 && errno == EROFS,
             "mkdir in /sys/fs/cgroup fails with EROFS: " + ErrnoName(errno));

    // Masked and read-only paths.
    if (host_has_kcore) {
      c.Expect(Slurp("/proc/kcore").empty(), "masked /proc/kcore reads empty");
      CheckCharDevice(c, "/proc/kcore", 1, 3);
    }
    c.Expect(Slurp("/proc/keys").empty(), "masked /proc/keys reads empty");
    CheckCharDevice(c, "/proc/keys", 1, 3);
    c.Expect(FsType("/sys/firmware") == TMPFS_MAGIC && ReadOnly("/sys/firmware"),
             "masked /sys/firmware is a read-only tmpfs");
    int err = OpenWriteErrno("/proc/sys/kernel/domainname");
    c.Expect(err == EROFS, "readonly /proc/sys: write gives EROFS, got " + ErrnoName(err));
    c.Expect(!Slurp("/proc/sys/kernel/ostype").empty(), "/proc/sys still readable");

    // A program runs.
    int st = RunProgram({"/bin/busybox", "sh", "-c", "echo hi > /dev/null && ls /bin/sh"});
    c.Expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
             absl::StrCat("busybox sh runs in the container, wait status ", st));
  }

  std::optional<TempDir> dir_;
  std::string rootfs_;
  std::string unique_;
  static inline bool host_has_kcore_ = access("/proc/kcore", F_OK) == 0;
};

TEST_F(RootfsTest, DefaultSpecFromInside) {
  spec::Spec s = DefaultSpec();
  s.root.readonly = true;
  s.linux.sysctl["net.ipv4.ip_forward"] = "1";
  // A read-only bind of a host directory, and a file bind through a relative symlink that
  // tries to climb out of the rootfs.
  s.mounts.push_back(MakeMount("/data", "bind", dir_->Sub("host"), {"rbind", "ro"}));
  ASSERT_EQ(symlink("../../../../../../../usr", (rootfs_ + "/up").c_str()), 0);
  s.mounts.push_back(MakeMount("/up/" + unique_, "none", dir_->Sub("host/file.txt"), {"bind"}));
  // Recursive read-only, and a propagation option.
  s.mounts.push_back(MakeMount("/data2", "bind", dir_->Sub("host"), {"rbind", "rro"}));
  s.mounts.push_back(MakeMount("/data3", "bind", dir_->Sub("host"), {"rbind", "rshared"}));
  // A tmpfs through an absolute symlink to /etc.
  ASSERT_EQ(symlink("/etc", (rootfs_ + "/evil").c_str()), 0);
  s.mounts.push_back(MakeMount("/evil", "tmpfs", "tmpfs", {"mode=700"}));
  // Extra devices.
  spec::Device dev;
  dev.path = "/dev/berth/null2";
  dev.type = 'c';
  dev.major = 1;
  dev.minor = 3;
  dev.file_mode = 0640;
  dev.uid = 1;
  dev.gid = 2;
  s.linux.devices.push_back(dev);
  spec::Device fifo;
  fifo.path = "/dev/berth-fifo";
  fifo.type = 'p';
  fifo.file_mode = 0600;
  s.linux.devices.push_back(fifo);

  const std::string rootfs = rootfs_;
  const std::string unique = unique_;
  Isolation iso;
  iso.unshare_flags = kDefaultFlags;
  auto lines = RunIsolated(iso, [&](Checker& c) {
    if (!c.ExpectOk(PrepareRootfs(s, {}), "PrepareRootfs")) return;
    // Where createContainer hooks run: host paths still visible.
    c.Expect(FsType("/etc") != TMPFS_MAGIC, "the host's /etc is not covered");
    c.Expect(FsType(rootfs + "/etc") == TMPFS_MAGIC, "the tmpfs landed on <rootfs>/etc");
    c.Expect(!Exists("/usr/" + unique), "nothing was created in the host's /usr");
    if (!c.ExpectOk(EnterRootfs(s, {}), "EnterRootfs")) return;
    if (!c.ExpectOk(FinalizeRootfs(s, {}), "FinalizeRootfs")) return;

    CheckDefaultContainer(c);
    c.Expect(Slurp("/proc/sys/net/ipv4/ip_forward") == "1\n", "sysctl net.ipv4.ip_forward=1");
    int err = OpenWriteErrno("/berth-x", O_CREAT);
    c.Expect(err == EROFS, "root.readonly: create in / gives EROFS, got " + ErrnoName(err));
    c.Expect(ReadOnly("/"), "/ is read-only");
    c.Expect(Slurp("/data/data.txt") == "host data\n", "bind mount shows the host dir");
    err = OpenWriteErrno("/data/data.txt");
    c.Expect(err == EROFS, "ro bind: write gives EROFS, got " + ErrnoName(err));
    err = OpenWriteErrno("/data2/data.txt");
    c.Expect(err == EROFS, "rro bind: write gives EROFS, got " + ErrnoName(err));
    bool data3_shared = false;
    std::ifstream mi("/proc/self/mountinfo");
    for (std::string line; std::getline(mi, line);) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      if (f.size() > 6 && f[4] == "/data3" && absl::StrContains(line, " shared:")) {
        data3_shared = true;
      }
    }
    c.Expect(data3_shared, "rshared bind is shared");
    c.Expect(Slurp("/usr/" + unique) == "bound file\n", "file bind landed in the rootfs's /usr");
    c.Expect(FsType("/etc") == TMPFS_MAGIC, "/etc is the tmpfs mounted through /evil");
    struct stat st;
    if (c.Expect(stat("/etc", &st) == 0, "stat /etc")) {
      c.Expect((st.st_mode & 07777) == 0700, "tmpfs data mode=700 wins over the dir's mode");
    }

    // Extra devices, exactly as asked.
    CheckCharDevice(c, "/dev/berth/null2", 1, 3);
    if (c.Expect(stat("/dev/berth/null2", &st) == 0, "stat /dev/berth/null2")) {
      c.Expect((st.st_mode & 07777) == 0640,
               absl::StrCat("device mode 0640, got ", st.st_mode & 07777));
      c.Expect(st.st_uid == 1 && st.st_gid == 2, "device owned by 1:2");
    }
    c.Expect(
        stat("/dev/berth-fifo", &st) == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 07777) == 0600,
        "fifo /dev/berth-fifo with mode 0600");
    // /dev stays writable (no "ro" asked).
    c.Expect(!ReadOnly("/dev"), "/dev is writable");
  });
  EXPECT_THAT(lines, IsEmpty());
  EXPECT_FALSE(Exists("/usr/" + unique_));
  EXPECT_TRUE(Exists(rootfs_ + "/usr/" + unique_)) << "the mount point file is in the rootfs";
}

TEST_F(RootfsTest, NoPivot) {
  spec::Spec s = DefaultSpec();
  RootfsOptions o;
  o.no_pivot = true;
  Isolation iso;
  iso.unshare_flags = kDefaultFlags;
  auto lines = RunIsolated(iso, [&](Checker& c) {
    if (!SetUpContainer(c, s, o)) return;
    CheckDefaultContainer(c);
  });
  EXPECT_THAT(lines, IsEmpty());
}

TEST_F(RootfsTest, UserNamespaceBindsDevicesAndSysfs) {
  spec::Spec s = DefaultSpec();
  // No network namespace: sysfs cannot be mounted in the user namespace, /sys is bound.
  s.linux.namespaces.erase(s.linux.namespaces.begin() + 1);
  s.linux.namespaces.push_back({NamespaceType::kUser, ""});
  s.root.readonly = true;
  // The host dir is on a mount inherited from the initial namespace: its flags are locked,
  // and "ro" must keep them (relatime) to be allowed.
  s.mounts.push_back(MakeMount("/data", "bind", dir_->Sub("host"), {"bind", "ro"}));
  RootfsOptions o;
  o.in_user_namespace = true;
  Isolation iso;
  iso.user_namespace = true;
  iso.unshare_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
  auto lines = RunIsolated(iso, [&](Checker& c) {
    if (!SetUpContainer(c, s, o)) return;
    CheckDefaultContainer(c);
    c.Expect(FsType("/sys") == SYSFS_MAGIC, "/sys is the host's sysfs");
    int err = OpenWriteErrno("/data/data.txt");
    c.Expect(err == EROFS, "ro bind in a user namespace: EROFS, got " + ErrnoName(err));
    err = OpenWriteErrno("/berth-x", O_CREAT);
    c.Expect(err == EROFS, "root.readonly in a user namespace: EROFS, got " + ErrnoName(err));
  });
  EXPECT_THAT(lines, IsEmpty());
}

TEST_F(RootfsTest, CgroupV1HierarchiesAreTheContainersOwn) {
  spec::Spec s = DefaultSpec();
  Isolation iso;
  iso.unshare_flags = kDefaultFlags;
  // Which memory cgroup we are in (on this host it is not "/").
  std::string own_memory;
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {
    if (absl::StrContains(line, ":memory:")) own_memory = line.substr(line.rfind(':') + 1);
  }
  struct statfs st;
  if (statfs("/sys/fs/cgroup", &st) != 0 || st.f_type == CGROUP2_SUPER_MAGIC ||
      own_memory.empty()) {
    GTEST_SKIP() << "not a cgroup v1 host";
  }
  auto lines = RunIsolated(iso, [&](Checker& c) {
    if (!SetUpContainer(c, s, {})) return;
    c.Expect(FsType("/sys/fs/cgroup") == TMPFS_MAGIC, "/sys/fs/cgroup is a tmpfs");
    c.Expect(FsType("/sys/fs/cgroup/memory") == CGROUP_SUPER_MAGIC, "memory hierarchy");
    c.Expect(Exists("/sys/fs/cgroup/memory/memory.limit_in_bytes"), "memory files");
    c.Expect(ReadOnly("/sys/fs/cgroup/memory"), "memory hierarchy is read-only");
    // The bind shows our own cgroup: its cgroup.procs lists us (as the host sees our pid,
    // translated to this pid namespace: pid 1).
    std::string procs = Slurp("/sys/fs/cgroup/memory/cgroup.procs");
    c.Expect(absl::StrContains(absl::StrCat("\n", procs), "\n1\n"),
             "our memory cgroup lists pid 1, got: " + procs);
  });
  EXPECT_THAT(lines, IsEmpty());
}

TEST_F(RootfsTest, CgroupNamespaceMountsFreshHierarchies) {
  spec::Spec s = DefaultSpec();
  s.linux.namespaces.push_back({NamespaceType::kCgroup, ""});
  Isolation iso;
  iso.unshare_flags = kDefaultFlags | CLONE_NEWCGROUP;
  struct statfs st;
  if (statfs("/sys/fs/cgroup", &st) != 0 || st.f_type == CGROUP2_SUPER_MAGIC) {
    GTEST_SKIP() << "not a cgroup v1 host";
  }
  auto lines = RunIsolated(iso, [&](Checker& c) {
    if (!SetUpContainer(c, s, {})) return;
    c.Expect(FsType("/sys/fs/cgroup/memory") == CGROUP_SUPER_MAGIC, "memory hierarchy");
    c.Expect(ReadOnly("/sys/fs/cgroup/memory"), "memory hierarchy is read-only");
    // In the cgroup namespace our cgroup is the root.
    c.Expect(Slurp("/proc/self/cgroup").find(":memory:/\n") != std::string::npos,
             "in a cgroup namespace: " + Slurp("/proc/self/cgroup"));
    c.Expect(Exists("/sys/fs/cgroup/memory/cgroup.procs"), "memory files");
  });
  EXPECT_THAT(lines, IsEmpty());
}

TEST_F(RootfsTest, CgroupV2InAPrivateMountNamespace) {
  spec::Spec s = DefaultSpec();
  Isolation iso;
  iso.unshare_flags = kDefaultFlags;
  // Only in the child's private mount namespace: a cgroup2 mount over /sys/fs/cgroup.
  iso.setup = [] {
    if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) !=
        0) {
      return absl::StrCat("mount cgroup2: ", ErrnoName(errno));
    }
    return std::string();
  };
  auto lines = RunIsolated(iso, [&](Checker& c) {
    if (!SetUpContainer(c, s, {})) return;
    c.Expect(FsType("/sys/fs/cgroup") == CGROUP2_SUPER_MAGIC, "/sys/fs/cgroup is cgroup2");
    c.Expect(Exists("/sys/fs/cgroup/cgroup.controllers"), "cgroup2 files");
    c.Expect(ReadOnly("/sys/fs/cgroup"), "cgroup2 is read-only");
  });
  EXPECT_THAT(lines, IsEmpty());
}

TEST_F(RootfsTest, ReadOnlyTmpfsAndDevAndCopyUp) {
  spec::Spec s = DefaultSpec();
  s.mounts[1] = MakeMount("/dev", "tmpfs", "tmpfs", {"nosuid", "mode=755", "ro"});
  s.mounts.push_back(MakeMount("/etc", "tmpfs", "tmpfs", {"tmpcopyup", "ro"}));
  s.mounts.push_back(MakeMount("/etc/sub/dir", "tmpfs", "tmpfs", {}));
  ASSERT_EQ(chmod((rootfs_ + "/etc/passwd").c_str(), 0640), 0);
  Isolation iso;
  iso.unshare_flags = kDefaultFlags;
  auto lines = RunIsolated(iso, [&](Checker& c) {
    if (!SetUpContainer(c, s, {})) return;
    CheckDefaultContainer(c);
    c.Expect(ReadOnly("/dev"), "/dev is read-only after Finalize");
    c.Expect(FsType("/etc") == TMPFS_MAGIC && ReadOnly("/etc"), "/etc is a read-only tmpfs");
    c.Expect(Slurp("/etc/passwd") == "root:x:0:0:root:/:/bin/sh\n", "tmpcopyup copied passwd");
    struct stat st;
    c.Expect(stat("/etc/passwd", &st) == 0 && (st.st_mode & 07777) == 0640,
             "tmpcopyup kept the mode");
    c.Expect(FsType("/etc/sub/dir") == TMPFS_MAGIC && !ReadOnly("/etc/sub/dir"),
             "a mount point could be made inside the read-only tmpfs");
  });
  EXPECT_THAT(lines, IsEmpty());
}

TEST_F(RootfsTest, SharedRootfsPropagation) {
  spec::Spec s = DefaultSpec();
  s.linux.rootfs_propagation = "rshared";
  Isolation iso;
  iso.unshare_flags = kDefaultFlags;
  auto lines = RunIsolated(iso, [&](Checker& c) {
    if (!SetUpContainer(c, s, {})) return;
    std::ifstream in("/proc/self/mountinfo");
    bool shared = false;
    for (std::string line; std::getline(in, line);) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      if (f.size() > 6 && f[4] == "/" && absl::StrContains(line, " shared:")) shared = true;
    }
    c.Expect(shared, "/ is shared");
  });
  EXPECT_THAT(lines, IsEmpty());
}

// An unbindable "/" before pivot_root would make the bind of the rootfs fail with EINVAL
// (runtime-tools linux_rootfs_propagation "unbindable"): the new "/" is unbindable after it.
TEST_F(RootfsTest, UnbindableRootfsPropagation) {
  spec::Spec s = DefaultSpec();
  s.linux.rootfs_propagation = "unbindable";
  Isolation iso;
  iso.unshare_flags = kDefaultFlags;
  auto lines = RunIsolated(iso, [&](Checker& c) {
    if (!SetUpContainer(c, s, {})) return;
    std::ifstream in("/proc/self/mountinfo");
    bool unbindable = false;
    for (std::string line; std::getline(in, line);) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      if (f.size() > 6 && f[4] == "/" && absl::StrContains(line, " unbindable")) {
        unbindable = true;
      }
    }
    c.Expect(unbindable, "/ is unbindable");
  });
  EXPECT_THAT(lines, IsEmpty());
}

TEST_F(RootfsTest, MountConsoleBindsThePty) {
  spec::Spec s = DefaultSpec();
  Isolation iso;
  iso.unshare_flags = kDefaultFlags;
  auto lines = RunIsolated(iso, [&](Checker& c) {
    if (!SetUpContainer(c, s, {})) return;
    int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (!c.Expect(m >= 0 && unlockpt(m) == 0, "open pty")) return;
    std::string name = ptsname(m);
    if (!c.ExpectOk(MountConsole(name), "MountConsole")) return;
    struct stat a, b;
    c.Expect(stat("/dev/console", &a) == 0 && stat(name.c_str(), &b) == 0 && a.st_rdev == b.st_rdev,
             "/dev/console is the pty slave");
  });
  EXPECT_THAT(lines, IsEmpty());
}

// Without a mount namespace in the spec (runtime-tools' linux_ns_itype): chroot, and the
// propagation of the caller's mounts is left alone. (The test child still has a private
// mount namespace of its own.)
TEST_F(RootfsTest, NoMountNamespaceChrootsAndKeepsPropagation) {
  spec::Spec s = DefaultSpec();
  s.linux.namespaces.pop_back();  // kMount
  s.root.readonly = true;
  Isolation iso;
  iso.unshare_flags = kDefaultFlags;
  iso.setup = [] {
    if (mount(nullptr, "/", nullptr, MS_SHARED, nullptr) != 0) return std::string("make / shared");
    return std::string();
  };
  auto lines = RunIsolated(iso, [&](Checker& c) {
    if (!c.ExpectOk(PrepareRootfs(s, {}), "PrepareRootfs")) return;
    std::ifstream in("/proc/self/mountinfo");
    bool root_shared = false;
    for (std::string line; std::getline(in, line);) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      if (f.size() > 6 && f[4] == "/" && absl::StrContains(line, " shared:")) root_shared = true;
    }
    c.Expect(root_shared, "the caller's / is still shared");
    if (!c.ExpectOk(EnterRootfs(s, {}), "EnterRootfs")) return;
    if (!c.ExpectOk(FinalizeRootfs(s, {}), "FinalizeRootfs")) return;
    CheckDefaultContainer(c);
    int err = OpenWriteErrno("/berth-x", O_CREAT);
    c.Expect(err == EROFS, "root.readonly: EROFS, got " + ErrnoName(err));
  });
  EXPECT_THAT(lines, IsEmpty());
}

TEST_F(RootfsTest, ErrorsNameTheField) {
  Isolation iso;
  iso.unshare_flags = kDefaultFlags;
  const std::string rootfs = rootfs_;
  auto lines = RunIsolated(iso, [&](Checker& c) {
    auto expect_error = [&](const spec::Spec& s, const std::string& want) {
      absl::Status st = PrepareRootfs(s, {});
      c.Expect(!st.ok() && absl::StrContains(st.message(), want),
               absl::StrCat("want an error containing \"", want, "\", got ", st.ToString()));
    };
    spec::Spec s = DefaultSpec();
    s.mounts = {MakeMount("/proc", "proc", "proc", {}), MakeMount("/x", "berthnofs", "none", {})};
    expect_error(s, absl::StrCat("mounts[1] (/x -> ", rootfs, "/x): mount berthnofs: "));

    s.mounts = {MakeMount("/data", "bind", "/nonexistent/berth", {"bind"})};
    expect_error(s, absl::StrCat("mounts[0] (/data -> ", rootfs,
                                 "/data): open source /nonexistent/berth: "));

    s.mounts = {MakeMount("/proc", "proc", "proc", {}),
                MakeMount("/proc/sys", "tmpfs", "tmpfs", {})};
    expect_error(s, "mounts[1] (/proc/sys -> ");
    expect_error(s, "is inside /proc");

    s.mounts = {MakeMount("/proc", "tmpfs", "tmpfs", {})};
    expect_error(s, "only a proc file system may be mounted on /proc");

    s.mounts = {MakeMount("/x", "", "", {"nosuid"})};
    expect_error(s, "mounts[0] (/x -> ");

    s.mounts = {MakeMount("/x", "bind", "/tmp", {"rbind", "idmap"})};
    expect_error(s, "): id-mapped mounts (idmap, ridmap) are not supported");

    s.mounts.clear();
    spec::Device d;
    d.path = "/dev/bad";
    d.type = 'x';
    s.linux.devices = {d};
    expect_error(s, "linux.devices[0] (/dev/bad): type \"x\"");

    s.linux.devices.clear();
    s.linux.sysctl["kernel.pid_max"] = "1";
    expect_error(s, "linux.sysctl[\"kernel.pid_max\"]: not a namespaced sysctl");
    s.linux.sysctl.clear();
    s.linux.sysctl["net.ipv4.ip_forward"] = "1";
    s.linux.namespaces.erase(s.linux.namespaces.begin() + 1);  // no network namespace
    expect_error(s, "linux.sysctl[\"net.ipv4.ip_forward\"]: needs a network namespace");
    // The refused sysctl did not touch the host's value either way.
    c.Expect(FinalizeRootfs(s, {}).code() == absl::StatusCode::kInvalidArgument,
             "FinalizeRootfs refuses it too");
  });
  EXPECT_THAT(lines, IsEmpty());
}

}  // namespace
}  // namespace berth::runc::linux
