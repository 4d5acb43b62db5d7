#include "containerd/content/digester.h"

#include <string>

#include "common/digest/hasher.h"
#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace berth::containerd::content::internal {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

std::string HasherDigest(absl::string_view alg, absl::string_view data) {
  absl::StatusOr<digest::Hasher> h = digest::Hasher::Create(alg);
  h->Update(data);
  return h->Finish()->ToString();
}

TEST(DigesterTest, PeekDoesNotEndTheStream) {
  for (absl::string_view alg : digest::SupportedAlgorithms()) {
    absl::StatusOr<Digester> d = Digester::Create(alg);
    ASSERT_THAT(d, IsOk());
    EXPECT_EQ(d->Peek()->ToString(), HasherDigest(alg, ""));
    d->Update("ab");
    EXPECT_EQ(d->Peek()->ToString(), HasherDigest(alg, "ab"));
    EXPECT_EQ(d->Peek()->ToString(), HasherDigest(alg, "ab"));
    d->Update("c");
    EXPECT_EQ(d->Peek()->ToString(), HasherDigest(alg, "abc"));
    EXPECT_EQ(d->size(), 3);
    ASSERT_THAT(d->Reset(), IsOk());
    EXPECT_EQ(d->size(), 0);
    d->Update("xyz");
    EXPECT_EQ(d->Peek()->ToString(), HasherDigest(alg, "xyz"));
  }
}

TEST(DigesterTest, SurvivesMove) {
  absl::StatusOr<Digester> d = Digester::Create(digest::kSha256);
  ASSERT_THAT(d, IsOk());
  d->Update("abc");
  Digester moved = *std::move(d);
  moved.Update("def");
  EXPECT_EQ(moved.Peek()->ToString(), HasherDigest(digest::kSha256, "abcdef"));
}

TEST(DigesterTest, RejectsUnknownAlgorithm) {
  EXPECT_THAT(Digester::Create("md5"), StatusIs(absl::StatusCode::kUnimplemented));
}

}  // namespace
}  // namespace berth::containerd::content::internal
