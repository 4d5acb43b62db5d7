#include "engine/distribution/auth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace berth::engine::distribution {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(ParseChallengesTest, BearerWithQuotedCommas) {
  std::vector<Challenge> c = ParseChallenges(
      {R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push")"});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].scheme, "bearer");
  EXPECT_THAT(c[0].params,
              ElementsAre(Pair("realm", "https://auth.docker.io/token"),
                          Pair("scope", "repository:samalba/my-app:pull,push"),
                          Pair("service", "registry.docker.io")));
}

TEST(ParseChallengesTest, SeveralChallengesAndHeaders) {
  std::vector<Challenge> c = ParseChallenges(
      {R"(Basic realm="a \"quoted\" realm", Bearer realm=https://x/token , service=y)",
       "Negotiate"});
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].scheme, "basic");
  EXPECT_EQ(c[0].params.at("realm"), "a \"quoted\" realm");
  EXPECT_EQ(c[1].scheme, "bearer");
  EXPECT_EQ(c[1].params.at("realm"), "https://x/token");
  EXPECT_EQ(c[1].params.at("service"), "y");
  EXPECT_EQ(c[2].scheme, "negotiate");
}

TEST(ParseChallengesTest, CaseAndGarbage) {
  std::vector<Challenge> c = ParseChallenges({R"(BASIC Realm="r")", "", "=,\""});
  ASSERT_GE(c.size(), 1u);
  EXPECT_EQ(c[0].scheme, "basic");
  EXPECT_EQ(c[0].params.at("realm"), "r");
}

TEST(QueryEscapeTest, Escapes) {
  EXPECT_EQ(QueryEscape("repository:a/b:pull,push"), "repository%3Aa%2Fb%3Apull%2Cpush");
  EXPECT_EQ(QueryEscape("a-b_c.d~"), "a-b_c.d~");
}

}  // namespace
}  // namespace berth::engine::distribution
