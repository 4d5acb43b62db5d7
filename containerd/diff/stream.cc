#include "containerd/diff/stream.h"

#include <errno.h>
#include <unistd.h>

namespace berth::containerd::diff {

absl::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
  }
  return "unknown";
}

ReadFn FdReader(int fd) {
  return [fd](char* buf, size_t len) -> absl::StatusOr<size_t> {
    for (;;) {
      const ssize_t n = read(fd, buf, len);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return absl::ErrnoToStatus(errno, "read");
    }
  };
}

WriteFn FdWriter(int fd) {
  return [fd](absl::string_view data) -> absl::Status {
    while (!data.empty()) {
      const ssize_t n = write(fd, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::ErrnoToStatus(errno, "write");
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  };
}

}  // namespace berth::containerd::diff
