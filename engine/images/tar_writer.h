// Writing ustar headers for `berth save`: names up to 100 bytes (archive entries are
// "blobs/sha256/<hex>" and a few fixed names), sizes in octal or, past 8 GiB, in the GNU
// base-256 form that tar readers accept.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace berth::engine::images::tar {

inline constexpr size_t kBlockSize = 512;

// The 512-byte header of a regular file (`dir` false) or a directory entry.
std::string Header(absl::string_view name, int64_t size, bool dir, int64_t mtime = 0);
// Zero bytes that pad `size` bytes of data up to a whole block.
std::string Padding(int64_t size);
// The end-of-archive marker (two zero blocks).
std::string End();

}  // namespace berth::engine::images::tar
