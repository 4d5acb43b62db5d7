#include "shim/task/sha256.h"

#include <string>

#include "common/digest/hasher.h"
#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace berth::shim::task {
namespace {

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Every length across the one- and two-block padding cases and several blocks, against the
// OpenSSL-backed hasher the rest of berth uses.
TEST(Sha256Test, MatchesCommonDigestForEveryLengthUpTo300) {
  std::string data;
  for (int n = 0; n <= 300; ++n) {
    auto hasher = digest::Hasher::Create("sha256");
    ASSERT_THAT(hasher, ::berth::testing::IsOk());
    hasher->Update(data);
    auto want = hasher->Finish();
    ASSERT_THAT(want, ::berth::testing::IsOk());
    EXPECT_EQ(Sha256Hex(data), want->hex()) << "length " << n;
    data.push_back(static_cast<char>(n * 131 + 7));
  }
}

}  // namespace
}  // namespace berth::shim::task
