// The byte-stream types that Apply reads layers from and Diff writes layers to, kept as plain
// callbacks so that a content-store reader, a gRPC stream or a file descriptor can all be plugged
// in without this package depending on any of them.
#pragma once

#include <cstddef>
#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::containerd::diff {

// Compression of a layer blob (OCI image-spec, media-types.md: the layer media types
// "...tar", "...tar+gzip", "...tar+zstd").
enum class Compression {
  kNone,
  kGzip,
  kZstd,
};

// "none", "gzip", "zstd".
absl::string_view CompressionName(Compression c);

// Supplies the next bytes of a stream: writes up to `len` bytes to `buf` and returns how many,
// 0 meaning end of stream (and 0 again if called after that). An error ends the operation that
// reads, which returns that error (with context). Called from the thread that called Apply, never
// concurrently.
using ReadFn = std::function<absl::StatusOr<size_t>(char* buf, size_t len)>;

// Consumes the next bytes of a stream; all of `data` must be taken (or an error returned, which
// ends the operation that writes and is returned by it, with context).
using WriteFn = std::function<absl::Status(absl::string_view data)>;

// A ReadFn over a file descriptor, read until end of file (EINTR retried). The fd is not
// closed and must outlive the function.
ReadFn FdReader(int fd);

// A WriteFn over a file descriptor (short writes and EINTR handled). Not closed.
WriteFn FdWriter(int fd);

}  // namespace berth::containerd::diff
