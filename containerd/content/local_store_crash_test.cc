// kill -9 at random moments while a child process writes a large blob through the store, then
// checks what a restarted store finds: never a torn blob, at most a resumable ingest whose bytes
// are a correct prefix of the blob, and a resume that completes it.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/digest/digest.h"
#include "common/digest/hasher.h"
#include "common/fs/fs.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "containerd/content/local_store.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::content {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::TempDir;

constexpr size_t kBlobSize = 48 << 20;
constexpr size_t kChunk = 256 << 10;
constexpr char kRef[] = "layer-crash";

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    const uint64_t v = rng();
    memcpy(&s[i], &v, 8);
  }
  return s;
}

absl::StatusOr<std::unique_ptr<LocalStore>> OpenStore(const std::string& dir) {
  LocalStoreOptions options;
  options.dir = dir;
  return LocalStore::Create(options);
}

// The child: resume the ingest wherever it is, write the rest in chunks, commit. Exits 0 when
// the blob is stored (or already was), nonzero on any error. Never returns.
[[noreturn]] void WriteInChild(const std::string& dir, const std::string& data,
                               const digest::Digest& d) {
  absl::StatusOr<std::unique_ptr<LocalStore>> store = OpenStore(dir);
  if (!store.ok()) _exit(10);
  absl::StatusOr<std::unique_ptr<Writer>> w =
      (*store)->OpenWriter(kRef, static_cast<int64_t>(data.size()), d);
  if (absl::IsAlreadyExists(w.status())) _exit(0);
  if (!w.ok()) _exit(11);
  for (size_t off = static_cast<size_t>((*w)->offset()); off < data.size(); off += kChunk) {
    if (!(*w)->Write(static_cast<int64_t>(off), absl::string_view(data).substr(off, kChunk)).ok()) {
      _exit(12);
    }
  }
  absl::StatusOr<BlobInfo> info = (*w)->Commit(0, std::nullopt);
  _exit(info.ok() || absl::IsAlreadyExists(info.status()) ? 0 : 13);
}

