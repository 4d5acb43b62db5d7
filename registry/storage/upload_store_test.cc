#include "registry/storage/upload_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "common/digest/hasher.h"
#include "common/id/sequence_id_source.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "registry/storage/storage.h"

namespace berth::registry::storage {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::HasSubstr;

class Observer : public StorageObserver {
 public:
  void BlobsStoredChanged(int64_t delta) override { blobs += delta; }
  void UploadsOpenChanged(int64_t delta) override { uploads += delta; }
  int64_t blobs = 0;
  int64_t uploads = 0;
};

class UploadStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(std::move(*dir));
    Open();
  }
  void Open() {
    storage_.reset();
    observer_ = Observer();
    StorageOptions options;
    options.root = dir_->path();
    options.upload_ttl = absl::Hours(1);
    options.sweep_interval = absl::ZeroDuration();
    options.fsync = false;
    options.clock = [this] { return now_; };
    options.ids = &ids_;
    options.observer = &observer_;
    auto s = Storage::Open(options);
    ASSERT_THAT(s, IsOk());
    storage_ = std::move(*s);
  }
  UploadStore& uploads() { return storage_->uploads(); }

  std::optional<TempDir> dir_;
  id::SequenceIdSource ids_;
  absl::Time now_ = absl::Now();
  Observer observer_;
  std::unique_ptr<Storage> storage_;
};

TEST_F(UploadStoreTest, ChunksThenCommit) {
  auto session = uploads().Create("r");
  ASSERT_THAT(session, IsOk());
  const std::string id = session->id();
  EXPECT_TRUE(IsValidUploadId(id)) << id;
  EXPECT_EQ(observer_.uploads, 1);
  ASSERT_THAT(session->Append("hello "), IsOk());
  ASSERT_THAT(session->Append("world"), IsOk());
  EXPECT_EQ(session->offset(), 11u);
  EXPECT_EQ(*uploads().Offset("r", id), 11u);
  EXPECT_THAT(uploads().Offset("other", id), StatusIs(absl::StatusCode::kNotFound));
  // Held by `session`: a second writer must wait.
  EXPECT_THAT(uploads().Acquire("r", id), StatusIs(absl::StatusCode::kFailedPrecondition));
  const digest::Digest d = *digest::Digest::FromBytes("hello world");
  ASSERT_THAT(session->Commit(d), IsOk());
  EXPECT_TRUE(storage_->repositories().HasBlob("r", d));
  EXPECT_EQ(*storage_->blobs().Read(d, 100), "hello world");
  EXPECT_THAT(uploads().Offset("r", id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(uploads().count(), 0);
  EXPECT_EQ(observer_.uploads, 0);
  EXPECT_EQ(observer_.blobs, 1);
}

TEST_F(UploadStoreTest, WrongDigestStoresNothingAndEndsTheSession) {
  auto session = uploads().Create("r");
  ASSERT_THAT(session, IsOk());
  const std::string id = session->id();
  ASSERT_THAT(session->Append("data"), IsOk());
  const digest::Digest wrong = *digest::Digest::FromBytes("other");
  EXPECT_THAT(session->Commit(wrong),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("digest mismatch")));
  EXPECT_THAT(storage_->blobs().Size(*digest::Digest::FromBytes("data")),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(storage_->blobs().Size(wrong), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_FALSE(storage_->repositories().Exists("r"));
  EXPECT_THAT(uploads().Acquire("r", id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(uploads().count(), 0);
}

TEST_F(UploadStoreTest, SurvivesReopenAndRehashes) {
  std::string id;
  {
    auto session = uploads().Create("a/b");
    ASSERT_THAT(session, IsOk());
    id = session->id();
    ASSERT_THAT(session->Append("part one,"), IsOk());
  }
  Open();  // a restarted registry: no hash state in memory
  EXPECT_EQ(uploads().count(), 1);
  EXPECT_EQ(observer_.uploads, 1);
  auto session = uploads().Acquire("a/b", id);
  ASSERT_THAT(session, IsOk());
  EXPECT_EQ(session->offset(), 9u);
  ASSERT_THAT(session->Append(" part two"), IsOk());
  ASSERT_THAT(session->Commit(*digest::Digest::FromBytes("part one, part two")), IsOk());
  EXPECT_TRUE(storage_->repositories().HasBlob("a/b", *digest::Digest::FromBytes(
                                                          "part one, part two")));
}

TEST_F(UploadStoreTest, CommitWithAnotherAlgorithm) {
  auto session = uploads().Create("r");
  ASSERT_THAT(session, IsOk());
  ASSERT_THAT(session->Append("abc"), IsOk());
  digest::Sha512Hasher h;
  h.Update("abc");
  auto d = h.Finish();
  ASSERT_THAT(d, IsOk());
  ASSERT_THAT(session->Commit(*d), IsOk());
  EXPECT_TRUE(storage_->repositories().HasBlob("r", *d));
}

TEST_F(UploadStoreTest, CancelAndUnknownIds) {
  auto session = uploads().Create("r");
  ASSERT_THAT(session, IsOk());
  const std::string id = session->id();
  ASSERT_THAT(session->Cancel(), IsOk());
  EXPECT_THAT(uploads().Acquire("r", id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(uploads().Acquire("r", "../../blobs"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(uploads().Acquire("r", "00000000-0000-4000-8000-000000000000"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(access(dir_->Sub("uploads/" + id).c_str(), F_OK), -1);
}

TEST_F(UploadStoreTest, SweepRemovesOnlyIdleSessions) {
  std::string idle_id;
  {
    auto idle = uploads().Create("r");
    ASSERT_THAT(idle, IsOk());
    idle_id = idle->id();
  }
  auto busy = uploads().Create("r");
  ASSERT_THAT(busy, IsOk());
  EXPECT_EQ(*uploads().SweepExpired(), 0);
  now_ += absl::Hours(2);
  EXPECT_EQ(*uploads().SweepExpired(), 1);  // `busy` is held, so it stays
  EXPECT_THAT(uploads().Offset("r", idle_id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(uploads().Offset("r", busy->id()), IsOk());
  EXPECT_EQ(uploads().count(), 1);
  EXPECT_EQ(observer_.uploads, 1);
}

}  // namespace
}  // namespace berth::registry::storage
