#include "containerd/diff/crc32.h"

#include <libdeflate.h>

namespace berth::containerd::diff::internal {

uint32_t Crc32(uint32_t crc, absl::string_view data) {
  return libdeflate_crc32(crc, data.data(), data.size());
}

}  // namespace berth::containerd::diff::internal
