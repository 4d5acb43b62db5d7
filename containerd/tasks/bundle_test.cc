#include "containerd/tasks/bundle.h"

#include <sys/stat.h>

#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::tasks {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;

TEST(BundleTest, CreateReadListRemove) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  const std::string state = dir->path();
  TaskRecord r;
  r.ns = "ns1";
  r.id = "c1";
  r.runtime = {"runc", "/usr/sbin/runc", "/run/x", true, "/berth/shims"};
  const std::string bundle = BundlePath(state, "ns1", "c1");
  EXPECT_EQ(bundle, state + "/tasks/ns1/c1");
  ASSERT_THAT(CreateBundle(bundle, r, "{\"a\":1}"), IsOk());
  EXPECT_THAT(CreateBundle(bundle, r, "{}"),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(*fs::ReadFile(bundle + "/config.json"), "{\"a\":1}");
  struct stat st;
  ASSERT_EQ(stat((bundle + "/config.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((bundle + "/rootfs").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));

  auto back = ReadTaskRecord(bundle);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->ns, "ns1");
  EXPECT_EQ(back->runtime.name, "runc");
  EXPECT_EQ(back->runtime.binary, "/usr/sbin/runc");
  EXPECT_EQ(back->runtime.root, "/run/x");
  EXPECT_TRUE(back->runtime.systemd_cgroup);
  EXPECT_EQ(back->runtime.shim_cgroup, "/berth/shims");

  ASSERT_THAT(fs::WriteFileAtomically(bundle + "/task.json", "[]", 0600),
              IsOk());
  EXPECT_THAT(ReadTaskRecord(bundle), StatusIs(absl::StatusCode::kDataLoss));

  ASSERT_THAT(fs::MakeDirs(BundlePath(state, "ns0", "z"), 0700), IsOk());
  auto list = ListBundles(state);
  ASSERT_THAT(list, IsOk());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].ns, "ns0");
  EXPECT_EQ((*list)[1].id, "c1");
  EXPECT_EQ((*list)[1].path, bundle);

  ASSERT_THAT(RemoveBundle(bundle), IsOk());
  EXPECT_NE(stat(bundle.c_str(), &st), 0);
  EXPECT_THAT(RemoveBundle(bundle), IsOk());
  RemoveNamespaceDirIfEmpty(state, "ns1");
  EXPECT_NE(stat((state + "/tasks/ns1").c_str(), &st), 0);
  RemoveNamespaceDirIfEmpty(state, "ns0"); // not empty: stays
  EXPECT_EQ(stat((state + "/tasks/ns0").c_str(), &st), 0);
}

TEST(BundleTest, ReadsTheShimsExitRecord) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  EXPECT_THAT(ReadExitFile(dir->path()), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(fs::WriteFileAtomically(
                  dir->Sub("exit.json"),
                  R"({"pid":4250,"pidStartTime":"987700","exitStatus":137,)"
                  R"("exitedAt":"2024-05-01T12:00:00.123456789Z","future":1})",
                  0644),
              IsOk());
  auto exit = ReadExitFile(dir->path());
  ASSERT_THAT(exit, IsOk());
  EXPECT_EQ(exit->pid, 4250u);
  EXPECT_EQ(exit->exit_status, 137u);
  EXPECT_EQ(absl::ToUnixSeconds(exit->exited_at), 1714564800);
}

TEST(BundleTest, ListWithoutTasksDirIsEmpty) {
  auto dir = TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  auto list = ListBundles(dir->path());
  ASSERT_THAT(list, IsOk());
  EXPECT_TRUE(list->empty());
}

} // namespace
} // namespace berth::containerd::tasks
