#include "common/grpc/status_mapping.h"

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace berth::grpc_util {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

TEST(StatusMappingTest, EveryCanonicalCodeRoundTrips) {
  for (int c = 1; c <= 16; ++c) {
    const auto code = static_cast<absl::StatusCode>(c);
    absl::Status in(code, "container 3f2a: mount overlay: permission denied");
    ::grpc::Status wire = ToGrpcStatus(in);
    EXPECT_EQ(static_cast<int>(wire.error_code()), c) << absl::StatusCodeToString(code);
    EXPECT_EQ(wire.error_message(), in.message());
    EXPECT_EQ(FromGrpcStatus(wire), in) << absl::StatusCodeToString(code);
  }
}

TEST(StatusMappingTest, EveryGrpcCodeRoundTrips) {
  for (int c = 1; c <= 16; ++c) {
    ::grpc::Status in(static_cast<::grpc::StatusCode>(c), "msg");
    ::grpc::Status back = ToGrpcStatus(FromGrpcStatus(in));
    EXPECT_EQ(back.error_code(), in.error_code());
    EXPECT_EQ(back.error_message(), "msg");
  }
}

TEST(StatusMappingTest, OkMapsToOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_THAT(FromGrpcStatus(::grpc::Status::OK), IsOk());
}

TEST(StatusMappingTest, UnknownNumericCodeBecomesUnknown) {
  absl::Status odd(static_cast<absl::StatusCode>(42), "odd");
  EXPECT_EQ(ToGrpcStatus(odd).error_code(), ::grpc::StatusCode::UNKNOWN);
  ::grpc::Status wire(static_cast<::grpc::StatusCode>(99), "odd");
  EXPECT_THAT(FromGrpcStatus(wire), StatusIs(absl::StatusCode::kUnknown, "odd"));
}

}  // namespace
}  // namespace berth::grpc_util
