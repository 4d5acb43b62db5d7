// Garbage collection over a real store: what Store::CollectGarbage removes, with leases that
// expire as the injected clock moves.
#include <string>
#include <vector>

#include "common/status/status_macros.h"
#include "common/testing/status_matchers.h"
#include "containerd/metadata/store_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::metadata {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using testing::DigestOf;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using testing::StoreTest;

constexpr char kSn[] = "overlayfs";
const std::string kIndex = DigestOf(1);
const std::string kManifest = DigestOf(2);
const std::string kConfig = DigestOf(3);
const std::string kLayer0 = DigestOf(4);
const std::string kLayer1 = DigestOf(5);
const std::string kStray = DigestOf(6);
const std::string kPulling = DigestOf(7);

class GcStoreTest : public StoreTest {
 protected:
  // Namespace "default": an image (index -> manifest -> config + 2 layers) unpacked into the
  // committed chain l0 <- l1, a container whose rootfs is active on l1, plus garbage: a stray
  // blob, a stray committed snapshot with an active child.
  void SetUp() override {
    StoreTest::SetUp();
    ASSERT_THAT(
        Tx([](Transaction& tx) -> absl::Status {
          auto add = [&](const std::string& d, Labels labels) {
            return tx.AddBlob("default", BlobInfo{d, 10, std::move(labels), {}, {}}).status();
          };
          BERTH_RETURN_IF_ERROR(add(kIndex, {{"berth.io/gc.ref.content.m.0", kManifest}}));
          BERTH_RETURN_IF_ERROR(add(kManifest, {{"berth.io/gc.ref.content.config", kConfig},
                                                {"berth.io/gc.ref.content.l.0", kLayer0},
                                                {"berth.io/gc.ref.content.l.1", kLayer1}}));
          BERTH_RETURN_IF_ERROR(add(kConfig, {{"berth.io/gc.ref.snapshot.overlayfs", "l1"}}));
          BERTH_RETURN_IF_ERROR(add(kLayer0, {}));
          BERTH_RETURN_IF_ERROR(add(kLayer1, {}));
          BERTH_RETURN_IF_ERROR(add(kStray, {}));

          Image image;
          image.name = "alpine";
          image.target = {"application/vnd.oci.image.index.v1+json", kIndex, 10, {}, ""};
          BERTH_RETURN_IF_ERROR(tx.CreateImage("default", image).status());

          auto snap = [&](const std::string& key, const std::string& parent,
                          const std::string& name) -> absl::Status {
            Snapshot s;
            s.name = key;
            s.parent = parent;
            BERTH_RETURN_IF_ERROR(tx.CreateSnapshot("default", kSn, s).status());
            if (name.empty()) return absl::OkStatus();
            return tx.CommitSnapshot("default", kSn, key, name).status();
          };
          BERTH_RETURN_IF_ERROR(snap("x0", "", "l0"));
          BERTH_RETURN_IF_ERROR(snap("x1", "l0", "l1"));
          BERTH_RETURN_IF_ERROR(snap("c1-rootfs", "l1", ""));
          BERTH_RETURN_IF_ERROR(snap("y0", "", "stray"));
          BERTH_RETURN_IF_ERROR(snap("stray-child", "stray", ""));

          Container c;
          c.id = "c1";
          c.snapshotter = kSn;
          c.snapshot_key = "c1-rootfs";
          return tx.CreateContainer("default", c).status();
        }),
        IsOk());
  }
};

TEST_F(GcStoreTest, CandidatesAreTheUnreachableRecords) {
  absl::StatusOr<GcCandidates> c =
      ReadTx([](Transaction& tx) { return tx.CollectGarbageCandidates(); });
  ASSERT_THAT(c, IsOk());
  EXPECT_THAT(c->blobs, ElementsAre(BlobRef{"default", kStray}));
  EXPECT_THAT(c->snapshots, ElementsAre(SnapshotRef{"default", kSn, "stray-child"},
                                        SnapshotRef{"default", kSn, "stray"}));
  EXPECT_THAT(c->expired_leases, IsEmpty());
}

