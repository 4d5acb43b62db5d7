#include "runc/cgroups/device_filter.h"

#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::runc::cgroups {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

constexpr uint32_t kR = BPF_DEVCG_ACC_READ, kW = BPF_DEVCG_ACC_WRITE, kM = BPF_DEVCG_ACC_MKNOD;
constexpr uint32_t kChar = BPF_DEVCG_DEV_CHAR, kBlock = BPF_DEVCG_DEV_BLOCK;

// Runs a device program the way the kernel would, for the few instructions berth emits;
// anything else fails the test. Returns the program's verdict (1 allow, 0 deny) or -1.
int Verdict(const BpfProgram& p, uint32_t type, uint32_t access, uint32_t major, uint32_t minor) {
  const uint32_t ctx[3] = {(access << 16) | type, major, minor};
  uint64_t r[11] = {};
  for (size_t pc = 0, steps = 0; pc < p.size() && steps < 100000; ++pc, ++steps) {
    const bpf_insn& i = p[pc];
    uint32_t a = static_cast<uint32_t>(r[i.dst_reg]);
    uint32_t imm = static_cast<uint32_t>(i.imm);
    uint32_t src = static_cast<uint32_t>(r[i.src_reg]);
    auto jump = [&](bool taken) {
      if (taken) pc += i.off;
    };
    switch (i.code) {
      case BPF_LDX | BPF_MEM | BPF_W:
        if (i.src_reg != 1 || i.off % 4 != 0 || i.off < 0 || i.off > 8) {
          ADD_FAILURE() << "load outside the context at " << pc;
          return -1;
        }
        r[i.dst_reg] = ctx[i.off / 4];
        break;
      case BPF_ALU | BPF_AND | BPF_K:
        r[i.dst_reg] = a & imm;
        break;
      case BPF_ALU | BPF_RSH | BPF_K:
        r[i.dst_reg] = a >> imm;
        break;
      case BPF_ALU | BPF_MOV | BPF_X:
        r[i.dst_reg] = src;
        break;
      case BPF_ALU64 | BPF_MOV | BPF_K:
        r[i.dst_reg] = static_cast<uint64_t>(static_cast<int64_t>(i.imm));
        break;
      case BPF_JMP32 | BPF_JNE | BPF_K:
        jump(a != imm);
        break;
      case BPF_JMP32 | BPF_JEQ | BPF_K:
        jump(a == imm);
        break;
      case BPF_JMP32 | BPF_JNE | BPF_X:
        jump(a != src);
        break;
      case BPF_JMP | BPF_EXIT:
        return static_cast<int>(r[0]);
      default:
        ADD_FAILURE() << "unexpected opcode " << static_cast<int>(i.code) << " at " << pc;
        return -1;
    }
  }
  ADD_FAILURE() << "program ran off its end";
  return -1;
}

// Every instruction reachable, every jump inside the program: what the verifier checks.
void ExpectWellFormed(const BpfProgram& p) {
  std::vector<bool> reached(p.size() + 1, false);
  reached[0] = true;
  for (size_t pc = 0; pc < p.size(); ++pc) {
    if (!reached[pc]) {
      ADD_FAILURE() << "unreachable instruction " << pc;
      continue;
    }
    const bpf_insn& i = p[pc];
    bool is_exit = i.code == (BPF_JMP | BPF_EXIT);
    bool is_jump = (i.code & 0x07) == BPF_JMP32;
    if (is_jump) {
      size_t target = pc + 1 + i.off;
      ASSERT_LT(target, p.size()) << "jump out of the program at " << pc;
      reached[target] = true;
    }
    if (!is_exit) reached[pc + 1] = true;
  }
  EXPECT_FALSE(reached[p.size()]) << "falls off the end";
}

spec::DeviceCgroupRule Rule(bool allow, std::string type, std::optional<int64_t> major,
                            std::optional<int64_t> minor, std::string access) {
  spec::DeviceCgroupRule r;
  r.allow = allow;
  r.type = std::move(type);
  r.major = major;
  r.minor = minor;
  r.access = std::move(access);
  return r;
}

TEST(DeviceFilterTest, NoRulesDeniesEverything) {
  BpfProgram p = CompileDeviceFilter({});
  ExpectWellFormed(p);
  EXPECT_EQ(Verdict(p, kChar, kR, 1, 3), 0);
  EXPECT_EQ(Verdict(p, kBlock, kM, 8, 0), 0);
}

TEST(DeviceFilterTest, DenyAllThenAllowOne) {
  BpfProgram p =
      CompileDeviceFilter({Rule(false, "a", {}, {}, "rwm"), Rule(true, "c", 1, 3, "rwm")});
  ExpectWellFormed(p);
  EXPECT_EQ(Verdict(p, kChar, kR | kW, 1, 3), 1);
  EXPECT_EQ(Verdict(p, kChar, kM, 1, 3), 1);
  EXPECT_EQ(Verdict(p, kChar, kR, 1, 5), 0);
  EXPECT_EQ(Verdict(p, kBlock, kR, 1, 3), 0);
}

