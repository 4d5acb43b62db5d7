#include "engine/distribution/gzip.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>

#include "common/testing/status_matchers.h"

namespace berth::engine::distribution {
namespace {

using ::berth::testing::IsOk;

std::string Compress(const std::string& in, GzipOptions o, size_t chunk = 7000) {
  size_t at = 0;
  std::string out;
  EXPECT_THAT(GzipCompress(
                  [&](std::string* c) -> absl::StatusOr<bool> {
                    if (at >= in.size()) return false;
                    *c = in.substr(at, chunk);
                    at += c->size();
                    return true;
                  },
                  [&](GzipPiece&& piece) {
                    piece.AppendTo(&out);
                    return absl::OkStatus();
                  },
                  o),
              IsOk());
  return out;
}

std::string Gunzip(const std::string& in) {
  z_stream zs{};
  inflateInit2(&zs, 16 + 15);
  std::string out;
  char buf[1 << 16];
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - zs.avail_out);
  }
  inflateEnd(&zs);
  EXPECT_EQ(rc, Z_STREAM_END);
  EXPECT_EQ(zs.avail_in, 0u);  // nothing after the trailer
  return out;
}

TEST(GzipTest, RoundTripsAndIsDeterministic) {
  std::mt19937 rng(1);
  std::string data;
  for (int i = 0; i < 3'000'000; ++i) data.push_back(static_cast<char>(rng() % 7 + 'a'));
  GzipOptions o;
  o.block_size = 256 << 10;
  for (int threads : {1, 2, 3}) {
    o.threads = threads;
    std::string z = Compress(data, o);
    EXPECT_EQ(Gunzip(z), data) << threads;
    EXPECT_LT(z.size(), data.size());
    // The thread count does not change the bytes; the chunking of the input neither.
    EXPECT_EQ(z, Compress(data, o, 123457)) << threads;
    o.threads = 1;
    EXPECT_EQ(z, Compress(data, o)) << threads;
  }
}

TEST(GzipTest, EmptyAndBlockSizedInputs) {
  GzipOptions o;
  o.block_size = 1024;
  EXPECT_EQ(Gunzip(Compress("", o)), "");
  std::string exact(2048, 'x');
  EXPECT_EQ(Gunzip(Compress(exact, o, 1024)), exact);
  std::string odd(2049, 'y');
  EXPECT_EQ(Gunzip(Compress(odd, o, 5000)), odd);
}

TEST(GzipTest, IncompressibleBlocksAreStoredCompressibleOnesDeflated) {
  std::mt19937_64 rng(2);
  std::string random;
  for (int i = 0; i < (1 << 20) / 8; ++i) {
    const uint64_t v = rng();
    random.append(reinterpret_cast<const char*>(&v), sizeof(v));
  }
  std::string text;
  while (text.size() < (1 << 20)) text += "the quick brown fox jumps over the lazy dog ";
  text.resize(1 << 20);
  GzipOptions o;
  o.block_size = 1 << 20;
  o.threads = 2;

  // Random bytes: stored, so the output is the input plus a few framing bytes per 64 KiB
  // (a deflate attempt would also come out slightly larger, but not by this little).
  const std::string z_random = Compress(random, o);
  EXPECT_EQ(Gunzip(z_random), random);
  EXPECT_GT(z_random.size(), random.size());
  EXPECT_LT(z_random.size(), random.size() + 200);
  // Text in the next block is still deflated, whatever stored block precedes it.
  const std::string mixed = random + text;
  const std::string z_mixed = Compress(mixed, o);
  EXPECT_EQ(Gunzip(z_mixed), mixed);
  EXPECT_LT(z_mixed.size(), random.size() + text.size() / 10);
  EXPECT_EQ(z_mixed, Compress(mixed, o, 99991));  // still deterministic

  // A layer of big random files starts with a few tar headers: that corner alone does not
  // make the block worth deflating (zlib would grind through the random megabyte for ~0.5%).
  std::string headed = std::string(1536, '\0') + random.substr(1536);
  const std::string z_headed = Compress(headed, o);
  EXPECT_EQ(Gunzip(z_headed), headed);
  EXPECT_LT(z_headed.size(), headed.size() + 200);
  EXPECT_GT(z_headed.size(), headed.size());  // stored: nothing saved
  // Half zeros, half random: deflate pays (half of the block goes away).
  std::string half = std::string(1 << 19, '\0') + random.substr(1 << 19);
  const std::string z_half = Compress(half, o);
  EXPECT_EQ(Gunzip(z_half), half);
  EXPECT_LT(z_half.size(), half.size() * 6 / 10);
}

TEST(GzipTest, StoredPiecesReadInAnyStepsGiveTheFramedBytes) {
  std::string raw;
  for (int i = 0; i < 200000; ++i) raw.push_back(static_cast<char>(i * 7919 % 251));
  GzipPiece piece{raw, true};
  std::string whole;
  piece.AppendTo(&whole);
  // Four stored blocks: 65535 * 3 + 3395 bytes, each after a 5-byte header with LEN/NLEN.
  ASSERT_EQ(whole.size(), raw.size() + 4 * 5);
  EXPECT_EQ(piece.size(), whole.size());
  EXPECT_EQ(whole.substr(0, 5), std::string("\x00\xff\xff\x00\x00", 5));
  EXPECT_EQ(whole.substr(65540, 5), std::string("\x00\xff\xff\x00\x00", 5));
  EXPECT_EQ(whole.substr(3 * 65540, 5), std::string("\x00\x43\x0d\xbc\xf2", 5));
  EXPECT_EQ(whole.substr(5, 65535), raw.substr(0, 65535));
  for (size_t step : {1ul, 3ul, 4ul, 5ul, 4096ul, 65540ul, 1ul << 20}) {
    std::string got;
    std::vector<char> buf(step);
    size_t at = 0;
    while (size_t n = piece.Read(at, buf.data(), step)) {
      got.append(buf.data(), n);
      at += n;
    }
    EXPECT_EQ(got, whole) << step;
  }
  // An empty stored piece is empty; a plain one reads as its bytes.
  EXPECT_EQ(GzipPiece({"", true}).size(), 0u);
  char c;
  EXPECT_EQ(GzipPiece({"", true}).Read(0, &c, 1), 0u);
  GzipPiece plain{"abc", false};
  std::string p;
  plain.AppendTo(&p);
  EXPECT_EQ(p, "abc");
}

}  // namespace
}  // namespace berth::engine::distribution
