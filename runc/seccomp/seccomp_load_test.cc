// Filters installed for real. Each one goes into a forked child, so the test process itself is
// never filtered; the child reports through a pipe and its exit status, the parent asserts. Seccomp
// needs no root once no_new_privs is set, which each child does first (except the test about that
// precondition).
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <initializer_list>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runc/seccomp/seccomp.h"
#include "runc/spec/spec.h"

namespace berth::runc::seccomp {
namespace {

using ::berth::testing::IsOk;
using ::testing::HasSubstr;

struct ChildResult {
  int wait_status = 0;
  // What the child wrote to its report fd, followed by body()'s return value.
  std::string output;

  bool ExitedCleanly() const { return WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0; }
  bool KilledBy(int sig) const { return WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == sig; }
};

std::ostream& operator<<(std::ostream& os, const ChildResult& r) {
  return os << "wait status " << r.wait_status << ", output \"" << r.output << "\"";
}

// Forks and runs body(report_fd) in the child; whatever body returns is written to the report pipe
// and the child exits 0 (without atexit handlers or gtest teardown).
ChildResult RunInChild(const std::function<std::string(int report_fd)>& body) {
  ChildResult r;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << strerror(errno);
    return r;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << strerror(errno);
    return r;
  }
  if (pid == 0) {
    close(fds[0]);
    const std::string out = body(fds[1]);
    if (!out.empty() && write(fds[1], out.data(), out.size()) < 0) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    r.output.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  while (waitpid(pid, &r.wait_status, 0) < 0 && errno == EINTR) {
  }
  return r;
}

// Child-side helpers: each returns "" when all is as expected, else what went wrong.
std::string SetNoNewPrivs() {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return absl::StrCat("nnp: ", strerror(errno));
  return "";
}

std::string LoadInChild(const Filter& f) {
  if (std::string e = SetNoNewPrivs(); !e.empty()) return e;
  if (absl::Status s = f.Load(); !s.ok()) return absl::StrCat("load: ", s.ToString());
  return "";
}

// Concatenates step results. The steps run in order because the elements of a braced list are
// evaluated left to right (the operands of + are not), so Seq({LoadInChild(f), ProbeMkdir(EPERM)})
// loads the filter before probing.
std::string Seq(std::initializer_list<std::string> steps) {
  std::string out;
  for (const std::string& s : steps) out += s;
  return out;
}

// Expects `rc` (a syscall's return value) to be -1 with `err`, or >= 0 when err == 0.
std::string Expect(const char* what, long rc, int err) {
  const int got = rc < 0 ? errno : 0;
  if (err == 0 && rc >= 0) return "";
  if (err != 0 && rc == -1 && got == err) return "";
  return absl::StrCat(what, ": rc=", rc, " errno=", got, " want errno=", err, "; ");
}

std::string TempPath(const char* name) {
  const char* dir = getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name, "-", getpid());
}

spec::SeccompSyscall Rule(std::vector<std::string> names, std::string action,
                          std::vector<spec::SeccompArg> args = {},
                          std::optional<uint32_t> errno_ret = std::nullopt) {
  spec::SeccompSyscall r;
  r.names = std::move(names);
  r.action = std::move(action);
  r.args = std::move(args);
  r.errno_ret = errno_ret;
  return r;
}

spec::SeccompArg Arg(uint32_t index, std::string op, uint64_t value) {
  spec::SeccompArg a;
  a.index = index;
  a.op = std::move(op);
  a.value = value;
  return a;
}

// Default ALLOW; mkdir (and mkdirat, which libcs may use for mkdir()) fail with `errno_ret`.
spec::Seccomp BlockMkdir(std::optional<uint32_t> errno_ret = std::nullopt) {
  spec::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.syscalls = {Rule({"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO", {}, errno_ret)};
  return s;
}

// The probe run after BlockMkdir's filter: mkdir fails with `err`, getpid still works.
std::string ProbeMkdir(int err) {
  const std::string dir = TempPath("mkdir-probe");
  std::string out = Expect("mkdir", mkdir(dir.c_str(), 0700), err);
  if (err == 0) rmdir(dir.c_str());
  const long pid = syscall(SYS_getpid);
  if (pid != getpid() || pid <= 0) out += "getpid failed; ";
  return out;
}

TEST(SeccompLoadTest, ErrnoRuleBlocksMkdirWhileGetpidWorks) {
  // Sanity: without a filter, the probe's mkdir succeeds.
  EXPECT_EQ(RunInChild([](int) { return ProbeMkdir(0); }).output, "");

  absl::StatusOr<Filter> f = Compile(BlockMkdir());
  ASSERT_THAT(f, IsOk());
  const ChildResult r = RunInChild([&](int) { return Seq({LoadInChild(*f), ProbeMkdir(EPERM)}); });
  EXPECT_TRUE(r.ExitedCleanly()) << r;
  EXPECT_EQ(r.output, "");
}

TEST(SeccompLoadTest, CustomErrnoRetIsReturned) {
  absl::StatusOr<Filter> f = Compile(BlockMkdir(ENOSYS));
  ASSERT_THAT(f, IsOk());
  const ChildResult r = RunInChild([&](int) { return Seq({LoadInChild(*f), ProbeMkdir(ENOSYS)}); });
  EXPECT_TRUE(r.ExitedCleanly()) << r;
  EXPECT_EQ(r.output, "");
}

TEST(SeccompLoadTest, ArgumentFilterBlocksOnlyTheMatchingValue) {
  // Docker's profile does this: personality(0xffffffff) only queries the persona.
  spec::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.syscalls = {Rule({"personality"}, "SCMP_ACT_ERRNO", {Arg(0, "SCMP_CMP_EQ", 0xffffffffULL)})};
  absl::StatusOr<Filter> f = Compile(s);
  ASSERT_THAT(f, IsOk());
  const ChildResult r = RunInChild([&](int) {
    return Seq({LoadInChild(*f),
                Expect("personality(query)", syscall(SYS_personality, 0xffffffffUL), EPERM),
                Expect("personality(PER_LINUX)", syscall(SYS_personality, PER_LINUX), 0)});
  });
  EXPECT_TRUE(r.ExitedCleanly()) << r;
  EXPECT_EQ(r.output, "");
}

TEST(SeccompLoadTest, ArgsSharingAnIndexMatchAny) {
  // kill(pid, 0) and kill(pid, SIGCONT) are blocked, kill(pid, SIGWINCH) is not (and is harmless:
  // ignored by default).
  spec::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.syscalls = {
      Rule({"kill"}, "SCMP_ACT_ERRNO", {Arg(1, "SCMP_CMP_EQ", 0), Arg(1, "SCMP_CMP_EQ", SIGCONT)})};
  absl::StatusOr<Filter> f = Compile(s);
  ASSERT_THAT(f, IsOk());
  const ChildResult r = RunInChild([&](int) {
    const pid_t self = getpid();
    return Seq({LoadInChild(*f), Expect("kill 0", syscall(SYS_kill, self, 0), EPERM),
                Expect("kill SIGCONT", syscall(SYS_kill, self, SIGCONT), EPERM),
                Expect("kill SIGWINCH", syscall(SYS_kill, self, SIGWINCH), 0)});
  });
  EXPECT_TRUE(r.ExitedCleanly()) << r;
  EXPECT_EQ(r.output, "");
}

TEST(SeccompLoadTest, ArgsOnDistinctIndexesMatchAll) {
  const ChildResult r = RunInChild([](int) {
    // Compiled in the child: it needs the child's pid.
    spec::Seccomp s;
    s.default_action = "SCMP_ACT_ALLOW";
    s.syscalls = {
        Rule({"kill"}, "SCMP_ACT_ERRNO",
             {Arg(0, "SCMP_CMP_EQ", static_cast<uint64_t>(getpid())), Arg(1, "SCMP_CMP_EQ", 0)})};
    absl::StatusOr<Filter> f = Compile(s);
    if (!f.ok()) return f.status().ToString();
    return Seq({LoadInChild(*f), Expect("kill self 0", syscall(SYS_kill, getpid(), 0), EPERM),
                Expect("kill self SIGWINCH", syscall(SYS_kill, getpid(), SIGWINCH), 0),
                Expect("kill parent 0", syscall(SYS_kill, getppid(), 0), 0)});
  });
  EXPECT_TRUE(r.ExitedCleanly()) << r;
  EXPECT_EQ(r.output, "");
}

TEST(SeccompLoadTest, KillProcessKillsWithSigsys) {
  spec::Seccomp s = BlockMkdir();
  s.syscalls[0].action = "SCMP_ACT_KILL_PROCESS";
  absl::StatusOr<Filter> f = Compile(s);
  ASSERT_THAT(f, IsOk());
  const ChildResult r = RunInChild([&](int fd) {
    std::string out = LoadInChild(*f);
    if (!out.empty()) return out;
    if (write(fd, "loaded;", 7) != 7) return std::string("write failed");
    mkdir(TempPath("never").c_str(), 0700);
    return std::string("survived mkdir");
  });
  EXPECT_TRUE(r.KilledBy(SIGSYS)) << r;
  EXPECT_EQ(r.output, "loaded;");
}

TEST(SeccompLoadTest, TrapRaisesSigsys) {
  spec::Seccomp s = BlockMkdir();
  s.syscalls[0].action = "SCMP_ACT_TRAP";
  absl::StatusOr<Filter> f = Compile(s);
  ASSERT_THAT(f, IsOk());
  const ChildResult r = RunInChild([&](int) {
    std::string out = LoadInChild(*f);
    if (!out.empty()) return out;
    mkdir(TempPath("never").c_str(), 0700);
    return std::string("survived mkdir");
  });
  EXPECT_TRUE(r.KilledBy(SIGSYS)) << r;
  EXPECT_EQ(r.output, "");
}

TEST(SeccompLoadTest, TraceWithoutTracerFailsWithEnosys) {
  // seccomp(2): SECCOMP_RET_TRACE with no tracer attached skips the call with ENOSYS.
  spec::Seccomp s = BlockMkdir();
  s.syscalls[0].action = "SCMP_ACT_TRACE";
  absl::StatusOr<Filter> f = Compile(s);
  ASSERT_THAT(f, IsOk());
  const ChildResult r = RunInChild([&](int) { return Seq({LoadInChild(*f), ProbeMkdir(ENOSYS)}); });
  EXPECT_TRUE(r.ExitedCleanly()) << r;
  EXPECT_EQ(r.output, "");
}

TEST(SeccompLoadTest, UnknownSyscallNamesAreSkipped) {
  spec::Seccomp s = BlockMkdir();
  s.syscalls[0].names.insert(s.syscalls[0].names.begin(), "berth_future_syscall");
  s.syscalls.push_back(Rule({"another_future_syscall"}, "SCMP_ACT_KILL"));
  absl::StatusOr<Filter> f = Compile(s);
  ASSERT_THAT(f, IsOk());
  const ChildResult r = RunInChild([&](int) { return Seq({LoadInChild(*f), ProbeMkdir(EPERM)}); });
  EXPECT_TRUE(r.ExitedCleanly()) << r;
  EXPECT_EQ(r.output, "");
}

TEST(SeccompLoadTest, ExportedBpfInstalledInTheChildBehavesLikeLoad) {
  // The fast path: compile and export in the parent, one seccomp(2) call in the child.
  absl::StatusOr<Filter> f = Compile(BlockMkdir(EACCES));
  ASSERT_THAT(f, IsOk());
  absl::StatusOr<std::string> bpf = f->ExportBpf();
  ASSERT_THAT(bpf, IsOk());
  const uint32_t flags = f->kernel_flags();

  const ChildResult via_bpf = RunInChild([&](int) {
    std::string out = SetNoNewPrivs();
    if (absl::Status st = InstallBpf(*bpf, flags); !st.ok()) out += st.ToString();
    out += ProbeMkdir(EACCES);
    return out;
  });
  const ChildResult via_load = RunInChild([&](int) {
    return Seq({LoadInChild(*f), ProbeMkdir(EACCES)});
  });
  EXPECT_TRUE(via_bpf.ExitedCleanly()) << via_bpf;
  EXPECT_EQ(via_bpf.output, "");
  EXPECT_TRUE(via_load.ExitedCleanly()) << via_load;
  EXPECT_EQ(via_load.output, "");
}

TEST(SeccompLoadTest, FlagsAreAccepted) {
  for (const std::string& flag : SupportedFlags()) {
    spec::Seccomp s = BlockMkdir();
    s.flags = {flag};
    s.has_flags = true;
    absl::StatusOr<Filter> f = Compile(s);
    ASSERT_THAT(f, IsOk()) << flag;
    EXPECT_NE(f->kernel_flags(), 0u) << flag;
    const ChildResult r = RunInChild([&](int) {
      return Seq({LoadInChild(*f), ProbeMkdir(EPERM)});
    });
    EXPECT_TRUE(r.ExitedCleanly()) << flag << ": " << r;
    EXPECT_EQ(r.output, "") << flag;
  }
}

TEST(SeccompLoadTest, LogFlagAccepted) {
  spec::Seccomp s = BlockMkdir();
  s.flags = {"SECCOMP_FILTER_FLAG_LOG"};
  s.has_flags = true;
  absl::StatusOr<Filter> f = Compile(s);
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ(f->kernel_flags(), SECCOMP_FILTER_FLAG_LOG);
  const ChildResult r = RunInChild([&](int) { return Seq({LoadInChild(*f), ProbeMkdir(EPERM)}); });
  EXPECT_TRUE(r.ExitedCleanly()) << r;
  EXPECT_EQ(r.output, "");
}

TEST(SeccompLoadTest, FiltersStack) {
  // A second filter (e.g. one a container adds itself) only narrows the first.
  absl::StatusOr<Filter> first = Compile(BlockMkdir(EACCES));
  spec::Seccomp s2;
  s2.default_action = "SCMP_ACT_ALLOW";
  s2.syscalls = {Rule({"rmdir"}, "SCMP_ACT_ERRNO", {}, EBUSY)};
  absl::StatusOr<Filter> second = Compile(s2);
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  const ChildResult r = RunInChild([&](int) {
    return Seq({LoadInChild(*first), LoadInChild(*second), ProbeMkdir(EACCES),
                Expect("rmdir", rmdir(TempPath("x").c_str()), EBUSY)});
  });
  EXPECT_TRUE(r.ExitedCleanly()) << r;
  EXPECT_EQ(r.output, "");
}

// A restrictive profile: default `default_action`, everything below process_madvise allowed except
// mkdir/mkdirat, nothing newer listed. The child only needs old syscalls.
spec::Seccomp AllowOldSyscalls(const char* default_action) {
  spec::Seccomp s;
  s.default_action = default_action;
  const int limit = seccomp_syscall_resolve_name("process_madvise");
  spec::SeccompSyscall allow = Rule({}, "SCMP_ACT_ALLOW");
  for (int nr = 0; nr < limit; ++nr) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    if (name == nullptr) continue;
    const std::string n = name;
    free(name);
    if (n != "mkdir" && n != "mkdirat") allow.names.push_back(n);
  }
  s.syscalls = {allow};
  return s;
}

TEST(SeccompLoadTest, SyscallsNewerThanTheProfileGetEnosys) {
  absl::StatusOr<Filter> f = Compile(AllowOldSyscalls("SCMP_ACT_ERRNO"));
  ASSERT_THAT(f, IsOk());
  const long newer = seccomp_syscall_resolve_name("process_madvise");
  const ChildResult r = RunInChild([&](int) {
    return Seq({LoadInChild(*f), ProbeMkdir(EPERM),  // unlisted: the default action
                Expect("process_madvise", syscall(newer, -1, nullptr, 0, 0, 0), ENOSYS),
                Expect("nr 1000", syscall(1000), ENOSYS)});
  });
  EXPECT_TRUE(r.ExitedCleanly()) << r;
  EXPECT_EQ(r.output, "");
}

TEST(SeccompLoadTest, EnosysStubAlsoSparesProcessesUnderAKillingDefault) {
  absl::StatusOr<Filter> f = Compile(AllowOldSyscalls("SCMP_ACT_KILL_PROCESS"));
  ASSERT_THAT(f, IsOk());
  const ChildResult r = RunInChild([&](int fd) {
    std::string out = Seq({LoadInChild(*f), Expect("nr 1000", syscall(1000), ENOSYS)});
    if (!out.empty()) return out;
    if (write(fd, "enosys;", 7) != 7) return std::string("write failed");
    mkdir(TempPath("never").c_str(), 0700);
    return std::string("survived mkdir");
  });
  EXPECT_TRUE(r.KilledBy(SIGSYS)) << r;
  EXPECT_EQ(r.output, "enosys;");
}

TEST(SeccompLoadTest, InstallNeedsNoNewPrivsOrCapSysAdmin) {
  absl::StatusOr<Filter> f = Compile(BlockMkdir());
  ASSERT_THAT(f, IsOk());
  const ChildResult r = RunInChild([&](int) -> std::string {
    // Drop every capability (we run as root here), without no_new_privs.
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (syscall(SYS_capset, &hdr, data) != 0) return absl::StrCat("capset: ", strerror(errno));
    absl::Status st = f->Load();
    if (st.code() != absl::StatusCode::kPermissionDenied) {
      return absl::StrCat("want PermissionDenied, got ", st.ToString());
    }
    if (std::string e = SetNoNewPrivs(); !e.empty()) return e;
    if (st = f->Load(); !st.ok()) return absl::StrCat("with nnp: ", st.ToString());
    return ProbeMkdir(EPERM);
  });
  EXPECT_TRUE(r.ExitedCleanly()) << r;
  EXPECT_EQ(r.output, "");
}

TEST(SeccompLoadTest, LargeProfileCompilesQuickly) {
  // About the size of Docker's default profile; berth-runc compiles this on every start.
  spec::Seccomp s = AllowOldSyscalls("SCMP_ACT_ERRNO");
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  spec::SeccompSyscall one = s.syscalls[0];
  s.syscalls.clear();
  for (const std::string& n : one.names) s.syscalls.push_back(Rule({n}, "SCMP_ACT_ALLOW"));
  const absl::Time start = absl::Now();
  absl::StatusOr<Filter> f = Compile(s);
  ASSERT_THAT(f, IsOk());
  absl::StatusOr<std::string> bpf = f->ExportBpf();
  ASSERT_THAT(bpf, IsOk());
  const absl::Duration took = absl::Now() - start;
  RecordProperty("compile_export_us", absl::StrCat(absl::ToInt64Microseconds(took)));
  RecordProperty("bpf_instructions", absl::StrCat(bpf->size() / 8));
  std::cout << "compile+export of " << s.syscalls.size() << " rules: " << took << ", "
            << bpf->size() / 8 << " instructions\n";
  const ChildResult r = RunInChild([&](int) { return Seq({LoadInChild(*f), ProbeMkdir(EPERM)}); });
  EXPECT_TRUE(r.ExitedCleanly()) << r;
  EXPECT_EQ(r.output, "");
}

}  // namespace
}  // namespace berth::runc::seccomp
