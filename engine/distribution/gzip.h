// Parallel, deterministic gzip for pushing uncompressed layers: the input is cut into fixed
// blocks deflated independently on several threads (each ends on a byte boundary with a sync
// flush, so the blocks simply concatenate; the CRCs are combined), like pigz without its
// cross-block dictionary. The output depends only on the input and the settings (no file
// name, mtime 0), so pushing the same layer twice gives the same digest and the registry can
// skip it. A block that deflate would barely shrink (judged from samples of it) is stored
// instead: incompressible layers cost memcpy, not zlib, time.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::engine::distribution {

struct GzipOptions {
  int level = 1;                  // zlib level: speed is what a push waits for
  int threads = 0;                // 0: the number of CPUs
  size_t block_size = 1 << 20;    // changing it changes the output (and the digest)
};

// A piece of the gzip stream. Deflated data is `bytes` as they are; an incompressible block
// is kept as its raw input with `stored` set and framed as deflate stored blocks (a 5-byte
// header per 64 KiB) only when read out, so that such data reaches the upload buffer with one
// copy instead of two.
struct GzipPiece {
  std::string bytes;
  bool stored = false;

  // Length of the piece in the stream (framing included).
  size_t size() const;
  // Copies up to `max` bytes of the piece, from stream offset `at` within it, to `out`;
  // returns how many (0 at the end).
  size_t Read(size_t at, char* out, size_t max) const;
  // Appends the whole piece as it goes into the stream.
  void AppendTo(std::string* out) const;
};

// Compresses the bytes `next` yields (false at the end) and hands the gzip stream to `out`
// in order, in pieces `out` may keep. Errors from either callback are returned as they are.
absl::Status GzipCompress(const std::function<absl::StatusOr<bool>(std::string*)>& next,
                          const std::function<absl::Status(GzipPiece&&)>& out,
                          const GzipOptions& options = {});

}  // namespace berth::engine::distribution
