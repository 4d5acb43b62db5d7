// gMock matchers for absl::Status and absl::StatusOr<T>:
//   EXPECT_THAT(DoIt(), IsOk());
//   EXPECT_THAT(Parse("x"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("digest")));
#pragma once

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace berth::testing {
namespace internal {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOkMatcher, "is OK") {
  const absl::Status& s = GetStatus(arg);
  if (!s.ok()) *result_listener << "status is " << s;
  return s.ok();
}

template <typename MessageMatcher>
class StatusIsMatcher {
 public:
  StatusIsMatcher(absl::StatusCode code, MessageMatcher message)
      : code_(code), message_(std::move(message)) {}

  template <typename StatusLike>
  operator ::testing::Matcher<const StatusLike&>() const {  // NOLINT: implicit by design
    return ::testing::MakeMatcher(new Impl<StatusLike>(code_, message_));
  }

 private:
  template <typename StatusLike>
  class Impl : public ::testing::MatcherInterface<const StatusLike&> {
   public:
    Impl(absl::StatusCode code, const MessageMatcher& message)
        : code_(code), message_(::testing::SafeMatcherCast<const std::string&>(message)) {}
    bool MatchAndExplain(const StatusLike& arg,
                         ::testing::MatchResultListener* listener) const override {
      const absl::Status& s = GetStatus(arg);
      *listener << "status is " << s;
      return s.code() == code_ && message_.Matches(std::string(s.message()));
    }
    void DescribeTo(std::ostream* os) const override {
      *os << "has code " << absl::StatusCodeToString(code_) << " and message that ";
      message_.DescribeTo(os);
    }

   private:
    absl::StatusCode code_;
    ::testing::Matcher<const std::string&> message_;
  };

  absl::StatusCode code_;
  MessageMatcher message_;
};

}  // namespace internal

// Matches an OK absl::Status or absl::StatusOr<T>.
inline auto IsOk() { return internal::IsOkMatcher(); }

// Matches a status with `code` (and, optionally, a message matching `message`, which may be a
// string or any gMock string matcher).
template <typename MessageMatcher>
internal::StatusIsMatcher<MessageMatcher> StatusIs(absl::StatusCode code,
                                                   MessageMatcher message) {
  return internal::StatusIsMatcher<MessageMatcher>(code, std::move(message));
}
inline auto StatusIs(absl::StatusCode code) { return StatusIs(code, ::testing::_); }

}  // namespace berth::testing
