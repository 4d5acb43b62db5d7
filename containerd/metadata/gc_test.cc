#include "containerd/metadata/gc.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::metadata {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

std::string D(absl::string_view name) { return absl::StrCat("sha256:", name); }

BlobRef Blob(const std::string& ns, absl::string_view name) { return BlobRef{ns, D(name)}; }
SnapshotRef Snap(const std::string& ns, const std::string& name) {
  return SnapshotRef{ns, "overlayfs", name};
}

TEST(ParseGcRefLabelTest, ContentAndSnapshotForms) {
  auto c = ParseGcRefLabel("berth.io/gc.ref.content", "sha256:a");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->type, GcRef::Type::kContent);
  EXPECT_EQ(c->id, "sha256:a");
  ASSERT_TRUE(ParseGcRefLabel("berth.io/gc.ref.content.l.0", "sha256:b").has_value());
  EXPECT_FALSE(ParseGcRefLabel("berth.io/gc.ref.contentx", "sha256:b").has_value());
  EXPECT_FALSE(ParseGcRefLabel("berth.io/gc.ref.content.", "sha256:b").has_value());
  EXPECT_FALSE(ParseGcRefLabel("berth.io/gc.ref.content", "").has_value());

  auto s = ParseGcRefLabel("berth.io/gc.ref.snapshot.overlayfs", "key1");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->type, GcRef::Type::kSnapshot);
  EXPECT_EQ(s->snapshotter, "overlayfs");
  EXPECT_EQ(s->id, "key1");
  auto s2 = ParseGcRefLabel("berth.io/gc.ref.snapshot.native.rootfs", "key2");
  ASSERT_TRUE(s2.has_value());
  EXPECT_EQ(s2->snapshotter, "native");
  EXPECT_FALSE(ParseGcRefLabel("berth.io/gc.ref.snapshot.", "k").has_value());
  EXPECT_FALSE(ParseGcRefLabel("berth.io/gc.ref.snapshot.overlayfs.", "k").has_value());
  EXPECT_FALSE(ParseGcRefLabel("berth.io/gc.root", "x").has_value());
  EXPECT_FALSE(ParseGcRefLabel("other", "x").has_value());
}

TEST(ComputeGarbageTest, EmptyGraphHasNoGarbage) {
  GcCandidates out = ComputeGarbage(GcInput{}, kNow);
  EXPECT_THAT(out.blobs, IsEmpty());
  EXPECT_THAT(out.snapshots, IsEmpty());
  EXPECT_THAT(out.expired_leases, IsEmpty());
}

TEST(ComputeGarbageTest, ImageKeepsItsManifestConfigAndLayers) {
  GcInput in;
  in.images.push_back({"default", "alpine", D("index"), {}});
  in.blobs.push_back({"default", D("index"), {{"berth.io/gc.ref.content.m.0", D("manifest")}}});
  in.blobs.push_back({"default",
                      D("manifest"),
                      {{"berth.io/gc.ref.content.config", D("config")},
                       {"berth.io/gc.ref.content.l.0", D("layer0")},
                       {"berth.io/gc.ref.content.l.1", D("layer1")},
                       {"unrelated", D("orphan")}}});
  for (const char* b : {"config", "layer0", "layer1", "orphan", "old"}) {
    in.blobs.push_back({"default", D(b), {}});
  }
  GcCandidates out = ComputeGarbage(in, kNow);
  EXPECT_THAT(out.blobs, ElementsAre(Blob("default", "old"), Blob("default", "orphan")));
}

TEST(ComputeGarbageTest, ContainerKeepsItsSnapshotChainAndOtherChainsGoChildrenFirst) {
  GcInput in;
  in.containers.push_back({"default", "c1", "overlayfs", "c1-rootfs", {}});
  in.snapshots.push_back({"default", "overlayfs", "l0", "", {}});
  in.snapshots.push_back({"default", "overlayfs", "l1", "l0", {}});
  in.snapshots.push_back({"default", "overlayfs", "c1-rootfs", "l1", {}});
  // An unused chain: x0 <- x1 <- x2, and x1 <- y2; listed parents-first on purpose.
  in.snapshots.push_back({"default", "overlayfs", "x0", "", {}});
  in.snapshots.push_back({"default", "overlayfs", "x1", "x0", {}});
  in.snapshots.push_back({"default", "overlayfs", "y2", "x1", {}});
  in.snapshots.push_back({"default", "overlayfs", "x2", "x1", {}});
  // Same key in another snapshotter is a different snapshot.
  in.snapshots.push_back({"default", "native", "l0", "", {}});

  GcCandidates out = ComputeGarbage(in, kNow);
  EXPECT_THAT(out.snapshots,
              ElementsAre(Snap("default", "x2"), Snap("default", "y2"), Snap("default", "x1"),
                          SnapshotRef{"default", "native", "l0"}, Snap("default", "x0")));
}

