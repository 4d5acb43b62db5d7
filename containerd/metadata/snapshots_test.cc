#include <string>
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
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using testing::StoreTest;

constexpr char kSn[] = "overlayfs";

class SnapshotsTest : public StoreTest {
 protected:
  absl::StatusOr<Snapshot> Create(const std::string& key, const std::string& parent = "",
                                  SnapshotKind kind = SnapshotKind::kActive, Labels labels = {}) {
    Snapshot s;
    s.name = key;
    s.parent = parent;
    s.kind = kind;
    s.labels = std::move(labels);
    return Tx([&](Transaction& tx) { return tx.CreateSnapshot("default", kSn, s); });
  }
  absl::StatusOr<Snapshot> Commit(const std::string& key, const std::string& name,
                                  Labels labels = {}) {
    return Tx(
        [&](Transaction& tx) { return tx.CommitSnapshot("default", kSn, key, name, labels); });
  }
  absl::StatusOr<Snapshot> Get(const std::string& name) {
    return ReadTx([&](Transaction& tx) { return tx.GetSnapshot("default", kSn, name); });
  }
  absl::StatusOr<Snapshot> Remove(const std::string& name) {
    return Tx([&](Transaction& tx) { return tx.RemoveSnapshot("default", kSn, name); });
  }
  // Prepare + commit: one image layer.
  void Layer(const std::string& name, const std::string& parent) {
    ASSERT_THAT(Create(name + "-extract", parent), IsOk());
    ASSERT_THAT(Commit(name + "-extract", name), IsOk());
  }
};

TEST_F(SnapshotsTest, PrepareCommitChain) {
  absl::StatusOr<Snapshot> active = Create("l0-extract", "", SnapshotKind::kActive, {{"a", "b"}});
  ASSERT_THAT(active, IsOk());
  EXPECT_EQ(active->kind, SnapshotKind::kActive);
  EXPECT_GT(active->id, 0);
  EXPECT_FALSE(active->usage.has_value());
  EXPECT_THAT(active->labels, ElementsAre(Pair("a", "b")));

  clock_.Advance(absl::Seconds(1));
  absl::StatusOr<Snapshot> committed = Commit("l0-extract", "sha256:l0", {{"c", "d"}});
  ASSERT_THAT(committed, IsOk());
  EXPECT_EQ(committed->name, "sha256:l0");
  EXPECT_EQ(committed->kind, SnapshotKind::kCommitted);
  EXPECT_EQ(committed->id, active->id);                         // same directory
  EXPECT_THAT(committed->labels, ElementsAre(Pair("c", "d")));  // active labels dropped
  EXPECT_EQ(committed->created_at, clock_.Now());
  EXPECT_THAT(Get("l0-extract"), StatusIs(absl::StatusCode::kNotFound));  // key consumed

  Layer("sha256:l1", "sha256:l0");
  absl::StatusOr<Snapshot> rootfs = Create("ctr-rootfs", "sha256:l1");
  ASSERT_THAT(rootfs, IsOk());
  EXPECT_EQ(rootfs->parent, "sha256:l1");
  absl::StatusOr<Snapshot> view = Create("view", "sha256:l1", SnapshotKind::kView);
  ASSERT_THAT(view, IsOk());
  EXPECT_EQ(view->kind, SnapshotKind::kView);

  absl::StatusOr<std::vector<int64_t>> chain =
      ReadTx([](Transaction& tx) { return tx.SnapshotChainIds("default", kSn, "ctr-rootfs"); });
  ASSERT_THAT(chain, IsOk());
  EXPECT_THAT(*chain, ElementsAre(rootfs->id, Get("sha256:l1")->id, active->id));

  // Commit keeps the parent link of the committed snapshot's children (parents by id).
  EXPECT_EQ(Get("sha256:l1")->parent, "sha256:l0");
}

