#include "common/init/init.h"

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

}  // namespace
}  // namespace berth
