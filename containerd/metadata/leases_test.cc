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
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::kDigestA;
using ::testing::Pair;
using testing::StoreTest;

class LeasesTest : public StoreTest {
 protected:
  absl::StatusOr<Lease> Create(const Lease& lease, const std::string& ns = "default") {
    return Tx([&](Transaction& tx) { return tx.CreateLease(ns, lease); });
  }
  absl::Status Add(const std::string& lease, const LeaseResource& r) {
    return Tx([&](Transaction& tx) { return tx.AddLeaseResource("default", lease, r); });
  }
  absl::StatusOr<std::vector<LeaseResource>> Resources(const std::string& lease) {
    return ReadTx([&](Transaction& tx) { return tx.ListLeaseResources("default", lease); });
  }
};

TEST_F(LeasesTest, CreateGetListDelete) {
  const absl::Time expiry = clock_.Now() + absl::Hours(1);
  absl::StatusOr<Lease> created = Create(Lease{"pull-1", {{"who", "berthd"}}, {}, expiry});
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(created->created_at, clock_.Now());
  ASSERT_TRUE(created->expires_at.has_value());
  EXPECT_EQ(*created->expires_at, expiry);
  ASSERT_THAT(Create(Lease{"forever", {}, {}, std::nullopt}), IsOk());

  absl::StatusOr<Lease> got =
      ReadTx([](Transaction& tx) { return tx.GetLease("default", "forever"); });
  ASSERT_THAT(got, IsOk());
  EXPECT_FALSE(got->expires_at.has_value());

  absl::StatusOr<std::vector<Lease>> all =
      ReadTx([](Transaction& tx) { return tx.ListLeases("default"); });
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "forever");
  EXPECT_EQ((*all)[1].id, "pull-1");
  EXPECT_THAT((*all)[1].labels, ElementsAre(Pair("who", "berthd")));
  EXPECT_EQ(ReadTx([](Transaction& tx) {
              return tx.ListLeases("default", [](const Lease& l) { return l.labels.empty(); });
            })->size(),
            1u);

  ASSERT_THAT(Tx([](Transaction& tx) { return tx.DeleteLease("default", "pull-1"); }), IsOk());
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.GetLease("default", "pull-1"); }),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Tx([](Transaction& tx) { return tx.DeleteLease("default", "pull-1"); }),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(LeasesTest, CreateErrors) {
  ASSERT_THAT(Create(Lease{"l", {}, {}, {}}), IsOk());
  EXPECT_THAT(Create(Lease{"l", {}, {}, {}}), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(Create(Lease{"l", {}, {}, {}}, "other"), IsOk());  // ids are per namespace
  EXPECT_THAT(Create(Lease{"", {}, {}, {}}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Create(Lease{"a/b", {}, {}, {}}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Create(Lease{"x", {{"", "v"}}, {}, {}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.GetLease("default", ""); }),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(LeasesTest, ExpireLabelSetsExpiry) {
  absl::StatusOr<Lease> lease =
      Create(Lease{"c", {{"berth.io/gc.expire", "2024-01-02T03:04:05Z"}}, {}, std::nullopt});
  ASSERT_THAT(lease, IsOk());
  ASSERT_TRUE(lease->expires_at.has_value());
  EXPECT_EQ(*lease->expires_at, absl::FromUnixSeconds(1704164645));
  EXPECT_THAT(lease->labels, ElementsAre(Pair("berth.io/gc.expire", "2024-01-02T03:04:05Z")));

  EXPECT_THAT(Create(Lease{"d", {{"berth.io/gc.expire", "tomorrow"}}, {}, std::nullopt}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("RFC 3339")));
  EXPECT_THAT(
      Create(Lease{"e", {{"berth.io/gc.expire", "2024-01-02T03:04:05Z"}}, {}, clock_.Now()}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("both")));
}

TEST_F(LeasesTest, Resources) {
  ASSERT_THAT(Create(Lease{"l", {}, {}, {}}), IsOk());
  ASSERT_THAT(Add("l", {"snapshots/overlayfs", "extract-1"}), IsOk());
  ASSERT_THAT(Add("l", {"content", kDigestA}), IsOk());  // need not exist yet
  ASSERT_THAT(Add("l", {"ingests", "layer-sha256:abc"}), IsOk());
  ASSERT_THAT(Add("l", {"content", kDigestA}), IsOk());  // idempotent
  EXPECT_THAT(*Resources("l"), ElementsAre(LeaseResource{"content", kDigestA},
                                           LeaseResource{"ingests", "layer-sha256:abc"},
                                           LeaseResource{"snapshots/overlayfs", "extract-1"}));

  ASSERT_THAT(Tx([](Transaction& tx) {
                return tx.DeleteLeaseResource("default", "l", {"ingests", "layer-sha256:abc"});
              }),
              IsOk());
  ASSERT_THAT(Tx([](Transaction& tx) {  // idempotent
                return tx.DeleteLeaseResource("default", "l", {"ingests", "layer-sha256:abc"});
              }),
              IsOk());
  EXPECT_EQ(Resources("l")->size(), 2u);

  EXPECT_THAT(Add("l", {"images", "x"}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Add("l", {"content", ""}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Add("missing", {"content", kDigestA}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Resources("missing"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Tx([](Transaction& tx) {
                return tx.DeleteLeaseResource("default", "missing", {"content", kDigestA});
              }),
              StatusIs(absl::StatusCode::kNotFound));

  // Deleting the lease drops its resources; a new lease with the same id starts empty.
  ASSERT_THAT(Tx([](Transaction& tx) { return tx.DeleteLease("default", "l"); }), IsOk());
  ASSERT_THAT(Create(Lease{"l", {}, {}, {}}), IsOk());
  EXPECT_THAT(*Resources("l"), IsEmpty());
  EXPECT_THAT(store_->CheckIntegrity(), IsOk());
}

}  // namespace
}  // namespace berth::containerd::metadata
