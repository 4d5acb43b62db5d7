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

}  // namespace
}  // namespace berth::units
