#include "runc/spec/names.h"

#include <linux/capability.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <set>

#include "gtest/gtest.h"

namespace berth::runc::spec {
namespace {

TEST(NamesTest, CapabilitiesRoundTrip) {
  ASSERT_EQ(CapabilityNames().size(), static_cast<size_t>(CAP_LAST_CAP + 1));
  for (size_t i = 0; i < CapabilityNames().size(); ++i) {
    EXPECT_EQ(CapabilityNames()[i].value, i);
    EXPECT_EQ(CapabilityFromName(CapabilityNames()[i].name), static_cast<int>(i));
    EXPECT_EQ(CapabilityName(static_cast<int>(i)), CapabilityNames()[i].name);
  }
  EXPECT_EQ(CapabilityFromName("CAP_SYS_ADMIN"), CAP_SYS_ADMIN);
  EXPECT_EQ(CapabilityFromName("CAP_CHECKPOINT_RESTORE"), 40);
  EXPECT_EQ(CapabilityFromName("cap_sys_admin"), std::nullopt);  // the spec spells them upper-case
  EXPECT_EQ(CapabilityFromName("SYS_ADMIN"), std::nullopt);
  EXPECT_EQ(CapabilityFromName("CAP_"), std::nullopt);
  EXPECT_EQ(CapabilityFromName("CAP_FOO"), std::nullopt);
  EXPECT_EQ(CapabilityName(-1), "");
  EXPECT_EQ(CapabilityName(CAP_LAST_CAP + 1), "");
}

TEST(NamesTest, KernelLastCapIsSane) {
  const int last = KernelLastCap();
  EXPECT_GE(last, kAlwaysKnownLastCap);
  EXPECT_LT(last, 64);
  EXPECT_EQ(KernelLastCap(), last);  // cached
}

TEST(NamesTest, Rlimits) {
  EXPECT_EQ(RlimitNames().size(), 16u);
  EXPECT_EQ(RlimitFromName("RLIMIT_NOFILE"), RLIMIT_NOFILE);
  EXPECT_EQ(RlimitFromName("RLIMIT_RTTIME"), RLIMIT_RTTIME);
  EXPECT_EQ(RlimitFromName("RLIMIT_FOO"), std::nullopt);
  EXPECT_EQ(RlimitFromName("nofile"), std::nullopt);
  std::set<uint64_t> values;
  for (const NamedValue& r : RlimitNames()) values.insert(r.value);
  EXPECT_EQ(values.size(), RlimitNames().size());
}

TEST(NamesTest, Namespaces) {
  std::set<int> flags;
  for (NamespaceType t : kAllNamespaceTypes) {
    EXPECT_EQ(NamespaceTypeFromName(NamespaceTypeName(t)), t);
    flags.insert(NamespaceCloneFlag(t));
  }
  EXPECT_EQ(flags.size(), 8u);
  EXPECT_EQ(NamespaceCloneFlag(NamespaceType::kNetwork), CLONE_NEWNET);
  EXPECT_EQ(NamespaceCloneFlag(NamespaceType::kMount), CLONE_NEWNS);
  EXPECT_EQ(NamespaceTypeFromName("net"), std::nullopt);  // runc spells it "network"
  EXPECT_EQ(NamespaceTypeFromName("foo"), std::nullopt);
}

TEST(NamesTest, Propagation) {
  EXPECT_EQ(PropagationFromName("rprivate"), static_cast<unsigned long>(MS_PRIVATE | MS_REC));
  EXPECT_EQ(PropagationFromName("slave"), static_cast<unsigned long>(MS_SLAVE));
  EXPECT_EQ(PropagationFromName("runbindable"), static_cast<unsigned long>(MS_UNBINDABLE | MS_REC));
  EXPECT_EQ(PropagationFromName("rshared"), static_cast<unsigned long>(MS_SHARED | MS_REC));
  EXPECT_EQ(PropagationFromName("bogus"), std::nullopt);
  EXPECT_EQ(PropagationNames().size(), 8u);
}

TEST(NamesTest, SchedulerAndIoPriority) {
  EXPECT_EQ(SchedulerPolicyFromName("SCHED_FIFO"), SCHED_FIFO);
  EXPECT_EQ(SchedulerPolicyFromName("SCHED_DEADLINE"), 6);
  EXPECT_EQ(SchedulerPolicyFromName("SCHED_FOO"), std::nullopt);
  EXPECT_EQ(SchedulerFlagFromName("SCHED_FLAG_RESET_ON_FORK"), 1u);
  EXPECT_EQ(SchedulerFlagFromName("SCHED_FLAG_UTIL_CLAMP_MAX"), 0x40u);
  EXPECT_EQ(SchedulerFlagFromName("X"), std::nullopt);
  EXPECT_EQ(IoPriorityClassFromName("IOPRIO_CLASS_RT"), 1);
  EXPECT_EQ(IoPriorityClassFromName("IOPRIO_CLASS_IDLE"), 3);
  EXPECT_EQ(IoPriorityClassFromName("IOPRIO_CLASS_NONE"), std::nullopt);
}

TEST(NamesTest, Seccomp) {
  EXPECT_EQ(SeccompActions().size(), 9u);
  EXPECT_TRUE(IsSeccompAction("SCMP_ACT_ERRNO"));
  EXPECT_TRUE(IsSeccompAction("SCMP_ACT_KILL_PROCESS"));
  EXPECT_FALSE(IsSeccompAction("SCMP_ACT_FOO"));
  EXPECT_TRUE(IsSeccompOperator("SCMP_CMP_MASKED_EQ"));
  EXPECT_FALSE(IsSeccompOperator("SCMP_CMP_XX"));
  EXPECT_TRUE(IsSeccompFlag("SECCOMP_FILTER_FLAG_LOG"));
  EXPECT_FALSE(IsSeccompFlag("SECCOMP_FILTER_FLAG_NEW_LISTENER"));
  EXPECT_TRUE(SeccompActionTakesErrno("SCMP_ACT_ERRNO"));
  EXPECT_TRUE(SeccompActionTakesErrno("SCMP_ACT_TRACE"));
  EXPECT_FALSE(SeccompActionTakesErrno("SCMP_ACT_KILL"));
}

}  // namespace
}  // namespace berth::runc::spec
