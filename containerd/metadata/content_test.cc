#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "containerd/metadata/store_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::metadata {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::kDigestA;
using testing::kDigestB;
using testing::kDigestC;
using ::testing::Pair;
using testing::StoreTest;

class ContentTest : public StoreTest {
 protected:
  absl::StatusOr<BlobInfo> Add(const std::string& ns, const std::string& digest,
                               Labels labels = {}) {
    return Tx([&](Transaction& tx) {
      return tx.AddBlob(ns, BlobInfo{digest, 42, labels, {}, {}});
    });
  }
};

TEST_F(ContentTest, AddGetListPerNamespace) {
  absl::StatusOr<BlobInfo> added = Add("a", kDigestA, {{"berth.io/uncompressed", kDigestB}});
  ASSERT_THAT(added, IsOk());
  EXPECT_EQ(added->size, 42);
  EXPECT_EQ(added->created_at, clock_.Now());
  EXPECT_THAT(added->labels, ElementsAre(Pair("berth.io/uncompressed", kDigestB)));

  // Namespace b sees the blob only after it writes it too, with its own labels.
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.GetBlob("b", kDigestA); }),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(Add("b", kDigestA), IsOk());
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.GetBlob("b", kDigestA); })->labels, IsEmpty());
  EXPECT_THAT(Add("a", kDigestA), StatusIs(absl::StatusCode::kAlreadyExists));

  ASSERT_THAT(Add("a", kDigestC), IsOk());
  ASSERT_THAT(Add("a", kDigestB), IsOk());
  absl::StatusOr<std::vector<BlobInfo>> list =
      ReadTx([](Transaction& tx) { return tx.ListBlobs("a"); });
  ASSERT_THAT(list, IsOk());
  std::vector<std::string> digests;
  for (const BlobInfo& b : *list) digests.push_back(b.digest);
  EXPECT_THAT(digests, ElementsAre(kDigestC, kDigestB, kDigestA));  // ordered by digest
  EXPECT_THAT(ReadTx([](Transaction& tx) {
                return tx.ListBlobs("a", [](const BlobInfo& b) { return !b.labels.empty(); });
              })->size(),
              1u);

  EXPECT_THAT(*ReadTx([](Transaction& tx) { return tx.ListAllBlobDigests(); }),
              ElementsAre(kDigestC, kDigestB, kDigestA));
}

TEST_F(ContentTest, Errors) {
  EXPECT_THAT(Add("a", "sha256:nothex"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Tx([](Transaction& tx) {
                return tx.AddBlob("a", BlobInfo{kDigestA, -1, {}, {}, {}});
              }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.GetBlob("a", "bad"); }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Tx([](Transaction& tx) { return tx.DeleteBlob("a", kDigestA); }),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Tx([](Transaction& tx) {
                return tx.UpdateBlob("a", BlobInfo{kDigestA, 0, {}, {}, {}}, {"labels"});
              }),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(Add("a", kDigestA), IsOk());
  EXPECT_THAT(Tx([](Transaction& tx) {
                return tx.UpdateBlob("a", BlobInfo{kDigestA, 0, {}, {}, {}}, {"size"});
              }),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ContentTest, UpdateLabels) {
  ASSERT_THAT(Add("a", kDigestA, {{"x", "1"}, {"y", "2"}}), IsOk());
  clock_.Advance(absl::Seconds(2));
  absl::StatusOr<BlobInfo> updated = Tx([](Transaction& tx) {
    return tx.UpdateBlob(
        "a", BlobInfo{kDigestA, 999, {{"berth.io/gc.ref.content.l.0", kDigestB}}, {}, {}},
        {"labels.berth.io/gc.ref.content.l.0", "labels.x"});
  });
  ASSERT_THAT(updated, IsOk());
  EXPECT_THAT(updated->labels,
              ElementsAre(Pair("berth.io/gc.ref.content.l.0", kDigestB), Pair("y", "2")));
  EXPECT_EQ(updated->size, 42);  // size is not updatable
  EXPECT_EQ(updated->updated_at, clock_.Now());
  EXPECT_LT(updated->created_at, updated->updated_at);

  updated = Tx([](Transaction& tx) {
    return tx.UpdateBlob("a", BlobInfo{kDigestA, 0, {}, {}, {}});  // empty mask = labels
  });
  ASSERT_THAT(updated, IsOk());
  EXPECT_THAT(updated->labels, IsEmpty());
}

TEST_F(ContentTest, DeleteFromOneNamespaceKeepsTheOther) {
  ASSERT_THAT(Add("a", kDigestA), IsOk());
  ASSERT_THAT(Add("b", kDigestA), IsOk());
  EXPECT_THAT(*ReadTx([](Transaction& tx) { return tx.BlobHeldByAnyNamespace(kDigestA); }), true);
  ASSERT_THAT(Tx([](Transaction& tx) { return tx.DeleteBlob("a", kDigestA); }), IsOk());
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.GetBlob("a", kDigestA); }),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(*ReadTx([](Transaction& tx) { return tx.BlobHeldByAnyNamespace(kDigestA); }), true);
  ASSERT_THAT(Tx([](Transaction& tx) { return tx.DeleteBlob("b", kDigestA); }), IsOk());
  EXPECT_THAT(*ReadTx([](Transaction& tx) { return tx.BlobHeldByAnyNamespace(kDigestA); }), false);
  EXPECT_THAT(*ReadTx([](Transaction& tx) { return tx.ListAllBlobDigests(); }), IsEmpty());
}

}  // namespace
}  // namespace berth::containerd::metadata