TEST(LocalStoreCrashTest, KillNineNeverLeavesATornBlob) {
  absl::StatusOr<TempDir> tmp = TempDir::Create();
  ASSERT_THAT(tmp, IsOk());
  const std::string dir = tmp->Sub("content");
  const std::string data = RandomBytes(kBlobSize, 42);
  const digest::Digest d = *digest::Digest::FromBytes(data);
  const std::string ingest_data =
      absl::StrCat(dir, "/ingest/", digest::Digest::FromBytes(kRef)->hex(), "/data");

  // Calibrate: how long an undisturbed child takes to write and commit the blob.
  absl::Time t0 = absl::Now();
  const pid_t calibration = fork();
  ASSERT_GE(calibration, 0);
  if (calibration == 0) WriteInChild(dir, data, d);
  int wstatus = 0;
  ASSERT_EQ(waitpid(calibration, &wstatus, 0), calibration);
  ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  const int64_t full_us = absl::ToInt64Microseconds(absl::Now() - t0);
  {
    absl::StatusOr<std::unique_ptr<LocalStore>> store = OpenStore(dir);
    ASSERT_THAT(store, IsOk());
    ASSERT_THAT((*store)->Delete(d), IsOk());
  }

  // Fixed seed: the kill times vary run to run only as much as the machine's speed does. Each
  // round resumes what the last one left; a round that got to store the blob has it deleted,
  // so the next starts over and kills keep landing in writes, re-hashes on resume and commits.
  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> delay_us(0, full_us + full_us / 10);
  int killed_with_progress = 0;
  int stored_by_child = 0;
  bool stored = false;
  int64_t last_offset = 0;
  for (int round = 0; round < 30; ++round) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) WriteInChild(dir, data, d);
    absl::SleepFor(absl::Microseconds(delay_us(rng)));
    kill(pid, SIGKILL);  // may be too late: the child may have finished
    ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
    if (WIFEXITED(wstatus)) {
      ASSERT_EQ(WEXITSTATUS(wstatus), 0) << "child failed";
    }

    // What a restarted daemon finds.
    absl::StatusOr<std::unique_ptr<LocalStore>> store = OpenStore(dir);
    ASSERT_THAT(store, IsOk());
    absl::StatusOr<BlobInfo> info = (*store)->Info(d);
    stored = info.ok();
    if (stored) {
      // Present means whole and correct.
      EXPECT_EQ(info->size, static_cast<int64_t>(kBlobSize));
      EXPECT_EQ(*digest::DigestFile((*store)->BlobPath(d)), d);
      ++stored_by_child;
    } else {
      ASSERT_THAT(info.status(), ::berth::testing::StatusIs(absl::StatusCode::kNotFound));
    }
    // No other blob ever appears.
    int blobs = 0;
    ASSERT_THAT((*store)->Walk([&](const BlobInfo& b) {
      EXPECT_EQ(b.digest, d);
      ++blobs;
      return absl::OkStatus();
    }),
                IsOk());
    EXPECT_EQ(blobs, stored ? 1 : 0);

    absl::StatusOr<IngestStatus> status = (*store)->Status(kRef);
    if (status.ok()) {
      // A resumable ingest: its bytes are exactly a prefix of the blob, and no progress is
      // lost between rounds.
      ASSERT_LE(status->offset, static_cast<int64_t>(kBlobSize));
      EXPECT_EQ(status->total, static_cast<int64_t>(kBlobSize));
      EXPECT_EQ(status->expected, d);
      if (!stored) {
        EXPECT_GE(status->offset, last_offset);
      }
      last_offset = status->offset;
      absl::StatusOr<std::string> prefix = fs::ReadFile(ingest_data);
      if (prefix.ok()) {
        ASSERT_EQ(static_cast<int64_t>(prefix->size()), status->offset);
        ASSERT_TRUE(*prefix == absl::string_view(data).substr(0, prefix->size()))
            << "ingest data is not a prefix of the blob";
        if (!prefix->empty() && prefix->size() < kBlobSize) ++killed_with_progress;
      }
    } else {
      ASSERT_THAT(status.status(), ::berth::testing::StatusIs(absl::StatusCode::kNotFound));
    }
    if (stored && round + 1 < 30) {
      ASSERT_THAT((*store)->Delete(d), IsOk());
      stored = false;
      last_offset = 0;
    }
  }
  LOG(INFO) << "child run " << full_us << " us; of 30 kills, " << killed_with_progress
            << " left a partial ingest and " << stored_by_child << " came after the commit";
  // Not a timing assertion, a check that the test exercised something: with kill times spread
  // over a whole run, the chance that none lands mid-ingest is negligible.
  EXPECT_GT(killed_with_progress, 0);

  // Finish in this process whatever the children left.
  absl::StatusOr<std::unique_ptr<LocalStore>> store = OpenStore(dir);
  ASSERT_THAT(store, IsOk());
  if (!stored) {
    absl::StatusOr<std::unique_ptr<Writer>> w =
        (*store)->OpenWriter(kRef, static_cast<int64_t>(kBlobSize), d);
    ASSERT_THAT(w, IsOk());
    EXPECT_EQ((*w)->offset(), last_offset);
    const size_t from = static_cast<size_t>((*w)->offset());
    ASSERT_THAT((*w)->Write(static_cast<int64_t>(from), absl::string_view(data).substr(from)),
                IsOk());
    absl::StatusOr<BlobInfo> info = (*w)->Commit(0, std::nullopt);
    ASSERT_THAT(info, IsOk());
    EXPECT_EQ(info->digest, d);
  }
  EXPECT_EQ(*digest::DigestFile((*store)->BlobPath(d)), d);
  // A stray ingest left by a commit killed after the rename is cleanup's job, not a blob.
  ASSERT_THAT((*store)->RemoveStaleIngests(absl::ZeroDuration()), IsOk());
  EXPECT_THAT(*(*store)->ListStatuses(""), ::testing::IsEmpty());
}

}  // namespace
}  // namespace berth::containerd::content
