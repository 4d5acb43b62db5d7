#include "shim/task/upgrade_state.h"

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::shim::task {
namespace {

using ::berth::testing::IsOk;

TEST(UpgradeStateTest, RoundTripsThroughAFile) {
  auto dir = ::berth::testing::TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  UpgradeState s;
  s.phase = "running";
  s.pid = 4242;
  s.start_time = 123456789;
  s.started_at = absl::FromUnixNanos(1700000000123456789);
  s.exited = false;
  s.stdin_path = "";
  s.stdout_path = "/run/x/out";
  s.stderr_path = "/run/x/err \"q\"";
  s.stdin_mode = ::berth::types::v1::STDIN_MODE_OPEN;
  s.log_path = "/var/log/c-json.log";
  s.log_max_size_bytes = 1 << 20;
  s.log_max_files = 3;
  s.rootfs_mounted = true;
  s.stdout_fd = 7;
  s.stderr_fd = 9;
  s.stdin_fd = 11;
  const std::string path = dir->Sub("upgrade.json");
  ASSERT_THAT(WriteUpgradeState(path, s), IsOk());
  auto back = ReadUpgradeState(path);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->phase, "running");
  EXPECT_EQ(back->pid, 4242);
  EXPECT_EQ(back->start_time, 123456789u);
  ASSERT_TRUE(back->started_at.has_value());
  EXPECT_EQ(absl::ToUnixNanos(*back->started_at), 1700000000123456789);
  EXPECT_FALSE(back->exited);
  EXPECT_EQ(back->stdout_path, "/run/x/out");
  EXPECT_EQ(back->stderr_path, "/run/x/err \"q\"");
  EXPECT_EQ(back->stdin_mode, ::berth::types::v1::STDIN_MODE_OPEN);
  EXPECT_EQ(back->log_path, "/var/log/c-json.log");
  EXPECT_EQ(back->log_max_size_bytes, 1u << 20);
  EXPECT_EQ(back->log_max_files, 3u);
  EXPECT_TRUE(back->rootfs_mounted);
  EXPECT_EQ(back->stdout_fd, 7);
  EXPECT_EQ(back->stderr_fd, 9);
  EXPECT_EQ(back->stdin_fd, 11);
}

TEST(UpgradeStateTest, NoStartTimeStaysUnset) {
  UpgradeState s;
  s.phase = "created";
  auto back = UpgradeStateFromJson(UpgradeStateToJson(s));
  ASSERT_THAT(back, IsOk());
  EXPECT_FALSE(back->started_at.has_value());
  EXPECT_EQ(back->stdout_fd, -1);
}

TEST(UpgradeStateTest, RejectsGarbageAndOtherVersions) {
  EXPECT_FALSE(UpgradeStateFromJson("not json").ok());
  EXPECT_FALSE(UpgradeStateFromJson("{\"version\": 1}").ok());
  UpgradeState s;
  std::string text = UpgradeStateToJson(s);
  text.replace(text.find("\"version\":1"), 11, "\"version\":2");
  EXPECT_EQ(UpgradeStateFromJson(text).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace berth::shim::task
