#include "containerd/server/proto_time.h"

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace berth::containerd::server {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

TEST(ProtoTimeTest, RoundTripsWithNanoseconds) {
  const absl::Time t = absl::FromUnixNanos(1700000000123456789);
  google::protobuf::Timestamp ts = ToProtoTime(t);
  EXPECT_EQ(ts.seconds(), 1700000000);
  EXPECT_EQ(ts.nanos(), 123456789);
  auto back = FromProtoTime(ts);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(*back, t);
}

TEST(ProtoTimeTest, NegativeTimesKeepNanosPositive) {
  const absl::Time t = absl::FromUnixNanos(-1500000000);  // 1.5 s before the epoch
  google::protobuf::Timestamp ts = ToProtoTime(t);
  EXPECT_EQ(ts.seconds(), -2);
  EXPECT_EQ(ts.nanos(), 500000000);
  EXPECT_EQ(*FromProtoTime(ts), t);
}

TEST(ProtoTimeTest, ClampsInfinities) {
  EXPECT_EQ(ToProtoTime(absl::InfiniteFuture()).seconds(), 253402300799);
  EXPECT_EQ(ToProtoTime(absl::InfinitePast()).seconds(), -62135596800);
}

TEST(ProtoTimeTest, RejectsInvalidInput) {
  google::protobuf::Timestamp ts;
  ts.set_nanos(-1);
  EXPECT_THAT(FromProtoTime(ts), StatusIs(absl::StatusCode::kInvalidArgument));
  ts.set_nanos(0);
  ts.set_seconds(253402300800);
  EXPECT_THAT(FromProtoTime(ts), StatusIs(absl::StatusCode::kInvalidArgument));

  google::protobuf::Duration d;
  d.set_seconds(5);
  d.set_nanos(-1);
  EXPECT_THAT(FromProtoDuration(d), StatusIs(absl::StatusCode::kInvalidArgument));
  d.set_seconds(-5);
  d.set_nanos(-500000000);
  auto ok = FromProtoDuration(d);
  ASSERT_THAT(ok, IsOk());
  EXPECT_EQ(*ok, absl::Milliseconds(-5500));
}

}  // namespace
}  // namespace berth::containerd::server
