#include "engine/system/host_info.h"

#include "gtest/gtest.h"

namespace berth::engine::system {
namespace {

TEST(HostInfoTest, PrettyNameQuotedUnquotedAndMissing) {
  EXPECT_EQ(ParseOsReleasePrettyName("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 "
                                     "(bookworm)\"\nID=debian\n"),
            "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(ParseOsReleasePrettyName("PRETTY_NAME=Alpine"), "Alpine");
  EXPECT_EQ(ParseOsReleasePrettyName("PRETTY_NAME='Single'\n"), "Single");
  EXPECT_EQ(ParseOsReleasePrettyName("ID=x\n"), "Linux");
  EXPECT_EQ(ParseOsReleasePrettyName("PRETTY_NAME=\n"), "Linux");
}

TEST(HostInfoTest, ArchNamesFollowImagePlatforms) {
  EXPECT_EQ(NormalizeArch("x86_64"), "amd64");
  EXPECT_EQ(NormalizeArch("aarch64"), "arm64");
  EXPECT_EQ(NormalizeArch("i686"), "386");
  EXPECT_EQ(NormalizeArch("mips"), "mips");
}

TEST(HostInfoTest, ReadsThisHost) {
  HostInfo h = ReadHostInfo();
  EXPECT_EQ(h.os_type, "linux");
  EXPECT_FALSE(h.kernel_version.empty());
  EXPECT_FALSE(h.hostname.empty());
  EXPECT_GT(h.ncpu, 0);
  EXPECT_GT(h.mem_total, 64 << 20);
  EXPECT_TRUE(h.cgroup_version == "1" || h.cgroup_version == "2") << h.cgroup_version;
}

}  // namespace
}  // namespace berth::engine::system
