#include "containerd/snapshots/disk_usage.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::snapshots {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::Ge;

int64_t Blocks(const std::string& path) {
  struct stat st;
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return static_cast<int64_t>(st.st_blocks) * 512;
}

TEST(DirDiskUsageTest, CountsTheDirectoryItselfFilesAndSubdirectories) {
  absl::StatusOr<TempDir> t = TempDir::Create();
  ASSERT_THAT(t, IsOk());
  const std::string d = t->Sub("d");
  ASSERT_EQ(mkdir(d.c_str(), 0755), 0);
  absl::StatusOr<DiskUsage> empty = DirDiskUsage(d);
  ASSERT_THAT(empty, IsOk());
  EXPECT_EQ(empty->inodes, 1);
  EXPECT_EQ(empty->size, Blocks(d));

  ASSERT_EQ(mkdir((d + "/sub").c_str(), 0755), 0);
  std::ofstream(d + "/sub/big") << std::string(1 << 20, 'x');
  std::ofstream(d + "/small") << "abc";
  ASSERT_EQ(symlink("/etc", (d + "/link").c_str()),
            0);  // counted, never followed
  absl::StatusOr<DiskUsage> u = DirDiskUsage(d);
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ(u->inodes, 5);
  EXPECT_EQ(u->size, Blocks(d) + Blocks(d + "/sub") + Blocks(d + "/sub/big") +
                         Blocks(d + "/small") + Blocks(d + "/link"));
  EXPECT_THAT(u->size, Ge(1 << 20));
}

TEST(DirDiskUsageTest, HardLinksCountOnce) {
  absl::StatusOr<TempDir> t = TempDir::Create();
  ASSERT_THAT(t, IsOk());
  std::ofstream(t->Sub("a")) << std::string(100000, 'y');
  ASSERT_EQ(link(t->Sub("a").c_str(), t->Sub("b").c_str()), 0);
  absl::StatusOr<DiskUsage> u = DirDiskUsage(t->path());
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ(u->inodes, 2);
  EXPECT_EQ(u->size, Blocks(t->path()) + Blocks(t->Sub("a")));
}

TEST(DirDiskUsageTest, Errors) {
  absl::StatusOr<TempDir> t = TempDir::Create();
  ASSERT_THAT(t, IsOk());
  EXPECT_THAT(DirDiskUsage(t->Sub("missing")), StatusIs(absl::StatusCode::kNotFound));
  std::ofstream(t->Sub("file")) << "x";
  EXPECT_THAT(DirDiskUsage(t->Sub("file")), StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace berth::containerd::snapshots
