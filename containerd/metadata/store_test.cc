// Store-level behaviour: opening, schema versions, transactions, read snapshots, concurrency.
#include "containerd/metadata/store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "common/testing/status_matchers.h"
#include "containerd/metadata/store_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::metadata {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;
using testing::kDigestA;
using ::testing::SizeIs;
using testing::StoreTest;

Image MakeImage(const std::string& name) {
  Image image;
  image.name = name;
  image.target = {"application/vnd.oci.image.manifest.v1+json", kDigestA, 100, {}, ""};
  return image;
}

// Runs one SQL statement on the file directly, outside the Store.
std::string RawQuery(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

TEST_F(StoreTest, CreatesWalDatabaseReadableOnlyByOwner) {
  EXPECT_EQ(store_->path(), dir_->Sub("root/metadata.db"));
  EXPECT_EQ(store_->opened_schema_version(), 0);
  struct stat st;
  ASSERT_EQ(stat(store_->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(dir_->Sub("root").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(RawQuery(store_->path(), "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(RawQuery(store_->path(), "SELECT max(version) FROM schema_version"), "1");
  EXPECT_THAT(store_->CheckIntegrity(), IsOk());
}

TEST_F(StoreTest, ReopenKeepsDataAndSchemaVersion) {
  ASSERT_THAT(Tx([](Transaction& tx) { return tx.CreateImage("default", MakeImage("a")); }),
              IsOk());
  Reopen();
  EXPECT_EQ(store_->opened_schema_version(), 1);
  absl::StatusOr<Image> image = ReadTx([](Transaction& tx) { return tx.GetImage("default", "a"); });
  ASSERT_THAT(image, IsOk());
  EXPECT_EQ(image->target.digest, kDigestA);
  EXPECT_EQ(image->created_at, clock_.Now());
}

TEST_F(StoreTest, RefusesNewerSchema) {
  store_.reset();
  RawQuery(dir_->Sub("root/metadata.db"), "INSERT INTO schema_version VALUES (99, 0)");
  EXPECT_THAT(Store::Open(dir_->Sub("root"), Options()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("newer")));
}

TEST_F(StoreTest, RefusesForeignDatabase) {
  const std::string root = dir_->Sub("foreign");
  ASSERT_EQ(mkdir(root.c_str(), 0700), 0);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(absl::StrCat(root, "/metadata.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE other (x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_THAT(Store::Open(root, Options()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a berth")));
}

TEST_F(StoreTest, RefusesGarbageFile) {
  const std::string root = dir_->Sub("garbage");
  ASSERT_EQ(mkdir(root.c_str(), 0700), 0);
  FILE* f = fopen(absl::StrCat(root, "/metadata.db").c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs(std::string(8192, 'x').c_str(), f);
  fclose(f);
  EXPECT_THAT(Store::Open(root, Options()), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(StoreTest, FailedTransactionRollsBackEveryTable) {
  absl::Status s = Tx([](Transaction& tx) -> absl::Status {
    BERTH_RETURN_IF_ERROR(tx.CreateImage("default", MakeImage("a")).status());
    Container c;
    c.id = "c1";
    BERTH_RETURN_IF_ERROR(tx.CreateContainer("other", c).status());
    BERTH_RETURN_IF_ERROR(tx.CreateLease("default", Lease{"l1", {}, {}, {}}).status());
    return absl::AbortedError("changed my mind");
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kAborted, "changed my mind"));
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.ListNamespaces(); }), IsOk());
  EXPECT_THAT(*ReadTx([](Transaction& tx) { return tx.ListNamespaces(); }), SizeIs(0));
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.GetImage("default", "a"); }),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.GetContainer("other", "c1"); }),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(StoreTest, ErrorFromOneCallRollsBackEarlierCallsInTheSameTransaction) {
  ASSERT_THAT(Tx([](Transaction& tx) { return tx.CreateImage("default", MakeImage("b")); }),
              IsOk());
  // The second create fails (AlreadyExists); the first must not stay.
  absl::Status s = Tx([](Transaction& tx) -> absl::Status {
    BERTH_RETURN_IF_ERROR(tx.CreateImage("default", MakeImage("a")).status());
    return tx.CreateImage("default", MakeImage("b")).status();
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kAlreadyExists));
  absl::StatusOr<std::vector<Image>> all =
      ReadTx([](Transaction& tx) { return tx.ListImages("default"); });
  ASSERT_THAT(all, IsOk());
  ASSERT_THAT(*all, SizeIs(1));
  EXPECT_EQ((*all)[0].name, "b");
}

TEST_F(StoreTest, StatusOrResultIsReturnedAfterCommit) {
  absl::StatusOr<int> n = Tx([](Transaction& tx) -> absl::StatusOr<int> {
    BERTH_RETURN_IF_ERROR(tx.CreateImage("default", MakeImage("a")).status());
    BERTH_RETURN_IF_ERROR(tx.CreateImage("default", MakeImage("b")).status());
    BERTH_ASSIGN_OR_RETURN(std::vector<Image> all, tx.ListImages("default"));
    return static_cast<int>(all.size());
  });
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(*n, 2);
}

TEST_F(StoreTest, ReadTransactionRefusesWrites) {
  absl::Status s = ReadTx([](Transaction& tx) -> absl::Status {
    EXPECT_TRUE(tx.read_only());
    return tx.CreateImage("default", MakeImage("a")).status();
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("read-only")));
}

TEST_F(StoreTest, ReadTransactionSeesOneSnapshotWhileWriterCommits) {
  ASSERT_THAT(Tx([](Transaction& tx) { return tx.CreateImage("default", MakeImage("a")); }),
              IsOk());
  absl::Status s = ReadTx([&](Transaction& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(std::vector<Image> before, tx.ListImages("default"));
    // Commit from another thread (the writer connection) in the middle of the read.
    std::thread writer([&] {
      EXPECT_THAT(Tx([](Transaction& w) { return w.CreateImage("default", MakeImage("b")); }),
                  IsOk());
    });
    writer.join();
    BERTH_ASSIGN_OR_RETURN(std::vector<Image> after, tx.ListImages("default"));
    EXPECT_EQ(before.size(), 1u);
    EXPECT_EQ(after.size(), 1u);  // the snapshot does not move
    return absl::OkStatus();
  });
  EXPECT_THAT(s, IsOk());
  EXPECT_THAT(*ReadTx([](Transaction& tx) { return tx.ListImages("default"); }), SizeIs(2));
}

TEST_F(StoreTest, ConcurrentWritersAndReaders) {
  constexpr int kThreads = 6;
  constexpr int kPerThread = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::Status s = Tx([&](Transaction& tx) {
          return tx.CreateImage("default", MakeImage(absl::StrCat("t", t, "-", i))).status();
        });
        if (!s.ok()) ++failures;
        absl::StatusOr<std::vector<Image>> all =
            ReadTx([](Transaction& tx) { return tx.ListImages("default"); });
        if (!all.ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_THAT(*ReadTx([](Transaction& tx) { return tx.ListImages("default"); }),
              SizeIs(kThreads * kPerThread));
  EXPECT_THAT(store_->CheckIntegrity(), IsOk());
}

TEST_F(StoreTest, ReadsWorkWithoutReaderPool) {
  StoreOptions options = Options();
  options.max_readers = 0;
  store_.reset();
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_->Sub("root"), options);
  ASSERT_THAT(store, IsOk());
  ASSERT_THAT((*store)->WithTransaction(
                  [](Transaction& tx) { return tx.CreateImage("default", MakeImage("a")); }),
              IsOk());
  EXPECT_THAT(
      (*store)->WithReadTransaction([](Transaction& tx) { return tx.GetImage("default", "a"); }),
      IsOk());
  EXPECT_THAT((*store)->WithReadTransaction([](Transaction& tx) {
    return tx.CreateImage("default", MakeImage("b")).status();
  }),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(StoreTest, TimestampsComeFromTheInjectedClock) {
  const absl::Time t0 = clock_.Now();
  ASSERT_THAT(Tx([](Transaction& tx) { return tx.CreateImage("default", MakeImage("a")); }),
              IsOk());
  clock_.Advance(absl::Minutes(5));
  absl::StatusOr<Image> updated = Tx([](Transaction& tx) {
    Image image = MakeImage("a");
    image.labels = {{"k", "v"}};
    return tx.UpdateImage("default", image, {"labels"});
  });
  ASSERT_THAT(updated, IsOk());
  EXPECT_EQ(updated->created_at, t0);
  EXPECT_EQ(updated->updated_at, t0 + absl::Minutes(5));
}

TEST_F(StoreTest, LockHeldByAnotherProcessIsUnavailableAfterBusyTimeout) {
  // Another connection (as another process would) holds the write lock.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(store_->path().c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  StoreOptions options = Options();
  options.busy_timeout = absl::Milliseconds(50);
  store_.reset();
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_->Sub("root"), options);
  // Even Open needs the write lock (to check the schema in a transaction).
  EXPECT_THAT(store, StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  store = Store::Open(dir_->Sub("root"), options);
  ASSERT_THAT(store, IsOk());
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_THAT((*store)->WithTransaction(
                  [](Transaction& tx) { return tx.CreateImage("default", MakeImage("a")); }),
              StatusIs(absl::StatusCode::kUnavailable));
  // Readers are not blocked by a writer (WAL).
  EXPECT_THAT((*store)->WithReadTransaction([](Transaction& tx) { return tx.ListImages("x"); }),
              IsOk());
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  EXPECT_THAT((*store)->WithTransaction(
                  [](Transaction& tx) { return tx.CreateImage("default", MakeImage("a")); }),
              IsOk());
}

TEST(StoreOpenTest, RejectsEmptyRoot) {
  EXPECT_THAT(Store::Open(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace berth::containerd::metadata
