#include "engine/containers/store.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::engine::containers {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

std::string Id(char c) { return std::string(64, c); }

ContainerRecord Record(const std::string& id, const std::string& name, int64_t created) {
  ContainerRecord r;
  r.mutable_container()->set_id(id);
  r.mutable_container()->set_name(name);
  r.mutable_container()->mutable_created()->set_seconds(created);
  r.mutable_container()->set_image_id("sha256:" + std::string(64, '9'));
  r.set_snapshot_key(id);
  return r;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = berth::testing::TempDir::Create();
    ASSERT_THAT(d, IsOk());
    dir_.emplace(std::move(*d));
    auto s = ContainerStore::Open(dir_->Sub("containers"));
    ASSERT_THAT(s, IsOk());
    store_ = std::move(*s);
  }
  void AddContainer(const std::string& id, const std::string& name, int64_t created = 1) {
    ASSERT_THAT(store_->ReserveName(name, id), IsOk());
    ASSERT_THAT(store_->Add(Record(id, name, created)), IsOk());
  }

  std::optional<berth::testing::TempDir> dir_;
  std::unique_ptr<ContainerStore> store_;
};

TEST_F(StoreTest, ResolvesIdNameAndPrefixWithDockersPrecedence) {
  const std::string a = "abc" + std::string(61, '1');
  const std::string b = "abd" + std::string(61, '2');
  AddContainer(a, "web");
  AddContainer(b, "db");
  EXPECT_EQ(*store_->Resolve(a), a);
  EXPECT_EQ(*store_->Resolve("web"), a);
  EXPECT_EQ(*store_->Resolve("/db"), b);
  EXPECT_EQ(*store_->Resolve("abc"), a);
  EXPECT_THAT(store_->Resolve("ab"), StatusIs(absl::StatusCode::kInvalidArgument,
                                              HasSubstr("multiple containers")));
  EXPECT_THAT(store_->Resolve("nope"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("No such container: nope")));
  EXPECT_THAT(store_->Resolve(""), StatusIs(absl::StatusCode::kNotFound));
  // A name that looks like another container's id prefix: the name wins.
  const std::string c = std::string(64, '3');
  AddContainer(c, "abd");
  EXPECT_EQ(*store_->Resolve("abd"), c);
}

TEST_F(StoreTest, NamesAreUniqueAndValidated) {
  AddContainer(Id('a'), "web");
  EXPECT_THAT(store_->ReserveName("web", Id('b')),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("already in use")));
  EXPECT_THAT(store_->ReserveName("-bad", Id('b')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Invalid container name")));
  EXPECT_THAT(store_->ReserveName("x", Id('b')), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(store_->ReserveName("pending", Id('b')), IsOk());
  store_->ReleaseName("pending", Id('b'));
  EXPECT_THAT(store_->ReserveName("pending", Id('c')), IsOk());
}

TEST_F(StoreTest, RenameMovesTheNameAndPersists) {
  AddContainer(Id('a'), "one");
  AddContainer(Id('b'), "two");
  EXPECT_THAT(store_->Rename(Id('a'), "two"), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store_->Rename(Id('a'), "one"), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(store_->Rename(Id('a'), "three"), IsOk());
  EXPECT_EQ(*store_->Resolve("three"), Id('a'));
  EXPECT_THAT(store_->Resolve("one"), StatusIs(absl::StatusCode::kNotFound));
  auto reopened = ContainerStore::Open(dir_->Sub("containers"));
  ASSERT_THAT(reopened, IsOk());
  EXPECT_EQ(*(*reopened)->Resolve("three"), Id('a'));
}

TEST_F(StoreTest, UpdatePersistsAndFailedMutationChangesNothing) {
  AddContainer(Id('a'), "web");
  ASSERT_THAT(store_->Update(Id('a'),
                             [](ContainerRecord& r) {
                               r.mutable_container()->mutable_state()->set_exit_code(3);
                               r.set_manually_stopped(true);
                               return absl::OkStatus();
                             }),
              IsOk());
  EXPECT_THAT(store_->Update(Id('a'),
                             [](ContainerRecord& r) {
                               r.mutable_container()->mutable_state()->set_exit_code(99);
                               return absl::FailedPreconditionError("no");
                             }),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(store_->Get(Id('a'))->container().state().exit_code(), 3);
  auto reopened = ContainerStore::Open(dir_->Sub("containers"));
  ASSERT_THAT(reopened, IsOk());
  auto r = (*reopened)->Get(Id('a'));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->container().state().exit_code(), 3);
  EXPECT_TRUE(r->manually_stopped());
  EXPECT_EQ(r->container().name(), "web");
}

TEST_F(StoreTest, RemoveDeletesDirectoryAndFreesName) {
  AddContainer(Id('a'), "web");
  const std::string dir = store_->ContainerDir(Id('a'));
  EXPECT_TRUE(fs::ReadFile(dir + "/container.json").ok());
  ASSERT_THAT(store_->Remove(Id('a')), IsOk());
  EXPECT_FALSE(fs::ReadFile(dir + "/container.json").ok());
  EXPECT_THAT(store_->Get(Id('a')), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->ReserveName("web", Id('b')), IsOk());
  EXPECT_THAT(store_->Remove(Id('a')), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(StoreTest, ListIsOrderedByCreationAndImageInUse) {
  AddContainer(Id('c'), "third", 30);
  AddContainer(Id('a'), "first", 10);
  AddContainer(Id('b'), "second", 20);
  auto all = store_->List();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].container().name(), "first");
  EXPECT_EQ(all[2].container().name(), "third");
  EXPECT_TRUE(store_->ImageInUse("sha256:" + std::string(64, '9')));
  EXPECT_FALSE(store_->ImageInUse("sha256:" + std::string(64, '8')));
}

TEST_F(StoreTest, UnreadableRecordIsSkippedAtOpen) {
  AddContainer(Id('a'), "good");
  ASSERT_THAT(fs::MakeDirs(store_->ContainerDir(Id('b')), 0700), IsOk());
  ASSERT_THAT(fs::WriteFileAtomically(store_->ContainerDir(Id('b')) + "/container.json",
                                      "{not json", 0600),
              IsOk());
  auto reopened = ContainerStore::Open(dir_->Sub("containers"));
  ASSERT_THAT(reopened, IsOk());
  EXPECT_EQ((*reopened)->List().size(), 1u);
}

TEST(GenerateNameTest, IsAValidName) {
  for (int i = 0; i < 100; ++i) {
    std::string n = GenerateName();
    EXPECT_TRUE(IsValidName(n)) << n;
    EXPECT_NE(n.find('_'), std::string::npos);
  }
}

}  // namespace
}  // namespace berth::engine::containers
