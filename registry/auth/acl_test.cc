#include "registry/auth/acl.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::registry::auth {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::optional<std::string> kAnonymous;

TEST(GlobTest, StarStopsAtSlashDoubleStarDoesNot) {
  EXPECT_TRUE(GlobMatch("library/*", "library/alpine"));
  EXPECT_FALSE(GlobMatch("library/*", "library/a/b"));
  EXPECT_TRUE(GlobMatch("library/**", "library/a/b"));
  EXPECT_FALSE(GlobMatch("library/*", "library"));
  EXPECT_TRUE(GlobMatch("**", "x/y/z"));
  EXPECT_TRUE(GlobMatch("a?c", "abc"));
  EXPECT_FALSE(GlobMatch("a?c", "a/c"));
  EXPECT_TRUE(GlobMatch("*-dev/app", "team-dev/app"));
  EXPECT_FALSE(GlobMatch("app", "app2"));
  EXPECT_TRUE(GlobMatch("exact/name", "exact/name"));
}

TEST(AclTest, AccountsNamesAndActions) {
  auto acl = Acl::Parse(R"([
    {"account": "alice", "name": "alice/**", "actions": ["*"]},
    {"account": "*", "name": "library/*", "actions": ["pull"]},
    {"account": "", "name": "public/*", "actions": ["pull"]},
    {"account": "*", "name": "${account}/scratch", "actions": ["pull", "push"]},
    {"account": "admin", "type": "registry", "name": "catalog", "actions": ["*"]},
    {"account": "bob", "name": "shared/app", "actions": ["push", "pull", "push"]}
  ])");
  ASSERT_THAT(acl, IsOk());
  const Acl& a = **acl;
  EXPECT_EQ(a.size(), 6u);
  const std::optional<std::string> alice = "alice", bob = "bob", admin = "admin";
  EXPECT_TRUE(a.Allows(alice, kRepository, "alice/x/y", kDelete));
  EXPECT_FALSE(a.Allows(bob, kRepository, "alice/x", kPull));
  EXPECT_TRUE(a.Allows(bob, kRepository, "library/alpine", kPull));
  EXPECT_FALSE(a.Allows(bob, kRepository, "library/alpine", kPush));
  EXPECT_FALSE(a.Allows(kAnonymous, kRepository, "library/alpine", kPull));
  // "" is every caller, anonymous or not.
  EXPECT_TRUE(a.Allows(kAnonymous, kRepository, "public/x", kPull));
  EXPECT_TRUE(a.Allows(bob, kRepository, "public/x", kPull));
  EXPECT_FALSE(a.Allows(kAnonymous, kRepository, "public/x", kPush));
  // ${account}
  EXPECT_TRUE(a.Allows(bob, kRepository, "bob/scratch", kPush));
  EXPECT_FALSE(a.Allows(bob, kRepository, "alice/scratch", kPush));
  EXPECT_FALSE(a.Allows(bob, kRepository, "carol/scratch", kPush));
  EXPECT_FALSE(a.Allows(kAnonymous, kRepository, "/scratch", kPull));
  // A user called "*" must not turn ${account} into a wildcard.
  EXPECT_FALSE(a.Allows(std::string("*"), kRepository, "x/scratch", kPull));
  // Types are separate.
  EXPECT_TRUE(a.Allows(admin, kRegistry, "catalog", kAnyAction));
  EXPECT_FALSE(a.Allows(bob, kRegistry, "catalog", kAnyAction));
  EXPECT_FALSE(a.Allows(alice, kRegistry, "alice/x", kPull));

  // Grant intersects: "*" requested needs a "*" rule.
  EXPECT_THAT(a.Grant(bob, {kRepository, "library/alpine", {"pull", "push"}}).actions,
              ElementsAre("pull"));
  EXPECT_THAT(a.Grant(bob, {kRepository, "shared/app", {"push", "pull", "*"}}).actions,
              ElementsAre("push", "pull"));
  EXPECT_THAT(a.Grant(alice, {kRepository, "alice/app", {"*", "pull"}}).actions,
              ElementsAre("*", "pull"));
  EXPECT_TRUE(a.Grant(kAnonymous, {kRepository, "alice/app", {"pull"}}).actions.empty());
}

TEST(AclTest, DefaultLetsAuthenticatedUsersDoEverything) {
  auto acl = Acl::AuthenticatedMayDoAll();
  const std::optional<std::string> u = "u";
  EXPECT_TRUE(acl->Allows(u, kRepository, "a/b/c", kDelete));
  EXPECT_TRUE(acl->Allows(u, kRegistry, "catalog", kAnyAction));
  EXPECT_FALSE(acl->Allows(kAnonymous, kRepository, "a", kPull));
}

TEST(AclTest, RejectsMistakes) {
  EXPECT_THAT(Acl::Parse("{"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Acl::Parse("{}"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("array")));
  EXPECT_THAT(Acl::Parse(R"([{"account":"a","name":"x","actions":["pul"]}])"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rule 0: unknown action")));
  EXPECT_THAT(Acl::Parse(R"([{"account":"a","name":"x","actions":["pull"]},
                             {"acount":"a","name":"x","actions":["pull"]}])"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rule 1: unknown key")));
  EXPECT_THAT(Acl::Parse(R"([{"name":"x","actions":["pull"]}])"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("account")));
  EXPECT_THAT(Acl::Parse(R"([{"account":"a","actions":["pull"]}])"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name")));
  EXPECT_THAT(Acl::Parse(R"([{"account":"a","name":"x","actions":[]}])"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("actions")));
  EXPECT_THAT(Acl::Parse(R"([{"account":"a","name":"x","type":"blob","actions":["pull"]}])"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("type")));
  EXPECT_THAT(Acl::Load("/nonexistent/acl.json"), StatusIs(absl::StatusCode::kNotFound));
  auto empty = Acl::Parse("[]");
  ASSERT_THAT(empty, IsOk());
  EXPECT_FALSE((*empty)->Allows(std::string("a"), kRepository, "x", kPull));
}

}  // namespace
}  // namespace berth::registry::auth
