#include "containerd/diff/archive_io.h"

#include <zlib.h>

#include <algorithm>
#include <random>
#include <string>

#include "common/digest/digest.h"
#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace berth::containerd::diff::internal {
namespace {

using ::berth::testing::IsOk;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

uint32_t ZlibCrc(absl::string_view data) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

// Every length around the folding's steps (64-byte start, 64-byte loop, 16-byte loop, tail),
// at every alignment, continuing various CRCs: the same answers as zlib.
TEST(Crc32Test, MatchesZlibForAllShapes) {
  const std::string data = RandomBytes(4096 + 64, 7);
  for (size_t len = 0; len <= 700; ++len) {
    for (size_t align = 0; align < 16; align += 5) {
      const absl::string_view piece = absl::string_view(data).substr(align, len);
      for (uint32_t init : {0u, 0xFFFFFFFFu, 0xDEADBEEFu}) {
        ASSERT_EQ(Crc32(init, piece),
                  static_cast<uint32_t>(crc32(init, reinterpret_cast<const Bytef*>(piece.data()),
                                              static_cast<uInt>(piece.size()))))
            << "len " << len << " align " << align << " init " << init;
      }
    }
  }
  EXPECT_EQ(Crc32(0, data), ZlibCrc(data));
}

TEST(Crc32Test, KnownValueAndChaining) {
  EXPECT_EQ(Crc32(0, "123456789"), 0xCBF43926u);  // the CRC-32/ISO-HDLC check value
  EXPECT_EQ(Crc32(0, ""), 0u);
  const std::string data = RandomBytes(100000, 1);
  EXPECT_EQ(Crc32(Crc32(0, absl::string_view(data).substr(0, 777)),
                  absl::string_view(data).substr(777)),
            ZlibCrc(data));
}

// Pieces of every size around the chunk boundaries, so chunks fill, split and hand over in
// every way: the digest and CRC are those of the whole stream, in order.
TEST(StreamDigestTest, HashesTheWholeStreamInOrder) {
  const std::string data = RandomBytes((9 << 20) + 12345, 2);
  StreamDigest d(/*crc=*/true);
  std::mt19937 rng(3);
  size_t pos = 0;
  while (pos < data.size()) {
    const size_t n = std::min<size_t>(data.size() - pos, rng() % (3 << 19));
    d.Update(absl::string_view(data).substr(pos, n));
    pos += n;
  }
  EXPECT_EQ(d.size(), data.size());
  EXPECT_EQ(d.Crc(), ZlibCrc(data));
  absl::StatusOr<digest::Digest> got = d.Finish();
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, *digest::Digest::FromBytes(data));
}

TEST(StreamDigestTest, EmptyStreamAndNoCrc) {
  StreamDigest d(/*crc=*/false);
  d.Update("");
  EXPECT_EQ(d.Crc(), 0u);
  EXPECT_EQ(*d.Finish(), *digest::Digest::FromBytes(""));
}

// Dropped mid-stream (an apply that failed), with more queued than the thread has hashed: the
// destructor stops and joins the thread instead of hanging or hashing on (a hang fails the
// test by its timeout). Many times over, to catch an ordering race.
TEST(StreamDigestTest, DestroyedMidStream) {
  const std::string data = RandomBytes(6 << 20, 4);
  for (int i = 0; i < 20; ++i) {
    StreamDigest d(/*crc=*/true);
    d.Update(data);
    EXPECT_EQ(d.size(), data.size());
  }
  // And one kept to the end still hashes correctly.
  StreamDigest d(/*crc=*/false);
  d.Update(data);
  EXPECT_EQ(*d.Finish(), *digest::Digest::FromBytes(data));
}

}  // namespace
}  // namespace berth::containerd::diff::internal
