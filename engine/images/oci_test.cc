#include "engine/images/oci.h"

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace berth::engine::images::oci {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');

TEST(OciTest, ChainIdsFollowTheImageSpec) {
  // image-spec config.md: ChainID(A|B) = sha256(ChainID(A) + " " + DiffID(B)).
  auto chain = ChainIds({kA, kB});
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0], kA);
  // printf '%s %s' sha256:aaa... sha256:bbb... | sha256sum
  EXPECT_EQ(chain[1], "sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c")
      << "recompute with: printf '%s %s' " << kA << " " << kB << " | sha256sum";
  EXPECT_TRUE(ChainIds({}).empty());
}

TEST(OciTest, ManifestRoundTripIsStable) {
  Manifest m;
  m.media_type = kMediaTypeManifest;
  m.config.set_media_type(kMediaTypeConfig);
  m.config.set_digest(kA);
  m.config.set_size(10);
  Descriptor l;
  l.set_media_type(kMediaTypeLayerGzip);
  l.set_digest(kB);
  l.set_size(20);
  m.layers.push_back(l);
  const std::string json = ManifestJson(m);
  EXPECT_THAT(json, HasSubstr("\"schemaVersion\":2"));
  auto back = ParseManifest(json);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->config.digest(), kA);
  ASSERT_EQ(back->layers.size(), 1u);
  EXPECT_EQ(back->layers[0].media_type(), kMediaTypeLayerGzip);
  EXPECT_EQ(ManifestJson(*back), json);
}

TEST(OciTest, RejectsMalformedDocuments) {
  EXPECT_THAT(ParseManifest("{"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseManifest("{}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("config")));
  EXPECT_THAT(ParseManifest(R"({"config":{"digest":"sha256:zz","size":1}})"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseIndex(R"({"manifests":[{"digest":")" + kA + R"(","size":-1}]})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("size")));
  auto cfg = ParseJson(R"({"rootfs":{"type":"layers","diff_ids":["nope"]}})", "c");
  ASSERT_THAT(cfg, IsOk());
  EXPECT_THAT(DiffIds(*cfg), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(OciTest, IndexKeepsAnnotationsAndPlatform) {
  Index index;
  Descriptor d;
  d.set_media_type(kMediaTypeManifest);
  d.set_digest(kA);
  d.set_size(5);
  (*d.mutable_annotations())[kAnnotationRefName] = "latest";
  d.mutable_platform()->set_os("linux");
  d.mutable_platform()->set_architecture("amd64");
  index.manifests.push_back(d);
  auto back = ParseIndex(IndexJson(index));
  ASSERT_THAT(back, IsOk());
  ASSERT_EQ(back->manifests.size(), 1u);
  EXPECT_EQ(back->manifests[0].annotations().at(kAnnotationRefName), "latest");
  EXPECT_EQ(back->manifests[0].platform().architecture(), "amd64");
}

TEST(OciTest, Times) {
  absl::Time t;
  ASSERT_TRUE(ParseRfc3339("2024-05-01T10:00:00.5Z", &t));
  EXPECT_EQ(FormatRfc3339(t), "2024-05-01T10:00:00.5Z");
  ASSERT_TRUE(ParseRfc3339("2024-05-01T12:00:00+02:00", &t));
  EXPECT_EQ(FormatRfc3339(t), "2024-05-01T10:00:00Z");
  EXPECT_FALSE(ParseRfc3339("yesterday", &t));
}

}  // namespace
}  // namespace berth::engine::images::oci
