#include "common/units/units.h"

#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace berth::units {
namespace {

using ::berth::testing::StatusIs;

TEST(RamInBytesTest, BinaryMultiples) {
  EXPECT_EQ(*RamInBytes("1024"), 1024);
  EXPECT_EQ(*RamInBytes("1k"), 1024);
  EXPECT_EQ(*RamInBytes("512m"), 512 << 20);
  EXPECT_EQ(*RamInBytes("512M"), 512 << 20);
  EXPECT_EQ(*RamInBytes("1g"), int64_t{1} << 30);
  EXPECT_EQ(*RamInBytes("1.5g"), int64_t{3} << 29);
  EXPECT_EQ(*RamInBytes("64MiB"), 64 << 20);
  EXPECT_EQ(*RamInBytes("64mb"), 64 << 20);
  EXPECT_EQ(*RamInBytes("10b"), 10);
  EXPECT_EQ(*RamInBytes("2 GB"), int64_t{2} << 30);
  EXPECT_EQ(*RamInBytes("1p"), int64_t{1} << 50);
  EXPECT_EQ(*RamInBytes(".5k"), 512);
  for (const char* bad : {"", "m", "12x", "-1", "1.5.5g", "12mm", " 1m", "1m ", "1  m", "ib",
                          "10000000p"}) {
    EXPECT_THAT(RamInBytes(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
  EXPECT_EQ(RamInBytes("12x").status().message(), "invalid size: '12x'");
}

TEST(FromHumanSizeTest, DecimalMultiples) {
  EXPECT_EQ(*FromHumanSize("10m"), 10'000'000);
  EXPECT_EQ(*FromHumanSize("1k"), 1000);
  EXPECT_EQ(*FromHumanSize("1.5KB"), 1500);
  EXPECT_EQ(*FromHumanSize("2 GiB"), 2'000'000'000);  // go-units ignores the "i"
  EXPECT_EQ(*FromHumanSize("100"), 100);
  EXPECT_THAT(FromHumanSize("10q"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HumanSizeTest, LikeDocker) {
  EXPECT_EQ(HumanSize(0), "0B");
  EXPECT_EQ(HumanSize(999), "999B");
  EXPECT_EQ(HumanSize(1000), "1kB");
  EXPECT_EQ(HumanSize(4261550), "4.26MB");
  EXPECT_EQ(HumanSize(123456789), "123MB");
  EXPECT_EQ(HumanSize(12.3e9), "12.3GB");
}

TEST(HumanDurationTest, LikeDocker) {
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

}  // namespace
}  // namespace berth::units
