#include "containerd/metadata/validation.h"

#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::metadata {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

TEST(ValidationTest, NamespaceGrammar) {
  for (const char* ok : {"default", "berth", "k8s.io", "a", "a-b_c.d", "A1"}) {
    EXPECT_THAT(ValidateNamespaceName(ok), IsOk()) << ok;
  }
  EXPECT_THAT(ValidateNamespaceName(std::string(76, 'a')), IsOk());
  for (const char* bad : {"", ".a", "a.", "a..b", "a-.b", "a/b", "a b", "é", "-a"}) {
    EXPECT_THAT(ValidateNamespaceName(bad), StatusIs(kInvalid)) << bad;
  }
  EXPECT_THAT(ValidateNamespaceName(std::string(77, 'a')), StatusIs(kInvalid, HasSubstr("76")));
  EXPECT_THAT(ValidateLeaseId("pull.1234"), IsOk());
  EXPECT_THAT(ValidateLeaseId("pull/1234"), StatusIs(kInvalid, HasSubstr("lease id")));
}

TEST(ValidationTest, ContainerIdGrammar) {
  EXPECT_THAT(ValidateContainerId("3f2a"), IsOk());
  EXPECT_THAT(ValidateContainerId("a..b--c__"), IsOk());  // separators may repeat here
  EXPECT_THAT(ValidateContainerId(std::string(76, 'f')), IsOk());
  EXPECT_THAT(ValidateContainerId(std::string(77, 'f')), StatusIs(kInvalid));
  EXPECT_THAT(ValidateContainerId(""), StatusIs(kInvalid, HasSubstr("empty")));
  EXPECT_THAT(ValidateContainerId("-a"), StatusIs(kInvalid));
  EXPECT_THAT(ValidateContainerId("a/b"), StatusIs(kInvalid));
}

TEST(ValidationTest, SnapshotterName) {
  EXPECT_THAT(ValidateSnapshotterName("overlayfs"), IsOk());
  EXPECT_THAT(ValidateSnapshotterName("my_snap-2"), IsOk());
  EXPECT_THAT(ValidateSnapshotterName(""), StatusIs(kInvalid));
  EXPECT_THAT(ValidateSnapshotterName("over.lay"), StatusIs(kInvalid));
  EXPECT_THAT(ValidateSnapshotterName("a/b"), StatusIs(kInvalid));
}

TEST(ValidationTest, LabelLimits) {
  EXPECT_THAT(ValidateLabels({{"a", "b"}, {"berth.io/gc.root", ""}}), IsOk());
  EXPECT_THAT(ValidateLabels({{"", "b"}}), StatusIs(kInvalid, HasSubstr("empty")));
  EXPECT_THAT(ValidateLabels({{"k", std::string(4095, 'v')}}), IsOk());
  EXPECT_THAT(ValidateLabels({{"k", std::string(4096, 'v')}}),
              StatusIs(kInvalid, HasSubstr("4097 bytes")));
}

TEST(ValidationTest, DigestAndDescriptor) {
  const std::string d = "sha256:" + std::string(64, 'a');
  EXPECT_THAT(ValidateDigest(d), IsOk());
  EXPECT_THAT(ValidateDigest("sha256:abc"), StatusIs(kInvalid));
  // Unsupported algorithms are bad input for the store (Parse says Unimplemented).
  EXPECT_THAT(ValidateDigest("md5:" + std::string(32, 'a')), StatusIs(kInvalid));

  Descriptor desc{"application/vnd.oci.image.index.v1+json", d, 10, {}, ""};
  EXPECT_THAT(ValidateDescriptor(desc), IsOk());
  Descriptor no_type = desc;
  no_type.media_type.clear();
  EXPECT_THAT(ValidateDescriptor(no_type), StatusIs(kInvalid, HasSubstr("media_type")));
  Descriptor zero = desc;
  zero.size = 0;
  EXPECT_THAT(ValidateDescriptor(zero), StatusIs(kInvalid, HasSubstr("size")));
  Descriptor bad_digest = desc;
  bad_digest.digest = "nope";
  EXPECT_THAT(ValidateDescriptor(bad_digest), StatusIs(kInvalid, HasSubstr("digest")));
}

TEST(ValidationTest, LeaseResourceTypes) {
  EXPECT_THAT(ValidateLeaseResource({"content", "sha256:x"}), IsOk());
  EXPECT_THAT(ValidateLeaseResource({"ingests", "ref"}), IsOk());
  EXPECT_THAT(ValidateLeaseResource({"snapshots/overlayfs", "key"}), IsOk());
  EXPECT_THAT(ValidateLeaseResource({"snapshots/", "key"}), StatusIs(kInvalid));
  EXPECT_THAT(ValidateLeaseResource({"snapshots/a.b", "key"}), StatusIs(kInvalid));
  EXPECT_THAT(ValidateLeaseResource({"images", "x"}),
              StatusIs(kInvalid, HasSubstr("unknown resource type")));
  EXPECT_THAT(ValidateLeaseResource({"content", ""}), StatusIs(kInvalid, HasSubstr("empty")));
}

TEST(ValidationTest, TakeMapPathsSplitsLabelPaths) {
  std::vector<std::string> paths = {"labels.berth.io/gc.root", "target", "labels", "labelsx"};
  MapUpdate update;
  ASSERT_THAT(TakeMapPaths("labels", &paths, &update), IsOk());
  EXPECT_TRUE(update.replace_all);
  EXPECT_THAT(update.keys, ElementsAre("berth.io/gc.root"));
  EXPECT_THAT(paths, ElementsAre("target", "labelsx"));

  std::vector<std::string> empty_key = {"labels."};
  MapUpdate unused;
  EXPECT_THAT(TakeMapPaths("labels", &empty_key, &unused), StatusIs(kInvalid));
}

}  // namespace
}  // namespace berth::containerd::metadata
