#include "registry/storage/repository_store.h"

#include <optional>
#include <string>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::registry::storage {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

class RepositoryStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(std::move(*dir));
    auto blobs = BlobStore::Open(dir_->Sub("blobs"), dir_->Sub("tmp"), false, true, nullptr);
    ASSERT_THAT(blobs, IsOk());
    blobs_ = std::move(*blobs);
    auto repos = RepositoryStore::Open(dir_->Sub("repositories"), blobs_.get(), false);
    ASSERT_THAT(repos, IsOk());
    repos_ = std::move(*repos);
  }
  digest::Digest Blob(const std::string& content) {
    auto d = digest::Digest::FromBytes(content);
    EXPECT_THAT(blobs_->Write(*d, content), IsOk());
    return *d;
  }
  std::optional<TempDir> dir_;
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<RepositoryStore> repos_;
};

TEST_F(RepositoryStoreTest, BlobLinksScopeBlobsToRepositories) {
  const digest::Digest d = Blob("layer");
  EXPECT_FALSE(repos_->Exists("a/b"));
  ASSERT_THAT(repos_->LinkBlob("a/b", d), IsOk());
  EXPECT_TRUE(repos_->Exists("a/b"));
  EXPECT_TRUE(repos_->HasBlob("a/b", d));
  EXPECT_FALSE(repos_->HasBlob("a", d));
  EXPECT_FALSE(repos_->HasBlob("c", d));
  ASSERT_THAT(repos_->UnlinkBlob("a/b", d), IsOk());
  EXPECT_FALSE(repos_->HasBlob("a/b", d));
  EXPECT_THAT(repos_->UnlinkBlob("a/b", d), StatusIs(absl::StatusCode::kNotFound));
  auto missing = digest::Digest::FromBytes("never stored");
  EXPECT_THAT(repos_->LinkBlob("a/b", *missing), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(RepositoryStoreTest, ManifestsTagsAndDeletion) {
  const std::string content = R"({"schemaVersion":2})";
  const digest::Digest d = *digest::Digest::FromBytes(content);
  ASSERT_THAT(repos_->PutManifest("r", d, "application/x", content, std::nullopt, {"v1", "latest"}),
              IsOk());
  auto by_tag = repos_->Resolve("r", "v1");
  ASSERT_THAT(by_tag, IsOk());
  EXPECT_EQ(by_tag->digest, d);
  EXPECT_EQ(by_tag->media_type, "application/x");
  EXPECT_EQ(by_tag->size, content.size());
  EXPECT_THAT(repos_->Resolve("r", d.ToString()), IsOk());
  EXPECT_THAT(repos_->Resolve("other", d.ToString()), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(*repos_->ListTags("r"), ElementsAre("latest", "v1"));

  ASSERT_THAT(repos_->DeleteTag("r", "v1"), IsOk());
  EXPECT_THAT(repos_->Resolve("r", "v1"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(repos_->DeleteTag("r", "v1"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(repos_->Resolve("r", d.ToString()), IsOk());

  ASSERT_THAT(repos_->DeleteManifest("r", d), IsOk());
  EXPECT_THAT(repos_->Resolve("r", "latest"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(repos_->Resolve("r", d.ToString()), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(*repos_->ListTags("r"), IsEmpty());
  EXPECT_THAT(repos_->DeleteManifest("r", d), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(repos_->ListTags("nope"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(RepositoryStoreTest, ReferrersFollowTheirManifests) {
  const digest::Digest subject = *digest::Digest::FromBytes("subject");
  const std::string a = R"({"a":1})", b = R"({"b":1})";
  const digest::Digest da = *digest::Digest::FromBytes(a), db = *digest::Digest::FromBytes(b);
  ASSERT_THAT(repos_->PutManifest("r", da, "t", a, subject, {}), IsOk());
  ASSERT_THAT(repos_->PutManifest("r", db, "t", b, subject, {}), IsOk());
  auto referrers = repos_->ListReferrers("r", subject);
  ASSERT_THAT(referrers, IsOk());
  EXPECT_EQ(referrers->size(), 2u);
  EXPECT_THAT(*repos_->ListReferrers("other", subject), IsEmpty());
  ASSERT_THAT(repos_->DeleteManifest("r", da), IsOk());
  EXPECT_THAT(*repos_->ListReferrers("r", subject), ElementsAre(db));
  EXPECT_EQ(repos_->Resolve("r", db.ToString())->subject, subject);
}

TEST_F(RepositoryStoreTest, ListRepositoriesFindsNestedNames) {
  const digest::Digest d = Blob("x");
  for (const char* name : {"b", "a/c", "a", "a/b/c", "z9"}) {
    ASSERT_THAT(repos_->LinkBlob(name, d), IsOk());
  }
  EXPECT_THAT(*repos_->ListRepositories(), ElementsAre("a", "a/b/c", "a/c", "b", "z9"));
}

}  // namespace
}  // namespace berth::registry::storage
