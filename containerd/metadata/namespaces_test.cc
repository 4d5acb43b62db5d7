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

class NamespacesTest : public StoreTest {};

std::vector<std::string> Names(const std::vector<Namespace>& all) {
  std::vector<std::string> out;
  for (const Namespace& ns : all) out.push_back(ns.name);
  return out;
}

TEST_F(NamespacesTest, CreateGetList) {
  absl::StatusOr<Namespace> created = Tx([](Transaction& tx) {
    return tx.CreateNamespace(Namespace{"berth", {{"owner", "berthd"}}, {}, {}});
  });
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(created->name, "berth");
  EXPECT_THAT(created->labels, ElementsAre(Pair("owner", "berthd")));
  EXPECT_EQ(created->created_at, clock_.Now());
  EXPECT_EQ(created->updated_at, clock_.Now());

  ASSERT_THAT(Tx([](Transaction& tx) {
                return tx.CreateNamespace({"default", {}, {}, {}});
              }),
              IsOk());
  absl::StatusOr<std::vector<Namespace>> all =
      ReadTx([](Transaction& tx) { return tx.ListNamespaces(); });
  ASSERT_THAT(all, IsOk());
  EXPECT_THAT(Names(*all), ElementsAre("berth", "default"));  // ordered by name
  EXPECT_THAT((*all)[0].labels, ElementsAre(Pair("owner", "berthd")));

  absl::StatusOr<std::vector<Namespace>> filtered = ReadTx([](Transaction& tx) {
    return tx.ListNamespaces([](const Namespace& ns) { return ns.labels.count("owner") > 0; });
  });
  ASSERT_THAT(filtered, IsOk());
  EXPECT_THAT(Names(*filtered), ElementsAre("berth"));
}

TEST_F(NamespacesTest, Errors) {
  ASSERT_THAT(Tx([](Transaction& tx) { return tx.CreateNamespace({"a", {}, {}, {}}); }), IsOk());
  EXPECT_THAT(Tx([](Transaction& tx) {
                return tx.CreateNamespace({"a", {}, {}, {}});
              }),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("\"a\"")));
  EXPECT_THAT(Tx([](Transaction& tx) {
                return tx.CreateNamespace({"a..b", {}, {}, {}});
              }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Tx([](Transaction& tx) {
                return tx.CreateNamespace({"b", {{"", "x"}}, {}, {}});
              }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.GetNamespace("missing"); }),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.GetNamespace("bad name"); }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Tx([](Transaction& tx) { return tx.DeleteNamespace("missing"); }),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Tx([](Transaction& tx) {
                return tx.UpdateNamespace({"missing", {}, {}, {}}, {"labels"});
              }),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Tx([](Transaction& tx) {
                return tx.UpdateNamespace({"a", {}, {}, {}}, {"name"});
              }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"name\"")));
}

TEST_F(NamespacesTest, UpdateLabelPaths) {
  ASSERT_THAT(Tx([](Transaction& tx) {
                return tx.CreateNamespace({"ns", {{"a", "1"}, {"b", "2"}, {"c", "3"}}, {}, {}});
              }),
              IsOk());
  clock_.Advance(absl::Seconds(1));
  // labels.<key>: set a, remove b (absent), remove c (empty), add d; other keys untouched.
  absl::StatusOr<Namespace> ns = Tx([](Transaction& tx) {
    return tx.UpdateNamespace(
        {"ns", {{"a", "10"}, {"c", ""}, {"d", "4"}, {"zz", "ignored"}}, {}, {}},
        {"labels.a", "labels.b", "labels.c", "labels.d"});
  });
  ASSERT_THAT(ns, IsOk());
  EXPECT_THAT(ns->labels, ElementsAre(Pair("a", "10"), Pair("d", "4")));
  EXPECT_EQ(ns->updated_at, clock_.Now());
  EXPECT_LT(ns->created_at, ns->updated_at);

  // An empty mask means `labels`: replace everything.
  ns = Tx([](Transaction& tx) { return tx.UpdateNamespace({"ns", {{"x", "y"}}, {}, {}}); });
  ASSERT_THAT(ns, IsOk());
  EXPECT_THAT(ns->labels, ElementsAre(Pair("x", "y")));
}

