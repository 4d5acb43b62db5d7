// Output helpers shared by the berth CLI's list commands, matching the docker CLI: aligned
// tables (Go's tabwriter with docker's settings), decimal sizes ("4.26MB") and relative times
// ("2 hours ago").
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/units/units.h"

namespace berth::cli {

// A table printed like docker's: each column as wide as its widest cell plus 3 spaces, at
// least 10; the last column unpadded.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& os) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// docker's units.HumanSize / HumanDuration, shared with the engine.
using ::berth::units::HumanDuration;
using ::berth::units::HumanSize;

}  // namespace berth::cli
