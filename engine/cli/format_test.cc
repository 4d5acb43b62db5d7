#include "engine/cli/format.h"

#include <sstream>

#include "engine/cli/commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

using ::testing::HasSubstr;

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