TEST_F(SnapshotsTest, CreateErrors) {
  ASSERT_THAT(Create("active"), IsOk());
  ASSERT_THAT(Create("view", "", SnapshotKind::kView), IsOk());
  Layer("committed", "");
  EXPECT_THAT(Create("active"), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(Create("committed"), StatusIs(absl::StatusCode::kAlreadyExists));  // shared space
  EXPECT_THAT(Create("x", "missing"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("parent")));
  EXPECT_THAT(Create("x", "active"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not committed")));
  EXPECT_THAT(Create("x", "view"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Create("x", "", SnapshotKind::kCommitted),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Create(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Tx([](Transaction& tx) {
                Snapshot s;
                s.name = "k";
                return tx.CreateSnapshot("default", "bad.name", s);
              }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Parents are per snapshotter: "committed" does not exist for "native".
  EXPECT_THAT(Tx([](Transaction& tx) {
                Snapshot s;
                s.name = "k";
                s.parent = "committed";
                return tx.CreateSnapshot("default", "native", s);
              }),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SnapshotsTest, CommitErrors) {
  ASSERT_THAT(Create("a"), IsOk());
  ASSERT_THAT(Create("b"), IsOk());
  ASSERT_THAT(Create("v", "", SnapshotKind::kView), IsOk());
  EXPECT_THAT(Commit("missing", "x"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Commit("a", "b"), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(Commit("v", "x"), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("view")));
  ASSERT_THAT(Commit("a", "done"), IsOk());
  EXPECT_THAT(Commit("done", "again"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("committed")));
  EXPECT_THAT(Commit("b", ""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Get("b")->kind, SnapshotKind::kActive);  // failed commits changed nothing
}

TEST_F(SnapshotsTest, RemoveRefusesParentsAndReturnsId) {
  Layer("base", "");
  ASSERT_THAT(Create("child", "base"), IsOk());
  EXPECT_THAT(Remove("base"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("parent of 1 snapshot")));
  absl::StatusOr<Snapshot> child = Remove("child");
  ASSERT_THAT(child, IsOk());
  EXPECT_EQ(child->name, "child");
  EXPECT_GT(child->id, 0);
  EXPECT_THAT(Remove("base"), IsOk());
  EXPECT_THAT(Remove("base"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SnapshotsTest, IdsAreNeverReused) {
  absl::StatusOr<Snapshot> a = Create("a");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(Remove("a"), IsOk());
  Reopen();
  absl::StatusOr<Snapshot> again = Create("a");
  ASSERT_THAT(again, IsOk());
  EXPECT_GT(again->id, a->id);
  // Ids are unique across namespaces and snapshotters too.
  absl::StatusOr<Snapshot> other = Tx([](Transaction& tx) {
    Snapshot s;
    s.name = "a";
    return tx.CreateSnapshot("ns2", "native", s);
  });
  ASSERT_THAT(other, IsOk());
  EXPECT_GT(other->id, again->id);
  EXPECT_THAT(*ReadTx([](Transaction& tx) { return tx.ListAllSnapshotIds(kSn); }),
              ElementsAre(again->id));
  EXPECT_THAT(*ReadTx([](Transaction& tx) { return tx.ListAllSnapshotIds("native"); }),
              ElementsAre(other->id));
}

TEST_F(SnapshotsTest, UpdateLabelsAndUsage) {
  ASSERT_THAT(Create("s", "", SnapshotKind::kActive, {{"a", "1"}, {"b", "2"}}), IsOk());
  clock_.Advance(absl::Seconds(1));
  Snapshot change;
  change.name = "s";
  change.labels = {{"b", "20"}, {"berth.io/gc.root", "x"}};
  absl::StatusOr<Snapshot> updated = Tx([&](Transaction& tx) {
    return tx.UpdateSnapshot("default", kSn, change, {"labels.b", "labels.berth.io/gc.root"});
  });
  ASSERT_THAT(updated, IsOk());
  EXPECT_THAT(updated->labels,
              ElementsAre(Pair("a", "1"), Pair("b", "20"), Pair("berth.io/gc.root", "x")));
  EXPECT_EQ(updated->updated_at, clock_.Now());
  EXPECT_THAT(
      Tx([&](Transaction& tx) { return tx.UpdateSnapshot("default", kSn, change, {"parent"}); }),
      StatusIs(absl::StatusCode::kInvalidArgument));
  change.name = "missing";
  EXPECT_THAT(Tx([&](Transaction& tx) { return tx.UpdateSnapshot("default", kSn, change); }),
              StatusIs(absl::StatusCode::kNotFound));

  ASSERT_THAT(Tx([](Transaction& tx) {
                return tx.SetSnapshotUsage("default", kSn, "s", SnapshotUsage{4096, 3});
              }),
              IsOk());
  absl::StatusOr<Snapshot> got = Get("s");
  ASSERT_THAT(got, IsOk());
  ASSERT_TRUE(got->usage.has_value());
  EXPECT_EQ(*got->usage, (SnapshotUsage{4096, 3}));
  EXPECT_EQ(got->updated_at, updated->updated_at);  // usage is a cache, not a change
  // The cache survives commit.
  EXPECT_EQ(*Commit("s", "c")->usage, (SnapshotUsage{4096, 3}));
  EXPECT_THAT(Tx([](Transaction& tx) {
                return tx.SetSnapshotUsage("default", kSn, "missing", SnapshotUsage{});
              }),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SnapshotsTest, ListWalkAndFilter) {
  Layer("l0", "");
  ASSERT_THAT(Create("b-active", "l0", SnapshotKind::kActive, {{"x", "y"}}), IsOk());
  ASSERT_THAT(Create("a-view", "l0", SnapshotKind::kView), IsOk());
  ASSERT_THAT(Tx([](Transaction& tx) {
                Snapshot s;
                s.name = "elsewhere";
                return tx.CreateSnapshot("default", "native", s);
              }),
              IsOk());

  absl::StatusOr<std::vector<Snapshot>> all =
      ReadTx([](Transaction& tx) { return tx.ListSnapshots("default", kSn); });
  ASSERT_THAT(all, IsOk());
  std::vector<std::string> names;
  for (const Snapshot& s : *all) names.push_back(s.name);
  EXPECT_THAT(names, ElementsAre("a-view", "b-active", "l0"));
  EXPECT_EQ((*all)[0].parent, "l0");
  EXPECT_THAT((*all)[1].labels, ElementsAre(Pair("x", "y")));
  EXPECT_THAT((*all)[2].labels, IsEmpty());

  absl::StatusOr<std::vector<Snapshot>> committed = ReadTx([](Transaction& tx) {
    return tx.ListSnapshots(
        "default", kSn, [](const Snapshot& s) { return SnapshotKindName(s.kind) == "committed"; });
  });
  ASSERT_THAT(committed, IsOk());
  ASSERT_EQ(committed->size(), 1u);
  EXPECT_EQ((*committed)[0].name, "l0");

  std::vector<std::string> walked;
  absl::Status s = ReadTx([&](Transaction& tx) {
    return tx.WalkSnapshots("default", kSn, [&](const Snapshot& snap) -> absl::Status {
      walked.push_back(snap.name);
      if (snap.name == "b-active") return absl::CancelledError("stop");
      return absl::OkStatus();
    });
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(walked, ElementsAre("a-view", "b-active"));
}

TEST_F(SnapshotsTest, ManyLayerChain) {
  constexpr int kLayers = 130;  // more than overlay's lowerdir page limit usually fits
  std::string parent;
  for (int i = 0; i < kLayers; ++i) {
    const std::string name = absl::StrCat("layer-", i);
    Layer(name, parent);
    parent = name;
  }
  ASSERT_THAT(Create("rootfs", parent), IsOk());
  absl::StatusOr<std::vector<int64_t>> chain =
      ReadTx([](Transaction& tx) { return tx.SnapshotChainIds("default", kSn, "rootfs"); });
  ASSERT_THAT(chain, IsOk());
  EXPECT_EQ(chain->size(), static_cast<size_t>(kLayers + 1));
  EXPECT_EQ(chain->back(), Get("layer-0")->id);
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.SnapshotChainIds("default", kSn, "nope"); }),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace berth::containerd::metadata
