// The helpers under the reference daemons: tool checks (what the interop tests skip on), the
// stdout/stderr split, the mount listing the tests' final checks rely on, and port picking.
// Each daemon starts, answers and stops leaving nothing; Stop catches leftovers. Root only; the
// daemon tests skip when their tool is absent.
#include "tests/interop/reference_daemons.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/fs/fs.h"
#include "common/testing/http_get.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::tests::interop {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

TEST(RequireToolTest, MissingToolIsFailedPreconditionNamingThePackage) {
  EXPECT_THAT(RequireTool("/nonexistent/berth-tool", "berth-pkg"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("berth-pkg")));
  // A directory is not a tool.
  EXPECT_THAT(RequireTool("/usr/bin", "x"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(RequireTool("/bin/sh", "dash"), IsOk());
}

TEST(RunToolTest, KeepsStdoutAndStderrApart) {
  auto r = RunTool({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->Succeeded());
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_THAT(r->Describe(), HasSubstr("exit 3"));

  auto env = RunTool({"/bin/sh", "-c", "echo \"$BERTH_X\""}, absl::Seconds(10), {"BERTH_X=y"});
  ASSERT_THAT(env, IsOk());
  EXPECT_TRUE(env->Succeeded());
  EXPECT_EQ(env->out, "y\n");
}

TEST(RunToolTest, TimeoutKillsTheTool) {
  auto r = RunTool({"/bin/sleep", "30"}, absl::Milliseconds(200));
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST(MountsUnderTest, ListsMountsBelowTheDirectoryOnly) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount";
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  // A space in the path: mountinfo escapes it as \040.
  const std::string inner = dir->Sub("a b");
  ASSERT_THAT(fs::MakeDirs(inner, 0755), IsOk());
  ASSERT_EQ(mount("berth-test", inner.c_str(), "tmpfs", 0, "size=64k"), 0) << strerror(errno);
  auto mounts = MountsUnder(dir->path());
  auto sibling = MountsUnder(dir->Sub("a"));  // "a" is a prefix of "a b", not its parent
  EXPECT_EQ(umount2(inner.c_str(), MNT_DETACH), 0);
  ASSERT_THAT(mounts, IsOk());
  EXPECT_THAT(*mounts, ElementsAre(inner));
  ASSERT_THAT(sibling, IsOk());
  EXPECT_THAT(*sibling, IsEmpty());
  auto after = MountsUnder(dir->path());
  ASSERT_THAT(after, IsOk());
  EXPECT_THAT(*after, IsEmpty());
}

TEST(PickFreePortTest, PortCanBeBound) {
  auto port = PickFreePort();
  ASSERT_THAT(port, IsOk());
  EXPECT_GT(*port, 0);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(*port);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << strerror(errno);
  close(fd);
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

TEST(ContainerdProcessTest, ServesItsOwnSocketAndRemovesItsDirectory) {
  auto containerd = ContainerdProcess::Start();
  if (absl::IsFailedPrecondition(containerd.status())) GTEST_SKIP() << containerd.status();
  ASSERT_THAT(containerd, IsOk());
  const std::string dir = (*containerd)->dir();
  EXPECT_TRUE(absl::StartsWith((*containerd)->socket(), dir + "/"));
  auto version = (*containerd)->Ctr({"version"});
  ASSERT_THAT(version, IsOk());
  EXPECT_TRUE(version->Succeeded()) << version->Describe();
  EXPECT_THAT(version->out, HasSubstr("Server:"));
  EXPECT_THAT((*containerd)->Stop(), IsOk());
  EXPECT_FALSE(Exists(dir));
  EXPECT_THAT((*containerd)->Stop(), IsOk());  // idempotent
}

// Stop finds what dockerd would have left behind: here a cgroup below its parent and a mount
// in its directory, planted by the test. Both are reported and cleaned up.
TEST(DockerdProcessTest, StopReportsAndRemovesLeftoverMountsAndCgroups) {
  auto containerd = ContainerdProcess::Start();
  if (absl::IsFailedPrecondition(containerd.status())) GTEST_SKIP() << containerd.status();
  ASSERT_THAT(containerd, IsOk());
  auto dockerd = DockerdProcess::Start(**containerd);
  if (absl::IsFailedPrecondition(dockerd.status())) GTEST_SKIP() << dockerd.status();
  ASSERT_THAT(dockerd, IsOk());
  auto info = (*dockerd)->Docker({"info", "--format", "{{.Driver}} {{.CgroupDriver}}"});
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->out, "overlay2 cgroupfs\n") << info->Describe();

  const std::string dir = (*dockerd)->dir();
  const std::string cgroup =
      absl::StrCat("/sys/fs/cgroup/memory", (*dockerd)->cgroup_parent(), "/leftover");
  ASSERT_THAT(fs::MakeDirs(cgroup, 0755), IsOk());
  // Not under the data root: dockerd bind-mounts that onto itself and detaches it (with anything
  // below) when it stops.
  const std::string mnt = dir + "/leftover";
  ASSERT_THAT(fs::MakeDirs(mnt, 0755), IsOk());
  ASSERT_EQ(mount("berth-test", mnt.c_str(), "tmpfs", 0, "size=64k"), 0) << strerror(errno);

  absl::Status stop = (*dockerd)->Stop();
  EXPECT_THAT(stop, StatusIs(absl::StatusCode::kInternal, HasSubstr("cgroups left: " + cgroup)));
  EXPECT_THAT(stop, StatusIs(absl::StatusCode::kInternal, HasSubstr("mounts left")));
  EXPECT_THAT(stop, StatusIs(absl::StatusCode::kInternal, HasSubstr(mnt)));
  EXPECT_FALSE(Exists(cgroup));
  EXPECT_FALSE(Exists("/sys/fs/cgroup/memory" + (*dockerd)->cgroup_parent()));
  auto mounts = MountsUnder(dir);
  ASSERT_THAT(mounts, IsOk());
  EXPECT_THAT(*mounts, IsEmpty());
  EXPECT_FALSE(Exists(dir));
  EXPECT_THAT((*containerd)->Stop(), IsOk());
}

TEST(DockerRegistryProcessTest, ListensOnItsPortAndRemovesItsDirectory) {
  auto registry = DockerRegistryProcess::Start();
  if (absl::IsFailedPrecondition(registry.status())) GTEST_SKIP() << registry.status();
  ASSERT_THAT(registry, IsOk());
  auto v2 = berth::testing::HttpGet((*registry)->address(), "/v2/");
  ASSERT_THAT(v2, IsOk());
  EXPECT_EQ(v2->status, 200);
  EXPECT_THAT(v2->headers, HasSubstr("registry/2.0"));
  const std::string dir = (*registry)->dir();
  EXPECT_THAT((*registry)->Stop(), IsOk());
  EXPECT_FALSE(Exists(dir));
  EXPECT_THAT(berth::testing::HttpGet((*registry)->address(), "/v2/"), Not(IsOk()));
}

}  // namespace
}  // namespace berth::tests::interop
