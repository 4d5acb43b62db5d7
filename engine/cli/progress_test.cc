#include "engine/cli/progress.h"

#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

using ::testing::ElementsAre;

engine::v1::TransferProgress Line(const std::string& id, const std::string& status,
                                  int64_t current = 0, int64_t total = 0,
                                  engine::v1::TransferPhase phase =
                                      engine::v1::TRANSFER_PHASE_UNSPECIFIED) {
  engine::v1::TransferProgress p;
  p.set_id(id);
  p.set_status(status);
  p.set_current(current);
  p.set_total(total);
  p.set_phase(phase);
  return p;
}

// What a terminal shows after `out`: a minimal VT100 for the escapes the printer uses (\n, \r,
// ESC[nA, ESC[nB, ESC[2K), trailing empty lines dropped.
std::vector<std::string> Screen(const std::string& out) {
  std::vector<std::string> lines(1);
  size_t row = 0, col = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    char c = out[i];
    if (c == '\n') {
      ++row;
      col = 0;
    } else if (c == '\r') {
      col = 0;
    } else if (c == '\x1b' && i + 1 < out.size() && out[i + 1] == '[') {
      size_t j = i + 2;
      int n = 0;
      while (j < out.size() && isdigit(static_cast<unsigned char>(out[j]))) n = n * 10 + (out[j++] - '0');
      char op = out[j];
      if (op == 'A') row = row >= static_cast<size_t>(n) ? row - n : 0;
      if (op == 'B') row += n;
      if (op == 'K') lines.resize(std::max(lines.size(), row + 1)), lines[row].clear();
      i = j;
      continue;
    } else {
      lines.resize(std::max(lines.size(), row + 1));
      std::string& l = lines[row];
      if (l.size() < col) l.resize(col, ' ');
      if (col < l.size()) {
        l[col] = c;
      } else {
        l.push_back(c);
      }
      ++col;
    }
    lines.resize(std::max(lines.size(), row + 1));
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

TEST(HumanSizeDecimal4Test, LikeDockerUnits) {
  EXPECT_EQ(HumanSizeDecimal4(0), "0B");
  EXPECT_EQ(HumanSizeDecimal4(999), "999B");
  EXPECT_EQ(HumanSizeDecimal4(1000), "1kB");
  EXPECT_EQ(HumanSizeDecimal4(2168000), "2.168MB");
  EXPECT_EQ(HumanSizeDecimal4(12300000), "12.3MB");
  EXPECT_EQ(HumanSizeDecimal4(50000000), "50MB");
  EXPECT_EQ(HumanSizeDecimal4(212e6), "212MB");
}

TEST(ProgressBarTest, BarOnlyOnWideTerminals) {
  EXPECT_EQ(ProgressBar(12300000, 50000000, 120),
            "[" + std::string(12, '=') + ">" + std::string(38, ' ') + "]   12.3MB/50MB");
  EXPECT_EQ(ProgressBar(12300000, 50000000, 80), "  12.3MB/50MB");
  EXPECT_EQ(ProgressBar(50000000, 50000000, 120), "[" + std::string(50, '=') + ">]     50MB/50MB");
  EXPECT_EQ(ProgressBar(500, 0, 120), "    500B");
  EXPECT_EQ(ProgressBar(0, 0, 120), "");
  // Past the announced size: the bar is full and the numbers are left out.
  EXPECT_EQ(ProgressBar(70, 50, 120), "[" + std::string(50, '=') + ">] ");
}

TEST(ProgressPrinterTest, PlainOutputKeepsPhasesAndDropsBars) {
  std::ostringstream out;
  ProgressPrinter p(out, /*terminal=*/false, 200);
  p.Print(Line("latest", "Pulling from library/busybox"));
  p.Print(Line("a3ed95caeb02", "Pulling fs layer"));
  p.Print(Line("a3ed95caeb02", "Downloading", 1000, 50000));
  p.Print(Line("a3ed95caeb02", "Downloading", 50000, 50000));
  p.Print(Line("a3ed95caeb02", "Download complete"));
  p.Print(Line("a3ed95caeb02", "Extracting", 100, 50000));
  p.Print(Line("a3ed95caeb02", "Pull complete"));
  p.Print(Line("", "Digest: sha256:abc"));
  EXPECT_EQ(out.str(),
            "latest: Pulling from library/busybox\n"
            "a3ed95caeb02: Pulling fs layer\n"
            "a3ed95caeb02: Download complete\n"
            "a3ed95caeb02: Pull complete\n"
            "Digest: sha256:abc\n");
}

TEST(ProgressPrinterTest, FinishedPhasesShowNoBarEvenWithCounts) {
  std::ostringstream plain, term;
  ProgressPrinter p(plain, /*terminal=*/false, 200);
  ProgressPrinter t(term, /*terminal=*/true, 200);
  for (ProgressPrinter* printer : {&p, &t}) {
    printer->Print(Line("a3ed95caeb02", "Pushing", 10, 100, engine::v1::TRANSFER_PHASE_PUSHING));
    printer->Print(Line("a3ed95caeb02", "Pushed", 100, 100, engine::v1::TRANSFER_PHASE_PUSHED));
    printer->Print(
        Line("b3ed95caeb02", "Pull complete", 100, 100, engine::v1::TRANSFER_PHASE_PULL_COMPLETE));
  }
  EXPECT_EQ(plain.str(), "a3ed95caeb02: Pushed\nb3ed95caeb02: Pull complete\n");
  EXPECT_THAT(Screen(term.str()),
              ElementsAre("a3ed95caeb02: Pushed", "b3ed95caeb02: Pull complete"));
}

TEST(ProgressPrinterTest, TerminalRedrawsEachLayerInPlace) {
  std::ostringstream out;
  ProgressPrinter p(out, /*terminal=*/true, 120);
  p.Print(Line("latest", "Pulling from library/busybox"));
  p.Print(Line("aaaaaaaaaaaa", "Pulling fs layer"));
  p.Print(Line("bbbbbbbbbbbb", "Pulling fs layer"));
  p.Print(Line("aaaaaaaaaaaa", "Downloading", 12300000, 50000000));
  EXPECT_THAT(Screen(out.str()),
              ElementsAre("latest: Pulling from library/busybox",
                          "aaaaaaaaaaaa: Downloading [" + std::string(12, '=') + ">" +
                              std::string(38, ' ') + "]   12.3MB/50MB",
                          "bbbbbbbbbbbb: Pulling fs layer"));
  p.Print(Line("bbbbbbbbbbbb", "Pull complete"));
  p.Print(Line("aaaaaaaaaaaa", "Pull complete"));
  p.Print(Line("", "Digest: sha256:abc"));
  p.Print(Line("", "Status: Downloaded newer image for busybox:latest"));
  EXPECT_THAT(Screen(out.str()),
              ElementsAre("latest: Pulling from library/busybox", "aaaaaaaaaaaa: Pull complete",
                          "bbbbbbbbbbbb: Pull complete", "Digest: sha256:abc",
                          "Status: Downloaded newer image for busybox:latest"));
  // A line without id starts a new block: the next tag's layers go below it.
  p.Print(Line("1.36", "Pulling from library/busybox"));
  p.Print(Line("aaaaaaaaaaaa", "Already exists"));
  EXPECT_THAT(Screen(out.str()),
              ElementsAre("latest: Pulling from library/busybox", "aaaaaaaaaaaa: Pull complete",
                          "bbbbbbbbbbbb: Pull complete", "Digest: sha256:abc",
                          "Status: Downloaded newer image for busybox:latest",
                          "1.36: Pulling from library/busybox", "aaaaaaaaaaaa: Already exists"));
}

}  // namespace
}  // namespace berth::cli
