#include "shim/task/bootstrap.h"

#include <sys/wait.h>
#include <unistd.h>

#include "common/fs/atomic_file.h"
#include "common/proc/proc.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::shim::task {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::MatchesRegex;

MATCHER_P(IsAlive, want, "") { return arg.ok() && *arg == want; }

TEST(ShimSocketPathTest, HashOfNamespaceAndId) {
  auto p = ShimSocketPath("/run/berth-containerd", "default", "3f2a");
  ASSERT_THAT(p, IsOk());
  EXPECT_THAT(*p, MatchesRegex("/run/berth-containerd/s/[0-9a-f]{32}\\.sock"));
  // Stable, and different per namespace.
  EXPECT_EQ(*p, *ShimSocketPath("/run/berth-containerd", "default", "3f2a"));
  EXPECT_NE(*p, *ShimSocketPath("/run/berth-containerd", "other", "3f2a"));
  // The first 32 hex digits of sha256("a/b"), as `printf a/b | sha256sum` prints them.
  EXPECT_EQ(*ShimSocketPath("/s", "a", "b"), "/s/s/c14cddc033f64b9dea80ea675cf280a0.sock");
}

TEST(ShimSocketPathTest, Limits) {
  const std::string dir67(67, 'd');
  EXPECT_THAT(ShimSocketPath("/" + dir67.substr(1), "n", "i"), IsOk());
  EXPECT_THAT(ShimSocketPath("/" + dir67, "n", "i"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ShimSocketPath("relative", "n", "i"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ShimSocketPath("/s", "", "i"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(BootstrapParamsTest, JsonMatchesProtoExample) {
  BootstrapParams p;
  p.set_version(kBootstrapVersion);
  p.set_protocol("grpc");
  p.set_address("unix:///run/berth-containerd/s/3a6eb0790f39ac87c94f3856b2dd2c5d.sock");
  p.set_shim_pid(4242);
  p.set_shim_start_time(987654);
  EXPECT_EQ(BootstrapParamsToJson(p),
            R"({"version":1,"protocol":"grpc",)"
            R"("address":"unix:///run/berth-containerd/s/3a6eb0790f39ac87c94f3856b2dd2c5d.sock",)"
            R"("shimPid":4242,"shimStartTime":"987654"})");
  auto back = BootstrapParamsFromJson(R"({"version":1,"shimPid":7,"newField":"x"})");
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->shim_pid(), 7u);
  EXPECT_THAT(BootstrapParamsFromJson("{"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(BootstrapFileTest, WriteReadAndLiveness) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  EXPECT_THAT(ReadBootstrapFile(dir->path()), StatusIs(absl::StatusCode::kNotFound));

  auto self = proc::ProcessIdentity::Current(getpid());
  ASSERT_THAT(self, IsOk());
  BootstrapParams p;
  p.set_version(kBootstrapVersion);
  p.set_shim_pid(static_cast<uint32_t>(self->pid));
  p.set_shim_start_time(self->start_time);
  ASSERT_THAT(WriteBootstrapFile(dir->path(), p), IsOk());
  auto back = ReadBootstrapFile(dir->path());
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->shim_start_time(), self->start_time);
  EXPECT_THAT(ShimIsAlive(*back), IsAlive(true));

  back->set_shim_start_time(self->start_time + 1);  // same pid, another process
  EXPECT_THAT(ShimIsAlive(*back), IsAlive(false));

  const pid_t child = fork();
  if (child == 0) _exit(0);
  auto child_id = proc::ProcessIdentity::Current(child);
  waitpid(child, nullptr, 0);
  if (child_id.ok()) {
    p.set_shim_pid(static_cast<uint32_t>(child_id->pid));
    p.set_shim_start_time(child_id->start_time);
    EXPECT_THAT(ShimIsAlive(p), IsAlive(false));  // reaped
  }
  p.set_shim_pid(0);
  EXPECT_THAT(ShimIsAlive(p), IsAlive(false));

  ASSERT_THAT(fs::WriteFileAtomically(BootstrapFilePath(dir->path()), "junk", 0644), IsOk());
  EXPECT_THAT(ReadBootstrapFile(dir->path()), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace berth::shim::task
