// Tests of the parts of //runc/linux that need no root: path cleaning and in-root resolution,
// mountinfo parsing, remount flags, sysctl rules, cgroup planning, propagation names and
// device checks.
#include "runc/linux/mount_util.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runc/linux/cgroup_mount.h"
#include "runc/linux/devices.h"
#include "runc/linux/rootfs.h"
#include "runc/linux/sysctl.h"

namespace berth::runc::linux {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CleanPathTest, CleansLexically) {
  EXPECT_EQ(CleanPath("/"), "/");
  EXPECT_EQ(CleanPath(""), "/");
  EXPECT_EQ(CleanPath("//a/./b/"), "/a/b");
  EXPECT_EQ(CleanPath("/a/../b"), "/b");
  EXPECT_EQ(CleanPath("/../../etc"), "/etc");
  EXPECT_EQ(CleanPath("a/b"), "/a/b");
}

class OpenInRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(std::move(*dir));
    root_ = dir_->Sub("root");
    ASSERT_EQ(mkdir(root_.c_str(), 0755), 0);
    root_fd_.reset(open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_fd_.valid());
    name_ = absl::StrCat("berth-openinroot-", getpid());
  }

  std::string Where(const UniqueFd& fd) {
    auto p = FdPath(fd.get());
    return p.ok() ? *p : std::string(p.status().message());
  }

  bool Exists(const std::string& path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
  }

  std::optional<TempDir> dir_;
  std::string root_;
  UniqueFd root_fd_;
  std::string name_;
};

