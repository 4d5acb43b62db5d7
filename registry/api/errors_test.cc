#include "registry/api/errors.h"

#include "gtest/gtest.h"

namespace berth::registry::api {
namespace {

TEST(ErrorsTest, BodyHasTheSpecShape) {
  EXPECT_EQ(
      ErrorBody(ErrorCode::kNameUnknown),
      R"({"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]})");
  EXPECT_EQ(ErrorBody(ErrorCode::kUnsupported, "nope", {{"path", "/v2/x"}, {"m", "GET"}}),
            R"({"errors":[{"code":"UNSUPPORTED","message":"nope",)"
            R"("detail":{"path":"/v2/x","m":"GET"}}]})");
}

TEST(ErrorsTest, EveryCodeHasANameAndMessage) {
  for (int c = 0; c <= static_cast<int>(ErrorCode::kTooManyRequests); ++c) {
    const auto code = static_cast<ErrorCode>(c);
    EXPECT_FALSE(ErrorCodeName(code).empty());
    EXPECT_FALSE(DefaultMessage(code).empty());
  }
  EXPECT_EQ(ErrorCodeName(ErrorCode::kBlobUnknown), "BLOB_UNKNOWN");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kTooManyRequests), "TOOMANYREQUESTS");
}

TEST(ErrorsTest, JsonQuoteEscapes) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n\x01 é"), "\"a\\\"b\\\\c\\n\\u0001 é\"");
}

TEST(ErrorsTest, ResponseIsJson) {
  http::Response r = ErrorResponse(404, ErrorCode::kManifestUnknown);
  EXPECT_EQ(r.status, 404);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].second, "application/json");
}

}  // namespace
}  // namespace berth::registry::api
