#include "engine/oci/capabilities.h"

#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::engine::oci {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;
using ::testing::Contains;
using ::testing::UnorderedElementsAreArray;

// The host of this VM: everything but CAP_SYS_RESOURCE.
std::vector<std::string> HostCaps() {
  std::vector<std::string> caps;
  for (const std::string& c : AllCapabilityNames()) {
    if (c != "CAP_SYS_RESOURCE") caps.push_back(c);
  }
  return caps;
}

TEST(CapabilitiesTest, DefaultsAreDockersFourteen) {
  auto caps = ContainerCapabilities({}, {}, false, HostCaps());
  ASSERT_THAT(caps, IsOk());
  EXPECT_EQ(caps->size(), 14u);
  EXPECT_THAT(*caps, UnorderedElementsAreArray(DefaultCapabilities()));
  EXPECT_THAT(*caps, Not(Contains("CAP_SYS_ADMIN")));
  EXPECT_THAT(*caps, Not(Contains("CAP_NET_ADMIN")));
}

TEST(CapabilitiesTest, NamesAreNormalized) {
  EXPECT_EQ(*NormalizeCapability("net_admin"), "CAP_NET_ADMIN");
  EXPECT_EQ(*NormalizeCapability("CAP_NET_ADMIN"), "CAP_NET_ADMIN");
  EXPECT_EQ(*NormalizeCapability("Cap_Sys_Ptrace"), "CAP_SYS_PTRACE");
  EXPECT_EQ(*NormalizeCapability("all"), "ALL");
  EXPECT_THAT(NormalizeCapability("FOO"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown capability: \"CAP_FOO\"")));
}

TEST(CapabilitiesTest, AddAndDrop) {
  auto caps = ContainerCapabilities({"net_admin", "CAP_SYS_PTRACE"}, {"chown", "Cap_Kill"}, false,
                                    HostCaps());
  ASSERT_THAT(caps, IsOk());
  EXPECT_EQ(caps->size(), 14u);
  EXPECT_THAT(*caps, IsSupersetOf({"CAP_NET_ADMIN", "CAP_SYS_PTRACE", "CAP_DAC_OVERRIDE"}));
  EXPECT_THAT(*caps, Not(Contains("CAP_CHOWN")));
  EXPECT_THAT(*caps, Not(Contains("CAP_KILL")));
}

TEST(CapabilitiesTest, AddAllThenDrop) {
  auto caps = ContainerCapabilities({"ALL"}, {"sys_admin", "NET_ADMIN"}, false, HostCaps());
  ASSERT_THAT(caps, IsOk());
  EXPECT_EQ(caps->size(), HostCaps().size() - 2);
  EXPECT_THAT(*caps, Not(Contains("CAP_SYS_ADMIN")));
  EXPECT_THAT(*caps, Not(Contains("CAP_NET_ADMIN")));
  // Only what the host grants: never CAP_SYS_RESOURCE here.
  EXPECT_THAT(*caps, Not(Contains("CAP_SYS_RESOURCE")));
  EXPECT_THAT(*caps, Contains("CAP_SYS_PTRACE"));
}

TEST(CapabilitiesTest, DropAllKeepsOnlyAdded) {
  auto caps = ContainerCapabilities({"chown", "setuid"}, {"all"}, false, HostCaps());
  ASSERT_THAT(caps, IsOk());
  EXPECT_THAT(*caps, ElementsAre("CAP_CHOWN", "CAP_SETUID"));
  auto none = ContainerCapabilities({}, {"ALL"}, false, HostCaps());
  ASSERT_THAT(none, IsOk());
  EXPECT_TRUE(none->empty());
}

TEST(CapabilitiesTest, PrivilegedGetsEverythingTheHostGrants) {
  auto caps = ContainerCapabilities({}, {"ALL"}, true, HostCaps());
  ASSERT_THAT(caps, IsOk());
  EXPECT_EQ(*caps, HostCaps());  // sorted by capability number, drop ignored
}

TEST(CapabilitiesTest, Errors) {
  EXPECT_THAT(ContainerCapabilities({"bogus"}, {}, false, HostCaps()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("CAP_BOGUS")));
  EXPECT_THAT(ContainerCapabilities({}, {"bogus"}, false, HostCaps()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ContainerCapabilities({"sys_resource"}, {}, false, HostCaps()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("CAP_SYS_RESOURCE cannot be added")));
}

}  // namespace
}  // namespace berth::engine::oci
