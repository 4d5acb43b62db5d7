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
using ::testing::Pair;
using testing::StoreTest;

Container MakeContainer(const std::string& id) {
  Container c;
  c.id = id;
  c.labels = {{"com.example.app", "web"}};
  c.image = "docker.io/library/alpine:3.19";
  c.runtime = {"berth-runc", std::string("\x0a\x03"
                                         "abc\x00\xff",
                                         7)};  // opaque bytes
  c.spec = R"({"ociVersion":"1.1.0","root":{"path":"rootfs"}})";
  c.snapshotter = "overlayfs";
  c.snapshot_key = id + "-rootfs";
  c.sandbox_id = "";
  c.extensions = {{"berth.engine.container", std::string("\x00\x01\x02", 3)}};
  return c;
}

class ContainersTest : public StoreTest {
 protected:
  absl::StatusOr<Container> Create(const Container& c) {
    return Tx([&](Transaction& tx) { return tx.CreateContainer("default", c); });
  }
  absl::StatusOr<Container> Get(const std::string& id) {
    return ReadTx([&](Transaction& tx) { return tx.GetContainer("default", id); });
  }
  absl::StatusOr<Container> Update(const Container& c, std::vector<std::string> paths) {
    return Tx([&](Transaction& tx) { return tx.UpdateContainer("default", c, paths); });
  }
};

void ExpectSameRecord(const Container& a, const Container& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.image, b.image);
  EXPECT_EQ(a.runtime.name, b.runtime.name);
  EXPECT_EQ(a.runtime.options, b.runtime.options);
  EXPECT_EQ(a.spec, b.spec);
  EXPECT_EQ(a.snapshotter, b.snapshotter);
  EXPECT_EQ(a.snapshot_key, b.snapshot_key);
  EXPECT_EQ(a.sandbox_id, b.sandbox_id);
  EXPECT_EQ(a.extensions, b.extensions);
}

TEST_F(ContainersTest, CreateGetRoundTripsBytesExactly) {
  const Container c = MakeContainer("3f2a");
  absl::StatusOr<Container> created = Create(c);
  ASSERT_THAT(created, IsOk());
  ExpectSameRecord(*created, c);
  EXPECT_EQ(created->created_at, clock_.Now());
  Reopen();
  absl::StatusOr<Container> got = Get("3f2a");
  ASSERT_THAT(got, IsOk());
  ExpectSameRecord(*got, c);
  EXPECT_EQ(got->runtime.options.size(), 7u);  // embedded NUL kept
}

