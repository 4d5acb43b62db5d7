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
using testing::kDigestB;
using ::testing::Pair;
using testing::StoreTest;

constexpr char kIndexType[] = "application/vnd.oci.image.index.v1+json";
constexpr char kManifestType[] = "application/vnd.oci.image.manifest.v1+json";

Image MakeImage(const std::string& name, const std::string& digest = kDigestA) {
  Image image;
  image.name = name;
  image.labels = {{"a", "1"}, {"b", "2"}};
  image.target = {kIndexType, digest, 1234, {{"org.opencontainers.image.ref.name", "3.19"}}, ""};
  return image;
}

class ImagesTest : public StoreTest {
 protected:
  absl::StatusOr<Image> Create(const Image& image, const std::string& ns = "default") {
    return Tx([&](Transaction& tx) { return tx.CreateImage(ns, image); });
  }
  absl::StatusOr<Image> Get(const std::string& name) {
    return ReadTx([&](Transaction& tx) { return tx.GetImage("default", name); });
  }
  absl::StatusOr<Image> Update(const Image& image, std::vector<std::string> paths) {
    return Tx([&](Transaction& tx) { return tx.UpdateImage("default", image, paths); });
  }
};

TEST_F(ImagesTest, CreateGetRoundTripsEveryField) {
  Image image = MakeImage("docker.io/library/alpine:3.19");
  image.target.artifact_type = "application/vnd.example";
  image.created_at = absl::UnixEpoch();  // ignored
  absl::StatusOr<Image> created = Create(image);
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(created->created_at, clock_.Now());
  EXPECT_EQ(created->updated_at, clock_.Now());

  absl::StatusOr<Image> got = Get("docker.io/library/alpine:3.19");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->name, image.name);
  EXPECT_EQ(got->labels, image.labels);
  EXPECT_EQ(got->target, image.target);
  EXPECT_EQ(got->created_at, clock_.Now());
}

