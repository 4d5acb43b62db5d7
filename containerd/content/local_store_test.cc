#include "containerd/content/local_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/digest/digest.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/testing/status_matchers.h"
#include "containerd/content/content_util.h"
#include "containerd/content/local_store_test_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::content {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using testing::Exists;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::kMiB;
using testing::LocalStoreTest;
using testing::ModeOf;
using testing::RandomBytes;
using testing::Sha256;
using testing::Sha512;
using ::testing::SizeIs;

TEST_F(LocalStoreTest, WriteCommitAndReadBackRanges) {
  const std::string data = RandomBytes(3 * kMiB + 12345, 1);
  const digest::Digest d = Sha256(data);
  skew_seconds_ = 1000;
  std::unique_ptr<Writer> w = Open("layer-1", static_cast<int64_t>(data.size()), d);
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->offset(), 0);
  EXPECT_EQ(*w->Digest(), Sha256(""));
  const size_t cuts[] = {0, 1, 700000, 2 * kMiB + 3, data.size()};
  for (size_t i = 0; i + 1 < std::size(cuts); ++i) {
    ASSERT_THAT(w->Write(static_cast<int64_t>(cuts[i]),
                         absl::string_view(data).substr(cuts[i], cuts[i + 1] - cuts[i])),
                IsOk());
    EXPECT_EQ(w->offset(), static_cast<int64_t>(cuts[i + 1]));
    // The running digest is what a resuming client compares against.
    EXPECT_EQ(*w->Digest(), Sha256(absl::string_view(data).substr(0, cuts[i + 1])));
  }
  // Progress is visible through the store while the writer holds the ref.
  absl::StatusOr<IngestStatus> status = store_->Status("layer-1");
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(status->offset, static_cast<int64_t>(data.size()));
  EXPECT_EQ(status->total, static_cast<int64_t>(data.size()));
  EXPECT_EQ(status->expected, d);

  const absl::Time before = absl::Now() + absl::Seconds(1000);
  absl::StatusOr<BlobInfo> committed = w->Commit(0, std::nullopt);
  ASSERT_THAT(committed, IsOk());
  EXPECT_EQ(committed->digest, d);
  EXPECT_EQ(committed->size, static_cast<int64_t>(data.size()));
  EXPECT_GE(committed->created_at, before);  // the injected clock, not the file system's

  // The blob is a read-only file under its digest; the ingest is gone.
  const std::string blob = absl::StrCat(dir_, "/blobs/sha256/", d.hex());
  EXPECT_EQ(store_->BlobPath(d), blob);
  EXPECT_EQ(ModeOf(blob), 0444u);
  EXPECT_FALSE(Exists(IngestDir("layer-1")));
  EXPECT_THAT(store_->Status("layer-1"), StatusIs(absl::StatusCode::kNotFound));

  absl::StatusOr<BlobInfo> info = store_->Info(d);
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->size, static_cast<int64_t>(data.size()));
  EXPECT_EQ(info->created_at, committed->created_at);
  EXPECT_EQ(info->updated_at, committed->created_at);

  EXPECT_EQ(*ReadRange(d, 0, 0), data);
  EXPECT_EQ(*ReadRange(d, 10, 100), data.substr(10, 100));
  EXPECT_EQ(*ReadRange(d, kMiB - 5, kMiB + 10), data.substr(kMiB - 5, kMiB + 10));
  // A range past the end is cut short; an offset at the end reads nothing.
  EXPECT_EQ(*ReadRange(d, data.size() - 7, 1000), data.substr(data.size() - 7));
  EXPECT_EQ(*ReadRange(d, data.size(), 0), "");
  EXPECT_THAT(ReadRange(d, data.size() + 1, 0), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(ReadRange(d, -1, 0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ReadRange(d, 0, -1), StatusIs(absl::StatusCode::kInvalidArgument));
  // A huge size does not overflow.
  EXPECT_EQ(*ReadRange(d, 5, INT64_MAX), data.substr(5));

  // The callback's error stops the read and comes back.
  int calls = 0;
  EXPECT_THAT(store_->Read(d, 0, 0,
                           [&](int64_t, absl::string_view) {
                             ++calls;
                             return absl::CancelledError("client went away");
                           }),
              StatusIs(absl::StatusCode::kCancelled, "client went away"));
  EXPECT_EQ(calls, 1);

  absl::StatusOr<std::unique_ptr<ReaderAt>> reader = store_->OpenReader(d);
  ASSERT_THAT(reader, IsOk());
  EXPECT_EQ((*reader)->size(), static_cast<int64_t>(data.size()));
  std::string buf(100, '\0');
  EXPECT_EQ(*(*reader)->ReadAt(kMiB, absl::MakeSpan(buf)), 100u);
  EXPECT_EQ(buf, data.substr(kMiB, 100));
  EXPECT_EQ(*(*reader)->ReadAt(data.size() - 30, absl::MakeSpan(buf)), 30u);
  EXPECT_EQ(buf.substr(0, 30), data.substr(data.size() - 30));
  EXPECT_EQ(*(*reader)->ReadAt(data.size(), absl::MakeSpan(buf)), 0u);
  EXPECT_THAT((*reader)->ReadAt(data.size() + 1, absl::MakeSpan(buf)),
              StatusIs(absl::StatusCode::kOutOfRange));
}

TEST_F(LocalStoreTest, EmptyBlob) {
  std::unique_ptr<Writer> w = Open("empty");
  absl::StatusOr<BlobInfo> info = w->Commit(0, Sha256(""));
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->size, 0);
  EXPECT_EQ(*ReadRange(Sha256(""), 0, 0), "");
  EXPECT_THAT(ReadRange(Sha256(""), 1, 0), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST_F(LocalStoreTest, DigestMismatchStoresNothingAndKeepsTheIngest) {
  const std::string data = RandomBytes(5000, 2);
  const digest::Digest wrong = Sha256("something else");
  std::unique_ptr<Writer> w = Open("ref", 0, wrong);
  ASSERT_THAT(w->Write(0, data), IsOk());
  EXPECT_THAT(w->Commit(0, std::nullopt),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("digest mismatch")));
  EXPECT_THAT(store_->Info(wrong), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Info(Sha256(data)), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(BlobDigests(), IsEmpty());
  EXPECT_THAT(fs::ListDir(absl::StrCat(dir_, "/blobs/sha256")), IsOk());
  EXPECT_THAT(*fs::ListDir(absl::StrCat(dir_, "/blobs/sha256")), IsEmpty());

  // The ingest is kept as it was, writable, still held by this writer.
  EXPECT_EQ(w->offset(), 5000);
  EXPECT_EQ(ModeOf(IngestDir("ref") + "/data"), 0600u);
  EXPECT_EQ(store_->Status("ref")->offset, 5000);
  EXPECT_THAT(store_->Abort("ref"), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_THAT(w->Close(), IsOk());
  // After a restart too.
  Reopen();
  EXPECT_EQ(store_->Status("ref")->offset, 5000);
  ASSERT_THAT(store_->Abort("ref"), IsOk());
  EXPECT_FALSE(Exists(IngestDir("ref")));
}

TEST_F(LocalStoreTest, DigestGivenOnlyAtCommitIsNotRecordedWhenItFails) {
  const std::string data = RandomBytes(100, 3);
  std::unique_ptr<Writer> w = Open("ref");
  ASSERT_THAT(w->Write(0, data), IsOk());
  EXPECT_THAT(w->Commit(0, Sha256("nope")), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(store_->Status("ref")->expected, std::nullopt);
  absl::StatusOr<BlobInfo> info = w->Commit(0, Sha256(data));
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->digest, Sha256(data));
}

TEST_F(LocalStoreTest, SizeMismatch) {
  const std::string data = RandomBytes(10, 4);
  std::unique_ptr<Writer> w = Open("ref", 10);
  ASSERT_THAT(w->Write(0, data.substr(0, 5)), IsOk());
  EXPECT_THAT(w->Commit(0, std::nullopt),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("size mismatch")));
  // A size that contradicts the known total is a different request, not a mismatch.
  EXPECT_THAT(w->Commit(5, std::nullopt), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(BlobDigests(), IsEmpty());
  ASSERT_THAT(w->Write(5, data.substr(5)), IsOk());
  ASSERT_THAT(w->Commit(10, Sha256(data)), IsOk());

  // Size known only at commit.
  std::unique_ptr<Writer> w2 = Open("ref2");
  ASSERT_THAT(w2->Write(0, "abcde"), IsOk());
  EXPECT_THAT(w2->Commit(6, std::nullopt), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(w2->Commit(4, std::nullopt), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(w2->Commit(5, std::nullopt), IsOk());
}

TEST_F(LocalStoreTest, WritePastTotalIsRejectedAndWritesNothing) {
  std::unique_ptr<Writer> w = Open("ref", 4);
  EXPECT_THAT(w->Write(0, "abcde"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(w->offset(), 0);
  ASSERT_THAT(w->Write(0, "abc"), IsOk());
  EXPECT_THAT(w->Write(3, "de"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(w->offset(), 3);
  EXPECT_EQ(store_->Status("ref")->offset, 3);
}

TEST_F(LocalStoreTest, ResumeAfterClosingTheWriter) {
  const std::string data = RandomBytes(2 * kMiB + 77, 5);
  {
    std::unique_ptr<Writer> w = Open("resume", static_cast<int64_t>(data.size()));
    ASSERT_THAT(w->Write(0, data.substr(0, 1000)), IsOk());
    ASSERT_THAT(w->Write(1000, data.substr(1000, kMiB)), IsOk());
    // Dropped without Close: the destructor closes.
  }
  absl::StatusOr<IngestStatus> status = store_->Status("resume");
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(status->offset, 1000 + kMiB);
  std::unique_ptr<Writer> w = Open("resume");
  EXPECT_EQ(w->offset(), 1000 + kMiB);
  EXPECT_EQ(w->Status().total, static_cast<int64_t>(data.size()));
  EXPECT_EQ(w->Status().started_at, status->started_at);
  EXPECT_EQ(*w->Digest(), Sha256(absl::string_view(data).substr(0, 1000 + kMiB)));
  ASSERT_THAT(w->Write(w->offset(), data.substr(1000 + kMiB)), IsOk());
  absl::StatusOr<BlobInfo> info = w->Commit(0, Sha256(data));
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(*ReadRange(info->digest, 0, 0), data);
}

TEST_F(LocalStoreTest, ResumeInANewStoreObject) {
  const std::string data = RandomBytes(300000, 6);
  const digest::Digest d = Sha256(data);
  {
    std::unique_ptr<Writer> w = Open("restart", 0, d);
    ASSERT_THAT(w->Write(0, data.substr(0, 123456)), IsOk());
    ASSERT_THAT(w->Close(), IsOk());
    EXPECT_THAT(w->Write(123456, "x"), StatusIs(absl::StatusCode::kFailedPrecondition));
  }
  Reopen();
  absl::StatusOr<std::vector<IngestStatus>> all = store_->ListStatuses("");
  ASSERT_THAT(all, IsOk());
  ASSERT_THAT(*all, SizeIs(1));
  EXPECT_EQ((*all)[0].ref, "restart");
  EXPECT_EQ((*all)[0].offset, 123456);
  EXPECT_EQ((*all)[0].expected, d);
  std::unique_ptr<Writer> w = Open("restart");
  ASSERT_EQ(w->offset(), 123456);
  ASSERT_THAT(w->Write(123456, data.substr(123456)), IsOk());
  absl::StatusOr<BlobInfo> info = w->Commit(static_cast<int64_t>(data.size()), std::nullopt);
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->digest, d);
}

// A writer that was never closed (its process killed: the bookkeeping was written once, at
// the start) resumes in a restarted store with the expectations it started with.
TEST_F(LocalStoreTest, ResumeAfterRestartWithoutClose) {
  const std::string data = RandomBytes(3 * kMiB + 5, 9);
  const digest::Digest d = Sha256(data);
  std::unique_ptr<Writer> first = Open("unclosed", static_cast<int64_t>(data.size()), d);
  ASSERT_THAT(first->Write(0, data.substr(0, 2 * kMiB)), IsOk());
  // The store object goes as in a restart; the writer's flock goes when it is dropped, after
  // which the ingest is exactly what a killed writer leaves.
  Reopen();
  first.reset();
  absl::StatusOr<IngestStatus> status = store_->Status("unclosed");
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(status->offset, 2 * kMiB);
  EXPECT_EQ(status->total, static_cast<int64_t>(data.size()));
  EXPECT_EQ(status->expected, d);
  std::unique_ptr<Writer> w = Open("unclosed");
  ASSERT_EQ(w->offset(), 2 * kMiB);
  EXPECT_EQ(*w->Digest(), Sha256(absl::string_view(data).substr(0, 2 * kMiB)));
  ASSERT_THAT(w->Write(w->offset(), data.substr(2 * kMiB)), IsOk());
  absl::StatusOr<BlobInfo> info = w->Commit(0, std::nullopt);
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->digest, d);
  EXPECT_EQ(*ReadRange(d, 0, 0), data);
  EXPECT_FALSE(Exists(IngestDir("unclosed")));
}

// The bookkeeping file is not synced, so after a power cut it may be missing, empty or cut
// short anywhere. Each such ingest is dropped cleanly at startup: no error, no listing, its
// directory gone, and the ref starts afresh and commits.
TEST_F(LocalStoreTest, DamagedBookkeepingDropsTheIngest) {
  const std::string data = "bytes of a layer";
  const std::string ref = "ref with\nnewline";
  {
    std::unique_ptr<Writer> w = Open(ref, static_cast<int64_t>(data.size()), Sha256(data));
    ASSERT_THAT(w->Write(0, data.substr(0, 5)), IsOk());
  }
  const std::string meta_path = IngestDir(ref) + "/ingest";
  absl::StatusOr<std::string> whole = fs::ReadFile(meta_path);
  ASSERT_THAT(whole, IsOk());
  std::vector<std::string> damaged;
  for (size_t n = 0; n < whole->size(); ++n) damaged.push_back(whole->substr(0, n));
  damaged.push_back(*whole + "x");
  damaged.push_back(std::string(whole->size(), '\0'));  // a block of zeros: an unwritten extent
  damaged.push_back("");                                 // sentinel: the file missing entirely
  for (size_t i = 0; i < damaged.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("damage #", i, " (", damaged[i].size(), " bytes)"));
    {
      std::unique_ptr<Writer> w = Open(ref, static_cast<int64_t>(data.size()), Sha256(data));
      ASSERT_THAT(w->Write(0, data.substr(0, 5)), IsOk());
    }
    if (i + 1 == damaged.size()) {
      ASSERT_EQ(unlink(meta_path.c_str()), 0);
    } else {
      ASSERT_THAT(fs::WriteFileAtomically(meta_path, damaged[i], 0600), IsOk());
    }
    // Before the restart a damaged ingest is simply not there for readers.
    EXPECT_THAT(store_->Status(ref), StatusIs(absl::StatusCode::kNotFound));
    EXPECT_THAT(*store_->ListStatuses(""), IsEmpty());
    Reopen();
    EXPECT_FALSE(Exists(IngestDir(ref)));
    EXPECT_THAT(store_->Status(ref), StatusIs(absl::StatusCode::kNotFound));
    std::unique_ptr<Writer> w = Open(ref, static_cast<int64_t>(data.size()), Sha256(data));
    EXPECT_EQ(w->offset(), 0);
  }
  // The last round left a fresh, whole ingest: it completes.
  std::unique_ptr<Writer> w = Open(ref);
  ASSERT_THAT(w->Write(0, data), IsOk());
  absl::StatusOr<BlobInfo> info = w->Commit(0, std::nullopt);
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->digest, Sha256(data));
}

// One bookkeeping file per ingest, and nothing but it and the data.
TEST_F(LocalStoreTest, AnIngestIsTwoFiles) {
  std::unique_ptr<Writer> w = Open("two", 9, Sha256("two files"));
  ASSERT_THAT(w->Write(0, "two"), IsOk());
  EXPECT_THAT(*fs::ListDir(IngestDir("two")), ElementsAre("data", "ingest"));
  ASSERT_THAT(w->Close(), IsOk());
  EXPECT_THAT(*fs::ListDir(IngestDir("two")), ElementsAre("data", "ingest"));
}

TEST_F(LocalStoreTest, ExpectationsCannotChange) {
  const digest::Digest d = Sha256("abcdef");
  {
    std::unique_ptr<Writer> w = Open("ref", 6, d);
    EXPECT_THAT(w->SetExpected(7, std::nullopt), StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(w->SetExpected(0, Sha256("x")), StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(w->SetExpected(6, d), IsOk());  // the same values are fine
    EXPECT_THAT(w->Commit(0, Sha256("x")), StatusIs(absl::StatusCode::kInvalidArgument));
  }
  EXPECT_THAT(store_->OpenWriter("ref", 7, std::nullopt),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->OpenWriter("ref", 0, Sha256("x")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->OpenWriter("ref", -1, std::nullopt),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // A failed open leaves the ingest unlocked and as it was.
  std::unique_ptr<Writer> w = Open("ref");
  EXPECT_EQ(w->Status().total, 6);
  EXPECT_EQ(w->Status().expected, d);
}

TEST_F(LocalStoreTest, ExpectationsSetLaterArePersisted) {
  {
    std::unique_ptr<Writer> w = Open("ref");
    ASSERT_THAT(w->Write(0, "abc"), IsOk());
    EXPECT_THAT(w->SetExpected(2, std::nullopt),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("less than")));
    ASSERT_THAT(w->SetExpected(6, std::nullopt), IsOk());
    ASSERT_THAT(w->SetExpected(0, Sha256("abcdef")), IsOk());
  }
  absl::StatusOr<IngestStatus> status = store_->Status("ref");
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(status->total, 6);
  EXPECT_EQ(status->expected, Sha256("abcdef"));
}

TEST_F(LocalStoreTest, RestartAtOffsetZero) {
  std::unique_ptr<Writer> w = Open("ref");
  ASSERT_THAT(w->Write(0, RandomBytes(5000, 7)), IsOk());
  ASSERT_THAT(w->Write(0, "fresh"), IsOk());
  EXPECT_EQ(w->offset(), 5);
  EXPECT_EQ(store_->Status("ref")->offset, 5);
  EXPECT_EQ(*w->Digest(), Sha256("fresh"));
  // An empty write at 0 just restarts.
  ASSERT_THAT(w->Write(0, ""), IsOk());
  EXPECT_EQ(w->offset(), 0);
  ASSERT_THAT(w->Write(0, "again"), IsOk());
  absl::StatusOr<BlobInfo> info = w->Commit(0, std::nullopt);
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->digest, Sha256("again"));
  EXPECT_EQ(*ReadRange(info->digest, 0, 0), "again");
}

TEST_F(LocalStoreTest, WrongOffsetIsFailedPrecondition) {
  std::unique_ptr<Writer> w = Open("ref");
  ASSERT_THAT(w->Write(0, "0123456789"), IsOk());
  EXPECT_THAT(w->Write(5, "x"), StatusIs(absl::StatusCode::kFailedPrecondition,
                                         HasSubstr("offset 5 is not the current offset 10")));
  EXPECT_THAT(w->Write(11, "x"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(w->offset(), 10);
  EXPECT_EQ(*w->Digest(), Sha256("0123456789"));
}

TEST_F(LocalStoreTest, AlreadyExists) {
  const std::string data = "a manifest";
  const digest::Digest d = Put("first", data);
  const absl::Time created = store_->Info(d)->created_at;

  // Known up front: refused before any ingest is made.
  EXPECT_THAT(store_->OpenWriter("second", 0, d),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr(d.ToString())));
  EXPECT_THAT(*store_->ListStatuses(""), IsEmpty());
  EXPECT_FALSE(Exists(IngestDir("second")));

  // Found at commit: the ingest is discarded, the blob untouched.
  skew_seconds_ = 500;
  std::unique_ptr<Writer> w = Open("third");
  ASSERT_THAT(w->Write(0, data), IsOk());
  EXPECT_THAT(w->Commit(0, std::nullopt), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_FALSE(Exists(IngestDir("third")));
  EXPECT_THAT(store_->Status("third"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(store_->Info(d)->created_at, created);
  EXPECT_THAT(w->Write(0, "x"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(w->Close(), IsOk());
  // The ref is free again.
  EXPECT_NE(Open("third"), nullptr);

  // WriteBlob treats it as success.
  EXPECT_EQ(*WriteBlob(*store_, "fourth", data, std::nullopt), d);
  EXPECT_EQ(*WriteBlob(*store_, "fifth", data, d), d);
}

TEST_F(LocalStoreTest, WriterIsDoneAfterCommit) {
  std::unique_ptr<Writer> w = Open("ref");
  ASSERT_THAT(w->Write(0, "x"), IsOk());
  ASSERT_THAT(w->Commit(0, std::nullopt), IsOk());
  EXPECT_THAT(w->Write(1, "y"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(w->Commit(0, std::nullopt), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(w->SetExpected(1, std::nullopt), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(w->Close(), IsOk());
}

TEST_F(LocalStoreTest, Delete) {
  const digest::Digest d = Put("ref", "to be deleted");
  absl::StatusOr<std::unique_ptr<ReaderAt>> reader = store_->OpenReader(d);
  ASSERT_THAT(reader, IsOk());
  ASSERT_THAT(store_->Delete(d), IsOk());
  EXPECT_THAT(store_->Info(d), StatusIs(absl::StatusCode::kNotFound, HasSubstr(d.ToString())));
  EXPECT_THAT(store_->Delete(d), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ReadRange(d, 0, 0), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->OpenReader(d), StatusIs(absl::StatusCode::kNotFound));
  // An open reader keeps reading the deleted blob.
  std::string buf(13, '\0');
  EXPECT_EQ(*(*reader)->ReadAt(0, absl::MakeSpan(buf)), 13u);
  EXPECT_EQ(buf, "to be deleted");
  EXPECT_THAT(BlobDigests(), IsEmpty());
  // And it can be written again.
  EXPECT_EQ(Put("ref", "to be deleted"), d);
}

TEST_F(LocalStoreTest, WalkListsEveryBlobInOrderAcrossAlgorithms) {
  const digest::Digest a = Put("a", "alpha");
  const digest::Digest b = Put("b", "beta");
  const digest::Digest c = Sha512("gamma");
  std::unique_ptr<Writer> w = Open("c", 0, c);
  EXPECT_EQ(w->Digest()->algorithm(), "sha512");
  ASSERT_THAT(w->Write(0, "gamma"), IsOk());
  EXPECT_EQ(*w->Digest(), c);
  ASSERT_THAT(w->Commit(0, std::nullopt), IsOk());
  EXPECT_TRUE(Exists(absl::StrCat(dir_, "/blobs/sha512/", c.hex())));

  // Files the store did not make are ignored.
  ASSERT_THAT(fs::WriteFileAtomically(absl::StrCat(dir_, "/blobs/sha256/not-a-digest"), "", 0644),
              IsOk());
  std::vector<std::string> expected = {a.ToString(), b.ToString()};
  std::sort(expected.begin(), expected.end());
  expected.push_back(c.ToString());
  EXPECT_EQ(BlobDigests(), expected);

  std::vector<int64_t> sizes;
  ASSERT_THAT(store_->Walk([&](const BlobInfo& info) {
    sizes.push_back(info.size);
    return absl::OkStatus();
  }),
              IsOk());
  EXPECT_THAT(sizes, SizeIs(3));
  int seen = 0;
  EXPECT_THAT(store_->Walk([&](const BlobInfo&) {
    ++seen;
    return absl::AbortedError("enough");
  }),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(seen, 1);
}

TEST_F(LocalStoreTest, DigestAlgorithmCanBeChosenAfterWriting) {
  std::unique_ptr<Writer> w = Open("late");
  ASSERT_THAT(w->Write(0, "payload"), IsOk());
  EXPECT_EQ(*w->Digest(), Sha256("payload"));
  ASSERT_THAT(w->SetExpected(0, Sha512("payload")), IsOk());
  EXPECT_EQ(*w->Digest(), Sha512("payload"));
  absl::StatusOr<BlobInfo> info = w->Commit(0, std::nullopt);
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->digest, Sha512("payload"));

  // Or only at commit.
  std::unique_ptr<Writer> w2 = Open("later");
  ASSERT_THAT(w2->Write(0, "other"), IsOk());
  EXPECT_THAT(w2->Commit(0, Sha512("other")), IsOk());
  EXPECT_THAT(store_->Info(Sha512("other")), IsOk());

  // A failed commit in another algorithm leaves the running digest as it was.
  std::unique_ptr<Writer> w3 = Open("mismatch");
  ASSERT_THAT(w3->Write(0, "x"), IsOk());
  EXPECT_THAT(w3->Commit(0, Sha512("y")), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(*w3->Digest(), Sha256("x"));
}

TEST_F(LocalStoreTest, ListStatusesByPrefix) {
  std::vector<std::unique_ptr<Writer>> held;
  for (const char* ref : {"b/1", "a/2", "a/1"}) {
    held.push_back(Open(ref));
    ASSERT_THAT(held.back()->Write(0, ref), IsOk());
  }
  held.pop_back();  // closed and not closed ingests are listed alike
  absl::StatusOr<std::vector<IngestStatus>> all = store_->ListStatuses("");
  ASSERT_THAT(all, IsOk());
  std::vector<std::string> refs;
  for (const IngestStatus& s : *all) {
    refs.push_back(s.ref);
    EXPECT_EQ(s.offset, 3);
  }
  EXPECT_THAT(refs, ElementsAre("a/1", "a/2", "b/1"));
  absl::StatusOr<std::vector<IngestStatus>> a = store_->ListStatuses("a/");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(*a, SizeIs(2));
  EXPECT_EQ((*a)[0].ref, "a/1");
  EXPECT_THAT(*store_->ListStatuses("c"), IsEmpty());
}

TEST_F(LocalStoreTest, Abort) {
  {
    std::unique_ptr<Writer> w = Open("doomed");
    ASSERT_THAT(w->Write(0, "bytes"), IsOk());
  }
  ASSERT_THAT(store_->Abort("doomed"), IsOk());
  EXPECT_FALSE(Exists(IngestDir("doomed")));
  EXPECT_THAT(store_->Status("doomed"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Abort("doomed"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Abort(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Status(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->OpenWriter("", 0, std::nullopt),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // The ref starts afresh afterwards.
  std::unique_ptr<Writer> w = Open("doomed");
  EXPECT_EQ(w->offset(), 0);
}

TEST_F(LocalStoreTest, HostileRefsStayInsideIngest) {
  const std::string long_ref(5000, 'r');
  const std::vector<std::string> refs = {
      "../../x", "/etc/passwd",        "..", ".", "a/../../b", std::string("nul\0byte", 8),
      long_ref,  "ref\nwith\nnewlines"};
  for (const std::string& ref : refs) {
    std::unique_ptr<Writer> w = Open(ref);
    ASSERT_NE(w, nullptr);
    ASSERT_THAT(w->Write(0, ref), IsOk());
    EXPECT_TRUE(Exists(IngestDir(ref) + "/data")) << ref;
  }
  // Nothing appeared outside the content directory, or outside ingest/ within it.
  EXPECT_THAT(*fs::ListDir(tmp_->path()), ElementsAre("content"));
  EXPECT_THAT(*fs::ListDir(dir_), ElementsAre("blobs", "ingest"));
  EXPECT_THAT(*fs::ListDir(dir_ + "/ingest"), SizeIs(refs.size()));
  absl::StatusOr<std::vector<IngestStatus>> all = store_->ListStatuses("");
  ASSERT_THAT(all, IsOk());
  std::vector<std::string> listed;
  for (const IngestStatus& s : *all) listed.push_back(s.ref);
  std::vector<std::string> sorted = refs;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(listed, sorted);  // refs round-trip byte for byte
  // Messages quote a ref without echoing all of a huge one.
  std::unique_ptr<Writer> held = Open(long_ref);
  absl::StatusOr<std::unique_ptr<Writer>> again = store_->OpenWriter(long_ref, 0, std::nullopt);
  EXPECT_THAT(again, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("5000 bytes")));
  EXPECT_LT(again.status().message().size(), 400u);
  held.reset();
  for (const std::string& ref : refs) EXPECT_THAT(store_->Abort(ref), IsOk()) << ref;
}

TEST_F(LocalStoreTest, RemoveStaleIngests) {
  { std::unique_ptr<Writer> old = Open("old"); }
  { std::unique_ptr<Writer> leased = Open("leased"); }
  std::unique_ptr<Writer> held = Open("held");
  skew_seconds_ = 2 * 3600;
  { std::unique_ptr<Writer> recent = Open("recent"); }
  // Debris of a start cut short: no `ref` file.
  const std::string debris = absl::StrCat(dir_, "/ingest/", std::string(64, 'a'));
  ASSERT_THAT(fs::MakeDirs(debris, 0700), IsOk());
  skew_seconds_ = 2 * 3600 + 1800;

  absl::StatusOr<int> removed = store_->RemoveStaleIngests(
      absl::Hours(1), [](const IngestStatus& s) { return s.ref == "leased"; });
  ASSERT_THAT(removed, IsOk());
  EXPECT_EQ(*removed, 2);  // "old" and the debris
  EXPECT_FALSE(Exists(debris));
  std::vector<std::string> refs;
  absl::StatusOr<std::vector<IngestStatus>> left = store_->ListStatuses("");
  ASSERT_THAT(left, IsOk());
  for (const IngestStatus& s : *left) refs.push_back(s.ref);
  EXPECT_THAT(refs, ElementsAre("held", "leased", "recent"));
  ASSERT_THAT(held->Write(0, "still mine"), IsOk());
}

TEST_F(LocalStoreTest, OpeningTheStoreCleansCrashDebris) {
  {
    std::unique_ptr<Writer> w = Open("survivor");
    ASSERT_THAT(w->Write(0, "kept"), IsOk());
  }
  // A WriteFileAtomically temp file left by a writer killed mid-update.
  const std::string temp = IngestDir("survivor") + "/.total.tmp-Ab12Cd";
  ASSERT_THAT(fs::WriteFileAtomically(temp, "9", 0600), IsOk());
  // An ingest whose start was cut short (data, but no ref yet).
  const std::string partial = absl::StrCat(dir_, "/ingest/", std::string(64, 'b'));
  ASSERT_THAT(fs::MakeDirs(partial, 0700), IsOk());
  ASSERT_THAT(fs::WriteFileAtomically(partial + "/data", "junk", 0600), IsOk());
  // Not ours: left alone.
  const std::string stranger = absl::StrCat(dir_, "/ingest/lost+found");
  ASSERT_THAT(fs::MakeDirs(stranger, 0700), IsOk());

  Reopen();
  EXPECT_FALSE(Exists(temp));
  EXPECT_FALSE(Exists(partial));
  EXPECT_TRUE(Exists(stranger));
  EXPECT_EQ(store_->Status("survivor")->offset, 4);
  EXPECT_THAT(*store_->ListStatuses(""), SizeIs(1));
}

// A commit killed after moving the data into blobs/ but before removing the ingest leaves an
// ingest with a ref and no data: it reads as empty, and a client that retries with the digest
// learns the blob is there.
TEST_F(LocalStoreTest, IngestWhoseDataWasCommittedReadsAsEmpty) {
  const std::string data = "committed just before the crash";
  {
    std::unique_ptr<Writer> w = Open("half", 0, Sha256(data));
    ASSERT_THAT(w->Write(0, data), IsOk());
  }
  const std::string blob = store_->BlobPath(Sha256(data));
  ASSERT_EQ(rename((IngestDir("half") + "/data").c_str(), blob.c_str()), 0);
  Reopen();
  EXPECT_EQ(store_->Status("half")->offset, 0);
  EXPECT_THAT(store_->OpenWriter("half", 0, Sha256(data)),
              StatusIs(absl::StatusCode::kAlreadyExists));
  std::unique_ptr<Writer> w = Open("half");
  EXPECT_EQ(w->offset(), 0);
  ASSERT_THAT(w->Write(0, data), IsOk());
  EXPECT_THAT(w->Commit(0, std::nullopt), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(*store_->ListStatuses(""), IsEmpty());
}

TEST_F(LocalStoreTest, ReadBlobCapsTheSize) {
  const digest::Digest d = Put("ref", std::string(100, 'x'));
  EXPECT_EQ(*ReadBlob(*store_, d, 100), std::string(100, 'x'));
  EXPECT_THAT(ReadBlob(*store_, d, 99), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(ReadBlob(*store_, Sha256("absent"), 100), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(WriteBlob(*store_, "bad", "data", Sha256("other")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(LocalStoreCreateTest, RejectsEmptyDir) {
  EXPECT_THAT(LocalStore::Create(LocalStoreOptions{}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace berth::containerd::content
