#include "common/init/init.h"

#include <string>

#include "glog/logging.h"
#include "gtest/gtest.h"

namespace berth {
namespace {

TEST(InitTest, LogLevelNames) {
  ASSERT_TRUE(ApplyLogLevel("debug"));
  EXPECT_EQ(FLAGS_v, 1);
  EXPECT_EQ(FLAGS_minloglevel, google::GLOG_INFO);
  ASSERT_TRUE(ApplyLogLevel("TRACE"));
  EXPECT_EQ(FLAGS_v, 2);
  ASSERT_TRUE(ApplyLogLevel("warning"));
  EXPECT_EQ(FLAGS_v, 0);
  EXPECT_EQ(FLAGS_minloglevel, google::GLOG_WARNING);
  ASSERT_TRUE(ApplyLogLevel("error"));
  EXPECT_EQ(FLAGS_minloglevel, google::GLOG_ERROR);
  ASSERT_TRUE(ApplyLogLevel("3"));
  EXPECT_EQ(FLAGS_v, 3);
  ASSERT_TRUE(ApplyLogLevel("info"));
  EXPECT_EQ(FLAGS_v, 0);
  EXPECT_EQ(FLAGS_minloglevel, google::GLOG_INFO);
}

TEST(InitTest, BadLogLevelsAreRejected) {
  EXPECT_FALSE(ApplyLogLevel("loud"));
  EXPECT_FALSE(ApplyLogLevel("-1"));
  EXPECT_FALSE(ApplyLogLevel(""));
}

TEST(InitTest, DashedFlagNamesBecomeUnderscores) {
  std::string a0 = "berthd", a1 = "--exec-root=/run/a-b", a2 = "--metrics-addr", a3 = "x-y",
              a4 = "-H", a5 = "--", a6 = "--not-a-flag";
  char* argv[] = {a0.data(), a1.data(), a2.data(), a3.data(), a4.data(), a5.data(), a6.data()};
  NormalizeFlagNames(7, argv);
  EXPECT_STREQ(argv[1], "--exec_root=/run/a-b");
  EXPECT_STREQ(argv[2], "--metrics_addr");
  EXPECT_STREQ(argv[3], "x-y");
  EXPECT_STREQ(argv[4], "-H");
  EXPECT_STREQ(argv[6], "--not-a-flag");
}

}  // namespace
}  // namespace berth