TEST_F(OpenInRootTest, CreatesDirectoriesAndFiles) {
  auto d = OpenInRoot(root_fd_.get(), "/a/b/c", CreateMode::kDirectory);
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(Where(*d), root_ + "/a/b/c");
  auto f = OpenInRoot(root_fd_.get(), "/a/x/file", CreateMode::kFile);
  ASSERT_THAT(f, IsOk());
  struct stat st;
  ASSERT_EQ(stat((root_ + "/a/x/file").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  // Existing paths are opened, not recreated.
  EXPECT_THAT(OpenInRoot(root_fd_.get(), "/a/x/file", CreateMode::kFile), IsOk());
  EXPECT_THAT(OpenInRoot(root_fd_.get(), "/missing", CreateMode::kNone),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/missing")));
}

TEST_F(OpenInRootTest, AbsoluteSymlinkStaysInside) {
  ASSERT_EQ(symlink("/etc", (root_ + "/evil").c_str()), 0);
  // /etc does not exist in the root: the dangling link is followed inside and created there.
  auto f = OpenInRoot(root_fd_.get(), "/evil/" + name_, CreateMode::kFile);
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ(Where(*f), root_ + "/etc/" + name_);
  EXPECT_FALSE(Exists("/etc/" + name_));
}

TEST_F(OpenInRootTest, RelativeSymlinkCannotClimbOut) {
  ASSERT_EQ(mkdir((root_ + "/d").c_str(), 0755), 0);
  ASSERT_EQ(symlink("../../../../../../tmp", (root_ + "/d/up").c_str()), 0);
  auto f = OpenInRoot(root_fd_.get(), "/d/up/" + name_, CreateMode::kDirectory);
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ(Where(*f), root_ + "/tmp/" + name_);
  EXPECT_FALSE(Exists("/tmp/" + name_));
}

TEST_F(OpenInRootTest, DotDotIsClampedAtTheRoot) {
  auto f = OpenInRoot(root_fd_.get(), "/../../" + name_, CreateMode::kDirectory);
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ(Where(*f), root_ + "/" + name_);
}

TEST_F(OpenInRootTest, ExistingSymlinkToDirectoryIsFollowedInside) {
  ASSERT_EQ(mkdir((root_ + "/real").c_str(), 0755), 0);
  ASSERT_EQ(symlink("/real", (root_ + "/link").c_str()), 0);
  auto f = OpenInRoot(root_fd_.get(), "/link/sub", CreateMode::kDirectory);
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ(Where(*f), root_ + "/real/sub");
}

TEST_F(OpenInRootTest, SymlinkLoopFails) {
  ASSERT_EQ(symlink("/b", (root_ + "/a").c_str()), 0);
  ASSERT_EQ(symlink("/a", (root_ + "/b").c_str()), 0);
  EXPECT_FALSE(OpenInRoot(root_fd_.get(), "/a/x", CreateMode::kDirectory).ok());
}

TEST_F(OpenInRootTest, FileInThePathFails) {
  ASSERT_TRUE(std::ofstream(root_ + "/file").good());
  EXPECT_THAT(OpenInRoot(root_fd_.get(), "/file/x", CreateMode::kDirectory),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(OpenInRootTest, MagicLinksAreRefused) {
  // With the real "/" as the root, /proc/self/root is a magic link: refused, not followed.
  UniqueFd slash(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(slash.valid());
  EXPECT_THAT(OpenInRoot(slash.get(), "/proc/self/root/etc", CreateMode::kNone),
              StatusIs(absl::StatusCode::kUnknown, HasSubstr("Too many levels")));
  EXPECT_THAT(OpenInRoot(slash.get(), "/proc/self/cwd", CreateMode::kNone), ::testing::Not(IsOk()));
}

TEST(MountInfoTest, Parses) {
  constexpr char kText[] =
      "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard\n"
      "35 31 0:32 /sub /sys/fs/cgroup/mem\\040ory rw,nosuid - cgroup cgroup rw,memory\n"
      "40 27 0:40 / /x rw master:3 shared:9 - tmpfs none \n";
  auto mounts = ParseMountInfo(kText);
  ASSERT_THAT(mounts, IsOk());
  ASSERT_EQ(mounts->size(), 3u);
  const MountInfo& a = (*mounts)[0];
  EXPECT_EQ(a.id, 27);
  EXPECT_EQ(a.parent_id, 1);
  EXPECT_EQ(a.root, "/");
  EXPECT_EQ(a.mount_point, "/");
  EXPECT_EQ(a.fs_type, "ext4");
  EXPECT_EQ(a.source, "/dev/vda");
  EXPECT_EQ(a.super_options, "rw,discard");
  EXPECT_TRUE(a.Shared());
  const MountInfo& b = (*mounts)[1];
  EXPECT_EQ(b.root, "/sub");
  EXPECT_EQ(b.mount_point, "/sys/fs/cgroup/mem ory");
  EXPECT_FALSE(b.Shared());
  EXPECT_THAT((*mounts)[2].optional_fields, ElementsAre("master:3", "shared:9"));
  EXPECT_THAT(ParseMountInfo("1 2 3\n"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(MountFlagsTest, FromStatfs) {
  EXPECT_EQ(MountFlagsFromStatfs(ST_RDONLY | ST_NOSUID | ST_RELATIME),
            MS_RDONLY | MS_NOSUID | MS_RELATIME);
  EXPECT_EQ(MountFlagsFromStatfs(0), MS_STRICTATIME);
  EXPECT_EQ(MountFlagsFromStatfs(ST_NOATIME | ST_NODEV | ST_NOEXEC),
            MS_NOATIME | MS_NODEV | MS_NOEXEC);
}

TEST(MountFlagsTest, BindRemountKeepsWhatIsNotChanged) {
  const unsigned long current = MS_NOSUID | MS_NODEV | MS_RELATIME;
  EXPECT_EQ(BindRemountFlags(current, MS_RDONLY, 0), current | MS_RDONLY);
  EXPECT_EQ(BindRemountFlags(current, MS_NOEXEC, MS_NOSUID), MS_NODEV | MS_RELATIME | MS_NOEXEC);
  EXPECT_EQ(BindRemountFlags(current, MS_NOATIME, 0), MS_NOSUID | MS_NODEV | MS_NOATIME);
  EXPECT_EQ(BindRemountFlags(current | MS_RDONLY, 0, MS_RDONLY), current);
  // Superblock flags are not per-mount and never passed.
  EXPECT_EQ(BindRemountFlags(current, MS_SYNCHRONOUS, 0), current);
}

spec::Spec WithSysctl(const std::string& key, std::vector<spec::NamespaceType> ns) {
  spec::Spec s;
  s.linux.sysctl[key] = "1";
  for (auto t : ns) s.linux.namespaces.push_back({t, ""});
  return s;
}

TEST(SysctlTest, Path) {
  EXPECT_EQ(*SysctlPath("net.ipv4.ip_forward"), "net/ipv4/ip_forward");
  EXPECT_EQ(*SysctlPath("net.ipv4.conf.eth0/100.forwarding"), "net/ipv4/conf/eth0.100/forwarding");
  EXPECT_THAT(SysctlPath("net..x"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SysctlPath(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SysctlPath("net./."), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SysctlPath("net.//"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SysctlTest, NamespaceRules) {
  using T = spec::NamespaceType;
  EXPECT_THAT(ValidateSysctls(WithSysctl("net.ipv4.ip_forward", {T::kNetwork})), IsOk());
  EXPECT_THAT(ValidateSysctls(WithSysctl("net.ipv4.ip_forward", {T::kIpc})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("linux.sysctl[\"net.ipv4.ip_forward\"]: needs a network")));
  EXPECT_THAT(ValidateSysctls(WithSysctl("kernel.shmmax", {T::kIpc})), IsOk());
  EXPECT_THAT(ValidateSysctls(WithSysctl("kernel.msgmnb", {T::kIpc})), IsOk());
  EXPECT_THAT(ValidateSysctls(WithSysctl("kernel.sem", {T::kIpc})), IsOk());
  EXPECT_THAT(ValidateSysctls(WithSysctl("fs.mqueue.msg_max", {T::kIpc})), IsOk());
  EXPECT_THAT(ValidateSysctls(WithSysctl("kernel.shmmax", {T::kNetwork})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs an ipc")));
  EXPECT_THAT(ValidateSysctls(WithSysctl("kernel.domainname", {T::kUts})), IsOk());
  EXPECT_THAT(ValidateSysctls(WithSysctl("kernel.hostname", {})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs a uts")));
  EXPECT_THAT(ValidateSysctls(WithSysctl("kernel.pid_max",
                                         {T::kIpc, T::kNetwork, T::kUts, T::kPid, T::kMount})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("linux.sysctl[\"kernel.pid_max\"]: not a namespaced sysctl")));
  EXPECT_THAT(ValidateSysctls(WithSysctl("vm.swappiness", {T::kIpc})),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SysctlTest, WritesUnderGivenDirectory) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  ASSERT_EQ(mkdir(dir->Sub("net").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(dir->Sub("net/ipv4").c_str(), 0755), 0);
  ASSERT_TRUE(std::ofstream(dir->Sub("net/ipv4/ip_forward")).good());
  spec::Spec s = WithSysctl("net.ipv4.ip_forward", {spec::NamespaceType::kNetwork});
  ASSERT_THAT(WriteSysctls(s, dir->path()), IsOk());
  std::ifstream in(dir->Sub("net/ipv4/ip_forward"));
  std::string got;
  in >> got;
  EXPECT_EQ(got, "1");
  s = WithSysctl("net.ipv4.missing", {spec::NamespaceType::kNetwork});
  EXPECT_THAT(
      WriteSysctls(s, dir->path()),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("linux.sysctl[\"net.ipv4.missing\"]")));
}

// This host's layout: v1 hierarchies, the memory cgroup elsewhere, hybrid cgroup2.
constexpr char kMountInfo[] =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    "36 31 0:33 /outer /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
    "37 31 0:34 /elsewhere /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
constexpr char kProcCgroup[] =
    "9:name=systemd:/\n"
    "8:pids:/outer/inner\n"
    "5:devices:/x\n"
    "4:memory:/process_api/abc\n"
    "1:cpu,cpuacct:/\n"
    "0::/u/v\n";

TEST(CgroupTest, V1Hierarchies) {
  auto mounts = ParseMountInfo(kMountInfo);
  ASSERT_THAT(mounts, IsOk());
  auto h = CgroupV1Hierarchies(*mounts, kProcCgroup);
  ASSERT_EQ(h.size(), 5u);
  EXPECT_EQ(h[0].name, "cpu,cpuacct");
  EXPECT_EQ(h[0].source, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(h[0].controllers, "cpu,cpuacct");
  EXPECT_EQ(h[1].name, "memory");
  EXPECT_EQ(h[1].source, "/sys/fs/cgroup/memory/process_api/abc");
  EXPECT_EQ(h[2].name, "pids");
  EXPECT_EQ(h[2].source, "/sys/fs/cgroup/pids/inner");
  EXPECT_EQ(h[3].name, "devices");
  EXPECT_EQ(h[3].source, "");  // its mount does not contain /x
  EXPECT_EQ(h[4].name, "systemd");
  EXPECT_EQ(h[4].controllers, "name=systemd");
  EXPECT_EQ(CgroupV2Dir(*mounts, kProcCgroup), "/sys/fs/cgroup/unified/u/v");
  EXPECT_EQ(CgroupV2Dir(*mounts, "1:cpu:/\n"), "");
}

TEST(RootPropagationTest, Names) {
  EXPECT_EQ(*RootPropagationFlags(""), MS_SLAVE | MS_REC);
  EXPECT_EQ(*RootPropagationFlags("private"), MS_PRIVATE);
  EXPECT_EQ(*RootPropagationFlags("rshared"), MS_SHARED | MS_REC);
  EXPECT_EQ(*RootPropagationFlags("runbindable"), MS_UNBINDABLE | MS_REC);
  EXPECT_THAT(RootPropagationFlags("sideways"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sideways")));
}

TEST(DevicesTest, DefaultsAndValidation) {
  auto d = DefaultDevices();
  ASSERT_EQ(d.size(), 6u);
  EXPECT_EQ(d[0].path, "/dev/null");
  EXPECT_EQ(d[0].major, 1);
  EXPECT_EQ(d[0].minor, 3);
  spec::Device bad;
  bad.path = "/dev/x";
  bad.type = 'q';
  EXPECT_THAT(ValidateDevice(bad), StatusIs(absl::StatusCode::kInvalidArgument));
  bad.type = 'b';
  EXPECT_THAT(ValidateDevice(bad), IsOk());
  bad.path = "/";
  EXPECT_THAT(ValidateDevice(bad), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(PrepareRootfsTest, RefusesBadSysctlBeforeTouchingAnything) {
  // Runs unprivileged: the check comes before any mount.
  spec::Spec s = WithSysctl("kernel.pid_max", {spec::NamespaceType::kMount});
  s.root.path = "/nonexistent";
  EXPECT_THAT(PrepareRootfs(s, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kernel.pid_max")));
  s.linux.sysctl.clear();
  s.linux.rootfs_propagation = "bogus";
  EXPECT_THAT(PrepareRootfs(s, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("linux.rootfsPropagation")));
}

}  // namespace
}  // namespace berth::runc::linux
