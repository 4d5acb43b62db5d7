// Draws the progress lines of a pull or push (engine.v1.TransferProgress) the way the docker
// CLI draws its JSON progress stream:
//
//   on a terminal, one line per layer id, redrawn in place (cursor up, clear line, cursor
//   down) with a bar when the terminal is wider than 110 columns:
//     a3ed95caeb02: Downloading [=====>                                             ]  12.3MB/50MB
//   elsewhere, one plain line per message ("a3ed95caeb02: Pull complete"), leaving out the
//   messages that only move a bar, so a log gets each phase once.
//
// Lines without an id ("Digest: ...", "Status: ...") are printed below the block and start a
// new block, so `pull -a` redraws only the current tag's layers.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>

#include "berth/engine/v1/types.pb.h"

namespace berth::cli {

// docker's units.HumanSize: decimal units, 4 significant digits ("2.168MB", "50MB").
std::string HumanSizeDecimal4(double bytes);

// The progress part of a line, as docker's JSONProgress.String: "" when nothing is known,
// the size done when the total is unknown, else "[bar] current/total" (the bar only when
// `width` > 110).
std::string ProgressBar(int64_t current, int64_t total, int width);

class ProgressPrinter {
 public:
  // `terminal`: redraw in place with ANSI escapes; `width`: the terminal's columns.
  ProgressPrinter(std::ostream& out, bool terminal, int width)
      : out_(out), terminal_(terminal), width_(width) {}

  void Print(const engine::v1::TransferProgress& p);

 private:
  std::ostream& out_;
  const bool terminal_;
  const int width_;
  // Line of each id in the current block (0 = top); the cursor sits below the block.
  std::map<std::string, int> lines_;
};

}  // namespace berth::cli
