#include "common/digest/digest.h"

#include <sstream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash_testing.h"
#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace berth::digest {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kEmptySha256 =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kAbcSha512 =
    "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

TEST(DigestParseTest, AcceptsSha256AndKeepsParts) {
  absl::StatusOr<Digest> d = Digest::Parse(kEmptySha256);
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->algorithm(), "sha256");
  EXPECT_EQ(d->hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(d->ToString(), kEmptySha256);
}

TEST(DigestParseTest, AcceptsSha512) {
  absl::StatusOr<Digest> d = Digest::Parse(kAbcSha512);
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->algorithm(), "sha512");
  EXPECT_EQ(d->hex().size(), 128u);
  EXPECT_EQ(d->ToString(), kAbcSha512);
}

TEST(DigestParseTest, RoundTripsThroughToString) {
  for (const std::string& s : {kEmptySha256, kAbcSha512}) {
    absl::StatusOr<Digest> d = Digest::Parse(s);
    ASSERT_THAT(d, IsOk());
    absl::StatusOr<Digest> again = Digest::Parse(d->ToString());
    ASSERT_THAT(again, IsOk());
    EXPECT_EQ(*again, *d);
  }
}

struct BadDigest {
  std::string input;
  std::string message;  // a substring the error must contain
};

// Each malformed digest is InvalidArgument with a message that says what is wrong.
TEST(DigestParseTest, RejectsMalformedWithSpecificMessages) {
  const std::string hex64(64, 'a');
  const std::vector<BadDigest> cases = {
      {"", "digest is empty"},
      {"sha256", "digest \"sha256\": missing ':'"},
      {"e3b0c44298fc1c149afbf4c8996fb924", "missing ':'"},
      {":" + hex64, "empty algorithm"},
      {"sha256:", "digest \"sha256:\": empty encoded part"},
      {"sha256:abc", "digest \"sha256:abc\": sha256 hex must be 64 characters, got 3"},
      {"sha256:" + hex64 + "a", "sha256 hex must be 64 characters, got 65"},
      {"sha512:" + hex64, "sha512 hex must be 128 characters, got 64"},
      {"sha256:" + std::string(64, 'A'), "uppercase hex not allowed in sha256 digest"},
      {"sha256:" + std::string(63, 'a') + "F", "uppercase hex not allowed"},
      {"sha256:" + std::string(63, 'a') + "g", "non-hex character 'g' at offset 70"},
      {"sha256:" + std::string(63, 'a') + "=", "non-hex character '='"},
      {"SHA256:" + hex64, "algorithm must be lowercase, got 'S' at offset 0"},
      {"sha256:" + hex64 + ":x", "invalid character ':' in encoded part at offset 71"},
      {"sha256:ab/cd", "invalid character '/' in encoded part"},
      {"sha256:ab cd", "invalid character ' ' in encoded part"},
      {" sha256:" + hex64, "invalid character ' ' in algorithm at offset 0"},
      {"sha256:" + hex64 + "\n", "invalid character '\\n' in encoded part"},
      {"sha 256:" + hex64, "invalid character ' ' in algorithm"},
      {"+sha256:" + hex64, "algorithm must not start with separator '+'"},
      {"sha256+:" + hex64, "algorithm must not end with separator '+'"},
      {"multihash++base58:abc", "two separators in a row at offset 10"},
      {"a._b:abc", "two separators in a row at offset 2"},
      {std::string("sha256\0:", 8) + hex64, "invalid character '\\x00' in algorithm"},
  };
  for (const BadDigest& c : cases) {
    SCOPED_TRACE(c.input);
    EXPECT_THAT(Digest::Parse(c.input),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)));
  }
}

