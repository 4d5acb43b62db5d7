#include "common/status/status_macros.h"

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace berth {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

absl::Status Fail(absl::StatusCode code) { return absl::Status(code, "boom"); }

absl::StatusOr<int> Value(bool ok) {
  if (!ok) return absl::NotFoundError("no value");
  return 7;
}

absl::Status UseReturnIfError(absl::StatusCode code) {
  BERTH_RETURN_IF_ERROR(Fail(code));
  return absl::OkStatus();
}

absl::Status UseReturnIfErrorWithContext() {
  BERTH_RETURN_IF_ERROR(Fail(absl::StatusCode::kPermissionDenied), "mount overlay");
  return absl::OkStatus();
}

absl::StatusOr<int> UseAssign(bool ok) {
  BERTH_ASSIGN_OR_RETURN(int v, Value(ok), "read value");
  BERTH_ASSIGN_OR_RETURN(auto w, Value(true));  // twice on distinct lines must compile
  return v + w;
}

TEST(StatusMacrosTest, ReturnIfErrorPassesThroughOk) {
  EXPECT_THAT(UseReturnIfError(absl::StatusCode::kOk), IsOk());
}

TEST(StatusMacrosTest, ReturnIfErrorKeepsCode) {
  EXPECT_THAT(UseReturnIfError(absl::StatusCode::kAborted),
              StatusIs(absl::StatusCode::kAborted, "boom"));
}

TEST(StatusMacrosTest, ReturnIfErrorAddsContext) {
  EXPECT_THAT(UseReturnIfErrorWithContext(),
              StatusIs(absl::StatusCode::kPermissionDenied, "mount overlay: boom"));
}

TEST(StatusMacrosTest, AssignOrReturn) {
  absl::StatusOr<int> ok = UseAssign(true);
  ASSERT_THAT(ok, IsOk());
  EXPECT_EQ(*ok, 14);
  EXPECT_THAT(UseAssign(false),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("read value: no value")));
}

TEST(StatusMacrosTest, AnnotateKeepsPayloads) {
  absl::Status s = absl::InternalError("x");
  s.SetPayload("type.berth/detail", absl::Cord("d"));
  absl::Status a = Annotate(s, "ctx");
  EXPECT_EQ(a.message(), "ctx: x");
  ASSERT_TRUE(a.GetPayload("type.berth/detail").has_value());
  EXPECT_EQ(*a.GetPayload("type.berth/detail"), "d");
  EXPECT_THAT(Annotate(absl::OkStatus(), "ctx"), IsOk());
}

}  // namespace
}  // namespace berth
