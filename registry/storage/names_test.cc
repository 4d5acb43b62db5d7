#include "registry/storage/names.h"

#include <string>

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace berth::registry::storage {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

TEST(NamesTest, ValidRepositoryNames) {
  for (const char* name : {"a", "library/alpine", "a0/b-c/d.e/f_g/h__i", "x--y", "a/b/c/d/e/f",
                           "0", "ab.cd-ef"}) {
    EXPECT_THAT(ValidateRepositoryName(name), IsOk()) << name;
  }
  EXPECT_THAT(ValidateRepositoryName(std::string(255, 'a')), IsOk());
}

TEST(NamesTest, InvalidRepositoryNames) {
  for (const char* name : {"", "A", "Library/alpine", "a/", "/a", "a//b", "a/../b", "..", ".a",
                           "a.", "a..b", "a___b", "a_-b", "-a", "a-", "a b", "a/_layers",
                           "a%2fb", "a\nb", "a/./b"}) {
    EXPECT_THAT(ValidateRepositoryName(name), StatusIs(absl::StatusCode::kInvalidArgument))
        << name;
  }
  EXPECT_THAT(ValidateRepositoryName(std::string(256, 'a')),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(NamesTest, Tags) {
  for (const char* tag : {"latest", "v1.2.3", "_x", "A-b_c.d", "1"}) {
    EXPECT_THAT(ValidateTag(tag), IsOk()) << tag;
  }
  EXPECT_THAT(ValidateTag(std::string(128, 'a')), IsOk());
  for (const char* tag : {"", ".x", "-x", "a/b", "a:b", "a b", "..", "a\x01"}) {
    EXPECT_THAT(ValidateTag(tag), StatusIs(absl::StatusCode::kInvalidArgument)) << tag;
  }
  EXPECT_THAT(ValidateTag(std::string(129, 'a')), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace berth::registry::storage
