#include "containerd/filters/filter.h"

#include <map>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::filters {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// An object like an image: a name, a nested target and labels.
struct Obj {
  std::string name;
  std::string media_type;
  std::map<std::string, std::string> labels;
};

std::optional<std::string> Lookup(const Obj& o, absl::Span<const std::string> path) {
  if (path.empty()) return std::nullopt;
  if (path[0] == "name" && path.size() == 1) return o.name;
  if (path[0] == "target" && path.size() == 2 && path[1] == "media_type") return o.media_type;
  if (path[0] == "labels") return LookupMap(path.subspan(1), o.labels);
  return std::nullopt;
}

bool Match(const std::vector<std::string>& filters, const Obj& o) {
  absl::StatusOr<Filter> f = Filter::Parse(filters);
  EXPECT_THAT(f, IsOk());
  if (!f.ok()) return false;
  return f->Matches([&](absl::Span<const std::string> p) { return Lookup(o, p); });
}

const Obj kAlpine{"docker.io/library/alpine:3.19",
                  "application/vnd.oci.image.index.v1+json",
                  {{"berth.io/gc.root", "yes"}, {"owner", "berthd"}, {"empty", ""}}};
const Obj kBusybox{"docker.io/library/busybox:latest",
                   "application/vnd.oci.image.manifest.v1+json",
                   {{"owner", "tests"}}};

TEST(FilterTest, EmptyListAndEmptyFilterMatchEverything) {
  EXPECT_TRUE(Match({}, kAlpine));
  EXPECT_TRUE(Match({""}, kAlpine));
  EXPECT_TRUE(Match({"name==nope", "  "}, kAlpine));
  auto f = Filter::Parse({});
  ASSERT_THAT(f, IsOk());
  EXPECT_TRUE(f->MatchesEverything());
}

TEST(FilterTest, Operators) {
  EXPECT_TRUE(Match({"name"}, kAlpine));
  EXPECT_TRUE(Match({"name==\"docker.io/library/alpine:3.19\""}, kAlpine));
  EXPECT_FALSE(Match({"name==\"docker.io/library/alpine:3.19\""}, kBusybox));
  EXPECT_TRUE(Match({"name!=\"docker.io/library/alpine:3.19\""}, kBusybox));
  EXPECT_FALSE(Match({"name!=\"docker.io/library/alpine:3.19\""}, kAlpine));
  EXPECT_TRUE(Match({"name~=alpine"}, kAlpine));  // unanchored
  EXPECT_FALSE(Match({"name~=^alpine"}, kAlpine));
  EXPECT_TRUE(Match({"name~=\"^docker\\.io/.*:3\\.19$\""}, kAlpine));
  EXPECT_TRUE(Match({"name~=(?i)ALPINE"}, kAlpine));  // RE2 flags work
}

TEST(FilterTest, AbsentOrEmptyFieldsMatchNothing) {
  EXPECT_FALSE(Match({"labels.empty"}, kAlpine));  // present but empty
  EXPECT_TRUE(Match({"labels.empty==\"\""}, kAlpine));
  EXPECT_FALSE(Match({"labels.missing"}, kAlpine));
  EXPECT_FALSE(Match({"labels.missing!=x"}, kAlpine));  // absent: even != is false
  EXPECT_FALSE(Match({"unknown==x"}, kAlpine));
  EXPECT_FALSE(Match({"unknown~=."}, kAlpine));
}

TEST(FilterTest, NestedAndQuotedPaths) {
  EXPECT_TRUE(Match({"target.media_type==\"application/vnd.oci.image.index.v1+json\""}, kAlpine));
  EXPECT_TRUE(Match({"labels.\"berth.io/gc.root\""}, kAlpine));
  EXPECT_TRUE(Match({"labels.\"berth.io/gc.root\"==yes"}, kAlpine));
  EXPECT_FALSE(Match({"labels.\"berth.io/gc.root\""}, kBusybox));
  EXPECT_TRUE(Match({"\"labels\".owner==berthd"}, kAlpine));
}