TEST_F(GcStoreTest, CollectRemovesGarbageOnceAndReportsFilesToDelete) {
  const int64_t stray_id =
      ReadTx([](Transaction& tx) { return tx.GetSnapshot("default", kSn, "stray"); })->id;
  const int64_t child_id =
      ReadTx([](Transaction& tx) { return tx.GetSnapshot("default", kSn, "stray-child"); })->id;
  // Another namespace holds the stray blob too: its file must stay.
  ASSERT_THAT(
      Tx([](Transaction& tx) {
        return tx.AddBlob("other", BlobInfo{kStray, 10, {{"berth.io/gc.root", ""}}, {}, {}});
      }),
      IsOk());

  absl::StatusOr<GcSweepResult> r = store_->CollectGarbage();
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->removed_blobs, ElementsAre(BlobRef{"default", kStray}));
  EXPECT_THAT(r->unreferenced_digests, IsEmpty());  // "other" still holds it
  EXPECT_THAT(r->removed_snapshots, ElementsAre(SnapshotRef{"default", kSn, "stray-child"},
                                                SnapshotRef{"default", kSn, "stray"}));
  EXPECT_THAT(r->removed_snapshot_ids.at(kSn), ElementsAre(child_id, stray_id));

  // Everything reachable is still there; a second collection finds nothing.
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.ListBlobs("default"); }),
              ::berth::testing::IsOk());
  EXPECT_THAT(*ReadTx([](Transaction& tx) { return tx.ListBlobs("default"); }), SizeIs(5));
  EXPECT_THAT(*ReadTx([](Transaction& tx) { return tx.ListSnapshots("default", kSn); }), SizeIs(3));
  absl::StatusOr<GcSweepResult> again = store_->CollectGarbage();
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT(again->removed_blobs, IsEmpty());
  EXPECT_THAT(again->removed_snapshots, IsEmpty());

  // Dropping the root label in "other" makes the file deletable.
  ASSERT_THAT(Tx([](Transaction& tx) {
                return tx.UpdateBlob("other", BlobInfo{kStray, 0, {}, {}, {}}, {"labels"});
              }),
              IsOk());
  r = store_->CollectGarbage();
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->removed_blobs, ElementsAre(BlobRef{"other", kStray}));
  EXPECT_THAT(r->unreferenced_digests, ElementsAre(kStray));
  EXPECT_THAT(store_->CheckIntegrity(), IsOk());
}

TEST_F(GcStoreTest, DeletingRootsReleasesTheWholeGraph) {
  ASSERT_THAT(Tx([](Transaction& tx) -> absl::Status {
                BERTH_RETURN_IF_ERROR(tx.DeleteContainer("default", "c1"));
                return tx.DeleteImage("default", "alpine");
              }),
              IsOk());
  absl::StatusOr<GcSweepResult> r = store_->CollectGarbage();
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->removed_blobs, SizeIs(6));
  EXPECT_THAT(r->unreferenced_digests, SizeIs(6));
  EXPECT_THAT(r->removed_snapshots, SizeIs(5));
  // Children before parents, whatever the interleaving of the two chains.
  auto pos = [&](const std::string& name) {
    for (size_t i = 0; i < r->removed_snapshots.size(); ++i) {
      if (r->removed_snapshots[i].name == name) return static_cast<int>(i);
    }
    return -1;
  };
  EXPECT_LT(pos("c1-rootfs"), pos("l1"));
  EXPECT_LT(pos("l1"), pos("l0"));
  EXPECT_LT(pos("stray-child"), pos("stray"));
  EXPECT_THAT(*ReadTx([](Transaction& tx) { return tx.ListAllBlobDigests(); }), IsEmpty());
  EXPECT_THAT(*ReadTx([](Transaction& tx) { return tx.ListAllSnapshotIds(kSn); }), IsEmpty());
  // The namespace is empty now and can go.
  EXPECT_THAT(Tx([](Transaction& tx) { return tx.DeleteNamespace("default"); }), IsOk());
}

