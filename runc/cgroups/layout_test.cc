#include "runc/cgroups/layout.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::runc::cgroups {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// This VM's /proc/self/mountinfo (cgroup part), plus lines that must be skipped.
constexpr char kHybridMountinfo[] =
    "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
    "42 31 0:39 / /sys/fs/cgroup/mine rw,relatime - cgroup cgroup rw,name=mine\n"
    "garbage line\n";

constexpr char kHybridProcCgroup[] =
    "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n"
    "4:memory:/process_api/d93f\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";

TEST(ParseCgroupMountsTest, HybridHost) {
  std::vector<Hierarchy> m = ParseCgroupMounts(kHybridMountinfo);
  ASSERT_EQ(m.size(), 10u);
  EXPECT_EQ(m[0].controllers, "cpu");
  EXPECT_EQ(m[0].mount_point, "/sys/fs/cgroup/cpu");
  EXPECT_EQ(m[0].root, "/");
  EXPECT_FALSE(m[0].unified);
  EXPECT_EQ(m[8].controllers, "name=systemd");
  EXPECT_TRUE(m[9].unified);
  EXPECT_EQ(m[9].mount_point, "/sys/fs/cgroup/unified");
}

TEST(ParseCgroupMountsTest, CoMountedOptionalFieldsAndEscapes) {
  std::vector<Hierarchy> m = ParseCgroupMounts(
      "30 25 0:26 /docker/x /sys/fs/cgroup/cpu\\040acct ro,nosuid shared:9 master:3 - cgroup "
      "cgroup rw,cpuacct,cpu,clone_children\n"
      "31 25 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].controllers, "cpu,cpuacct");
  EXPECT_EQ(m[0].mount_point, "/sys/fs/cgroup/cpu acct");
  EXPECT_EQ(m[0].root, "/docker/x");
  EXPECT_TRUE(m[1].unified);
  EXPECT_EQ(m[1].controllers, "");
}

TEST(ChooseLayoutTest, HybridIsV1) {
  absl::StatusOr<Layout> l = ChooseLayout(ParseCgroupMounts(kHybridMountinfo));
  ASSERT_THAT(l, IsOk());
  EXPECT_FALSE(l->unified);
  std::vector<std::string> names;
  for (const Hierarchy& h : l->hierarchies) names.push_back(h.controllers);
  EXPECT_THAT(names, ElementsAre("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer",
                                 "blkio", "pids", "name=systemd"));
}

TEST(ChooseLayoutTest, UnifiedAndNothing) {
  absl::StatusOr<Layout> l =
      ChooseLayout(ParseCgroupMounts("31 25 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
                                     "32 25 0:27 / /other rw - cgroup2 cgroup2 rw\n"));
  ASSERT_THAT(l, IsOk());
  EXPECT_TRUE(l->unified);
  ASSERT_EQ(l->hierarchies.size(), 1u);
  EXPECT_EQ(l->hierarchies[0].mount_point, "/sys/fs/cgroup");
  EXPECT_THAT(ChooseLayout({}), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(ChooseLayoutTest, SameHierarchyMountedTwiceKeepsTheFirst) {
  absl::StatusOr<Layout> l = ChooseLayout(ParseCgroupMounts(
      "1 0 0:1 / /a rw - cgroup cgroup rw,memory\n2 0 0:1 / /b rw - cgroup cgroup rw,memory\n"));
  ASSERT_THAT(l, IsOk());
  ASSERT_EQ(l->hierarchies.size(), 1u);
  EXPECT_EQ(l->hierarchies[0].mount_point, "/a");
}

TEST(ParseProcCgroupTest, KeysAreSortedControllerLists) {
  auto m = ParseProcCgroup("3:cpuacct,cpu:/a\n4:memory:/process_api/x\n0::/b:c\n");
  EXPECT_EQ(m["cpu,cpuacct"], "/a");
  EXPECT_EQ(m["memory"], "/process_api/x");
  EXPECT_EQ(m[""], "/b:c");
}

TEST(CleanCgroupsPathTest, Rules) {
  EXPECT_EQ(*CleanCgroupsPath("", "c1"), "/berth-runc/c1");
  EXPECT_EQ(*CleanCgroupsPath("/a//b/./c/", "c1"), "/a/b/c");
  EXPECT_EQ(*CleanCgroupsPath("a/b", "c1"), "a/b");
  EXPECT_EQ(*CleanCgroupsPath("./a", "c1"), "a");
  EXPECT_EQ(*CleanCgroupsPath("system.slice:docker:x", "c1"), "system.slice:docker:x");
  for (const char* bad : {"/", ".", "/./", "/a/../b", "..", "a/\nb"}) {
    EXPECT_THAT(CleanCgroupsPath(bad, "c1"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("linux.cgroupsPath")))
        << bad;
  }
  EXPECT_THAT(CleanCgroupsPath(std::string("a\0b", 3), "c1"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  for (const char* bad_id : {"", ".", "..", "a/b"}) {
    EXPECT_THAT(CleanCgroupsPath("", bad_id),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("linux.cgroupsPath")))
        << bad_id;
  }
}

TEST(ResolveDirTest, AbsoluteIsBelowEachMountPoint) {
  auto own = ParseProcCgroup(kHybridProcCgroup);
  Hierarchy memory{false, "memory", "/sys/fs/cgroup/memory", "/"};
  EXPECT_EQ(*ResolveDir(memory, "/a/b", own, ""), "/sys/fs/cgroup/memory/a/b");
  EXPECT_EQ(*ResolveDir(memory, "/a/b", own, "/tmp/x"), "/tmp/x/sys/fs/cgroup/memory/a/b");
}

TEST(ResolveDirTest, RelativeIsBelowTheCallersCgroupPerHierarchy) {
  auto own = ParseProcCgroup(kHybridProcCgroup);
  Hierarchy memory{false, "memory", "/sys/fs/cgroup/memory", "/"};
  Hierarchy cpu{false, "cpu", "/sys/fs/cgroup/cpu", "/"};
  Hierarchy unified{true, "", "/sys/fs/cgroup/unified", "/"};
  EXPECT_EQ(*ResolveDir(memory, "c/d", own, ""), "/sys/fs/cgroup/memory/process_api/d93f/c/d");
  EXPECT_EQ(*ResolveDir(cpu, "c/d", own, ""), "/sys/fs/cgroup/cpu/c/d");
  EXPECT_EQ(*ResolveDir(unified, "c", own, ""), "/sys/fs/cgroup/unified/c");
}

TEST(ResolveDirTest, RelativeWithAMountedSubtree) {
  // A container's view: /sys/fs/cgroup/memory shows /docker/x of the host tree.
  Hierarchy memory{false, "memory", "/sys/fs/cgroup/memory", "/docker/x"};
  EXPECT_EQ(*ResolveDir(memory, "c", ParseProcCgroup("4:memory:/docker/x/y\n"), ""),
            "/sys/fs/cgroup/memory/y/c");
  EXPECT_EQ(*ResolveDir(memory, "c", ParseProcCgroup("4:memory:/docker/x\n"), ""),
            "/sys/fs/cgroup/memory/c");
  EXPECT_THAT(ResolveDir(memory, "c", ParseProcCgroup("4:memory:/docker/xy\n"), ""),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("outside")));
  EXPECT_THAT(ResolveDir(memory, "c", ParseProcCgroup("1:cpu:/\n"), ""),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("memory")));
}

}  // namespace
}  // namespace berth::runc::cgroups
