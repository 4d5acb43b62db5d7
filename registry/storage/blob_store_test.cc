#include "registry/storage/blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "common/digest/hasher.h"
#include "common/fs/atomic_file.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::registry::storage {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;

class CountingObserver : public StorageObserver {
 public:
  void BlobsStoredChanged(int64_t delta) override { blobs += delta; }
  void UploadsOpenChanged(int64_t delta) override { uploads += delta; }
  int64_t blobs = 0;
  int64_t uploads = 0;
};

class BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(std::move(*dir));
    Reopen();
  }
  void Reopen() {
    store_.reset();
    observer_ = CountingObserver();
    auto store = BlobStore::Open(dir_->Sub("blobs"), dir_->Sub("tmp"), true, true, &observer_);
    ASSERT_THAT(store, IsOk());
    store_ = std::move(*store);
  }
  std::optional<TempDir> dir_;
  CountingObserver observer_;
  std::unique_ptr<BlobStore> store_;
};

TEST_F(BlobStoreTest, WriteReadAndCount) {
  auto d = digest::Digest::FromBytes("hello");
  ASSERT_THAT(d, IsOk());
  EXPECT_THAT(store_->Size(*d), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(store_->Write(*d, "hello"), IsOk());
  EXPECT_EQ(store_->PathFor(*d),
            dir_->Sub("blobs/sha256/" + std::string(d->hex().substr(0, 2)) + "/" +
                      std::string(d->hex())));
  EXPECT_EQ(*store_->Size(*d), 5u);
  EXPECT_EQ(*store_->Read(*d, 100), "hello");
  EXPECT_THAT(store_->Read(*d, 4), StatusIs(absl::StatusCode::kResourceExhausted));
  // Writing the same content again is no new blob.
  ASSERT_THAT(store_->Write(*d, "hello"), IsOk());
  EXPECT_EQ(store_->count(), 1);
  EXPECT_EQ(observer_.blobs, 1);
  Reopen();
  EXPECT_EQ(store_->count(), 1);
  EXPECT_EQ(observer_.blobs, 1);
}

TEST_F(BlobStoreTest, WriteRefusesWrongDigest) {
  auto d = digest::Digest::FromBytes("hello");
  ASSERT_THAT(d, IsOk());
  EXPECT_THAT(store_->Write(*d, "HELLO"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Size(*d), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(store_->count(), 0);
}

TEST_F(BlobStoreTest, AdoptMovesAFileIn) {
  auto d = digest::Digest::FromBytes("layer");
  ASSERT_THAT(d, IsOk());
  const std::string src = dir_->Sub("tmp/x");
  ASSERT_THAT(fs::WriteFileAtomically(src, "layer", 0600), IsOk());
  ASSERT_THAT(store_->Adopt(src, *d), IsOk());
  EXPECT_NE(access(src.c_str(), F_OK), 0);
  EXPECT_EQ(*store_->Read(*d, 100), "layer");
  // A second copy of the same blob is dropped.
  ASSERT_THAT(fs::WriteFileAtomically(src, "layer", 0600), IsOk());
  ASSERT_THAT(store_->Adopt(src, *d), IsOk());
  EXPECT_NE(access(src.c_str(), F_OK), 0);
  EXPECT_EQ(store_->count(), 1);
}

TEST_F(BlobStoreTest, DeleteIfOlderHonoursTouch) {
  auto d = digest::Digest::FromBytes("old");
  ASSERT_THAT(d, IsOk());
  ASSERT_THAT(store_->Write(*d, "old"), IsOk());
  const absl::Time past = absl::Now() - absl::Hours(2);
  EXPECT_THAT(store_->DeleteIfOlder(*d, past), IsOk());
  EXPECT_FALSE(*store_->DeleteIfOlder(*d, past));  // written just now: kept
  // Age the file, then touch it: still kept.
  struct timespec times[2] = {absl::ToTimespec(past - absl::Hours(1)),
                              absl::ToTimespec(past - absl::Hours(1))};
  ASSERT_EQ(utimensat(AT_FDCWD, store_->PathFor(*d).c_str(), times, 0), 0);
  ASSERT_THAT(store_->Touch(*d), IsOk());
  EXPECT_FALSE(*store_->DeleteIfOlder(*d, past));
  ASSERT_EQ(utimensat(AT_FDCWD, store_->PathFor(*d).c_str(), times, 0), 0);
  EXPECT_TRUE(*store_->DeleteIfOlder(*d, past));
  EXPECT_THAT(store_->Size(*d), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(store_->count(), 0);
  EXPECT_THAT(store_->Touch(*d), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(BlobStoreTest, ForEachSkipsStrayFiles) {
  auto d = digest::Digest::FromBytes("x");
  ASSERT_THAT(d, IsOk());
  ASSERT_THAT(store_->Write(*d, "x"), IsOk());
  ASSERT_THAT(fs::WriteFileAtomically(dir_->Sub("blobs/sha256/zz"), "", 0600), IsOk());
  ASSERT_THAT(fs::WriteFileAtomically(store_->PathFor(*d) + "junk", "", 0600), IsOk());
  int n = 0;
  ASSERT_THAT(store_->ForEach([&](const digest::Digest& got, absl::Time, uint64_t size) {
    EXPECT_EQ(got, *d);
    EXPECT_EQ(size, 1u);
    ++n;
  }),
              IsOk());
  EXPECT_EQ(n, 1);
}

}  // namespace
}  // namespace berth::registry::storage
