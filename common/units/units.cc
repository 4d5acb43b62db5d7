#include "common/units/units.h"

#include <cmath>
#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace berth::units {
namespace {

absl::Status Invalid(absl::string_view s) {
  return absl::InvalidArgumentError(absl::StrCat("invalid size: '", s, "'"));
}

absl::StatusOr<int64_t> Parse(absl::string_view value, double base) {
  absl::string_view s = value;
  // The number: digits, optionally a point and more digits (".5" and "5." too).
  size_t i = 0;
  bool digits = false;
  while (i < s.size() && absl::ascii_isdigit(s[i])) ++i, digits = true;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && absl::ascii_isdigit(s[i])) ++i, digits = true;
  }
  if (!digits) return Invalid(value);
  const double num = std::strtod(std::string(s.substr(0, i)).c_str(), nullptr);
  s.remove_prefix(i);
  if (!s.empty() && s[0] == ' ') s.remove_prefix(1);
  double mult = 1;
  if (!s.empty()) {
    int power = 0;
    switch (absl::ascii_tolower(s[0])) {
      case 'k': power = 1; break;
      case 'm': power = 2; break;
      case 'g': power = 3; break;
      case 't': power = 4; break;
      case 'p': power = 5; break;
      default: break;
    }
    for (int p = 0; p < power; ++p) mult *= base;
    if (power > 0) {
      s.remove_prefix(1);
      if (!s.empty() && absl::ascii_tolower(s[0]) == 'i') s.remove_prefix(1);
    }
    if (!s.empty() && absl::ascii_tolower(s[0]) == 'b') s.remove_prefix(1);
  }
  if (!s.empty()) return Invalid(value);
  const double bytes = num * mult;
  if (bytes > 9.2e18) return Invalid(value);
  return static_cast<int64_t>(bytes);  // truncated, as go-units does
}

}  // namespace

absl::StatusOr<int64_t> RamInBytes(absl::string_view s) { return Parse(s, 1024.0); }

absl::StatusOr<int64_t> FromHumanSize(absl::string_view s) { return Parse(s, 1000.0); }

std::string HumanSize(double bytes) {
  static const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  int u = 0;
  while (bytes >= 1000 && u < 6) {
    bytes /= 1000;
    ++u;
  }
  return absl::StrCat(absl::StrFormat("%.3g", bytes), kUnits[u]);
}

std::string HumanDuration(absl::Duration d) {
  const int64_t seconds = absl::ToInt64Seconds(d);
  if (seconds < 1) return "Less than a second";
  if (seconds == 1) return "1 second";
  if (seconds < 60) return absl::StrCat(seconds, " seconds");
  const int64_t minutes = absl::ToInt64Minutes(d);
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return absl::StrCat(minutes, " minutes");
  const int64_t hours = static_cast<int64_t>(std::llround(absl::ToDoubleHours(d)));
  if (hours == 1) return "About an hour";
  if (hours < 48) return absl::StrCat(hours, " hours");
  if (hours < 24 * 7 * 2) return absl::StrCat(hours / 24, " days");
  if (hours < 24 * 30 * 2) return absl::StrCat(hours / 24 / 7, " weeks");
  if (hours < 24 * 365 * 2) return absl::StrCat(hours / 24 / 30, " months");
  return absl::StrCat(static_cast<int64_t>(absl::ToDoubleHours(d) / 24 / 365), " years");
}

}  // namespace berth::units
