#include "registry/api/range.h"

#include "gtest/gtest.h"

namespace berth::registry::api {
namespace {

using Kind = RangeRequest::Kind;

TEST(RangeTest, SingleRanges) {
  RangeRequest r = ParseRange("bytes=0-9", 100);
  EXPECT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.range.first, 0u);
  EXPECT_EQ(r.range.last, 9u);
  EXPECT_EQ(r.range.length(), 10u);
  r = ParseRange("bytes=90-", 100);
  EXPECT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.range.first, 90u);
  EXPECT_EQ(r.range.last, 99u);
  r = ParseRange("bytes=-10", 100);
  EXPECT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.range.first, 90u);
  r = ParseRange("bytes=-1000", 100);  // suffix longer than the blob: all of it
  EXPECT_EQ(r.range.first, 0u);
  EXPECT_EQ(r.range.last, 99u);
  r = ParseRange("BYTES= 5-500", 100);  // last past the end is clamped
  EXPECT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.range.last, 99u);
}

TEST(RangeTest, Unsatisfiable) {
  EXPECT_EQ(ParseRange("bytes=100-", 100).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=100-200", 100).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=-0", 100).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=0-", 0).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=99999999999999999999999999-", 100).kind, Kind::kUnsatisfiable);
}

TEST(RangeTest, HostileOrUnsupportedRangesAreIgnored) {
  for (const char* h : {"", "bytes", "bytes=", "bytes=-", "bytes=a-b", "bytes=5-1", "items=0-1",
                        "bytes=0-1,3-4", "bytes=1--2", "bytes=0x10-", "bytes=-+5",
                        "bytes=0-18446744073709551616999"}) {
    RangeRequest r = ParseRange(h, 100);
    if (std::string(h) == "bytes=0-18446744073709551616999") {
      // A huge last position saturates and is clamped to the blob.
      EXPECT_EQ(r.kind, Kind::kPartial);
      EXPECT_EQ(r.range.last, 99u);
    } else {
      EXPECT_EQ(r.kind, Kind::kWholeBody) << h;
    }
  }
}

TEST(RangeTest, ContentRange) {
  auto r = ParseContentRange("0-99");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->first, 0u);
  EXPECT_EQ(r->length(), 100u);
  EXPECT_TRUE(ParseContentRange("bytes 5-9/100").has_value());
  EXPECT_EQ(ParseContentRange("bytes=5-9")->first, 5u);
  for (const char* bad : {"", "5", "9-5", "a-b", "-5", "5-", "1-2-3", "0-18446744073709551615"}) {
    EXPECT_FALSE(ParseContentRange(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace berth::registry::api