TEST_F(ContainersTest, CreateErrors) {
  ASSERT_THAT(Create(MakeContainer("c1")), IsOk());
  EXPECT_THAT(Create(MakeContainer("c1")), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(Create(MakeContainer("")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Create(MakeContainer("-bad")), StatusIs(absl::StatusCode::kInvalidArgument));
  Container bad = MakeContainer("c2");
  bad.spec = "[1, 2]";
  EXPECT_THAT(Create(bad), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("array")));
  bad.spec = "{not json";
  EXPECT_THAT(Create(bad), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("JSON")));
  bad.spec = "";  // empty spec is allowed until a task is created
  EXPECT_THAT(Create(bad), IsOk());
  bad = MakeContainer("c3");
  bad.snapshotter = "over.lay";
  EXPECT_THAT(Create(bad), StatusIs(absl::StatusCode::kInvalidArgument));
  bad = MakeContainer("c3");
  bad.extensions[""] = "x";
  EXPECT_THAT(Create(bad), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Get("nope"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Get(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ContainersTest, ListOrderedByIdWithMapsAndFilter) {
  for (const char* id : {"b", "a", "c"}) {
    Container c = MakeContainer(id);
    c.labels["id"] = id;
    c.extensions["ext"] = std::string("v-") + id;
    ASSERT_THAT(Create(c), IsOk());
  }
  absl::StatusOr<std::vector<Container>> all =
      ReadTx([](Transaction& tx) { return tx.ListContainers("default"); });
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const std::string id(1, static_cast<char>('a' + i));
    EXPECT_EQ((*all)[i].id, id);
    EXPECT_EQ((*all)[i].labels.at("id"), id);
    EXPECT_EQ((*all)[i].extensions.at("ext"), "v-" + id);
  }
  absl::StatusOr<std::vector<Container>> some = ReadTx([](Transaction& tx) {
    return tx.ListContainers("default",
                             [](const Container& c) { return c.labels.at("id") != "b"; });
  });
  ASSERT_THAT(some, IsOk());
  EXPECT_EQ(some->size(), 2u);
}

TEST_F(ContainersTest, UpdateFieldPaths) {
  ASSERT_THAT(Create(MakeContainer("c")), IsOk());
  clock_.Advance(absl::Seconds(1));

  Container change;
  change.id = "c";
  change.image = "new-image";
  change.spec = R"({"ociVersion":"1.2.0"})";
  change.runtime = {"runc", ""};
  change.snapshot_key = "other-key";
  change.sandbox_id = "pod1";
  change.labels = {{"added", "1"}};
  change.extensions = {{"more", "x"}};

  absl::StatusOr<Container> updated = Update(change, {"image", "spec"});
  ASSERT_THAT(updated, IsOk());
  EXPECT_EQ(updated->image, "new-image");
  EXPECT_EQ(updated->spec, change.spec);
  EXPECT_EQ(updated->runtime.name, "berth-runc");  // not in the mask
  EXPECT_EQ(updated->snapshot_key, "c-rootfs");
  EXPECT_EQ(updated->updated_at, clock_.Now());

  updated = Update(change, {"runtime", "snapshot_key", "sandbox_id", "labels.added",
                            "labels.com.example.app", "extensions.more"});
  ASSERT_THAT(updated, IsOk());
  EXPECT_EQ(updated->runtime.name, "runc");
  EXPECT_EQ(updated->runtime.options, "");
  EXPECT_EQ(updated->snapshot_key, "other-key");
  EXPECT_EQ(updated->sandbox_id, "pod1");
  EXPECT_THAT(updated->labels, ElementsAre(Pair("added", "1")));  // app label removed
  EXPECT_THAT(updated->extensions,
              ElementsAre(Pair("berth.engine.container", std::string("\x00\x01\x02", 3)),
                          Pair("more", "x")));

  // Empty mask: every mutable field; snapshotter and id stay.
  Container full = MakeContainer("c");
  full.snapshotter = "ignored";
  full.labels = {};
  updated = Update(full, {});
  ASSERT_THAT(updated, IsOk());
  EXPECT_EQ(updated->snapshotter, "overlayfs");
  EXPECT_THAT(updated->labels, IsEmpty());
  EXPECT_EQ(updated->image, full.image);
  EXPECT_EQ(updated->snapshot_key, full.snapshot_key);
  EXPECT_THAT(updated->extensions, ElementsAre(Pair("berth.engine.container", ::testing::_)));
}

TEST_F(ContainersTest, UpdateErrors) {
  ASSERT_THAT(Create(MakeContainer("c")), IsOk());
  for (const char* immutable : {"id", "snapshotter", "created_at", "updated_at"}) {
    EXPECT_THAT(Update(MakeContainer("c"), {immutable}),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cannot be changed")))
        << immutable;
  }
  EXPECT_THAT(Update(MakeContainer("c"), {"bogus"}), StatusIs(absl::StatusCode::kInvalidArgument));
  Container bad = MakeContainer("c");
  bad.spec = "3";
  EXPECT_THAT(Update(bad, {"spec"}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Update(MakeContainer("missing"), {"image"}), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ContainersTest, Delete) {
  ASSERT_THAT(Create(MakeContainer("c")), IsOk());
  EXPECT_THAT(Tx([](Transaction& tx) { return tx.DeleteContainer("default", "c"); }), IsOk());
  EXPECT_THAT(Get("c"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Tx([](Transaction& tx) { return tx.DeleteContainer("default", "c"); }),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->CheckIntegrity(), IsOk());
}

}  // namespace
}  // namespace berth::containerd::metadata
