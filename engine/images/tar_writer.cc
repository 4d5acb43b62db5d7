#include "engine/images/tar_writer.h"

#include <cstdio>
#include <cstring>

namespace berth::engine::images::tar {
namespace {

void Octal(char* field, size_t width, uint64_t value) {
  // width-1 octal digits and a NUL.
  std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1),
                static_cast<unsigned long long>(value));
}

}  // namespace

std::string Header(absl::string_view name, int64_t size, bool dir, int64_t mtime) {
  std::string h(kBlockSize, '\0');
  char* b = h.data();
  std::memcpy(b, name.data(), std::min<size_t>(name.size(), 100));
  Octal(b + 100, 8, dir ? 0755 : 0644);
  Octal(b + 108, 8, 0);
  Octal(b + 116, 8, 0);
  const uint64_t usize = dir ? 0 : static_cast<uint64_t>(size);
  if (usize < (1ULL << 33)) {
    Octal(b + 124, 12, usize);
  } else {
    // GNU base-256: high bit set, big-endian value in the remaining bytes.
    b[124] = static_cast<char>(0x80);
    for (int i = 0; i < 8; ++i) b[135 - i] = static_cast<char>((usize >> (8 * i)) & 0xff);
  }
  Octal(b + 136, 12, static_cast<uint64_t>(mtime));
  b[156] = dir ? '5' : '0';
  std::memcpy(b + 257, "ustar", 6);  // magic "ustar\0"
  std::memcpy(b + 263, "00", 2);     // version
  std::memset(b + 148, ' ', 8);
  unsigned sum = 0;
  for (size_t i = 0; i < kBlockSize; ++i) sum += static_cast<unsigned char>(b[i]);
  std::snprintf(b + 148, 8, "%06o", sum);
  b[155] = ' ';
  return h;
}

std::string Padding(int64_t size) {
  size_t rem = static_cast<size_t>(size % kBlockSize);
  return rem == 0 ? std::string() : std::string(kBlockSize - rem, '\0');
}

std::string End() { return std::string(2 * kBlockSize, '\0'); }

}  // namespace berth::engine::images::tar
