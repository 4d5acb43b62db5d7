#include "engine/cli/progress.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace berth::cli {

std::string HumanSizeDecimal4(double bytes) {
  static const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  int u = 0;
  while (bytes >= 1000 && u < 8) {
    bytes /= 1000;
    ++u;
  }
  return absl::StrCat(absl::StrFormat("%.4g", bytes), kUnits[u]);
}

std::string ProgressBar(int64_t current, int64_t total, int width) {
  if (current <= 0 && total <= 0) return "";
  if (total <= 0) return absl::StrFormat("%8s", HumanSizeDecimal4(static_cast<double>(current)));
  int filled = static_cast<int>(static_cast<double>(current) / static_cast<double>(total) * 100) / 2;
  if (filled > 50) filled = 50;
  if (filled < 0) filled = 0;
  std::string bar;
  if (width > 110) {
    bar = absl::StrCat("[", std::string(filled, '='), ">", std::string(50 - filled, ' '), "] ");
  }
  // A transfer that went past its announced size shows no numbers (docker does the same).
  if (current > total) return bar;
  return absl::StrCat(bar, absl::StrFormat("%8s/%s", HumanSizeDecimal4(static_cast<double>(current)),
                                           HumanSizeDecimal4(static_cast<double>(total))));
}

namespace {

// Only the phases that move bytes draw a bar; a finished phase ("Pull complete", "Pushed")
// may still carry its byte counts but shows none, as in docker. Lines of unknown phase follow
// docker's generic rule (a bar whenever there are counts).
bool DrawsBar(engine::v1::TransferPhase phase) {
  switch (phase) {
    case engine::v1::TRANSFER_PHASE_UNSPECIFIED:
    case engine::v1::TRANSFER_PHASE_DOWNLOADING:
    case engine::v1::TRANSFER_PHASE_EXTRACTING:
    case engine::v1::TRANSFER_PHASE_PUSHING:
    case engine::v1::TRANSFER_PHASE_LOADING_LAYER:
      return true;
    default:
      return false;
  }
}

}  // namespace

void ProgressPrinter::Print(const engine::v1::TransferProgress& p) {
  const std::string bar =
      DrawsBar(p.phase()) ? ProgressBar(p.current(), p.total(), width_) : std::string();
  std::string text = p.id().empty() ? p.status() : absl::StrCat(p.id(), ": ", p.status());
  if (!terminal_) {
    // Bars are for terminals; a log keeps the phase changes only.
    if (!bar.empty()) return;
    out_ << text << "\n";
    return;
  }
  if (!bar.empty()) absl::StrAppend(&text, " ", bar);
  if (p.id().empty()) {
    lines_.clear();
    out_ << "\r\x1b[2K" << text << "\n";
    out_.flush();
    return;
  }
  auto [it, added] = lines_.emplace(p.id(), static_cast<int>(lines_.size()));
  if (added) out_ << "\n";  // room for the new line; the cursor stays below the block
  const int up = static_cast<int>(lines_.size()) - it->second;
  out_ << "\x1b[" << up << "A\r\x1b[2K" << text << "\r\x1b[" << up << "B";
  out_.flush();
}

}  // namespace berth::cli
