#include "engine/oci/user.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "common/fs/atomic_file.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::engine::oci {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kPasswd[] =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "broken line\n"
    "app:x:1000:1000:App:/home/app:/bin/sh\n"
    "nohome:x:1001:1001::\n";
constexpr char kGroup[] =
    "root:x:0:\n"
    "wheel:x:10:root,app\n"
    "audio:x:29:app\n"
    "app:x:1000:\n"
    "staff:x:50:\n";

void WriteFile(const std::string& path, const std::string& content) {
  ASSERT_THAT(fs::WriteFileAtomically(path, content, 0644), IsOk());
}

class UserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(*std::move(dir));
    rootfs_ = dir_->Sub("rootfs");
    ASSERT_EQ(::mkdir(rootfs_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((rootfs_ + "/etc").c_str(), 0755), 0);
    WriteFile(rootfs_ + "/etc/passwd", kPasswd);
    WriteFile(rootfs_ + "/etc/group", kGroup);
  }
  std::optional<TempDir> dir_;
  std::string rootfs_;
};

TEST_F(UserTest, DefaultIsRootWithItsGroups) {
  auto u = ResolveUser(rootfs_, "", {});
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ(u->uid, 0u);
  EXPECT_EQ(u->gid, 0u);
  EXPECT_EQ(u->home, "/root");
  EXPECT_THAT(u->additional_gids, ElementsAre(10u));  // root is listed in wheel
}

TEST_F(UserTest, NameGetsPrimaryAndSupplementaryGroups) {
  auto u = ResolveUser(rootfs_, "app", {});
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 1000u);
  EXPECT_EQ(u->home, "/home/app");
  EXPECT_THAT(u->additional_gids, ElementsAre(10u, 29u));
}

TEST_F(UserTest, NumericUidInPasswdUsesItsEntry) {
  auto u = ResolveUser(rootfs_, "1000", {});
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 1000u);
  EXPECT_EQ(u->home, "/home/app");
}

TEST_F(UserTest, NumericUidNotInPasswdIsAccepted) {
  auto u = ResolveUser(rootfs_, "4242", {});
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ(u->uid, 4242u);
  EXPECT_EQ(u->gid, 0u);
  EXPECT_EQ(u->home, "/");
  EXPECT_THAT(u->additional_gids, IsEmpty());
}

TEST_F(UserTest, ExplicitGroupByNameOrNumber) {
  auto a = ResolveUser(rootfs_, "app:staff", {});
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->uid, 1000u);
  EXPECT_EQ(a->gid, 50u);
  EXPECT_THAT(a->additional_gids, IsEmpty());  // explicit group: no membership groups
  auto b = ResolveUser(rootfs_, "4242:777", {});
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(b->uid, 4242u);
  EXPECT_EQ(b->gid, 777u);
  auto c = ResolveUser(rootfs_, "daemon:wheel", {});
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->uid, 1u);
  EXPECT_EQ(c->gid, 10u);
}

TEST_F(UserTest, GroupAdd) {
  auto u = ResolveUser(rootfs_, "app", {"staff", "1234", "audio"});
  ASSERT_THAT(u, IsOk());
  EXPECT_THAT(u->additional_gids, ElementsAre(10u, 29u, 50u, 1234u));
}

TEST_F(UserTest, Errors) {
  EXPECT_THAT(ResolveUser(rootfs_, "foo", {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "unable to find user foo: no matching entries in passwd file"));
  EXPECT_THAT(ResolveUser(rootfs_, "app:nogroup", {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "unable to find group nogroup: no matching entries in group file"));
  EXPECT_THAT(ResolveUser(rootfs_, "app", {"nogroup"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unable to find group")));
  EXPECT_THAT(ResolveUser(rootfs_, "3000000000", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("0-2147483647")));
}

TEST_F(UserTest, MissingFilesMeanNoEntries) {
  const std::string empty_root = dir_->Sub("empty");
  ASSERT_EQ(::mkdir(empty_root.c_str(), 0755), 0);
  auto root = ResolveUser(empty_root, "", {});
  ASSERT_THAT(root, IsOk());
  EXPECT_EQ(root->uid, 0u);
  EXPECT_EQ(root->home, "/");
  auto numeric = ResolveUser(empty_root, "1000:1000", {});
  ASSERT_THAT(numeric, IsOk());
  EXPECT_EQ(numeric->gid, 1000u);
  EXPECT_THAT(ResolveUser(empty_root, "app", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no matching entries")));
}

TEST_F(UserTest, AbsoluteSymlinksStayInsideRootfs) {
  // <rootfs>/etc/passwd -> /shared/passwd must read <rootfs>/shared/passwd, not the host's.
  ASSERT_EQ(::mkdir((rootfs_ + "/shared").c_str(), 0755), 0);
  WriteFile(rootfs_ + "/shared/passwd", "linked:x:777:777::/l:/bin/sh\n");
  ASSERT_EQ(::unlink((rootfs_ + "/etc/passwd").c_str()), 0);
  ASSERT_EQ(::symlink("/shared/../../../shared/passwd", (rootfs_ + "/etc/passwd").c_str()), 0);
  auto u = ResolveUser(rootfs_, "linked", {});
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ(u->uid, 777u);
  auto path = ResolveInRoot(rootfs_, "/etc/passwd");
  ASSERT_THAT(path, IsOk());
  EXPECT_EQ(*path, rootfs_ + "/shared/passwd");
}

TEST_F(UserTest, SymlinkLoopIsAnError) {
  ASSERT_EQ(::symlink("/loop", (rootfs_ + "/loop").c_str()), 0);
  EXPECT_THAT(ResolveInRoot(rootfs_, "/loop/x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too many levels")));
}

}  // namespace
}  // namespace berth::engine::oci
