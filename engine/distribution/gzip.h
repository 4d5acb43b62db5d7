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

// Compresses the bytes `next` yields (false at the end) and hands the gzip stream to `out`
// in order, in pieces `out` may keep (so an upload queue need not copy them). Errors from
// either callback are returned as they are.
absl::Status GzipCompress(const std::function<absl::StatusOr<bool>(std::string*)>& next,
                          const std::function<absl::Status(std::string&&)>& out,
                          const GzipOptions& options = {});

}  // namespace berth::engine::distribution
