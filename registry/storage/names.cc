#include "registry/storage/names.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace berth::registry::storage {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Consumes [a-z0-9]+ at `i`; false when there is none.
bool ConsumeAlnumRun(absl::string_view s, size_t& i) {
  const size_t start = i;
  while (i < s.size() && IsLowerAlnum(s[i])) ++i;
  return i > start;
}

// One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool IsComponent(absl::string_view c) {
  size_t i = 0;
  if (!ConsumeAlnumRun(c, i)) return false;
  while (i < c.size()) {
    if (c[i] == '.') {
      ++i;
    } else if (c[i] == '_') {
      ++i;
      if (i < c.size() && c[i] == '_') ++i;
    } else if (c[i] == '-') {
      while (i < c.size() && c[i] == '-') ++i;
    } else {
      return false;
    }
    if (!ConsumeAlnumRun(c, i)) return false;
  }
  return true;
}

}  // namespace

absl::Status ValidateRepositoryName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("repository name is empty");
  if (name.size() > kMaxRepositoryNameLength) {
    return absl::InvalidArgumentError(absl::StrCat("repository name is ", name.size(),
                                                   " characters long; the limit is ",
                                                   kMaxRepositoryNameLength));
  }
  for (absl::string_view component : absl::StrSplit(name, '/')) {
    if (!IsComponent(component)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "repository name component \"", absl::CHexEscape(component),
          "\" must be lowercase letters and digits, separated by '.', '_', '__' or dashes"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateTag(absl::string_view tag) {
  if (tag.empty()) return absl::InvalidArgumentError("tag is empty");
  if (tag.size() > kMaxTagLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("tag is ", tag.size(), " characters long; the limit is ", kMaxTagLength));
  }
  for (size_t i = 0; i < tag.size(); ++i) {
    const char c = tag[i];
    const bool ok = absl::ascii_isalnum(c) || c == '_' || (i > 0 && (c == '.' || c == '-'));
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tag \"", absl::CHexEscape(tag),
          "\" must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}"));
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::registry::storage
