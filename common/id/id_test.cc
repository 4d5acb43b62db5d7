#include "common/id/id.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "common/id/sequence_id_source.h"
#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace berth::id {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

bool AllDigits(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return true;
}

TEST(GenerateIdTest, Has64LowercaseHexCharacters) {
  absl::StatusOr<std::string> id = GenerateId();
  ASSERT_THAT(id, IsOk());
  EXPECT_EQ(id->size(), 64u);
  EXPECT_TRUE(IsValidId(*id)) << *id;
}

// 10k ids: all valid, all distinct (short forms too: 48 bits make a collision among 10k a
// one-in-five-million event), none with an all-digit short form although ~35 draws had one.
TEST(GenerateIdTest, TenThousandAreValidUniqueAndNeverAllDigits) {
  constexpr int kCount = 10000;
  absl::flat_hash_set<std::string> ids;
  absl::flat_hash_set<std::string> short_ids;
  for (int i = 0; i < kCount; ++i) {
    absl::StatusOr<std::string> id = GenerateId();
    ASSERT_THAT(id, IsOk());
    ASSERT_TRUE(IsValidId(*id)) << *id;
    ASSERT_FALSE(AllDigits(ShortId(*id))) << *id;
    ids.insert(*id);
    short_ids.insert(std::string(ShortId(*id)));
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kCount));
  EXPECT_EQ(short_ids.size(), static_cast<size_t>(kCount));
}

TEST(GenerateIdTest, RedrawsIdsWhoseShortFormIsAllDigits) {
  int calls = 0;
  absl::StatusOr<std::string> id = internal::GenerateIdFrom([&calls](absl::Span<uint8_t> buf) {
    // First draw: "123412341234" then "cdcd...": letters in the id, but not in its short form,
    // so it is redrawn. Second draw: "abab...".
    for (size_t i = 0; i < buf.size(); ++i) {
      if (calls > 0) {
        buf[i] = 0xab;
      } else {
        buf[i] = i >= kShortIdLength / 2 ? 0xcd : (i % 2 == 0 ? 0x12 : 0x34);
      }
    }
    ++calls;
    return absl::OkStatus();
  });
  ASSERT_THAT(id, IsOk());
  EXPECT_EQ(calls, 2);
  std::string expected;
  for (int i = 0; i < 32; ++i) expected += "ab";
  EXPECT_EQ(*id, expected);
}

// One letter in the short form is enough, even in its last place.
TEST(GenerateIdTest, KeepsIdsWithALetterInTheShortForm) {
  int calls = 0;
  absl::StatusOr<std::string> id = internal::GenerateIdFrom([&calls](absl::Span<uint8_t> buf) {
    for (size_t i = 0; i < buf.size(); ++i) buf[i] = 0x11;
    buf[5] = 0x1a;  // hex offset 11: the short form's last character
    ++calls;
    return absl::OkStatus();
  });
  ASSERT_THAT(id, IsOk());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(ShortId(*id), "11111111111a");
}

TEST(GenerateIdTest, RandomSourceFailureIsInternal) {
  EXPECT_THAT(internal::GenerateIdFrom(
                  [](absl::Span<uint8_t>) { return absl::UnavailableError("no entropy"); }),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("no entropy")));
}

TEST(ShortIdTest, TakesTwelveCharacters) {
  const std::string id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  EXPECT_EQ(ShortId(id), "0123456789ab");
  EXPECT_EQ(ShortId("abc"), "abc");
  EXPECT_EQ(ShortId(""), "");
}

TEST(IsValidIdTest, AcceptsOnlyFullLowercaseHex) {
  const std::string good(64, 'f');
  EXPECT_TRUE(IsValidId(good));
  EXPECT_TRUE(IsValidId(std::string(64, '0')));  // all digits is valid, just never generated
  EXPECT_FALSE(IsValidId(""));
  EXPECT_FALSE(IsValidId(good.substr(0, 63)));
  EXPECT_FALSE(IsValidId(good + "f"));
  EXPECT_FALSE(IsValidId(good.substr(0, 12)));  // a short id is not an id
  EXPECT_FALSE(IsValidId(std::string(63, 'f') + "F"));
  EXPECT_FALSE(IsValidId(std::string(63, 'f') + "g"));
  EXPECT_FALSE(IsValidId(std::string(63, 'f') + "-"));
  EXPECT_FALSE(IsValidId(std::string(63, 'f') + '\0'));
}

TEST(ValidateIdTest, SaysWhatIsWrong) {
  EXPECT_THAT(ValidateId(std::string(64, 'e')), IsOk());
  EXPECT_THAT(ValidateId("abc"), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("must be 64 characters, got 3")));
  EXPECT_THAT(ValidateId(std::string(10, 'e') + "X" + std::string(53, 'e')),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("character X at offset 10 is not lowercase hex")));
}

TEST(RandomIdSourceTest, GivesValidDistinctIds) {
  std::unique_ptr<IdSource> source = std::make_unique<RandomIdSource>();
  absl::StatusOr<std::string> a = source->NewId();
  absl::StatusOr<std::string> b = source->NewId();
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_TRUE(IsValidId(*a));
  EXPECT_NE(*a, *b);
}

TEST(SequenceIdSourceTest, IsPredictableAndValid) {
  SequenceIdSource source;
  const std::string first = *source.NewId();
  EXPECT_EQ(first, "a00000000001" + std::string(52, '0'));
  EXPECT_EQ(*source.NewId(), SequenceIdSource::IdFor(2));
  EXPECT_EQ(ShortId(SequenceIdSource::IdFor(0xabc)), "a00000000abc");
  for (uint64_t n : {uint64_t{0}, uint64_t{1}, uint64_t{99999}, (uint64_t{1} << 44) - 1}) {
    SCOPED_TRACE(n);
    EXPECT_TRUE(IsValidId(SequenceIdSource::IdFor(n)));
    EXPECT_FALSE(AllDigits(ShortId(SequenceIdSource::IdFor(n))));
  }
  SequenceIdSource again;
  EXPECT_EQ(*again.NewId(), first);  // same sequence every run
}

TEST(SequenceIdSourceTest, StartsWhereToldAndEndsCleanly) {
  SequenceIdSource source((uint64_t{1} << 44) - 1);
  EXPECT_THAT(source.NewId(), IsOk());
  EXPECT_THAT(source.NewId(), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(SequenceIdSourceTest, ConcurrentCallersGetDistinctIds) {
  SequenceIdSource source;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 250;
  std::vector<std::vector<std::string>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&source, &got, t] {
      for (int i = 0; i < kPerThread; ++i) got[t].push_back(*source.NewId());
    });
  }
  for (std::thread& t : threads) t.join();
  absl::flat_hash_set<std::string> all;
  for (const auto& ids : got) all.insert(ids.begin(), ids.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_TRUE(all.contains(SequenceIdSource::IdFor(kThreads * kPerThread)));
}

}  // namespace
}  // namespace berth::id
