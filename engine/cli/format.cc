#include "engine/cli/format.h"

#include <algorithm>

namespace berth::cli {

void Table::Print(std::ostream& os) const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    for (size_t i = 0; i + 1 < row.size(); ++i) {
      if (widths.size() <= i) widths.push_back(0);
      widths[i] = std::max(widths[i], std::max<size_t>(row[i].size() + 3, 10));
    }
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size(), ' ');
    }
    os << line << "\n";
  }
}

}  // namespace berth::cli
