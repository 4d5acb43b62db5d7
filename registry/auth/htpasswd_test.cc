#include "registry/auth/htpasswd.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::registry::auth {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

TEST(HtpasswdTest, VerifiesBcryptPasswords) {
  auto alice = BcryptHash("s3cret", 4);
  ASSERT_THAT(alice, IsOk());
  EXPECT_TRUE(absl::StartsWith(*alice, "$2b$04$"));
  // A fixed $2y$ hash, the prefix `htpasswd -B` writes (password "pw", cost 5).
  const std::string bob = "$2y$05$k2hgroof7v3SnwWSSEGJt.N/ikcSLUxPSrb5x2zcC70YekOLCJNWa";
  auto h = Htpasswd::Parse(absl::StrCat("# users\n\nalice:", *alice, "\nbob:", bob, "\n"));
  ASSERT_THAT(h, IsOk());
  EXPECT_EQ((*h)->size(), 2u);
  for (int i = 0; i < 2; ++i) {  // the second round hits the cache
    EXPECT_TRUE((*h)->Verify("alice", "s3cret"));
    EXPECT_FALSE((*h)->Verify("alice", "s3cre"));
    EXPECT_FALSE((*h)->Verify("alice", std::string("s3cret\0x", 8)));
    EXPECT_FALSE((*h)->Verify("carol", "s3cret"));
    EXPECT_FALSE((*h)->Verify("bob", "s3cret"));
  }
  EXPECT_TRUE((*h)->Verify("bob", "pw"));
}

TEST(HtpasswdTest, RejectsWeakOrMalformedFiles) {
  EXPECT_THAT(Htpasswd::Parse("alice:$apr1$abc$def"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bcrypt")));
  EXPECT_THAT(Htpasswd::Parse("alice:{SHA}xyz"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Htpasswd::Parse("no colon here"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1")));
  EXPECT_THAT(Htpasswd::Parse("a:$2y$05$x\na:$2y$05$y"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
  EXPECT_THAT(Htpasswd::Load("/nonexistent/htpasswd"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace berth::registry::auth