TEST_F(NamespacesTest, ImplicitCreationOnFirstUse) {
  ASSERT_THAT(Tx([](Transaction& tx) {
                Image image;
                image.name = "img";
                image.target = {"application/vnd.oci.image.index.v1+json", kDigestA, 1, {}, ""};
                return tx.CreateImage("k8s.io", image);
              }),
              IsOk());
  absl::StatusOr<Namespace> ns = ReadTx([](Transaction& tx) { return tx.GetNamespace("k8s.io"); });
  ASSERT_THAT(ns, IsOk());
  EXPECT_THAT(ns->labels, IsEmpty());
  // EnsureNamespace is idempotent and keeps labels.
  ASSERT_THAT(Tx([](Transaction& tx) {
                return tx.CreateNamespace({"x", {{"k", "v"}}, {}, {}});
              }),
              IsOk());
  ASSERT_THAT(Tx([](Transaction& tx) { return tx.EnsureNamespace("x"); }), IsOk());
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.GetNamespace("x"); })->labels,
              ElementsAre(Pair("k", "v")));
  EXPECT_THAT(Tx([](Transaction& tx) { return tx.EnsureNamespace(""); }),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(NamespacesTest, DeleteOnlyWhenEmpty) {
  ASSERT_THAT(Tx([](Transaction& tx) -> absl::Status {
                Image image;
                image.name = "img";
                image.target = {"application/vnd.oci.image.index.v1+json", kDigestA, 1, {}, ""};
                if (auto s = tx.CreateImage("busy", image); !s.ok()) return s.status();
                if (auto s = tx.CreateLease("busy", Lease{"l", {}, {}, {}}); !s.ok()) {
                  return s.status();
                }
                Snapshot snap;
                snap.name = "s";
                return tx.CreateSnapshot("busy", "overlayfs", snap).status();
              }),
              IsOk());
  EXPECT_THAT(Tx([](Transaction& tx) { return tx.DeleteNamespace("busy"); }),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("1 images, 1 snapshots, 1 leases")));
  ASSERT_THAT(Tx([](Transaction& tx) -> absl::Status {
                if (auto s = tx.DeleteImage("busy", "img"); !s.ok()) return s;
                if (auto s = tx.DeleteLease("busy", "l"); !s.ok()) return s;
                return tx.RemoveSnapshot("busy", "overlayfs", "s").status();
              }),
              IsOk());
  EXPECT_THAT(Tx([](Transaction& tx) { return tx.DeleteNamespace("busy"); }), IsOk());
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.GetNamespace("busy"); }),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(NamespacesTest, ObjectsAreIsolatedByNamespace) {
  ASSERT_THAT(Tx([](Transaction& tx) -> absl::Status {
                Image image;
                image.name = "same-name";
                image.target = {"application/vnd.oci.image.index.v1+json", kDigestA, 1, {}, ""};
                image.labels = {{"ns", "a"}};
                if (auto s = tx.CreateImage("a", image); !s.ok()) return s.status();
                image.labels = {{"ns", "b"}};
                return tx.CreateImage("b", image).status();  // same name, other namespace
              }),
              IsOk());
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.GetImage("a", "same-name"); })->labels,
              ElementsAre(Pair("ns", "a")));
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.GetImage("b", "same-name"); })->labels,
              ElementsAre(Pair("ns", "b")));
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.GetImage("c", "same-name"); }),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(*ReadTx([](Transaction& tx) { return tx.ListImages("c"); }), IsEmpty());
  ASSERT_THAT(Tx([](Transaction& tx) { return tx.DeleteImage("a", "same-name"); }), IsOk());
  EXPECT_THAT(ReadTx([](Transaction& tx) { return tx.GetImage("b", "same-name"); }), IsOk());
  EXPECT_THAT(*ReadTx([](Transaction& tx) { return tx.ListNamespaces(); }), ::testing::SizeIs(2));
}

}  // namespace
}  // namespace berth::containerd::metadata
