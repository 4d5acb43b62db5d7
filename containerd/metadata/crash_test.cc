// kill -9 at random moments: a forked child runs write transactions in a loop until SIGKILL; the
// parent then reopens the store and checks that SQLite's integrity check passes and that every
// committed transaction is there whole and no uncommitted one shows at all.
//
// Each transaction n (n = 1, 2, ...) writes one "generation": image img-n, container ctr-n (with
// a spec of random size, so transactions span many pages and WAL checkpoints happen), active
// snapshot snap-n on the committed snapshot "base", blob DigestOf(n), lease lease-n holding the
// blob and the snapshot; it deletes generation n - kWindow the same way; and it sets the
// namespace label seq=n. So after any crash, with S = seq: generations S-kWindow+1 .. S exist
// completely and nothing else does. The seed is printed; BERTH_CRASH_SEED=<seed> replays it.
#include <signal.h>
#include <sqlite3.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status/status_macros.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "containerd/metadata/store.h"
#include "containerd/metadata/store_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::metadata {
namespace {

using ::berth::testing::IsOk;
using testing::DigestOf;

constexpr char kNs[] = "crash";
constexpr char kSn[] = "overlayfs";
constexpr int64_t kWindow = 8;
constexpr int kRounds = 20;

std::string Img(int64_t n) { return absl::StrCat("img-", n); }
std::string Ctr(int64_t n) { return absl::StrCat("ctr-", n); }
std::string Snap(int64_t n) { return absl::StrCat("snap-", n); }
std::string LeaseId(int64_t n) { return absl::StrCat("lease-", n); }

absl::StatusOr<int64_t> ReadSeq(Transaction& tx) {
  absl::StatusOr<Namespace> ns = tx.GetNamespace(kNs);
  if (absl::IsNotFound(ns.status())) return 0;
  BERTH_RETURN_IF_ERROR(ns.status());
  int64_t seq = 0;
  auto it = ns->labels.find("seq");
  if (it == ns->labels.end() || !absl::SimpleAtoi(it->second, &seq)) {
    return absl::DataLossError("namespace has no seq label");
  }
  return seq;
}

absl::Status WriteGeneration(Transaction& tx, std::mt19937_64& rng) {
  BERTH_ASSIGN_OR_RETURN(int64_t seq, ReadSeq(tx));
  const int64_t n = seq + 1;
  if (seq == 0) {
    Snapshot base;
    base.name = "base-active";
    BERTH_RETURN_IF_ERROR(tx.CreateSnapshot(kNs, kSn, base).status());
    BERTH_RETURN_IF_ERROR(tx.CommitSnapshot(kNs, kSn, "base-active", "base").status());
  }
  Image image;
  image.name = Img(n);
  image.labels = {{"gen", absl::StrCat(n)}};
  image.target = {"application/vnd.oci.image.manifest.v1+json", DigestOf(n), n, {}, ""};
  BERTH_RETURN_IF_ERROR(tx.CreateImage(kNs, image).status());

  Container c;
  c.id = Ctr(n);
  c.image = Img(n);
  c.snapshotter = kSn;
  c.snapshot_key = Snap(n);
  c.labels = {{"gen", absl::StrCat(n)}};
  const size_t pad = std::uniform_int_distribution<size_t>(0, 96 * 1024)(rng);
  c.spec = absl::StrCat(R"({"gen":)", n, R"(,"pad":")", std::string(pad, 'x'), R"("})");
  c.extensions = {{"e", std::string(pad / 4, '\x01')}};
  BERTH_RETURN_IF_ERROR(tx.CreateContainer(kNs, c).status());

  Snapshot s;
  s.name = Snap(n);
  s.parent = "base";
  s.labels = {{"gen", absl::StrCat(n)}};
  BERTH_RETURN_IF_ERROR(tx.CreateSnapshot(kNs, kSn, s).status());
  BERTH_RETURN_IF_ERROR(
      tx.AddBlob(kNs, BlobInfo{DigestOf(n), n, {{"gen", absl::StrCat(n)}}, {}, {}}).status());
  BERTH_RETURN_IF_ERROR(tx.CreateLease(kNs, Lease{LeaseId(n), {}, {}, std::nullopt}).status());
  BERTH_RETURN_IF_ERROR(tx.AddLeaseResource(kNs, LeaseId(n), {"content", DigestOf(n)}));
  BERTH_RETURN_IF_ERROR(
      tx.AddLeaseResource(kNs, LeaseId(n), {absl::StrCat("snapshots/", kSn), Snap(n)}));

  const int64_t old = n - kWindow;
  if (old >= 1) {
    BERTH_RETURN_IF_ERROR(tx.DeleteImage(kNs, Img(old)));
    BERTH_RETURN_IF_ERROR(tx.DeleteContainer(kNs, Ctr(old)));
    BERTH_RETURN_IF_ERROR(tx.RemoveSnapshot(kNs, kSn, Snap(old)).status());
    BERTH_RETURN_IF_ERROR(tx.DeleteBlob(kNs, DigestOf(old)));
    BERTH_RETURN_IF_ERROR(tx.DeleteLease(kNs, LeaseId(old)));
  }
  Namespace ns;
  ns.name = kNs;
  ns.labels = {{"seq", absl::StrCat(n)}};
  return tx.UpdateNamespace(ns, {"labels.seq"}).status();
}

// The child: writes generations until killed. Exits non-zero on any error (the parent then
// sees an exit instead of its SIGKILL and fails the test).
[[noreturn]] void ChildLoop(const std::string& root, uint64_t seed) {
  std::mt19937_64 rng(seed);
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(root);
  if (!store.ok()) {
    fprintf(stderr, "child: open: %s\n", store.status().ToString().c_str());
    _exit(2);
  }
  for (int i = 0;; ++i) {
    absl::Status s =
        (*store)->WithTransaction([&](Transaction& tx) { return WriteGeneration(tx, rng); });
    if (s.ok() && i % 10 == 9) s = (*store)->CollectGarbage().status();  // a big read+write tx
    if (!s.ok()) {
      fprintf(stderr, "child: transaction %d: %s\n", i, s.ToString().c_str());
      _exit(3);
    }
  }
}

// PRAGMA integrity_check through a fresh connection of our own, as the task asks: "ok" or the
// problems. Opening it also replays the WAL like any reader after a crash.
std::string RawIntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    std::string err = db ? sqlite3_errmsg(db) : "open failed";
    sqlite3_close(db);
    return err;
  }
  sqlite3_stmt* stmt = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK) {
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      if (!out.empty()) out += "; ";
      out += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
  } else {
    out = sqlite3_errmsg(db);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

// Checks the invariants and returns seq.
absl::StatusOr<int64_t> CheckInvariants(Store& store) {
  return store.WithReadTransaction([](Transaction& tx) -> absl::StatusOr<int64_t> {
    BERTH_ASSIGN_OR_RETURN(int64_t seq, ReadSeq(tx));
    BERTH_ASSIGN_OR_RETURN(std::vector<Image> images, tx.ListImages(kNs));
    BERTH_ASSIGN_OR_RETURN(std::vector<Container> containers, tx.ListContainers(kNs));
    BERTH_ASSIGN_OR_RETURN(std::vector<Snapshot> snapshots, tx.ListSnapshots(kNs, kSn));
    BERTH_ASSIGN_OR_RETURN(std::vector<BlobInfo> blobs, tx.ListBlobs(kNs));
    BERTH_ASSIGN_OR_RETURN(std::vector<Lease> leases, tx.ListLeases(kNs));
    const int64_t live = std::min(seq, kWindow);
    auto count = [&](absl::string_view what, size_t got, int64_t want) -> absl::Status {
      if (static_cast<int64_t>(got) == want) return absl::OkStatus();
      return absl::DataLossError(absl::StrCat("seq ", seq, ": ", got, " ", what, ", want ", want));
    };
    BERTH_RETURN_IF_ERROR(count("images", images.size(), live));
    BERTH_RETURN_IF_ERROR(count("containers", containers.size(), live));
    BERTH_RETURN_IF_ERROR(count("snapshots", snapshots.size(), seq > 0 ? live + 1 : 0));
    BERTH_RETURN_IF_ERROR(count("blobs", blobs.size(), live));
    BERTH_RETURN_IF_ERROR(count("leases", leases.size(), live));
    for (int64_t n = seq - live + 1; n <= seq; ++n) {
      const std::string gen = absl::StrCat(n);
      BERTH_ASSIGN_OR_RETURN(Image image, tx.GetImage(kNs, Img(n)));
      BERTH_ASSIGN_OR_RETURN(Container c, tx.GetContainer(kNs, Ctr(n)));
      BERTH_ASSIGN_OR_RETURN(Snapshot s, tx.GetSnapshot(kNs, kSn, Snap(n)));
      BERTH_ASSIGN_OR_RETURN(BlobInfo blob, tx.GetBlob(kNs, DigestOf(n)));
      BERTH_ASSIGN_OR_RETURN(std::vector<LeaseResource> resources,
                             tx.ListLeaseResources(kNs, LeaseId(n)));
      const bool whole = image.labels.at("gen") == gen && image.target.size == n &&
                         c.labels.at("gen") == gen && c.snapshot_key == Snap(n) &&
                         absl::StartsWith(c.spec, absl::StrCat(R"({"gen":)", n, ",")) &&
                         absl::EndsWith(c.spec, "\"}") &&
                         c.extensions.at("e").size() == (c.spec.size() - 17 - gen.size()) / 4 &&
                         s.labels.at("gen") == gen && s.parent == "base" &&
                         s.kind == SnapshotKind::kActive && blob.labels.at("gen") == gen &&
                         resources.size() == 2;
      if (!whole) return absl::DataLossError(absl::StrCat("generation ", n, " is not whole"));
    }
    return seq;
  });
}

TEST(CrashTest, KillNineAtRandomTimesLeavesAConsistentStore) {
  uint64_t seed = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  if (const char* env = getenv("BERTH_CRASH_SEED"); env != nullptr) {
    ASSERT_TRUE(absl::SimpleAtoi(env, &seed)) << env;
  }
  std::cout << "BERTH_CRASH_SEED=" << seed << std::endl;
  std::mt19937_64 rng(seed);

  absl::StatusOr<berth::testing::TempDir> dir = berth::testing::TempDir::Create();
  ASSERT_THAT(dir, IsOk());
  const std::string root = dir->Sub("root");
  const std::string path = root + "/metadata.db";

  int64_t last_seq = 0;
  int progressed_rounds = 0;
  for (int round = 0; round < kRounds; ++round) {
    // The first round dies early, often during schema creation; later ones run longer.
    const int max_ms = round == 0 ? 15 : 250;
    const auto delay =
        absl::Microseconds(std::uniform_int_distribution<int64_t>(0, max_ms * 1000)(rng));
    const uint64_t child_seed = rng();

    fflush(nullptr);  // nothing buffered may be written twice
    pid_t pid = fork();
    ASSERT_GE(pid, 0) << "fork: " << strerror(errno);
    if (pid == 0) ChildLoop(root, child_seed);
    absl::Cleanup reap = [pid] {  // if an assertion below fails, leave no child behind
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    };
    absl::SleepFor(delay);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int wait_status = 0;
    ASSERT_EQ(waitpid(pid, &wait_status, 0), pid);
    std::move(reap).Cancel();
    ASSERT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL)
        << "round " << round << ": child exited on its own with status " << wait_status
        << " (see its stderr above)";

    if (access(path.c_str(), F_OK) != 0) continue;  // killed before it created the file
    ASSERT_EQ(RawIntegrityCheck(path), "ok") << "round " << round;
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(root);
    ASSERT_THAT(store, IsOk()) << "round " << round;
    ASSERT_THAT((*store)->CheckIntegrity(), IsOk()) << "round " << round;
    absl::StatusOr<int64_t> seq = CheckInvariants(**store);
    ASSERT_THAT(seq, IsOk()) << "round " << round;
    // Committed means durable: a later crash never loses an earlier round's commits.
    ASSERT_GE(*seq, last_seq) << "round " << round;
    if (*seq > last_seq) ++progressed_rounds;
    std::cout << "round " << round << ": killed after " << delay << ", seq " << last_seq << " -> "
              << *seq << std::endl;
    last_seq = *seq;
  }
  // The test is only worth something if the children got work done between kills.
  EXPECT_GE(progressed_rounds, kRounds / 2);
  EXPECT_GT(last_seq, 2 * kWindow);
}

}  // namespace
}  // namespace berth::containerd::metadata
