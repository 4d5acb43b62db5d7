#include "common/cli/flags.h"

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Opts {
  bool interactive = false, tty = false, detach = false;
  std::string name, format = "table";
  int64_t count = 0;
  std::vector<std::string> env;
};

FlagSet Bind(Opts& o) {
  FlagSet fs;
  fs.AddBool(&o.interactive, "interactive", 'i', "keep stdin open");
  fs.AddBool(&o.tty, "tty", 't', "allocate a tty");
  fs.AddBool(&o.detach, "detach", 'd', "run in background");
  fs.AddString(&o.name, "name", 0, "container name");
  fs.AddString(&o.format, "format", 'f', "output format");
  fs.AddInt(&o.count, "count", 'n', "how many");
  fs.AddStringList(&o.env, "env", 'e', "environment");
  return fs;
}

TEST(FlagsTest, LongShortGroupedAndListForms) {
  Opts o;
  FlagSet fs = Bind(o);
  auto pos = fs.Parse({"-it", "--name", "web", "-e", "A=1", "--env=B=2", "-eC=3", "--count=4",
                       "img", "-n", "5", "--format=json"});
  ASSERT_THAT(pos, IsOk());
  EXPECT_TRUE(o.interactive);
  EXPECT_TRUE(o.tty);
  EXPECT_FALSE(o.detach);
  EXPECT_EQ(o.name, "web");
  EXPECT_THAT(o.env, ElementsAre("A=1", "B=2", "C=3"));
  EXPECT_EQ(o.count, 5);
  EXPECT_EQ(o.format, "json");
  EXPECT_THAT(*pos, ElementsAre("img"));
  EXPECT_TRUE(fs.Changed("name"));
  EXPECT_FALSE(fs.Changed("detach"));
}

TEST(FlagsTest, StopsAtFirstArgumentWhenNotInterspersed) {
  Opts o;
  FlagSet fs = Bind(o);
  auto pos = fs.Parse({"-d", "busybox", "ls", "-l", "--name", "x"}, /*interspersed=*/false);
  ASSERT_THAT(pos, IsOk());
  EXPECT_TRUE(o.detach);
  EXPECT_EQ(o.name, "");
  EXPECT_THAT(*pos, ElementsAre("busybox", "ls", "-l", "--name", "x"));
}

TEST(FlagsTest, DoubleDashEndsFlags) {
  Opts o;
  FlagSet fs = Bind(o);
  auto pos = fs.Parse({"--", "-d", "x"});
  ASSERT_THAT(pos, IsOk());
  EXPECT_FALSE(o.detach);
  EXPECT_THAT(*pos, ElementsAre("-d", "x"));
}

TEST(FlagsTest, BoolWithExplicitValue) {
  Opts o;
  FlagSet fs = Bind(o);
  ASSERT_THAT(fs.Parse({"--detach=false", "-t=true"}), IsOk());
  EXPECT_FALSE(o.detach);
  EXPECT_TRUE(o.tty);
  EXPECT_THAT(fs.Parse({"--detach=maybe"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"maybe\"")));
}

TEST(FlagsTest, ErrorsUseDockerWording) {
  Opts o;
  FlagSet fs = Bind(o);
  EXPECT_THAT(fs.Parse({"--bogus"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "unknown flag: --bogus"));
  EXPECT_THAT(fs.Parse({"-x"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown shorthand flag: 'x'")));
  EXPECT_THAT(fs.Parse({"--name"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "flag needs an argument: --name"));
  EXPECT_THAT(fs.Parse({"-e"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "flag needs an argument: -e"));
  EXPECT_THAT(fs.Parse({"--count=ten"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an integer")));
}

TEST(FlagsTest, UsageListsFlagsWithDefaults) {
  Opts o;
  FlagSet fs = Bind(o);
  std::string u = fs.Usage();
  EXPECT_THAT(u, HasSubstr("-i, --interactive"));
  EXPECT_THAT(u, HasSubstr("--name string"));
  EXPECT_THAT(u, HasSubstr("(default \"table\")"));
  EXPECT_THAT(u, HasSubstr("-e, --env list"));
}

}  // namespace
}  // namespace berth::cli