TEST(DeviceFilterTest, AllowAllIsShortAndHasNoDeadCode) {
  BpfProgram p = CompileDeviceFilter({Rule(false, "c", 1, 3, "rwm"), Rule(true, "", {}, {}, "")});
  ExpectWellFormed(p);
  EXPECT_EQ(p.size(), 8u);  // 6 loads/shifts + mov + exit; the earlier rule can never decide
  EXPECT_EQ(Verdict(p, kChar, kR, 1, 3), 1);
  EXPECT_EQ(Verdict(p, kBlock, kW, 8, 1), 1);
}

TEST(DeviceFilterTest, AllowNeedsEveryRequestedBit) {
  BpfProgram p = CompileDeviceFilter({Rule(false, "a", {}, {}, ""), Rule(true, "c", 1, 3, "r")});
  ExpectWellFormed(p);
  EXPECT_EQ(Verdict(p, kChar, kR, 1, 3), 1);
  EXPECT_EQ(Verdict(p, kChar, kR | kW, 1, 3), 0);
  EXPECT_EQ(Verdict(p, kChar, kW, 1, 3), 0);
}

TEST(DeviceFilterTest, DenyMatchesAnyRequestedBit) {
  BpfProgram p = CompileDeviceFilter({Rule(true, "a", {}, {}, ""), Rule(false, "c", 1, 3, "w")});
  ExpectWellFormed(p);
  EXPECT_EQ(Verdict(p, kChar, kR, 1, 3), 1);
  EXPECT_EQ(Verdict(p, kChar, kW, 1, 3), 0);
  EXPECT_EQ(Verdict(p, kChar, kR | kW, 1, 3), 0);
  EXPECT_EQ(Verdict(p, kChar, kW, 1, 4), 1);
}

TEST(DeviceFilterTest, WildcardsAndLaterRulesWin) {
  // Like runc's default list: mknod of any char/block device, then some devices, then a deny.
  BpfProgram p = CompileDeviceFilter({
      Rule(false, "a", {}, {}, "rwm"),
      Rule(true, "c", {}, {}, "m"),
      Rule(true, "b", -1, -1, "m"),
      Rule(true, "c", 136, {}, "rwm"),  // /dev/pts/*
      Rule(true, "c", 5, 2, "rwm"),     // /dev/ptmx
      Rule(false, "c", 136, 7, "rwm"),
  });
  ExpectWellFormed(p);
  EXPECT_EQ(Verdict(p, kChar, kM, 10, 200), 1);
  EXPECT_EQ(Verdict(p, kBlock, kM, 8, 0), 1);
  EXPECT_EQ(Verdict(p, kBlock, kR, 8, 0), 0);
  EXPECT_EQ(Verdict(p, kChar, kR | kW, 136, 0), 1);
  EXPECT_EQ(Verdict(p, kChar, kR | kW, 136, 7), 0);
  EXPECT_EQ(Verdict(p, kChar, kR | kW, 5, 2), 1);
  EXPECT_EQ(Verdict(p, kChar, kR, 5, 3), 0);
}

TEST(DeviceFilterTest, LargeNumbersCompareAs32Bits) {
  BpfProgram p = CompileDeviceFilter({Rule(true, "c", 4000000000LL, 0, "r")});
  ExpectWellFormed(p);
  EXPECT_EQ(Verdict(p, kChar, kR, 4000000000u, 0), 1);
  EXPECT_EQ(Verdict(p, kChar, kR, 1, 0), 0);
}

TEST(DeviceFilterTest, Validate) {
  EXPECT_THAT(ValidateDeviceRules({Rule(true, "c", 1, 3, "rw"), Rule(false, "", {}, {}, "")}),
              IsOk());
  EXPECT_THAT(
      ValidateDeviceRules({Rule(true, "c", 1, 3, "rw"), Rule(true, "x", 1, 3, "r")}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("linux.resources.devices[1].type")));
  EXPECT_THAT(
      ValidateDeviceRules({Rule(true, "c", 1, 3, "rwx")}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("linux.resources.devices[0].access")));
  EXPECT_THAT(ValidateDeviceRules({Rule(true, "c", 1LL << 33, 3, "r")}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("devices[0]")));
}

TEST(DeviceFilterTest, V1Lines) {
  EXPECT_EQ(DeviceRuleLine(Rule(true, "c", 1, 3, "rw")), "c 1:3 rw");
  EXPECT_EQ(DeviceRuleLine(Rule(true, "b", {}, 0, "")), "b *:0 rwm");
  EXPECT_EQ(DeviceRuleLine(Rule(false, "c", -1, -1, "m")), "c *:* m");
  EXPECT_EQ(DeviceRuleLine(Rule(false, "", 1, 3, "r")), "a *:* rwm");
}

}  // namespace
}  // namespace berth::runc::cgroups
