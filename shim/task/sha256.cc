#include "shim/task/sha256.h"

#include <cstddef>
#include <string>

namespace berth::shim::task {
namespace {

using u128 = unsigned __int128;

// FIPS 180-4 defines the constants as the first 32 bits of the fractional parts of the square
// roots (initial hash) and cube roots (round constants) of the first primes. They are derived
// here with exact integer roots at compile time instead of being typed in: a wrong digit is
// impossible, and the test vectors check the whole.
constexpr std::array<uint32_t, 64> FirstPrimes() {
  std::array<uint32_t, 64> primes{};
  size_t n = 0;
  for (uint32_t c = 2; n < primes.size(); ++c) {
    bool prime = true;
    for (uint32_t d = 2; d * d <= c; ++d) {
      if (c % d == 0) {
        prime = false;
        break;
      }
    }
    if (prime) primes[n++] = c;
  }
  return primes;
}

// floor(x^(1/k)) for k = 2 or 3, by bisection (x < 2^110, so the powers fit 128 bits).
constexpr u128 IntegerRoot(u128 x, int k) {
  u128 lo = 0, hi = u128{1} << 40;
  while (hi - lo > 1) {
    const u128 mid = (lo + hi) / 2;
    u128 p = mid * mid;
    if (k == 3) p *= mid;
    if (p <= x) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

// The first 32 bits of the fractional part of p^(1/k): floor(p^(1/k) * 2^32) mod 2^32, which
// is floor((p * 2^(32k))^(1/k)) mod 2^32.
constexpr uint32_t FractionBits(uint32_t p, int k) {
  return static_cast<uint32_t>(IntegerRoot(u128{p} << (32 * k), k));
}

constexpr std::array<uint32_t, 64> RoundConstants() {
  const std::array<uint32_t, 64> primes = FirstPrimes();
  std::array<uint32_t, 64> k{};
  for (size_t i = 0; i < k.size(); ++i) k[i] = FractionBits(primes[i], 3);
  return k;
}

constexpr std::array<uint32_t, 8> InitialHash() {
  const std::array<uint32_t, 64> primes = FirstPrimes();
  std::array<uint32_t, 8> h{};
  for (size_t i = 0; i < h.size(); ++i) h[i] = FractionBits(primes[i], 2);
  return h;
}

constexpr std::array<uint32_t, 64> kK = RoundConstants();
constexpr std::array<uint32_t, 8> kH0 = InitialHash();
static_assert(kH0[0] == 0x6a09e667u, "initial hash derivation");
static_assert(kK[0] == 0x428a2f98u, "round constant derivation");

constexpr uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

void Compress(std::array<uint32_t, 8>& h, const uint8_t* block) {
  uint32_t w[64];
  for (int t = 0; t < 16; ++t) {
    w[t] = uint32_t{block[4 * t]} << 24 | uint32_t{block[4 * t + 1]} << 16 |
           uint32_t{block[4 * t + 2]} << 8 | uint32_t{block[4 * t + 3]};
  }
  for (int t = 16; t < 64; ++t) {
    const uint32_t s0 = Rotr(w[t - 15], 7) ^ Rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
    const uint32_t s1 = Rotr(w[t - 2], 17) ^ Rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = s1 + w[t - 7] + s0 + w[t - 16];
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (int t = 0; t < 64; ++t) {
    const uint32_t t1 = hh + (Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                        kK[t] + w[t];
    const uint32_t t2 = (Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    hh = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += hh;
}

}  // namespace

std::array<uint8_t, 32> Sha256(absl::string_view data) {
  std::array<uint32_t, 8> h = kH0;
  const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
  size_t full = data.size() / 64;
  for (size_t i = 0; i < full; ++i) Compress(h, bytes + 64 * i);
  // The tail, 0x80, zeros and the length in bits (big-endian): one or two more blocks.
  uint8_t last[128] = {};
  const size_t rest = data.size() % 64;
  for (size_t i = 0; i < rest; ++i) last[i] = bytes[64 * full + i];
  last[rest] = 0x80;
  const size_t blocks = rest < 56 ? 1 : 2;
  const uint64_t bits = static_cast<uint64_t>(data.size()) * 8;
  for (int i = 0; i < 8; ++i) last[64 * blocks - 1 - i] = static_cast<uint8_t>(bits >> (8 * i));
  for (size_t i = 0; i < blocks; ++i) Compress(h, last + 64 * i);

  std::array<uint8_t, 32> out{};
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<uint8_t>(h[i] >> (24 - 8 * j));
  }
  return out;
}

std::string Sha256Hex(absl::string_view data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(64);
  for (uint8_t b : Sha256(data)) {
    hex.push_back(kDigits[b >> 4]);
    hex.push_back(kDigits[b & 0xf]);
  }
  return hex;
}

}  // namespace berth::shim::task
