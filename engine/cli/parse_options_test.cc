#include "engine/cli/parse_options.h"

#include <fstream>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

namespace v1 = ::berth::engine::v1;
using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParsePlatformTest, OsArchVariant) {
  auto p = ParsePlatform("linux/arm64/v8");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->os(), "linux");
  EXPECT_EQ(p->architecture(), "arm64");
  EXPECT_EQ(p->variant(), "v8");
  EXPECT_EQ(ParsePlatform("linux")->architecture(), "");
  for (const char* bad : {"", "linux/", "/amd64", "linux//v8", "a/b/c/d"}) {
    EXPECT_THAT(ParsePlatform(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
  EXPECT_EQ(ParsePlatform("linux/").status().message(),
            "\"linux/\": unknown operating system or architecture");
}

TEST(ParseNanoCpusTest, Decimal) {
  EXPECT_EQ(*ParseNanoCpus("1.5"), 1500000000);
  EXPECT_EQ(*ParseNanoCpus("2"), 2000000000);
  EXPECT_EQ(*ParseNanoCpus("0.25"), 250000000);
  EXPECT_EQ(*ParseNanoCpus(".5"), 500000000);
  EXPECT_THAT(ParseNanoCpus("abc"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseNanoCpus("1.5x"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ParseNanoCpus("abc").status().message(), "failed to parse abc as a rational number");
}

TEST(ParseGoDurationTest, GoSyntax) {
  EXPECT_EQ(*ParseGoDuration("10m"), absl::Minutes(10));
  EXPECT_EQ(*ParseGoDuration("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseGoDuration("1.5h"), absl::Minutes(90));
  EXPECT_EQ(*ParseGoDuration("300ms"), absl::Milliseconds(300));
  EXPECT_EQ(*ParseGoDuration("-2s"), absl::Seconds(-2));
  EXPECT_EQ(*ParseGoDuration("0"), absl::ZeroDuration());
  EXPECT_EQ(*ParseGoDuration("5us"), absl::Microseconds(5));
  EXPECT_THAT(ParseGoDuration("10"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseGoDuration("10x"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseGoDuration(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseTimestampTest, RelativeAndAbsolute) {
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  EXPECT_EQ(*ParseTimestamp("10m", now), now - absl::Minutes(10));
  EXPECT_EQ(*ParseTimestamp("1h30m", now), now - absl::Minutes(90));
  EXPECT_EQ(*ParseTimestamp("2023-11-14T22:13:20Z", now), absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(*ParseTimestamp("2023-11-14T22:13:20.5Z", now),
            absl::FromUnixSeconds(1700000000) + absl::Milliseconds(500));
  EXPECT_EQ(*ParseTimestamp("2023-11-15T00:13:20+02:00", now), absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(*ParseTimestamp("1700000000", now), absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(*ParseTimestamp("1700000000.25", now),
            absl::FromUnixSeconds(1700000000) + absl::Milliseconds(250));
  // Dates and zone-less times are local, as in docker.
  absl::Time local;
  std::string err;
  ASSERT_TRUE(absl::ParseTime("%Y-%m-%d", "2024-01-02", absl::LocalTimeZone(), &local, &err));
  EXPECT_EQ(*ParseTimestamp("2024-01-02", now), local);
  EXPECT_THAT(ParseTimestamp("yesterday", now), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ParseTimestamp("yesterday", now).status().message(),
            "failed to parse value as time or duration: \"yesterday\"");
}

TEST(ParseRestartPolicyTest, Names) {
  EXPECT_EQ(ParseRestartPolicy("no")->name(), v1::RESTART_POLICY_NAME_NO);
  EXPECT_EQ(ParseRestartPolicy("always")->name(), v1::RESTART_POLICY_NAME_ALWAYS);
  EXPECT_EQ(ParseRestartPolicy("unless-stopped")->name(), v1::RESTART_POLICY_NAME_UNLESS_STOPPED);
  auto p = ParseRestartPolicy("on-failure:3");
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->name(), v1::RESTART_POLICY_NAME_ON_FAILURE);
  EXPECT_EQ(p->maximum_retry_count(), 3);
  EXPECT_EQ(ParseRestartPolicy("on-failure")->maximum_retry_count(), 0);
}

TEST(ParseRestartPolicyTest, Errors) {
  EXPECT_THAT(ParseRestartPolicy("sometimes").status().message(),
              HasSubstr("unknown policy 'sometimes'"));
  EXPECT_THAT(ParseRestartPolicy("always:3").status().message(),
              HasSubstr("maximum retry count can only be used with 'on-failure'"));
  EXPECT_THAT(ParseRestartPolicy("on-failure:x").status().message(),
              HasSubstr("maximum retry count must be an integer"));
  EXPECT_THAT(ParseRestartPolicy("on-failure:-1").status().message(),
              HasSubstr("cannot be negative"));
  EXPECT_THAT(ParseRestartPolicy(":3").status().message(),
              HasSubstr("no policy provided before colon"));
}

TEST(ParseUlimitTest, SoftAndHard) {
  auto u = ParseUlimit("nofile=1024:2048");
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ(u->name(), "nofile");
  EXPECT_EQ(u->soft(), 1024);
  EXPECT_EQ(u->hard(), 2048);
  u = ParseUlimit("nproc=512");
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ(u->soft(), 512);
  EXPECT_EQ(u->hard(), 512);
  EXPECT_EQ(ParseUlimit("nofile").status().message(), "invalid ulimit argument: nofile");
  EXPECT_EQ(ParseUlimit("bogus=1").status().message(), "invalid ulimit type: bogus");
  EXPECT_EQ(ParseUlimit("nofile=2048:1024").status().message(),
            "ulimit soft limit must be less than or equal to hard limit: 2048 > 1024");
  EXPECT_THAT(ParseUlimit("nofile=x"), StatusIs(absl::StatusCode::kInvalidArgument));
}

class EnvFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = berth::testing::TempDir::Create();
    ASSERT_THAT(d, IsOk());
    dir_.emplace(std::move(*d));
  }
  std::string Write(const std::string& content) {
    std::string path = dir_->Sub("env");
    std::ofstream(path) << content;
    return path;
  }
  std::optional<berth::testing::TempDir> dir_;
};

EnvLookup FakeEnv() {
  return [](const std::string& k) -> std::optional<std::string> {
    if (k == "HOME") return std::string("/home/me");
    return std::nullopt;
  };
}

TEST_F(EnvFileTest, DockerSyntax) {
  std::string path = Write(
      "# a comment\n"
      "\n"
      "A=1\n"
      "   B=two words \n"
      "C=\n"
      "HOME\n"
      "UNSET_VAR\n"
      "D=x=y\r\n");
  auto env = ParseEnvFile(path, FakeEnv());
  ASSERT_THAT(env, IsOk());
  EXPECT_THAT(*env, ElementsAre("A=1", "B=two words ", "C=", "HOME=/home/me", "D=x=y"));
}

TEST_F(EnvFileTest, BadLines) {
  auto env = ParseEnvFile(Write("GOOD=1\nBAD KEY=2\n"), FakeEnv());
  EXPECT_THAT(env, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(env.status().message(),
            "poorly formatted environment: variable 'BAD KEY' contains whitespaces");
  env = ParseEnvFile(Write("=value\n"), FakeEnv());
  EXPECT_EQ(env.status().message(),
            "poorly formatted environment: no variable name on line '=value'");
  env = ParseEnvFile(Write("A=\xff\xfe\n"), FakeEnv());
  EXPECT_THAT(env.status().message(), HasSubstr("invalid utf8 bytes at line 1"));
  EXPECT_THAT(ParseEnvFile(dir_->Sub("missing"), FakeEnv()),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(EnvFileTest, LabelFileKeepsBareKeys) {
  auto labels = ParseLabelFile(Write("a=b\n# c\nflag\n"));
  ASSERT_THAT(labels, IsOk());
  EXPECT_THAT(*labels, ElementsAre("a=b", "flag"));
}

TEST(ExpandEnvTest, BareKeysTakeTheCliValue) {
  EXPECT_EQ(ExpandEnv("A=b", FakeEnv()), "A=b");
  EXPECT_EQ(ExpandEnv("HOME", FakeEnv()), "HOME=/home/me");
  EXPECT_EQ(ExpandEnv("NOPE", FakeEnv()), std::nullopt);
}

TEST(ParseDetachKeysTest, DockerSyntax) {
  EXPECT_EQ(*ParseDetachKeys("ctrl-p,ctrl-q"), std::string("\x10\x11"));
  EXPECT_EQ(*ParseDetachKeys("ctrl-a,x"), std::string("\x01x"));
  EXPECT_EQ(*ParseDetachKeys("ctrl-@"), std::string(1, '\0'));
  EXPECT_EQ(*ParseDetachKeys("ctrl-["), std::string("\x1b"));
  EXPECT_EQ(*ParseDetachKeys("CTRL-Z"), std::string("\x1a"));
  EXPECT_EQ(ParseDetachKeys("ctrl-1").status().message(), "Unknown character: 'ctrl-1'");
  EXPECT_EQ(ParseDetachKeys("ab").status().message(), "Unknown character: 'ab'");
}

TEST(ParseFiltersTest, KeyValue) {
  auto f = ParseFilters({"status=exited", "label=a=b", "name=web"});
  ASSERT_THAT(f, IsOk());
  ASSERT_EQ(f->size(), 3u);
  EXPECT_EQ((*f)[0].key(), "status");
  EXPECT_EQ((*f)[0].value(), "exited");
  EXPECT_EQ((*f)[1].key(), "label");
  EXPECT_EQ((*f)[1].value(), "a=b");
  EXPECT_THAT(ParseFilters({"status"}).status().message(),
              HasSubstr("bad format of filter (expected name=value)"));
}

}  // namespace
}  // namespace berth::cli
