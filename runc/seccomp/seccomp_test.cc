// Compile errors and name tables, plus exported programs run through a small classic-BPF
// interpreter, so rule semantics (operators, architectures, the -ENOSYS stub) are checked without
// installing anything.
#include "runc/seccomp/seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>
#include <string.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runc/seccomp/enosys_stub.h"
#include "runc/spec/spec.h"

namespace berth::runc::seccomp {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSubsetOf;
using ::testing::Not;

// ---- helpers ----

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

spec::SeccompArg Arg(uint32_t index, std::string op, uint64_t value, uint64_t value_two = 0) {
  spec::SeccompArg a;
  a.index = index;
  a.op = std::move(op);
  a.value = value;
  a.value_two = value_two;
  return a;
}

spec::Seccomp Profile(std::string default_action = "SCMP_ACT_ALLOW") {
  spec::Seccomp s;
  s.default_action = std::move(default_action);
  return s;
}

int Nr(const char* name, uint32_t arch = SCMP_ARCH_NATIVE) {
  return seccomp_syscall_resolve_name_arch(arch, name);
}

constexpr uint32_t kFellThrough = 0xfee1deadu;

// Runs a classic-BPF seccomp program on `d`; kFellThrough if it runs off its end (which a stub does
// when it hands over to the real filter).
uint32_t RunBpf(const std::string& prog, const seccomp_data& d) {
  const size_t n = prog.size() / sizeof(sock_filter);
  std::vector<sock_filter> insns(n);
  memcpy(insns.data(), prog.data(), n * sizeof(sock_filter));
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
  auto load = [&](uint32_t off) {
    uint32_t v = 0;
    if (off + 4 > sizeof(d)) {
      ADD_FAILURE() << "load past seccomp_data at " << off;
      return v;
    }
    memcpy(&v, reinterpret_cast<const char*>(&d) + off, 4);
    return v;
  };
  for (size_t pc = 0; pc < n; ++pc) {
    const sock_filter& f = insns[pc];
    const uint32_t src = BPF_SRC(f.code) == BPF_X ? x : f.k;
    switch (BPF_CLASS(f.code)) {
      case BPF_LD:
        if (BPF_MODE(f.code) == BPF_ABS)
          a = load(f.k);
        else if (BPF_MODE(f.code) == BPF_IMM)
          a = f.k;
        else if (BPF_MODE(f.code) == BPF_MEM)
          a = mem[f.k];
        else
          ADD_FAILURE() << "unhandled ld " << f.code;
        break;
      case BPF_LDX:
        if (BPF_MODE(f.code) == BPF_IMM)
          x = f.k;
        else if (BPF_MODE(f.code) == BPF_MEM)
          x = mem[f.k];
        else
          ADD_FAILURE() << "unhandled ldx " << f.code;
        break;
      case BPF_ST:
        mem[f.k] = a;
        break;
      case BPF_STX:
        mem[f.k] = x;
        break;
      case BPF_ALU:
        switch (BPF_OP(f.code)) {
          case BPF_AND:
            a &= src;
            break;
          case BPF_OR:
            a |= src;
            break;
          case BPF_ADD:
            a += src;
            break;
          case BPF_SUB:
            a -= src;
            break;
          default:
            ADD_FAILURE() << "unhandled alu " << f.code;
        }
        break;
      case BPF_JMP: {
        if (BPF_OP(f.code) == BPF_JA) {
          pc += f.k;
          break;
        }
        bool cond = false;
        switch (BPF_OP(f.code)) {
          case BPF_JEQ:
            cond = a == src;
            break;
          case BPF_JGT:
            cond = a > src;
            break;
          case BPF_JGE:
            cond = a >= src;
            break;
          case BPF_JSET:
            cond = (a & src) != 0;
            break;
          default:
            ADD_FAILURE() << "unhandled jmp " << f.code;
        }
        pc += cond ? f.jt : f.jf;
        break;
      }
      case BPF_RET:
        return BPF_RVAL(f.code) == BPF_A ? a : f.k;
      case BPF_MISC:
        if (BPF_MISCOP(f.code) == BPF_TAX)
          x = a;
        else
          a = x;
        break;
      default:
        ADD_FAILURE() << "unhandled class " << f.code;
    }
  }
  return kFellThrough;
}

seccomp_data Call(uint32_t arch, int nr, std::vector<uint64_t> args = {}) {
  seccomp_data d{};
  d.arch = arch;
  d.nr = nr;
  for (size_t i = 0; i < args.size() && i < 6; ++i) d.args[i] = args[i];
  return d;
}

uint32_t Native() { return seccomp_arch_native(); }

std::string Export(const spec::Seccomp& s) {
  absl::StatusOr<Filter> f = Compile(s);
  EXPECT_THAT(f, IsOk());
  if (!f.ok()) return "";
  absl::StatusOr<std::string> bpf = f->ExportBpf();
  EXPECT_THAT(bpf, IsOk());
  return bpf.ok() ? *bpf : "";
}

// ---- compile errors: each names its field ----

struct BadCase {
  std::string name;
  std::function<void(spec::Seccomp&)> edit;
  absl::StatusCode code;
  std::string message;  // the whole message
};

class CompileErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(CompileErrorTest, NamesTheField) {
  spec::Seccomp s = Profile();
  s.syscalls = {Rule({"getpid"}, "SCMP_ACT_ERRNO")};
  GetParam().edit(s);
  EXPECT_THAT(Compile(s), StatusIs(GetParam().code, GetParam().message));
}

using C = absl::StatusCode;
const BadCase kBadCases[] = {
    {"UnknownDefaultAction", [](auto& s) { s.default_action = "SCMP_ACT_FOO"; },
     C::kInvalidArgument, R"(linux.seccomp.defaultAction: unknown action "SCMP_ACT_FOO")"},
    {"MissingDefaultAction", [](auto& s) { s.default_action = ""; }, C::kInvalidArgument,
     "linux.seccomp.defaultAction: missing action"},
    {"NotifyDefaultAction", [](auto& s) { s.default_action = "SCMP_ACT_NOTIFY"; },
     C::kInvalidArgument,
     "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default "
     "action"},
    {"DefaultErrnoRetTooBig",
     [](auto& s) {
       s.default_action = "SCMP_ACT_ERRNO";
       s.default_errno_ret = 70000;
     },
     C::kInvalidArgument, "linux.seccomp.defaultErrnoRet: 70000 does not fit in 16 bits"},
    {"UnknownArchitecture",
     [](auto& s) {
       s.architectures = {"SCMP_ARCH_X86", "SCMP_ARCH_VAX"};
     },
     C::kInvalidArgument,
     R"(linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_VAX")"},
#ifndef SCMP_ARCH_LOONGARCH64
    {"ArchitectureTooNewForLibseccomp",
     [](auto& s) { s.architectures = {"SCMP_ARCH_LOONGARCH64"}; }, C::kInvalidArgument,
     R"(linux.seccomp.architectures[0]: architecture "SCMP_ARCH_LOONGARCH64" )"
     "is not supported by libseccomp " +
         std::to_string(SCMP_VER_MAJOR) + "." + std::to_string(SCMP_VER_MINOR) + "." +
         std::to_string(SCMP_VER_MICRO)},
#endif
    {"UnknownFlag", [](auto& s) { s.flags = {"SECCOMP_FILTER_FLAG_FOO"}; }, C::kInvalidArgument,
     R"(linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_FOO")"},
    {"WaitKillableRecvFlag",
     [](auto& s) {
       s.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
     },
     C::kUnimplemented,
     "linux.seccomp.flags[1]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is not "
     "supported: it only "
     "applies to a SCMP_ACT_NOTIFY listener, which berth-runc does not "
     "implement yet"},
    {"UnknownRuleAction",
     [](auto& s) {
       s.syscalls = {Rule({"getpid"}, "SCMP_ACT_ERRNO"), Rule({"getppid"}, "SCMP_ACT_ERRNO"),
                     Rule({"getuid"}, "SCMP_ACT_ERRNO"), Rule({"getgid"}, "SCMP_ACT_FOO")};
     },
     C::kInvalidArgument, R"(linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO")"},
    {"MissingRuleAction", [](auto& s) { s.syscalls = {Rule({"getpid"}, "")}; }, C::kInvalidArgument,
     "linux.seccomp.syscalls[0].action: missing action"},
    {"ErrnoRetTooBig",
     [](auto& s) { s.syscalls = {Rule({"getpid"}, "SCMP_ACT_ERRNO", {}, 65536)}; },
     C::kInvalidArgument, "linux.seccomp.syscalls[0].errnoRet: 65536 does not fit in 16 bits"},
    {"UnknownOperator",
     [](auto& s) {
       s.syscalls = {
           Rule({"kill"}, "SCMP_ACT_ERRNO", {Arg(0, "SCMP_CMP_EQ", 1), Arg(1, "SCMP_CMP_FOO", 2)})};
     },
     C::kInvalidArgument,
     R"(linux.seccomp.syscalls[0].args[1].op: unknown operator "SCMP_CMP_FOO")"},
    {"ArgIndexOutOfRange",
     [](auto& s) { s.syscalls = {Rule({"kill"}, "SCMP_ACT_ERRNO", {Arg(6, "SCMP_CMP_EQ", 1)})}; },
     C::kInvalidArgument,
     "linux.seccomp.syscalls[0].args[0].index: 6 is out of range (a syscall "
     "has arguments 0-5)"},
    {"NotifyWithoutListener", [](auto& s) { s.syscalls = {Rule({"mkdir"}, "SCMP_ACT_NOTIFY")}; },
     C::kInvalidArgument,
     "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY needs "
     "linux.seccomp.listenerPath"},
    {"NotifyWithListener",
     [](auto& s) {
       s.listener_path = "/run/agent.sock";
       s.syscalls = {Rule({"mkdir"}, "SCMP_ACT_NOTIFY")};
     },
     C::kUnimplemented,
     "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY (seccomp user "
     "notification to "
     "\"/run/agent.sock\") is not supported by berth-runc yet"},
    {"EmptyName",
     [](auto& s) {
       s.syscalls = {Rule({"getpid", ""}, "SCMP_ACT_ERRNO")};
     },
     C::kInvalidArgument, "linux.seccomp.syscalls[0].names[1]: empty syscall name"},
    {"NoNames", [](auto& s) { s.syscalls = {Rule({}, "SCMP_ACT_ERRNO")}; }, C::kInvalidArgument,
     "linux.seccomp.syscalls[0].names: must list at least one syscall"},
    // Rules that would be skipped (same action as the default) are still validated.
    {"SkippedRuleStillValidated",
     [](auto& s) { s.syscalls = {Rule({"kill"}, "SCMP_ACT_ALLOW", {Arg(0, "SCMP_CMP_XX", 1)})}; },
     C::kInvalidArgument,
     R"(linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_XX")"},
    {"NameWithControlCharacterIsEscaped", [](auto& s) { s.default_action = "SCMP_ACT_\n"; },
     C::kInvalidArgument, R"(linux.seccomp.defaultAction: unknown action "SCMP_ACT_\n")"},
};

INSTANTIATE_TEST_SUITE_P(Table, CompileErrorTest, ::testing::ValuesIn(kBadCases),
                         [](const auto& info) { return info.param.name; });

// ---- what compiles ----

TEST(CompileTest, AcceptsEveryActionOperatorArchitectureAndFlag) {
  spec::Seccomp s = Profile("SCMP_ACT_ERRNO");
  s.default_errno_ret = 38;
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  s.flags = SupportedFlags();
  s.has_flags = true;
  s.syscalls = {
      Rule({"exit_group"}, "SCMP_ACT_KILL"),
      Rule({"exit"}, "SCMP_ACT_KILL_THREAD"),
      Rule({"ptrace"}, "SCMP_ACT_KILL_PROCESS"),
      Rule({"reboot"}, "SCMP_ACT_TRAP"),
      Rule({"mkdir"}, "SCMP_ACT_ERRNO", {}, 13),
      Rule({"uname"}, "SCMP_ACT_TRACE", {}, 7),
      Rule({"getpid"}, "SCMP_ACT_ALLOW"),
      Rule({"getppid"}, "SCMP_ACT_LOG"),
      Rule({"kill"}, "SCMP_ACT_ALLOW",
           {Arg(0, "SCMP_CMP_NE", 1), Arg(1, "SCMP_CMP_LT", 2), Arg(2, "SCMP_CMP_LE", 3),
            Arg(3, "SCMP_CMP_GE", 4), Arg(4, "SCMP_CMP_GT", 5), Arg(5, "SCMP_CMP_EQ", 6)}),
      Rule({"clone"}, "SCMP_ACT_ALLOW", {Arg(0, "SCMP_CMP_MASKED_EQ", 0x7e020000, 0)}),
  };
  absl::StatusOr<Filter> f = Compile(s);
  ASSERT_THAT(f, IsOk());
  EXPECT_THAT(f->ExportBpf(), IsOk());
}

TEST(CompileTest, UnknownSyscallNamesAreSkipped) {
  spec::Seccomp s = Profile();
  s.syscalls = {Rule({"no_such_syscall_berth", "mkdir"}, "SCMP_ACT_ERRNO"),
                Rule({"another_future_syscall"}, "SCMP_ACT_KILL")};
  const std::string bpf = Export(s);
  EXPECT_EQ(RunBpf(bpf, Call(Native(), Nr("mkdir"))), SCMP_ACT_ERRNO(EPERM));
  EXPECT_EQ(RunBpf(bpf, Call(Native(), Nr("getpid"))), SCMP_ACT_ALLOW);
}

TEST(CompileTest, RuleWithTheDefaultActionIsSkipped) {
  // libseccomp refuses these with EACCES; they change nothing, so they are dropped.
  spec::Seccomp s = Profile("SCMP_ACT_ERRNO");
  s.syscalls = {Rule({"getpid"}, "SCMP_ACT_ALLOW"), Rule({"mkdir"}, "SCMP_ACT_ERRNO"),
                Rule({"rmdir"}, "SCMP_ACT_ERRNO", {}, EPERM),
                Rule({"chdir"}, "SCMP_ACT_ERRNO", {}, ENOSYS)};  // differs: kept
  const std::string bpf = Export(s);
  EXPECT_EQ(RunBpf(bpf, Call(Native(), Nr("getpid"))), SCMP_ACT_ALLOW);
  EXPECT_EQ(RunBpf(bpf, Call(Native(), Nr("mkdir"))), SCMP_ACT_ERRNO(EPERM));
  EXPECT_EQ(RunBpf(bpf, Call(Native(), Nr("chdir"))), SCMP_ACT_ERRNO(ENOSYS));
}

TEST(CompileTest, DefaultErrnoAndTraceDataDefaultToEperm) {
  spec::Seccomp s = Profile("SCMP_ACT_ALLOW");
  s.syscalls = {Rule({"mkdir"}, "SCMP_ACT_ERRNO"), Rule({"rmdir"}, "SCMP_ACT_TRACE"),
                Rule({"chdir"}, "SCMP_ACT_TRACE", {}, 42), Rule({"umask"}, "SCMP_ACT_KILL")};
  const std::string bpf = Export(s);
  EXPECT_EQ(RunBpf(bpf, Call(Native(), Nr("mkdir"))), SCMP_ACT_ERRNO(EPERM));
  EXPECT_EQ(RunBpf(bpf, Call(Native(), Nr("rmdir"))), SCMP_ACT_TRACE(EPERM));
  EXPECT_EQ(RunBpf(bpf, Call(Native(), Nr("chdir"))), SCMP_ACT_TRACE(42));
  EXPECT_EQ(RunBpf(bpf, Call(Native(), Nr("umask"))), SCMP_ACT_KILL_THREAD);
}

TEST(CompileTest, OperatorsCompareAs64BitValues) {
  spec::Seccomp s = Profile();
  s.syscalls = {
      Rule({"setuid"}, "SCMP_ACT_ERRNO", {Arg(0, "SCMP_CMP_NE", 5)}),
      Rule({"setgid"}, "SCMP_ACT_ERRNO", {Arg(0, "SCMP_CMP_LT", 5)}),
      Rule({"setfsuid"}, "SCMP_ACT_ERRNO", {Arg(0, "SCMP_CMP_LE", 5)}),
      Rule({"setfsgid"}, "SCMP_ACT_ERRNO", {Arg(0, "SCMP_CMP_GE", 5)}),
      Rule({"setpgid"}, "SCMP_ACT_ERRNO", {Arg(1, "SCMP_CMP_GT", 5)}),
      Rule({"umask"}, "SCMP_ACT_ERRNO", {Arg(0, "SCMP_CMP_EQ", 0x100000005ULL)}),
      // OCI: value is the mask, valueTwo the expected result.
      Rule({"clone"}, "SCMP_ACT_ERRNO", {Arg(0, "SCMP_CMP_MASKED_EQ", 0xff00, 0x1200)}),
  };
  const std::string bpf = Export(s);
  const uint32_t kBlocked = SCMP_ACT_ERRNO(EPERM);
  auto run = [&](const char* name, std::vector<uint64_t> args) {
    return RunBpf(bpf, Call(Native(), Nr(name), std::move(args)));
  };
  EXPECT_EQ(run("setuid", {5}), SCMP_ACT_ALLOW);
  EXPECT_EQ(run("setuid", {6}), kBlocked);
  EXPECT_EQ(run("setgid", {4}), kBlocked);
  EXPECT_EQ(run("setgid", {5}), SCMP_ACT_ALLOW);
  EXPECT_EQ(run("setfsuid", {5}), kBlocked);
  EXPECT_EQ(run("setfsuid", {6}), SCMP_ACT_ALLOW);
  EXPECT_EQ(run("setfsgid", {5}), kBlocked);
  EXPECT_EQ(run("setfsgid", {4}), SCMP_ACT_ALLOW);
  EXPECT_EQ(run("setpgid", {0, 6}), kBlocked);
  EXPECT_EQ(run("setpgid", {6, 5}), SCMP_ACT_ALLOW);
  EXPECT_EQ(run("umask", {0x100000005ULL}), kBlocked);
  EXPECT_EQ(run("umask", {5}), SCMP_ACT_ALLOW);  // high word differs
  EXPECT_EQ(run("clone", {0x12ab}), kBlocked);
  EXPECT_EQ(run("clone", {0x13ab}), SCMP_ACT_ALLOW);
}

TEST(CompileTest, ArgsOnDistinctIndexesAreAnded) {
  spec::Seccomp s = Profile();
  s.syscalls = {
      Rule({"kill"}, "SCMP_ACT_ERRNO", {Arg(0, "SCMP_CMP_EQ", 1), Arg(1, "SCMP_CMP_EQ", 9)})};
  const std::string bpf = Export(s);
  EXPECT_EQ(RunBpf(bpf, Call(Native(), Nr("kill"), {1, 9})), SCMP_ACT_ERRNO(EPERM));
  EXPECT_EQ(RunBpf(bpf, Call(Native(), Nr("kill"), {1, 15})), SCMP_ACT_ALLOW);
  EXPECT_EQ(RunBpf(bpf, Call(Native(), Nr("kill"), {2, 9})), SCMP_ACT_ALLOW);
}

TEST(CompileTest, ArgsSharingAnIndexBecomeSeparateRules) {
  // libseccomp refuses them in one rule; like runc, each is its own rule: any match blocks.
  spec::Seccomp s = Profile();
  s.syscalls = {
      Rule({"kill"}, "SCMP_ACT_ERRNO",
           {Arg(1, "SCMP_CMP_EQ", 9), Arg(1, "SCMP_CMP_EQ", 19), Arg(0, "SCMP_CMP_EQ", 1)})};
  const std::string bpf = Export(s);
  EXPECT_EQ(RunBpf(bpf, Call(Native(), Nr("kill"), {7, 9})), SCMP_ACT_ERRNO(EPERM));
  EXPECT_EQ(RunBpf(bpf, Call(Native(), Nr("kill"), {7, 19})), SCMP_ACT_ERRNO(EPERM));
  EXPECT_EQ(RunBpf(bpf, Call(Native(), Nr("kill"), {1, 15})), SCMP_ACT_ERRNO(EPERM));
  EXPECT_EQ(RunBpf(bpf, Call(Native(), Nr("kill"), {7, 15})), SCMP_ACT_ALLOW);
}

TEST(CompileTest, RulesApplyToEveryListedArchitecture) {
  if (Native() != SCMP_ARCH_X86_64) GTEST_SKIP() << "x86_64-specific numbers";
  spec::Seccomp s = Profile();
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  // socketcall exists only on x86: a pseudo number natively, mapped per architecture.
  s.syscalls = {Rule({"mkdir", "socketcall"}, "SCMP_ACT_ERRNO")};
  const std::string bpf = Export(s);
  const uint32_t kBlocked = SCMP_ACT_ERRNO(EPERM);
  EXPECT_EQ(RunBpf(bpf, Call(AUDIT_ARCH_X86_64, Nr("mkdir", SCMP_ARCH_X86_64))), kBlocked);
  EXPECT_EQ(RunBpf(bpf, Call(AUDIT_ARCH_I386, Nr("mkdir", SCMP_ARCH_X86))), kBlocked);
  EXPECT_EQ(RunBpf(bpf, Call(AUDIT_ARCH_X86_64, Nr("mkdir", SCMP_ARCH_X32))), kBlocked);
  EXPECT_EQ(RunBpf(bpf, Call(AUDIT_ARCH_I386, Nr("socketcall", SCMP_ARCH_X86))), kBlocked);
  EXPECT_EQ(RunBpf(bpf, Call(AUDIT_ARCH_I386, Nr("getpid", SCMP_ARCH_X86))), SCMP_ACT_ALLOW);
  // An architecture missing from the filter gets the bad-architecture action (kill).
  EXPECT_EQ(RunBpf(bpf, Call(AUDIT_ARCH_AARCH64, 0)), SCMP_ACT_KILL_THREAD);
}

TEST(CompileTest, KernelFlagsFollowFlags) {
  spec::Seccomp s = Profile();
  s.has_flags = true;  // "flags": []
  EXPECT_EQ(Compile(s)->kernel_flags(), 0u);
  s.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"};
  absl::StatusOr<Filter> f = Compile(s);
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ(f->kernel_flags(), SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_TSYNC);
}

TEST(CompileTest, NoFlagsFieldMeansSpecAllowWhereSupported) {
  // runc and crun: without "flags", SPEC_ALLOW if the kernel and libseccomp have it.
  spec::Seccomp s = Profile();
  s.has_flags = false;
  const std::vector<std::string> supported = SupportedFlags();
  const bool spec_allow = std::find(supported.begin(), supported.end(),
                                    "SECCOMP_FILTER_FLAG_SPEC_ALLOW") != supported.end();
  absl::StatusOr<Filter> f = Compile(s);
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ(f->kernel_flags(), spec_allow ? SECCOMP_FILTER_FLAG_SPEC_ALLOW : 0u);
}

TEST(CompileTest, EnabledUnlessEmpty) {
  // runc: no defaultAction and no syscalls means no seccomp at all.
  EXPECT_FALSE(Enabled(spec::Seccomp{}));
  EXPECT_TRUE(Enabled(Profile()));
  spec::Seccomp only_rules;
  only_rules.syscalls = {Rule({"mkdir"}, "SCMP_ACT_ERRNO")};
  EXPECT_TRUE(Enabled(only_rules));
  EXPECT_THAT(Compile(only_rules), StatusIs(absl::StatusCode::kInvalidArgument,
                                            "linux.seccomp.defaultAction: missing action"));
}

TEST(CompileTest, FilterIsMovable) {
  absl::StatusOr<Filter> f = Compile(Profile());
  ASSERT_THAT(f, IsOk());
  Filter a = std::move(*f);
  Filter b = std::move(a);
  a = std::move(b);
  EXPECT_THAT(a.ExportBpf(), IsOk());
  EXPECT_THAT(b.ExportBpf(),
              StatusIs(absl::StatusCode::kInternal));  // NOLINT: moved-from
}

// ---- the -ENOSYS stub ----

TEST(EnosysStubTest, NewerSyscallsGetEnosysUnlessTheDefaultIsPermissive) {
  spec::Seccomp s = Profile("SCMP_ACT_ERRNO");
  s.syscalls = {Rule({"getpid", "read"}, "SCMP_ACT_ALLOW")};
  const int max = std::max(Nr("getpid"), Nr("read"));
  std::string bpf = Export(s);
  EXPECT_EQ(RunBpf(bpf, Call(Native(), max + 1)), SCMP_ACT_ERRNO(ENOSYS));
  EXPECT_EQ(RunBpf(bpf, Call(Native(), 5000)), SCMP_ACT_ERRNO(ENOSYS));
  EXPECT_EQ(RunBpf(bpf, Call(Native(), Nr("getpid"))), SCMP_ACT_ALLOW);
  ASSERT_NE(max - 1, Nr("read"));
  // Below the largest number named: the default action, even if unlisted.
  EXPECT_EQ(RunBpf(bpf, Call(Native(), max - 1)), SCMP_ACT_ERRNO(EPERM));

  for (const char* permissive : {"SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"}) {
    s.default_action = permissive;
    s.syscalls = {Rule({"getpid", "read"}, "SCMP_ACT_KILL")};
    bpf = Export(s);
    EXPECT_NE(RunBpf(bpf, Call(Native(), 5000)), SCMP_ACT_ERRNO(ENOSYS)) << permissive;
  }
  s.default_action = "SCMP_ACT_ERRNO";  // already ENOSYS: no stub needed, same answer
  s.default_errno_ret = ENOSYS;
  EXPECT_EQ(RunBpf(Export(s), Call(Native(), 5000)), SCMP_ACT_ERRNO(ENOSYS));
  s.default_action = "SCMP_ACT_KILL_PROCESS";  // even a killing default answers ENOSYS
  EXPECT_EQ(RunBpf(Export(s), Call(Native(), 5000)), SCMP_ACT_ERRNO(ENOSYS));
}

TEST(EnosysStubTest, ShapeAcrossArchitectures) {
  using internal::ArchMax;
  const uint32_t kX32Bit = 0x40000000;
  absl::StatusOr<std::string> stub = internal::BuildEnosysStub({{SCMP_ARCH_X86_64, 300},
                                                                {SCMP_ARCH_X32, kX32Bit | 200},
                                                                {SCMP_ARCH_X86, 400},
                                                                {SCMP_ARCH_S390X, 100}});
  ASSERT_THAT(stub, IsOk());
  const uint32_t kEnosys = SECCOMP_RET_ERRNO | ENOSYS;
  EXPECT_EQ(RunBpf(*stub, Call(AUDIT_ARCH_X86_64, 300)), kFellThrough);
  EXPECT_EQ(RunBpf(*stub, Call(AUDIT_ARCH_X86_64, 301)), kEnosys);
  EXPECT_EQ(RunBpf(*stub, Call(AUDIT_ARCH_X86_64, kX32Bit | 200)), kFellThrough);
  EXPECT_EQ(RunBpf(*stub, Call(AUDIT_ARCH_X86_64, kX32Bit | 201)), kEnosys);
  EXPECT_EQ(RunBpf(*stub, Call(AUDIT_ARCH_I386, 400)), kFellThrough);
  EXPECT_EQ(RunBpf(*stub, Call(AUDIT_ARCH_I386, 401)), kEnosys);
  EXPECT_EQ(RunBpf(*stub, Call(AUDIT_ARCH_S390X, 0)), kEnosys);
  EXPECT_EQ(RunBpf(*stub, Call(AUDIT_ARCH_S390X, 50)), kFellThrough);
  EXPECT_EQ(RunBpf(*stub, Call(AUDIT_ARCH_S390X, 101)), kEnosys);
  EXPECT_EQ(RunBpf(*stub, Call(AUDIT_ARCH_AARCH64, 9999)),
            kFellThrough);  // not listed

  // x86_64 without x32: x32 numbers go to the filter (which treats them as a bad arch).
  stub = internal::BuildEnosysStub({{SCMP_ARCH_X86_64, 300}});
  ASSERT_THAT(stub, IsOk());
  EXPECT_EQ(RunBpf(*stub, Call(AUDIT_ARCH_X86_64, kX32Bit | 5000)), kFellThrough);
  EXPECT_EQ(RunBpf(*stub, Call(AUDIT_ARCH_X86_64, 301)), kEnosys);
  // x32 only: plain x86_64 numbers go to the filter.
  stub = internal::BuildEnosysStub({{SCMP_ARCH_X32, kX32Bit | 200}});
  ASSERT_THAT(stub, IsOk());
  EXPECT_EQ(RunBpf(*stub, Call(AUDIT_ARCH_X86_64, 5000)), kFellThrough);
  EXPECT_EQ(RunBpf(*stub, Call(AUDIT_ARCH_X86_64, kX32Bit | 201)), kEnosys);

  stub = internal::BuildEnosysStub({});
  ASSERT_THAT(stub, IsOk());
  EXPECT_EQ(*stub, "");
  EXPECT_THAT(internal::BuildEnosysStub({{SCMP_ARCH_X86, 1}, {SCMP_ARCH_X86, 2}}),
              StatusIs(absl::StatusCode::kInternal));
}

// ---- InstallBpf input checks (nothing reaches the kernel) ----

TEST(InstallBpfTest, RejectsMalformedPrograms) {
  EXPECT_THAT(InstallBpf("", 0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(InstallBpf("12345", 0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(InstallBpf(std::string((BPF_MAXINSNS + 1) * sizeof(sock_filter), '\0'), 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instructions")));
}

// ---- features ----

TEST(FeaturesTest, KnownNames) {
  EXPECT_THAT(KnownActions(), ElementsAre("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                                          "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                                          "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"));
  EXPECT_THAT(KnownOperators(),
              ElementsAre("SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                          "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"));
  EXPECT_THAT(KnownFlags(), ElementsAre("SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                        "SECCOMP_FILTER_FLAG_TSYNC"));
  const std::vector<std::string> arches = KnownArchitectures();
  EXPECT_TRUE(std::is_sorted(arches.begin(), arches.end()));
  for (const char* a :
       {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390X", "SCMP_ARCH_RISCV64"}) {
    EXPECT_THAT(arches, Contains(a));
  }
  // Every listed architecture compiles.
  for (const std::string& a : arches) {
    spec::Seccomp s = Profile();
    s.architectures = {a};
    EXPECT_THAT(Compile(s), IsOk()) << a;
  }
}

TEST(FeaturesTest, SupportedFlagsAreKnownAndProbedFromTheKernel) {
  const std::vector<std::string> supported = SupportedFlags();
  EXPECT_THAT(supported, IsSubsetOf(KnownFlags()));
  // TSYNC (3.17) and LOG (4.14) are on every kernel berth supports.
  EXPECT_THAT(supported, Contains("SECCOMP_FILTER_FLAG_TSYNC"));
  EXPECT_THAT(supported, Contains("SECCOMP_FILTER_FLAG_LOG"));
  EXPECT_THAT(supported, Not(Contains("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")));
}

}  // namespace
}  // namespace berth::runc::seccomp
