#include "registry/auth/scope.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace berth::registry::auth {
namespace {

// Printable ASCII other than the characters that would break a quoted challenge parameter or
// a space-separated scope list.
bool ValidScopeText(absl::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c > ' ' && c < 0x7f && c != '"' && c != '\\' && c != ',';
  });
}

}  // namespace

absl::StatusOr<Access> ParseScope(absl::string_view scope) {
  const size_t first = scope.find(':');
  const size_t last = scope.rfind(':');
  if (first == absl::string_view::npos || first == last) {
    return absl::InvalidArgumentError(
        absl::StrCat("scope \"", scope, "\": want type:name:actions"));
  }
  Access out;
  out.type = std::string(scope.substr(0, first));
  out.name = std::string(scope.substr(first + 1, last - first - 1));
  if (out.type.empty() || out.name.empty() || !ValidScopeText(out.type) ||
      !ValidScopeText(out.name)) {
    return absl::InvalidArgumentError(absl::StrCat("scope \"", scope, "\": bad type or name"));
  }
  for (absl::string_view action : absl::StrSplit(scope.substr(last + 1), ',')) {
    if (action.empty() || !ValidScopeText(action)) {
      return absl::InvalidArgumentError(absl::StrCat("scope \"", scope, "\": bad action"));
    }
    if (std::find(out.actions.begin(), out.actions.end(), action) == out.actions.end()) {
      out.actions.emplace_back(action);
    }
  }
  return out;
}

std::string FormatScope(const Access& access) {
  return absl::StrCat(access.type, ":", access.name, ":", absl::StrJoin(access.actions, ","));
}

bool Permits(const std::vector<Access>& granted, absl::string_view type, absl::string_view name,
             absl::string_view action) {
  for (const Access& a : granted) {
    if (a.type != type || a.name != name) continue;
    for (const std::string& g : a.actions) {
      if (g == action || g == kAnyAction) return true;
    }
  }
  return false;
}

}  // namespace berth::registry::auth
