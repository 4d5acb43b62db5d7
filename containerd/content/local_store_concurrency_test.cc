// Exclusion between writers of one ref (threads, store objects, processes) and independence of
// writers of different refs.
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "common/testing/status_matchers.h"
#include "containerd/content/content_util.h"
#include "containerd/content/local_store.h"
#include "containerd/content/local_store_test_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::content {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using testing::Exists;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::kMiB;
using testing::LocalStoreTest;
using testing::RandomBytes;
using testing::Sha256;
using ::testing::SizeIs;

TEST_F(LocalStoreTest, SecondWriterOnARefIsUnavailable) {
  std::unique_ptr<Writer> first = Open("busy");
  ASSERT_THAT(first->Write(0, "abc"), IsOk());
  EXPECT_THAT(store_->OpenWriter("busy", 0, std::nullopt),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("locked")));
  EXPECT_THAT(store_->Abort("busy"), StatusIs(absl::StatusCode::kUnavailable));

  // A second store object on the same directory (as a second process would be) is kept out by
  // the flock, and its startup cleanup leaves the held ingest alone.
  absl::StatusOr<std::unique_ptr<LocalStore>> other = LocalStore::Create(Options());
  ASSERT_THAT(other, IsOk());
  EXPECT_THAT((*other)->OpenWriter("busy", 0, std::nullopt),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT((*other)->Abort("busy"), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ((*other)->Status("busy")->offset, 3);
  EXPECT_THAT((*other)->RemoveStaleIngests(absl::ZeroDuration()), IsOk());
  EXPECT_TRUE(Exists(IngestDir("busy") + "/ingest"));

  ASSERT_THAT(first->Close(), IsOk());
  absl::StatusOr<std::unique_ptr<Writer>> second = (*other)->OpenWriter("busy", 0, std::nullopt);
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ((*second)->offset(), 3);
  EXPECT_THAT(store_->OpenWriter("busy", 0, std::nullopt),
              StatusIs(absl::StatusCode::kUnavailable));
}

// Reads one byte from `fd`, so a parent and a forked child can take turns.
char Await(int fd) {
  char c = 0;
  while (read(fd, &c, 1) < 0 && errno == EINTR) {
  }
  return c;
}

TEST_F(LocalStoreTest, AnotherProcessIsExcludedUntilItDies) {
  int to_parent[2];
  int to_child[2];
  ASSERT_EQ(pipe(to_parent), 0);
  ASSERT_EQ(pipe(to_child), 0);
  store_.reset();  // nothing of ours open across fork
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The child holds the ref and waits to be killed.
    absl::StatusOr<std::unique_ptr<LocalStore>> store = LocalStore::Create(Options());
    if (!store.ok()) _exit(1);
    absl::StatusOr<std::unique_ptr<Writer>> w = (*store)->OpenWriter("shared", 0, std::nullopt);
    if (!w.ok() || !(*w)->Write(0, "child").ok()) _exit(2);
    char ok = 'k';
    if (write(to_parent[1], &ok, 1) != 1) _exit(3);
    Await(to_child[0]);
    _exit(0);
  }
  ASSERT_EQ(Await(to_parent[0]), 'k');
  Reopen();
  EXPECT_THAT(store_->OpenWriter("shared", 0, std::nullopt),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(store_->Abort("shared"), StatusIs(absl::StatusCode::kUnavailable));
  // A holder killed with SIGKILL takes its lock with it; its bytes stay, resumable.
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  absl::StatusOr<std::unique_ptr<Writer>> w = store_->OpenWriter("shared", 0, std::nullopt);
  ASSERT_THAT(w, IsOk());
  EXPECT_EQ((*w)->offset(), 5);
  EXPECT_EQ(*(*w)->Digest(), Sha256("child"));
  for (int fd : {to_parent[0], to_parent[1], to_child[0], to_child[1]}) close(fd);
}

TEST_F(LocalStoreTest, ConcurrentOpenOfOneRefAdmitsExactlyOne) {
  constexpr int kThreads = 8;
  absl::Barrier* start = new absl::Barrier(kThreads);
  absl::Barrier* tried = new absl::Barrier(kThreads);
  std::atomic<int> ok{0};
  std::atomic<int> unavailable{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      if (start->Block()) delete start;
      absl::StatusOr<std::unique_ptr<Writer>> w = store_->OpenWriter("contended", 0, std::nullopt);
      if (w.ok()) {
        ++ok;
      } else if (absl::IsUnavailable(w.status())) {
        ++unavailable;
      }
      // Hold the winner's writer until everyone has tried.
      if (tried->Block()) delete tried;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(unavailable.load(), kThreads - 1);
}

TEST_F(LocalStoreTest, ManyRefsInParallel) {
  constexpr int kThreads = 12;
  std::vector<std::string> blobs;
  for (int i = 0; i < kThreads; ++i) blobs.push_back(RandomBytes(kMiB + 1000 * i, 100 + i));
  std::vector<absl::Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      results[i] = [&]() -> absl::Status {
        const std::string& data = blobs[i];
        absl::StatusOr<std::unique_ptr<Writer>> w =
            store_->OpenWriter(absl::StrCat("parallel-", i), 0, Sha256(data));
        if (!w.ok()) return w.status();
        for (size_t off = 0; off < data.size(); off += 64 * 1024) {
          absl::Status s = (*w)->Write(static_cast<int64_t>(off),
                                       absl::string_view(data).substr(off, 64 * 1024));
          if (!s.ok()) return s;
        }
        return (*w)->Commit(static_cast<int64_t>(data.size()), std::nullopt).status();
      }();
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_THAT(results[i], IsOk()) << i;
    EXPECT_EQ(*ReadBlob(*store_, Sha256(blobs[i]), 2 * kMiB), blobs[i]);
  }
  EXPECT_THAT(BlobDigests(), SizeIs(kThreads));
  EXPECT_THAT(*store_->ListStatuses(""), IsEmpty());
}

}  // namespace
}  // namespace berth::containerd::content
