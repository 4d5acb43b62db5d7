#include "engine/cli/cli.h"

#include <sstream>

#include "engine/cli/commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

using ::testing::HasSubstr;

TEST(CliTest, HumanBytesLikeDocker) {
  EXPECT_EQ(HumanBytes(0), "0B");
  EXPECT_EQ(HumanBytes(1023), "1023B");
  EXPECT_EQ(HumanBytes(1536), "1.5KiB");
  EXPECT_EQ(HumanBytes(25200000000.0), "23.47GiB");
}

TEST(CliTest, UnknownCommandIsUsageError) {
  std::ostringstream out, err;
  EXPECT_EQ(RunCli({"frobnicate"}, out, err), kExitUsage);
  EXPECT_THAT(err.str(), HasSubstr("'frobnicate' is not a berth command"));
}

TEST(CliTest, UnknownFlagIsUsageError) {
  std::ostringstream out, err;
  EXPECT_EQ(RunCli({"version", "--bogus"}, out, err), kExitUsage);
  EXPECT_THAT(err.str(), HasSubstr("unknown flag: --bogus"));
  EXPECT_THAT(err.str(), HasSubstr("See 'berth version --help'"));
}

TEST(CliTest, HelpListsCommands) {
  std::ostringstream out, err;
  EXPECT_EQ(RunCli({"--help"}, out, err), kExitOk);
  EXPECT_THAT(out.str(), HasSubstr("version"));
  EXPECT_THAT(out.str(), HasSubstr("info"));
  std::ostringstream out2;
  EXPECT_EQ(RunCli({"info", "--help"}, out2, err), kExitOk);
  EXPECT_THAT(out2.str(), HasSubstr("--format"));
}

TEST(CliTest, AbsentDaemonFailsClearly) {
  std::ostringstream out, err;
  int rc = RunCli({"-H", "unix:///tmp/berth-no-such-dir/berthd.sock", "version"}, out, err);
  EXPECT_EQ(rc, kExitFailure);
  EXPECT_THAT(out.str(), HasSubstr("Client:"));
  EXPECT_THAT(err.str(), HasSubstr("Cannot connect to the berth daemon at "
                                   "unix:///tmp/berth-no-such-dir/berthd.sock"));
}

TEST(CliTest, NonUnixHostIsRejected) {
  std::ostringstream out, err;
  EXPECT_EQ(RunCli({"-H", "tcp://1.2.3.4:2375", "info"}, out, err), kExitUsage);
  EXPECT_THAT(err.str(), HasSubstr("only unix://"));
}

TEST(CliTest, VersionFlagNeedsNoDaemon) {
  std::ostringstream out, err;
  EXPECT_EQ(RunCli({"--version"}, out, err), kExitOk);
  EXPECT_THAT(out.str(), HasSubstr("berth version "));
}

}  // namespace
}  // namespace berth::cli
