#include "registry/manifest/manifest.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::registry::manifest {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');
const std::string kC = "sha256:" + std::string(64, 'c');

std::string Desc(const std::string& media_type, const std::string& digest, int size = 10) {
  return absl::StrCat(R"({"mediaType":")", media_type, R"(","digest":")", digest,
                      R"(","size":)", size, "}");
}

std::string Image(const std::string& extra = "") {
  return absl::StrCat(R"({"schemaVersion":2,"mediaType":")", kOciManifest, R"(","config":)",
                      Desc("application/vnd.oci.image.config.v1+json", kA), R"(,"layers":[)",
                      Desc("application/vnd.oci.image.layer.v1.tar+gzip", kB), "]", extra, "}");
}

TEST(ManifestTest, ParsesOciImageManifest) {
  auto m = Parse(kOciManifest, Image(R"(,"annotations":{"k":"v"})"));
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->media_type, kOciManifest);
  EXPECT_FALSE(m->is_index);
  EXPECT_EQ(m->config->digest.ToString(), kA);
  ASSERT_EQ(m->ReferencedBlobs().size(), 2u);
  EXPECT_EQ(m->ReferencedBlobs()[1].ToString(), kB);
  EXPECT_EQ(m->annotations.at("k"), "v");
  EXPECT_EQ(m->EffectiveArtifactType(), "application/vnd.oci.image.config.v1+json");
  EXPECT_FALSE(m->subject.has_value());
}

TEST(ManifestTest, ContentTypeParametersAreIgnoredAndTypeIsInferred) {
  EXPECT_THAT(Parse(absl::StrCat(kOciManifest, "; charset=utf-8"), Image()), IsOk());
  auto inferred = Parse("", absl::StrCat(R"({"schemaVersion":2,"manifests":[)",
                                         Desc(std::string(kOciManifest), kA), "]}"));
  ASSERT_THAT(inferred, IsOk());
  EXPECT_EQ(inferred->media_type, kOciIndex);
  EXPECT_TRUE(inferred->is_index);
  EXPECT_EQ(inferred->ReferencedManifests()[0].ToString(), kA);
}

TEST(ManifestTest, SubjectAndArtifactType) {
  auto m = Parse(kOciManifest, Image(absl::StrCat(R"(,"artifactType":"application/x-sbom")",
                                                  R"(,"subject":)", Desc(std::string(kOciManifest), kC))));
  ASSERT_THAT(m, IsOk());
  ASSERT_TRUE(m->subject.has_value());
  EXPECT_EQ(m->subject->digest.ToString(), kC);
  EXPECT_EQ(m->EffectiveArtifactType(), "application/x-sbom");
}

TEST(ManifestTest, ForeignLayersWithUrlsAreNotRequired) {
  const std::string body = absl::StrCat(
      R"({"schemaVersion":2,"mediaType":")", kDockerManifest, R"(","config":)",
      Desc("application/vnd.docker.container.image.v1+json", kA), R"(,"layers":[{"mediaType":)",
      R"("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":")", kB,
      R"(","size":5,"urls":["https://example.com/l"]}]})");
  auto m = Parse(kDockerManifest, body);
  ASSERT_THAT(m, IsOk());
  ASSERT_EQ(m->ReferencedBlobs().size(), 1u);
  EXPECT_EQ(m->ReferencedBlobs()[0].ToString(), kA);
}

TEST(ManifestTest, RejectsMalformedManifests) {
  const auto invalid = [](const std::string& content_type, const std::string& body) {
    return Parse(content_type, body).status();
  };
  EXPECT_THAT(invalid(std::string(kOciManifest), "not json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not valid JSON")));
  EXPECT_THAT(invalid(std::string(kOciManifest), "[]"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a JSON object")));
  EXPECT_THAT(invalid(std::string(kOciManifest), R"({"schemaVersion":1})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("schemaVersion")));
  EXPECT_THAT(invalid("application/x-foo", Image()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unsupported")));
  EXPECT_THAT(invalid(std::string(kOciIndex), Image()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not match")));
  EXPECT_THAT(invalid("", R"({"schemaVersion":2})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cannot tell")));
  EXPECT_THAT(
      invalid(std::string(kOciManifest),
              absl::StrCat(R"({"schemaVersion":2,"config":)", Desc("a/b", "sha256:xyz"),
                           R"(,"layers":[]})")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("config.digest")));
  EXPECT_THAT(invalid(std::string(kOciManifest),
                      absl::StrCat(R"({"schemaVersion":2,"config":)", Desc("a/b", kA, -1),
                                   R"(,"layers":[]})")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("size")));
  EXPECT_THAT(invalid(std::string(kOciManifest),
                      absl::StrCat(R"({"schemaVersion":2,"config":)", Desc("a/b", kA),
                                   R"(,"layers":{}})")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("layers")));
  EXPECT_THAT(invalid(std::string(kOciManifest),
                      absl::StrCat(R"({"schemaVersion":2,"config":)", Desc("a/b", kA),
                                   R"(,"layers":[],"annotations":{"k":1}})")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("annotation")));
  EXPECT_THAT(invalid(std::string(kDockerManifest),
                      absl::StrCat(R"({"schemaVersion":2,"config":)", Desc("a/b", kA),
                                   R"(,"layers":[]})")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("mediaType")));
  EXPECT_THAT(invalid(std::string(kOciManifest), std::string("{\"schemaVersion\":2,\"x\":\"\xff\"}")),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ManifestTest, StripParameters) {
  EXPECT_EQ(StripParameters(" application/json ; charset=utf-8"), "application/json");
  EXPECT_EQ(StripParameters(""), "");
  EXPECT_THAT(std::vector<bool>({IsIndexMediaType(kOciIndex), IsIndexMediaType(kDockerManifest)}),
              ElementsAre(true, false));
}

}  // namespace
}  // namespace berth::registry::manifest
