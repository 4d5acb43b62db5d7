#include "common/grpc/address.h"

#include <string>

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace berth::grpc_util {
namespace {

using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

TEST(AddressTest, AcceptsUnixForms) {
  EXPECT_EQ(*ParseUnixAddress("unix:///run/berth/berthd.sock"), "/run/berth/berthd.sock");
  EXPECT_EQ(*ParseUnixAddress("unix:/run/x.sock"), "/run/x.sock");
  EXPECT_EQ(*ParseUnixAddress("/run/x.sock"), "/run/x.sock");
}

TEST(AddressTest, RejectsOtherSchemesAndRelativePaths) {
  EXPECT_THAT(ParseUnixAddress("tcp://127.0.0.1:2375"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("only unix://")));
  EXPECT_THAT(ParseUnixAddress("unix://run/x.sock"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("absolute")));
  EXPECT_THAT(ParseUnixAddress(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(AddressTest, RejectsPathsTooLongForSockaddr) {
  std::string long_path = "/" + std::string(120, 'a');
  EXPECT_THAT(ParseUnixAddress(long_path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("longer than 107")));
}

}  // namespace
}  // namespace berth::grpc_util
