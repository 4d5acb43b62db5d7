#include "engine/reference/reference.h"

#include <string>

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace berth::engine::reference {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

const std::string kHex(64, 'a');
const std::string kDigest = "sha256:" + std::string(64, 'a');

struct Valid {
  std::string in;
  std::string normalized;  // ParseNormalized(in).String()
  std::string familiar;    // FamiliarString()
  std::string docker_ref;  // ParseDockerRef(in).String()
};

class ValidTest : public ::testing::TestWithParam<Valid> {};

TEST_P(ValidTest, NormalizesLikeDocker) {
  const Valid& v = GetParam();
  auto ref = ParseNormalized(v.in);
  ASSERT_THAT(ref, IsOk()) << v.in;
  EXPECT_EQ(ref->String(), v.normalized);
  EXPECT_EQ(ref->FamiliarString(), v.familiar);
  auto docker = ParseDockerRef(v.in);
  ASSERT_THAT(docker, IsOk());
  EXPECT_EQ(docker->String(), v.docker_ref);
  // The normalized and familiar forms parse back to the same reference.
  auto again = ParseNormalized(ref->String());
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->String(), v.normalized);
  auto fam = ParseNormalized(ref->FamiliarString());
  ASSERT_THAT(fam, IsOk());
  EXPECT_EQ(fam->String(), v.normalized);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ValidTest,
    ::testing::Values(
        Valid{"busybox", "docker.io/library/busybox", "busybox",
              "docker.io/library/busybox:latest"},
        Valid{"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36",
              "docker.io/library/busybox:1.36"},
        Valid{"library/busybox", "docker.io/library/busybox", "busybox",
              "docker.io/library/busybox:latest"},
        Valid{"docker.io/busybox", "docker.io/library/busybox", "busybox",
              "docker.io/library/busybox:latest"},
        Valid{"index.docker.io/library/busybox:x", "docker.io/library/busybox:x", "busybox:x",
              "docker.io/library/busybox:x"},
        Valid{"user/app", "docker.io/user/app", "user/app", "docker.io/user/app:latest"},
        Valid{"docker.io/library/a/b", "docker.io/library/a/b", "library/a/b",
              "docker.io/library/a/b:latest"},
        Valid{"localhost/app", "localhost/app", "localhost/app", "localhost/app:latest"},
        Valid{"localhost:5000/a/b:t", "localhost:5000/a/b:t", "localhost:5000/a/b:t",
              "localhost:5000/a/b:t"},
        Valid{"localhost:5000", "docker.io/library/localhost:5000", "localhost:5000",
              "docker.io/library/localhost:5000"},
        Valid{"registry.example.com/team/app:v1.2-rc_3", "registry.example.com/team/app:v1.2-rc_3",
              "registry.example.com/team/app:v1.2-rc_3", "registry.example.com/team/app:v1.2-rc_3"},
        Valid{"127.0.0.1:5000/x", "127.0.0.1:5000/x", "127.0.0.1:5000/x",
              "127.0.0.1:5000/x:latest"},
        Valid{"[::1]:5000/x:t", "[::1]:5000/x:t", "[::1]:5000/x:t", "[::1]:5000/x:t"},
        Valid{"Foo/bar", "Foo/bar", "Foo/bar", "Foo/bar:latest"},
        Valid{"my-registry.io/a__b/c.d/e--f", "my-registry.io/a__b/c.d/e--f",
              "my-registry.io/a__b/c.d/e--f", "my-registry.io/a__b/c.d/e--f:latest"},
        Valid{"busybox:LATEST", "docker.io/library/busybox:LATEST", "busybox:LATEST",
              "docker.io/library/busybox:LATEST"},
        Valid{"busybox:_x", "docker.io/library/busybox:_x", "busybox:_x",
              "docker.io/library/busybox:_x"},
        Valid{"busybox@" + kDigest, "docker.io/library/busybox@" + kDigest, "busybox@" + kDigest,
              "docker.io/library/busybox@" + kDigest},
        Valid{"busybox:1@" + kDigest, "docker.io/library/busybox:1@" + kDigest,
              "busybox:1@" + kDigest, "docker.io/library/busybox@" + kDigest},
        Valid{"a", "docker.io/library/a", "a", "docker.io/library/a:latest"},
        Valid{"a" + std::string(127, 'b') + ":" + std::string(128, 't'),
              "docker.io/library/a" + std::string(127, 'b') + ":" + std::string(128, 't'),
              "a" + std::string(127, 'b') + ":" + std::string(128, 't'),
              "docker.io/library/a" + std::string(127, 'b') + ":" + std::string(128, 't')}));

