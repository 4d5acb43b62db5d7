#include "engine/oci/seccomp_profile.h"

#include <set>
#include <string>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::engine::oci {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using OJson = nlohmann::ordered_json;

const std::vector<std::string> kDefaultCaps = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",  "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",     "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",   "CAP_AUDIT_WRITE"};

SeccompContext Ctx(std::vector<std::string> caps = kDefaultCaps) {
  return SeccompContext{std::move(caps), "amd64", 6, 1};
}

// Syscalls an OCI seccomp object allows without any argument condition.
std::set<std::string> Unconditional(const OJson& oci) {
  std::set<std::string> out;
  for (const OJson& r : oci["syscalls"]) {
    if (r["action"] != "SCMP_ACT_ALLOW" || r.contains("args")) continue;
    for (const OJson& n : r["names"]) out.insert(n.get<std::string>());
  }
  return out;
}

// The rules naming `name`.
std::vector<OJson> RulesFor(const OJson& oci, const std::string& name) {
  std::vector<OJson> out;
  for (const OJson& r : oci["syscalls"]) {
    for (const OJson& n : r["names"]) {
      if (n == name) out.push_back(r);
    }
  }
  return out;
}

TEST(DefaultSeccompTest, DeniesWithEpermAndAllowsOrdinarySyscalls) {
  auto oci = ToOciSeccomp(DefaultSeccompProfile(), Ctx());
  ASSERT_THAT(oci, IsOk());
  EXPECT_EQ((*oci)["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_EQ((*oci)["defaultErrnoRet"], 1);
  EXPECT_THAT((*oci)["architectures"].get<std::vector<std::string>>(),
              ElementsAre("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"));
  const std::set<std::string> allowed = Unconditional(*oci);
  for (const char* s : {"read", "write", "openat", "execve", "exit_group", "futex", "arch_prctl",
                        "socket", "clock_gettime", "chroot", "ptrace"}) {
    EXPECT_TRUE(allowed.count(s)) << s;
  }
  // Never allowed, or only with capabilities the default set lacks.
  for (const char* s : {"kexec_load", "kexec_file_load", "add_key", "keyctl", "mount", "umount2",
                        "unshare", "setns", "reboot", "init_module", "open_by_handle_at",
                        "name_to_handle_at", "bpf", "perf_event_open", "settimeofday",
                        "clock_settime", "acct", "swapon", "pivot_root", "iopl"}) {
    EXPECT_FALSE(allowed.count(s)) << s;
  }
  EXPECT_TRUE(RulesFor(*oci, "kexec_load").empty()) << "kexec_load must appear in no rule";
  // arm-only syscalls are not in an amd64 profile.
  EXPECT_TRUE(RulesFor(*oci, "set_tls").empty());
}

TEST(DefaultSeccompTest, CloneIsRestrictedWithoutSysAdmin) {
  auto oci = ToOciSeccomp(DefaultSeccompProfile(), Ctx());
  ASSERT_THAT(oci, IsOk());
  std::vector<OJson> clone = RulesFor(*oci, "clone");
  ASSERT_EQ(clone.size(), 1u);
  ASSERT_EQ(clone[0]["args"].size(), 1u);
  EXPECT_EQ(clone[0]["args"][0]["index"], 0);
  EXPECT_EQ(clone[0]["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
  EXPECT_EQ(clone[0]["args"][0]["value"], 2114060288u);  // CLONE_NEW* flags
  EXPECT_EQ(clone[0]["args"][0]["valueTwo"], 0);
  std::vector<OJson> clone3 = RulesFor(*oci, "clone3");
  ASSERT_EQ(clone3.size(), 1u);
  EXPECT_EQ(clone3[0]["action"], "SCMP_ACT_ERRNO");
  EXPECT_EQ(clone3[0]["errnoRet"], 38);  // ENOSYS: libc falls back to clone
  // personality only with the listed personas.
  std::set<uint64_t> personas;
  for (const OJson& r : RulesFor(*oci, "personality")) {
    ASSERT_EQ(r["args"].size(), 1u);
    EXPECT_EQ(r["args"][0]["op"], "SCMP_CMP_EQ");
    personas.insert(r["args"][0]["value"].get<uint64_t>());
  }
  EXPECT_EQ(personas, (std::set<uint64_t>{0, 8, 0x20000, 0x20008, 0xffffffff}));
}

TEST(DefaultSeccompTest, CapabilitiesUnlockTheirSyscalls) {
  std::vector<std::string> caps = kDefaultCaps;
  caps.push_back("CAP_SYS_ADMIN");
  caps.push_back("CAP_SYS_TIME");
  auto oci = ToOciSeccomp(DefaultSeccompProfile(), Ctx(caps));
  ASSERT_THAT(oci, IsOk());
  const std::set<std::string> allowed = Unconditional(*oci);
  for (const char* s : {"mount", "unshare", "setns", "clone", "clone3", "sethostname",
                        "settimeofday", "clock_settime"}) {
    EXPECT_TRUE(allowed.count(s)) << s;
  }
  // With CAP_SYS_ADMIN the clone restriction and the clone3 ENOSYS rule are gone.
  for (const OJson& r : RulesFor(*oci, "clone")) EXPECT_FALSE(r.contains("args"));
  for (const OJson& r : RulesFor(*oci, "clone3")) EXPECT_EQ(r["action"], "SCMP_ACT_ALLOW");
  EXPECT_TRUE(RulesFor(*oci, "kexec_load").empty());
}

TEST(DefaultSeccompTest, MinKernelCondition) {
  SeccompContext old = Ctx();
  old.kernel_major = 4;
  old.kernel_minor = 4;
  auto oci = ToOciSeccomp(DefaultSeccompProfile(), old);
  ASSERT_THAT(oci, IsOk());
  EXPECT_FALSE(Unconditional(*oci).count("ptrace"));  // before 4.8 only with CAP_SYS_PTRACE
}

TEST(ParseSeccompProfileTest, ConvertsDockerFormat) {
  const char* kProfile = R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "archMap": [
      {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
      {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
    ],
    "syscalls": [
      {"name": "getcwd", "action": "SCMP_ACT_ALLOW", "args": []},
      {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "basic io"},
      {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
       "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}],
       "excludes": {"arches": ["arm64"]}},
      {"names": ["set_tls"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}}
    ]
  })";
  auto profile = ParseSeccompProfile(kProfile);
  ASSERT_THAT(profile, IsOk());
  auto oci = ToOciSeccomp(*profile, Ctx());
  ASSERT_THAT(oci, IsOk());
  const OJson expected = OJson::parse(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
    "syscalls": [
      {"names": ["getcwd"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
       "args": [{"index": 1, "value": 9, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}
    ]
  })");
  EXPECT_EQ(*oci, expected) << oci->dump(2);
}

TEST(ParseSeccompProfileTest, PlainArchitecturesAndFlags) {
  auto profile = ParseSeccompProfile(R"({"defaultAction": "SCMP_ACT_ALLOW",
      "architectures": ["SCMP_ARCH_X86_64"], "flags": ["SECCOMP_FILTER_FLAG_LOG"],
      "syscalls": null})");
  ASSERT_THAT(profile, IsOk());
  auto oci = ToOciSeccomp(*profile, Ctx());
  ASSERT_THAT(oci, IsOk());
  EXPECT_EQ((*oci)["architectures"], OJson::array({"SCMP_ARCH_X86_64"}));
  EXPECT_EQ((*oci)["flags"], OJson::array({"SECCOMP_FILTER_FLAG_LOG"}));
  EXPECT_TRUE((*oci)["syscalls"].empty());
  EXPECT_FALSE(oci->contains("defaultErrnoRet"));
}

TEST(ParseSeccompProfileTest, RejectsMalformedProfiles) {
  struct Case {
    const char* json;
    const char* message;
  };
  const Case cases[] = {
      {"{not json", "malformed JSON"},
      {"[]", "must be a JSON object"},
      {R"({"syscalls": []})", "defaultAction: is required"},
      {R"({"defaultAction": "SCMP_ACT_NOPE"})", "unknown action"},
      {R"({"defaultAction": 5})", "must be a string"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
           "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]})",
       "use either 'architectures' or 'archMap'"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "read", "names": ["write"],
           "action": "SCMP_ACT_ALLOW"}]})",
       "use either 'name' or 'names'"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]})",
       "needs 'names'"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
           "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]})",
       "must be 0..5"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
           "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]})",
       "non-negative"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
           "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "EQ"}]}]})",
       "unknown operator"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": "read",
           "action": "SCMP_ACT_ALLOW"}]})",
       "array of strings"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ParseSeccompProfile(c.json),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << c.json;
  }
}

TEST(ParseSeccompProfileTest, BadMinKernelFailsConversion) {
  auto profile = ParseSeccompProfile(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
      {"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "four"}}]})");
  ASSERT_THAT(profile, IsOk());
  EXPECT_THAT(ToOciSeccomp(*profile, Ctx()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("minKernel")));
}

}  // namespace
}  // namespace berth::engine::oci