TEST_F(GcStoreTest, LeasesProtectInFlightWorkUntilTheyExpire) {
  // A pull in progress: a blob nobody references yet, a snapshot being extracted and an ingest.
  ASSERT_THAT(
      Tx([](Transaction& tx) -> absl::Status {
        BERTH_RETURN_IF_ERROR(
            tx.CreateLease("default", Lease{"pull", {}, {}, tx.now() + absl::Hours(1)}).status());
        BERTH_RETURN_IF_ERROR(tx.CreateLease("default", Lease{"forever", {}, {}, {}}).status());
        BERTH_RETURN_IF_ERROR(tx.AddBlob("default", BlobInfo{kPulling, 1, {}, {}, {}}).status());
        Snapshot s;
        s.name = "extract";
        s.parent = "l1";
        BERTH_RETURN_IF_ERROR(tx.CreateSnapshot("default", kSn, s).status());
        BERTH_RETURN_IF_ERROR(tx.AddLeaseResource("default", "pull", {"content", kPulling}));
        BERTH_RETURN_IF_ERROR(
            tx.AddLeaseResource("default", "pull", {"snapshots/overlayfs", "extract"}));
        BERTH_RETURN_IF_ERROR(tx.AddLeaseResource("default", "pull", {"ingests", "layer-3"}));
        return tx.AddLeaseResource("default", "forever", {"ingests", "layer-9"});
      }),
      IsOk());

  absl::StatusOr<GcSweepResult> r = store_->CollectGarbage();
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->removed_blobs, ElementsAre(BlobRef{"default", kStray}));
  EXPECT_THAT(r->removed_leases, IsEmpty());
  EXPECT_THAT(r->leased_ingests,
              ElementsAre(NamedRef{"default", "layer-3"}, NamedRef{"default", "layer-9"}));
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.GetSnapshot("default", kSn, "extract"); }),
              IsOk());

  // An hour later the lease has expired: it is deleted and what only it held goes.
  clock_.Advance(absl::Hours(1));
  r = store_->CollectGarbage();
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->removed_leases, ElementsAre(NamedRef{"default", "pull"}));
  EXPECT_THAT(r->removed_blobs, ElementsAre(BlobRef{"default", kPulling}));
  EXPECT_THAT(r->unreferenced_digests, ElementsAre(kPulling));
  EXPECT_THAT(r->removed_snapshots, ElementsAre(SnapshotRef{"default", kSn, "extract"}));
  EXPECT_THAT(r->leased_ingests, ElementsAre(NamedRef{"default", "layer-9"}));
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.GetLease("default", "pull"); }),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.GetLease("default", "forever"); }), IsOk());
}

TEST_F(GcStoreTest, SweepOfStaleCandidatesSkipsWhatChanged) {
  absl::StatusOr<GcCandidates> c =
      ReadTx([](Transaction& tx) { return tx.CollectGarbageCandidates(); });
  ASSERT_THAT(c, IsOk());
  // Meanwhile: the stray blob is deleted by hand, and "stray-child" is removed but "stray" gets
  // a new child.
  ASSERT_THAT(Tx([](Transaction& tx) -> absl::Status {
                BERTH_RETURN_IF_ERROR(tx.DeleteBlob("default", kStray));
                BERTH_RETURN_IF_ERROR(tx.RemoveSnapshot("default", kSn, "stray-child").status());
                Snapshot s;
                s.name = "new-child";
                s.parent = "stray";
                return tx.CreateSnapshot("default", kSn, s).status();
              }),
              IsOk());
  absl::StatusOr<GcSweepResult> r = Tx([&](Transaction& tx) { return tx.SweepGarbage(*c); });
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->removed_blobs, IsEmpty());
  EXPECT_THAT(r->removed_snapshots, IsEmpty());
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.GetSnapshot("default", kSn, "stray"); }),
              IsOk());
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.SweepGarbage(GcCandidates{}); }),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace berth::containerd::metadata