TEST(ComputeGarbageTest, LeasesProtectUntilTheyExpire) {
  GcInput in;
  in.blobs.push_back({"default", D("a"), {}});
  in.blobs.push_back({"default", D("b"), {}});
  in.blobs.push_back({"default", D("c"), {}});
  in.snapshots.push_back({"default", "overlayfs", "s1", "", {}});
  in.snapshots.push_back({"default", "overlayfs", "s2", "", {}});
  // Lives forever: holds a, s1 and an ingest.
  in.leases.push_back({"default",
                       "forever",
                       std::nullopt,
                       {{"content", D("a")},
                        {"snapshots/overlayfs", "s1"},
                        {"ingests", "layer-1"},
                        {"content", D("not-written-yet")}}});
  // Expires in the future: holds b.
  in.leases.push_back({"default", "later", kNow + absl::Seconds(1), {{"content", D("b")}}});
  // Expires exactly now: expired, protects nothing.
  in.leases.push_back({"default", "now", kNow, {{"content", D("c")}, {"ingests", "layer-2"}}});
  // Expired long ago.
  in.leases.push_back({"default", "past", kNow - absl::Hours(1), {{"snapshots/overlayfs", "s2"}}});

  GcCandidates out = ComputeGarbage(in, kNow);
  EXPECT_THAT(out.blobs, ElementsAre(Blob("default", "c")));
  EXPECT_THAT(out.snapshots, ElementsAre(Snap("default", "s2")));
  EXPECT_THAT(out.expired_leases,
              ElementsAre(NamedRef{"default", "now"}, NamedRef{"default", "past"}));
  EXPECT_THAT(out.leased_ingests, ElementsAre(NamedRef{"default", "layer-1"}));

  // A second later, "later" has expired too and b goes.
  GcCandidates after = ComputeGarbage(in, kNow + absl::Seconds(1));
  EXPECT_THAT(after.blobs, ElementsAre(Blob("default", "b"), Blob("default", "c")));
  EXPECT_EQ(after.expired_leases.size(), 3u);
}

TEST(ComputeGarbageTest, RootLabelKeepsObjectAndWhatItReferences) {
  GcInput in;
  in.blobs.push_back({"default",
                      D("pinned"),
                      {{"berth.io/gc.root", ""}, {"berth.io/gc.ref.snapshot.overlayfs", "s"}}});
  in.blobs.push_back({"default", D("loose"), {}});
  in.snapshots.push_back({"default", "overlayfs", "s", "", {}});
  in.snapshots.push_back({"default", "overlayfs", "t", "", {{"berth.io/gc.root", "yes"}}});
  in.snapshots.push_back({"default", "overlayfs", "u", "", {}});
  GcCandidates out = ComputeGarbage(in, kNow);
  EXPECT_THAT(out.blobs, ElementsAre(Blob("default", "loose")));
  EXPECT_THAT(out.snapshots, ElementsAre(Snap("default", "u")));
}

TEST(ComputeGarbageTest, SnapshotLabelsReferenceContentAndContainerLabelsToo) {
  GcInput in;
  in.containers.push_back(
      {"default", "c1", "overlayfs", "", {{"berth.io/gc.ref.content.spec", D("spec")}}});
  in.snapshots.push_back({"default", "overlayfs", "committed-layer", "", {}});
  in.images.push_back(
      {"default", "img", D("manifest"), {{"berth.io/gc.ref.snapshot.overlayfs", "unpacked"}}});
  in.snapshots.push_back(
      {"default", "overlayfs", "unpacked", "", {{"berth.io/gc.ref.content", D("diff")}}});
  for (const char* b : {"spec", "manifest", "diff", "lonely"}) {
    in.blobs.push_back({"default", D(b), {}});
  }
  GcCandidates out = ComputeGarbage(in, kNow);
  EXPECT_THAT(out.blobs, ElementsAre(Blob("default", "lonely")));
  EXPECT_THAT(out.snapshots, ElementsAre(Snap("default", "committed-layer")));
}

TEST(ComputeGarbageTest, NamespacesDoNotKeepEachOthersObjects) {
  GcInput in;
  in.images.push_back({"a", "img", D("shared"), {}});
  in.blobs.push_back({"a", D("shared"), {}});
  in.blobs.push_back({"b", D("shared"), {}});
  in.containers.push_back({"a", "c", "overlayfs", "root", {}});
  in.snapshots.push_back({"a", "overlayfs", "root", "", {}});
  in.snapshots.push_back({"b", "overlayfs", "root", "", {}});
  GcCandidates out = ComputeGarbage(in, kNow);
  EXPECT_THAT(out.blobs, ElementsAre(Blob("b", "shared")));
  EXPECT_THAT(out.snapshots, ElementsAre(Snap("b", "root")));
}

TEST(ComputeGarbageTest, CyclesTerminateAndUnreachableCyclesAreCollected) {
  GcInput in;
  in.images.push_back({"default", "img", D("a"), {}});
  in.blobs.push_back({"default", D("a"), {{"berth.io/gc.ref.content", D("b")}}});
  in.blobs.push_back({"default", D("b"), {{"berth.io/gc.ref.content", D("a")}}});
  in.blobs.push_back({"default", D("x"), {{"berth.io/gc.ref.content", D("y")}}});
  in.blobs.push_back({"default", D("y"), {{"berth.io/gc.ref.content", D("x")}}});
  GcCandidates out = ComputeGarbage(in, kNow);
  EXPECT_THAT(out.blobs, ElementsAre(Blob("default", "x"), Blob("default", "y")));
}

TEST(ComputeGarbageTest, DeepChainIsOrderedDeepestFirst) {
  GcInput in;
  constexpr int kDepth = 2000;  // deep enough that recursion would be a risk
  for (int i = 0; i < kDepth; ++i) {
    in.snapshots.push_back(
        {"default", "overlayfs", absl::StrCat("s", i), i == 0 ? "" : absl::StrCat("s", i - 1), {}});
  }
  GcCandidates out = ComputeGarbage(in, kNow);
  ASSERT_EQ(out.snapshots.size(), static_cast<size_t>(kDepth));
  for (int i = 0; i < kDepth; ++i) {
    EXPECT_EQ(out.snapshots[i].name, absl::StrCat("s", kDepth - 1 - i));
  }
  // Keeping the top keeps all of it.
  in.containers.push_back({"default", "c", "overlayfs", absl::StrCat("s", kDepth - 1), {}});
  EXPECT_THAT(ComputeGarbage(in, kNow).snapshots, IsEmpty());
}

}  // namespace
}  // namespace berth::containerd::metadata