TEST_F(ImagesTest, CreateErrors) {
  ASSERT_THAT(Create(MakeImage("x")), IsOk());
  EXPECT_THAT(Create(MakeImage("x")), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(Create(MakeImage("")), StatusIs(absl::StatusCode::kInvalidArgument));
  Image bad = MakeImage("y");
  bad.target.digest = "sha256:short";
  EXPECT_THAT(Create(bad), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("digest")));
  bad = MakeImage("y");
  bad.target.size = 0;
  EXPECT_THAT(Create(bad), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("size")));
  bad = MakeImage("y");
  bad.target.media_type = "";
  EXPECT_THAT(Create(bad), StatusIs(absl::StatusCode::kInvalidArgument));
  bad = MakeImage("y");
  bad.labels[std::string(4000, 'k')] = std::string(100, 'v');
  EXPECT_THAT(Create(bad), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Create(MakeImage("y"), "Not Valid"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Get("missing"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing")));
  EXPECT_THAT(Get(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ImagesTest, ListIsOrderedAndFiltered) {
  for (const char* name : {"c", "a", "b"}) ASSERT_THAT(Create(MakeImage(name)), IsOk());
  Image other = MakeImage("d", kDigestB);
  other.labels = {{"keep", "yes"}};
  other.target.media_type = kManifestType;
  ASSERT_THAT(Create(other), IsOk());

  absl::StatusOr<std::vector<Image>> all =
      ReadTx([](Transaction& tx) { return tx.ListImages("default"); });
  ASSERT_THAT(all, IsOk());
  std::vector<std::string> names;
  for (const Image& i : *all) names.push_back(i.name);
  EXPECT_THAT(names, ElementsAre("a", "b", "c", "d"));
  // Labels and annotations come back with List too, each on its own image.
  EXPECT_THAT((*all)[0].labels, ElementsAre(Pair("a", "1"), Pair("b", "2")));
  EXPECT_THAT((*all)[3].labels, ElementsAre(Pair("keep", "yes")));
  EXPECT_THAT((*all)[3].target.annotations,
              ElementsAre(Pair("org.opencontainers.image.ref.name", "3.19")));

  absl::StatusOr<std::vector<Image>> manifests = ReadTx([](Transaction& tx) {
    return tx.ListImages("default",
                         [](const Image& i) { return i.target.media_type == kManifestType; });
  });
  ASSERT_THAT(manifests, IsOk());
  ASSERT_EQ(manifests->size(), 1u);
  EXPECT_EQ((*manifests)[0].name, "d");
}

TEST_F(ImagesTest, UpdateFieldPaths) {
  ASSERT_THAT(Create(MakeImage("img")), IsOk());
  clock_.Advance(absl::Seconds(3));

  // labels.<key>: set one, remove one; target untouched even though the new value differs.
  Image change = MakeImage("img", kDigestB);
  change.labels = {{"a", "changed"}, {"c", "new"}};
  absl::StatusOr<Image> updated = Update(change, {"labels.a", "labels.b", "labels.c"});
  ASSERT_THAT(updated, IsOk());
  EXPECT_THAT(updated->labels, ElementsAre(Pair("a", "changed"), Pair("c", "new")));
  EXPECT_EQ(updated->target.digest, kDigestA);
  EXPECT_EQ(updated->updated_at, clock_.Now());

  // target: moves the image and replaces its annotations; labels untouched.
  change.target.annotations = {{"x", "y"}};
  updated = Update(change, {"target"});
  ASSERT_THAT(updated, IsOk());
  EXPECT_EQ(updated->target.digest, kDigestB);
  EXPECT_THAT(updated->target.annotations, ElementsAre(Pair("x", "y")));
  EXPECT_THAT(updated->labels, ElementsAre(Pair("a", "changed"), Pair("c", "new")));

  // labels: replaces all.
  change.labels = {{"only", "this"}};
  updated = Update(change, {"labels"});
  ASSERT_THAT(updated, IsOk());
  EXPECT_THAT(updated->labels, ElementsAre(Pair("only", "this")));

  // Empty mask: labels and target.
  Image full = MakeImage("img", kDigestA);
  full.labels = {};
  updated = Update(full, {});
  ASSERT_THAT(updated, IsOk());
  EXPECT_THAT(updated->labels, IsEmpty());
  EXPECT_EQ(updated->target.digest, kDigestA);
  absl::StatusOr<Image> got = Get("img");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->target, updated->target);
  EXPECT_EQ(got->labels, updated->labels);
}

TEST_F(ImagesTest, UpdateErrors) {
  ASSERT_THAT(Create(MakeImage("img")), IsOk());
  EXPECT_THAT(Update(MakeImage("missing"), {"labels"}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Update(MakeImage("img"), {"name"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"name\"")));
  EXPECT_THAT(Update(MakeImage("img"), {"target.digest"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Update(MakeImage("img"), {"labels."}), StatusIs(absl::StatusCode::kInvalidArgument));
  Image bad = MakeImage("img");
  bad.target.size = -1;
  EXPECT_THAT(Update(bad, {"target"}), StatusIs(absl::StatusCode::kInvalidArgument));
  // A bad target is fine when the mask does not touch it.
  EXPECT_THAT(Update(bad, {"labels"}), IsOk());
  // Nothing changed by the failed calls.
  EXPECT_EQ(Get("img")->target.size, 1234);
}

TEST_F(ImagesTest, DeleteWithAndWithoutTargetGuard) {
  ASSERT_THAT(Create(MakeImage("img")), IsOk());
  EXPECT_THAT(Tx([](Transaction& tx) { return tx.DeleteImage("default", "img", kDigestB); }),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(kDigestA)));
  EXPECT_THAT(Get("img"), IsOk());
  EXPECT_THAT(Tx([](Transaction& tx) { return tx.DeleteImage("default", "img", kDigestA); }),
              IsOk());
  EXPECT_THAT(Get("img"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Tx([](Transaction& tx) { return tx.DeleteImage("default", "img"); }),
              StatusIs(absl::StatusCode::kNotFound));
  // Re-creating gets fresh labels: the old label rows went with the image.
  Image again = MakeImage("img");
  again.labels = {};
  ASSERT_THAT(Create(again), IsOk());
  EXPECT_THAT(Get("img")->labels, IsEmpty());
  EXPECT_THAT(store_->CheckIntegrity(), IsOk());
}

}  // namespace
}  // namespace berth::containerd::metadata
