#include "engine/cli/format.h"

#include <sstream>

#include "engine/cli/commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

using ::testing::HasSubstr;

TEST(FormatTest, HumanSizeLikeDocker) {
  EXPECT_EQ(HumanSize(0), "0B");
  EXPECT_EQ(HumanSize(999), "999B");
  EXPECT_EQ(HumanSize(1000), "1kB");
  EXPECT_EQ(HumanSize(4261550), "4.26MB");
  EXPECT_EQ(HumanSize(123456789), "123MB");
  EXPECT_EQ(HumanSize(12.3e9), "12.3GB");
}

TEST(FormatTest, HumanDurationLikeDocker) {
  EXPECT_EQ(HumanDuration(absl::Milliseconds(10)), "Less than a second");
  EXPECT_EQ(HumanDuration(absl::Seconds(1)), "1 second");
  EXPECT_EQ(HumanDuration(absl::Seconds(30)), "30 seconds");
  EXPECT_EQ(HumanDuration(absl::Seconds(90)), "About a minute");
  EXPECT_EQ(HumanDuration(absl::Minutes(45)), "45 minutes");
  EXPECT_EQ(HumanDuration(absl::Minutes(70)), "About an hour");
  EXPECT_EQ(HumanDuration(absl::Hours(5)), "5 hours");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 3)), "3 days");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 21)), "3 weeks");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 90)), "3 months");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 365 * 3)), "3 years");
}

TEST(FormatTest, TableAlignsLikeTabwriter) {
  Table t({"REPOSITORY", "TAG", "IMAGE ID", "SIZE"});
  t.Add({"busybox", "latest", "0123456789ab", "4.26MB"});
  std::ostringstream os;
  t.Print(os);
  EXPECT_EQ(os.str(),
            "REPOSITORY   TAG       IMAGE ID       SIZE\n"
            "busybox      latest    0123456789ab   4.26MB\n");
}

TEST(ImageCommandsTest, UsageErrorsExit125WithoutDaemon) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"tag", "a"},
                                             {"rmi"},
                                             {"images", "a", "b"},
                                             {"images", "--bogus"},
                                             {"image", "frob"},
                                             {"image", "ls", "--bogus"},
                                             {"history"},
                                             {"import"},
                                             {"load", "x"},
                                             {"image", "prune", "x"},
                                             {"images", "--filter", "novalue"}}) {
    std::ostringstream out, err;
    EXPECT_EQ(RunCli(args, out, err), kExitUsage) << args[0] << " " << err.str();
    EXPECT_FALSE(err.str().empty());
  }
}

TEST(ImageCommandsTest, ImportOfMissingFileIsOneLine) {
  std::ostringstream out, err;
  EXPECT_EQ(RunCli({"-H", "unix:///tmp/berth-no-such-dir/x.sock", "import",
                    "/tmp/berth-no-such-dir/rootfs.tar"},
                   out, err),
            kExitFailure);
  EXPECT_EQ(err.str(),
            "berth: open /tmp/berth-no-such-dir/rootfs.tar: No such file or directory\n");
}

TEST(ImageCommandsTest, HelpListsImageSubcommands) {
  std::ostringstream out, err;
  EXPECT_EQ(RunCli({"image"}, out, err), kExitOk);
  for (const char* s :
       {"ls", "inspect", "history", "tag", "rm", "prune", "import", "save", "load"}) {
    EXPECT_THAT(out.str(), HasSubstr("  " + std::string(s)));
  }
  std::ostringstream out2;
  EXPECT_EQ(RunCli({"image", "ls", "--help"}, out2, err), kExitOk);
  EXPECT_THAT(out2.str(), HasSubstr("--digests"));
}

}  // namespace
}  // namespace berth::cli