struct Invalid {
  std::string in;
  std::string message;
};

class InvalidTest : public ::testing::TestWithParam<Invalid> {};

TEST_P(InvalidTest, FailsWithDockerMessage) {
  const Invalid& v = GetParam();
  EXPECT_THAT(ParseNormalized(v.in),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(v.message)))
      << v.in;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, InvalidTest,
    ::testing::Values(
        Invalid{"", "repository name must have at least one component"},
        Invalid{"Busybox", "invalid reference format: repository name must be lowercase"},
        Invalid{"docker.io/Library/busybox",
                "invalid reference format: repository name must be lowercase"},
        Invalid{"example.com/App", "invalid reference format: repository name must be lowercase"},
        Invalid{"busybox:", "invalid reference format"},
        Invalid{":tag", "invalid reference format"},
        Invalid{"busybox:-x", "invalid reference format"},
        Invalid{"busybox:" + std::string(129, 't'), "invalid reference format"},
        Invalid{"busybox:a:b", "invalid reference format"},
        Invalid{"bu sybox", "invalid reference format"},
        Invalid{"-busybox", "invalid reference format"},
        Invalid{"busybox-", "invalid reference format"},
        Invalid{"a..b", "invalid reference format"}, Invalid{"a___b", "invalid reference format"},
        Invalid{"a//b", "invalid reference format"}, Invalid{"a/", "invalid reference format"},
        Invalid{"/a", "invalid reference format"},
        Invalid{"example.com:/a", "invalid reference format"},
        Invalid{"example-.com/a", "invalid reference format"},
        Invalid{"busybox@sha256:abc", "invalid reference format"},
        Invalid{"busybox@", "invalid reference format"},
        Invalid{"busybox@sha256:" + std::string(63, 'a'), "invalid reference format"},
        Invalid{"busybox@sha256:" + std::string(64, 'A'), "invalid reference format"},
        Invalid{"busybox@md5:" + std::string(32, 'a'), "invalid reference format"},
        Invalid{kHex, "cannot specify 64-byte hexadecimal strings"},
        Invalid{"a/" + std::string(250, 'b'), "must not be more than 255 characters"},
        Invalid{"UPPER:tag", "repository name must be lowercase"}));

TEST(ReferenceTest, DefaultTagAndDigestForms) {
  auto r = ParseWithDefaultTag("busybox");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->tag, "latest");
  EXPECT_EQ(r->FamiliarName(), "busybox");
  EXPECT_EQ(r->Name(), "docker.io/library/busybox");
  r = ParseWithDefaultTag("busybox@" + kDigest);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->tag, "");
  EXPECT_EQ(r->digest, kDigest);
  r = ParseWithDefaultTag("busybox:t@" + kDigest);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->tag, "t");
}

TEST(ReferenceTest, IsValidTag) {
  EXPECT_TRUE(IsValidTag("latest"));
  EXPECT_TRUE(IsValidTag("1.0-rc.1_x"));
  EXPECT_FALSE(IsValidTag(""));
  EXPECT_FALSE(IsValidTag(".x"));
  EXPECT_FALSE(IsValidTag("a/b"));
  EXPECT_FALSE(IsValidTag(std::string(129, 'a')));
}

TEST(PathMatchTest, GoPathMatchSemantics) {
  EXPECT_TRUE(PathMatch("busybox", "busybox"));
  EXPECT_TRUE(PathMatch("busy*", "busybox"));
  EXPECT_TRUE(PathMatch("busybox:*", "busybox:latest"));
  EXPECT_TRUE(PathMatch("*:lat?st", "busybox:latest"));
  EXPECT_TRUE(PathMatch("*/app", "user/app"));
  EXPECT_FALSE(PathMatch("*", "user/app"));
  EXPECT_FALSE(PathMatch("busy*", "other"));
  EXPECT_TRUE(PathMatch("[a-c]x", "bx"));
  EXPECT_FALSE(PathMatch("[^a-c]x", "bx"));
  EXPECT_TRUE(PathMatch("[!a-c]x", "dx"));
  EXPECT_TRUE(PathMatch("a\\*", "a*"));
  EXPECT_FALSE(PathMatch("a\\*", "ab"));
  EXPECT_FALSE(PathMatch("[a-", "a"));
  EXPECT_TRUE(PathMatch("", ""));
  EXPECT_FALSE(PathMatch("a", ""));
}

}  // namespace
}  // namespace berth::engine::reference