TEST(FilterTest, CommaIsAndListIsOr) {
  EXPECT_TRUE(Match({"name~=alpine,labels.owner==berthd"}, kAlpine));
  EXPECT_FALSE(Match({"name~=alpine,labels.owner==tests"}, kAlpine));
  EXPECT_TRUE(Match({"labels.owner==tests", "name~=alpine"}, kAlpine));
  EXPECT_TRUE(Match({"labels.owner==tests", "name~=alpine"}, kBusybox));
  EXPECT_FALSE(Match({"labels.owner==nobody", "name~=redis"}, kBusybox));
}

TEST(FilterTest, SpacesAroundTokensAreIgnored) {
  EXPECT_TRUE(Match({"  name ~= alpine ,  labels.owner == berthd  "}, kAlpine));
}

TEST(FilterTest, UnquotedValuesMayHoldPunctuationLikeContainerd) {
  EXPECT_TRUE(Match({"name==docker.io/library/alpine:3.19"}, kAlpine));
  EXPECT_TRUE(Match({"labels.owner==berthd,name!=x=y"}, kAlpine));
}

TEST(FilterTest, QuotedEscapes) {
  Obj o{"say \"hi\" \\o/", "", {}};
  EXPECT_TRUE(Match({R"(name=="say \"hi\" \\o/")"}, o));
  auto f = Filter::Parse({R"(name~="a\.b\d")"});
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ(f->alternatives()[0][0].value, R"(a\.b\d)");  // regexp escapes kept
}

TEST(FilterTest, ParsedForm) {
  auto f = Filter::Parse({R"(labels."a.b"!=c,name)", "x~=y"});
  ASSERT_THAT(f, IsOk());
  ASSERT_EQ(f->alternatives().size(), 2u);
  const auto& first = f->alternatives()[0];
  ASSERT_EQ(first.size(), 2u);
  EXPECT_THAT(first[0].field, ElementsAre("labels", "a.b"));
  EXPECT_EQ(first[0].op, Operator::kNotEqual);
  EXPECT_EQ(first[0].value, "c");
  EXPECT_THAT(first[1].field, ElementsAre("name"));
  EXPECT_EQ(first[1].op, Operator::kPresent);
  EXPECT_EQ(f->alternatives()[1][0].op, Operator::kMatches);
}

TEST(FilterTest, LabelKeysJoinUnquotedElements) {
  EXPECT_TRUE(Match({"labels.berth.io==x"}, Obj{"", "", {{"berth.io", "x"}}}));
}

TEST(FilterTest, ParseErrors) {
  for (const char* bad : {
           "name==",             // no value
           "name=alpine",        // single =
           "name==a,",           // trailing comma
           ",name",              // leading comma
           "name==\"open",       // unterminated quote
           "labels.",            // empty element
           "labels..x",          // empty element
           "labels.berth.io/x",  // unquoted '/' in a field
           "name~=\"(\"",        // bad regexp
           "name==a b",          // space inside an unquoted value
           "name==a\x01",        // control character
           "==x",                // no field
       }) {
    EXPECT_THAT(Filter::Parse({std::string(bad)}),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("filter")))
        << bad;
  }
  // A bad filter fails the whole list, even after an empty one.
  EXPECT_THAT(Filter::Parse({"", "name=="}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FilterTest, ErrorsNameTheOffset) {
  EXPECT_THAT(Filter::Parse({"name==a,labels.x?"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at byte 16")));
  EXPECT_THAT(Filter::Parse({"name~=\"[\""}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid regexp")));
}

TEST(FilterTest, RegexpIsLinearTime) {
  // A pattern that makes backtracking engines take exponential time finishes at once in RE2.
  Obj o{std::string(4000, 'a') + "!", "", {}};
  EXPECT_FALSE(Match({"name~=\"^(a+)+$\""}, o));
}

}  // namespace
}  // namespace berth::containerd::filters