// The grammar is checked before the algorithm, so a malformed digest with an unknown
// algorithm is still InvalidArgument, not Unimplemented.
TEST(DigestParseTest, GrammarErrorsWinOverUnknownAlgorithm) {
  EXPECT_THAT(Digest::Parse("md5:ab/cd"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Digest::Parse("MD5:abcd"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(DigestParseTest, WellFormedUnknownAlgorithmsAreUnimplemented) {
  for (const std::string s : {
           "md5:d41d8cd98f00b204e9800998ecf8427e",
           "sha384:"
           "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f"
           "14898b95b",
           // Registered in image-spec v1.1, but OpenSSL 3.0 cannot compute it.
           "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
           // The spec's own example of a valid but unsupported digest.
           "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
           "a.b_c-d+e:A=_-z",
       }) {
    SCOPED_TRACE(s);
    EXPECT_THAT(Digest::Parse(s), StatusIs(absl::StatusCode::kUnimplemented,
                                           AllOf(HasSubstr("unsupported digest algorithm"),
                                                 HasSubstr("berth supports sha256, sha512"))));
  }
}

TEST(DigestParseTest, LongGarbageIsTruncatedInTheMessage) {
  const std::string garbage(1 << 20, 'x');
  absl::StatusOr<Digest> d = Digest::Parse(garbage);
  ASSERT_THAT(d, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing ':'")));
  EXPECT_LT(d.status().message().size(), 300u);
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("\"..."));
}

TEST(SupportedAlgorithmsTest, ListsSha256ThenSha512) {
  EXPECT_THAT(SupportedAlgorithms(), ElementsAre("sha256", "sha512"));
  EXPECT_THAT(CheckAlgorithmSupported("sha256"), IsOk());
  EXPECT_THAT(CheckAlgorithmSupported("sha512"), IsOk());
  EXPECT_THAT(CheckAlgorithmSupported("md5"),
              StatusIs(absl::StatusCode::kUnimplemented,
                       "unsupported digest algorithm \"md5\" (berth supports sha256, sha512)"));
  EXPECT_THAT(CheckAlgorithmSupported("SHA256"), StatusIs(absl::StatusCode::kUnimplemented));
}

TEST(DigestTest, ComparesAndOrdersByString) {
  const Digest a = *Digest::Parse("sha256:" + std::string(64, 'a'));
  const Digest b = *Digest::Parse("sha256:" + std::string(64, 'b'));
  const Digest a2 = *Digest::Parse("sha256:" + std::string(64, 'a'));
  const Digest s512 = *Digest::Parse(kAbcSha512);
  EXPECT_EQ(a, a2);
  EXPECT_NE(a, b);
  EXPECT_LT(a, b);
  EXPECT_FALSE(b < a);
  EXPECT_FALSE(a < a2);
  EXPECT_LT(a, s512);  // "sha256:" < "sha512:"
}

TEST(DigestTest, IsHashable) {
  const Digest a = *Digest::Parse("sha256:" + std::string(64, 'a'));
  const Digest b = *Digest::Parse("sha256:" + std::string(64, 'b'));
  const Digest c = *Digest::Parse(kAbcSha512);
  EXPECT_TRUE(absl::VerifyTypeImplementsAbslHashCorrectly({a, b, c}));
  absl::flat_hash_set<Digest> set = {a, b, a};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(set.contains(*Digest::Parse("sha256:" + std::string(64, 'b'))));
  EXPECT_FALSE(set.contains(c));
}

TEST(DigestTest, StreamsAsItsString) {
  std::ostringstream os;
  os << *Digest::Parse(kEmptySha256);
  EXPECT_EQ(os.str(), kEmptySha256);
}

TEST(DigestTest, CopiesAndMovesKeepTheValue) {
  Digest a = *Digest::Parse(kEmptySha256);
  Digest copy = a;
  Digest moved = std::move(a);
  EXPECT_EQ(copy, moved);
  EXPECT_EQ(moved.algorithm(), "sha256");
  copy = *Digest::Parse(kAbcSha512);
  EXPECT_EQ(copy.algorithm(), "sha512");
  EXPECT_EQ(copy.hex().size(), 128u);
}

}  // namespace
}  // namespace berth::digest
