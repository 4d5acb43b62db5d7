#include "engine/reference/reference.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/digest/digest.h"

namespace berth::engine::reference {
namespace {

constexpr char kInvalidFormat[] = "invalid reference format";

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); }
bool IsWord(char c) { return IsAlnum(c) || c == '_'; }
bool IsHex(char c) { return absl::ascii_isxdigit(static_cast<unsigned char>(c)); }

// path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
bool IsPathComponent(absl::string_view s) {
  size_t i = 0;
  auto alnum_run = [&] {
    size_t start = i;
    while (i < s.size() && IsLowerAlnum(s[i])) ++i;
    return i > start;
  };
  if (!alnum_run()) return false;
  while (i < s.size()) {
    if (s[i] == '.') {
      ++i;
    } else if (s[i] == '_') {
      ++i;
      if (i < s.size() && s[i] == '_') ++i;
    } else if (s[i] == '-') {
      while (i < s.size() && s[i] == '-') ++i;
    } else {
      return false;
    }
    if (!alnum_run()) return false;
  }
  return true;
}

// domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool IsDomainComponent(absl::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '-') return false;
  }
  return true;
}

// domain := ( domain-name | "[" [a-fA-F0-9:]+ "]" ) [ ":" [0-9]+ ]
bool IsDomain(absl::string_view s) {
  absl::string_view host = s;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == absl::string_view::npos || close == 1) return false;
    for (char c : s.substr(1, close - 1)) {
      if (!IsHex(c) && c != ':') return false;
    }
    absl::string_view rest = s.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':' || rest.size() == 1) return false;
    for (char c : rest.substr(1)) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    }
    return true;
  }
  size_t colon = s.find(':');
  if (colon != absl::string_view::npos) {
    host = s.substr(0, colon);
    absl::string_view port = s.substr(colon + 1);
    if (port.empty()) return false;
    for (char c : port) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    }
  }
  for (absl::string_view part : absl::StrSplit(host, '.')) {
    if (!IsDomainComponent(part)) return false;
  }
  return true;
}

// Whether `name` matches the name grammar: every component a path component, or the first a
// domain and the others path components.
bool IsValidName(absl::string_view name) {
  std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
  bool rest_ok = true;
  for (size_t i = 1; i < parts.size(); ++i) rest_ok = rest_ok && IsPathComponent(parts[i]);
  if (!rest_ok) return false;
  return IsPathComponent(parts[0]) || (parts.size() > 1 && IsDomain(parts[0]));
}

// digest := algorithm ":" hex, algorithm := [A-Za-z][A-Za-z0-9]* ([+._-] [A-Za-z][A-Za-z0-9]*)*,
// hex := [0-9a-fA-F]{32,}
bool MatchesDigestGrammar(absl::string_view s) {
  size_t colon = s.find(':');
  if (colon == absl::string_view::npos) return false;
  absl::string_view alg = s.substr(0, colon), hex = s.substr(colon + 1);
  if (hex.size() < 32) return false;
  for (char c : hex) {
    if (!IsHex(c)) return false;
  }
  bool need_letter = true;
  for (char c : alg) {
    if (need_letter) {
      if (!absl::ascii_isalpha(static_cast<unsigned char>(c))) return false;
      need_letter = false;
    } else if (c == '+' || c == '.' || c == '-' || c == '_') {
      need_letter = true;
    } else if (!IsAlnum(c)) {
      return false;
    }
  }
  return !need_letter;
}

struct Split {
  std::string name, tag, digest;
};

// Splits by the grammar alone; nullopt-like error status when `s` does not match it.
absl::StatusOr<Split> SplitReference(absl::string_view s) {
  Split out;
  absl::string_view rest = s;
  size_t at = rest.find('@');
  if (at != absl::string_view::npos) {
    out.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
    if (!MatchesDigestGrammar(out.digest)) return absl::InvalidArgumentError(kInvalidFormat);
  }
  size_t colon = rest.rfind(':');
  if (colon != absl::string_view::npos && rest.find('/', colon) == absl::string_view::npos) {
    out.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!IsValidTag(out.tag)) return absl::InvalidArgumentError(kInvalidFormat);
  }
  if (!IsValidName(rest)) return absl::InvalidArgumentError(kInvalidFormat);
  out.name = std::string(rest);
  return out;
}

bool IsFullHexId(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

bool IsValidTag(absl::string_view s) {
  if (s.empty() || s.size() > 128 || !IsWord(s[0])) return false;
  for (char c : s) {
    if (!IsWord(c) && c != '.' && c != '-') return false;
  }
  return true;
}

std::string Reference::Name() const { return absl::StrCat(domain, "/", path); }

std::string Reference::String() const {
  std::string s = Name();
  if (!tag.empty()) absl::StrAppend(&s, ":", tag);
  if (!digest.empty()) absl::StrAppend(&s, "@", digest);
  return s;
}

std::string Reference::FamiliarName() const {
  if (domain != kDefaultDomain) return Name();
  absl::string_view p = path;
  // "library/busybox" shows as "busybox", but "library/a/b" keeps its prefix.
  if (absl::StartsWith(p, "library/") && p.find('/', 8) == absl::string_view::npos) {
    p.remove_prefix(8);
  }
  return std::string(p);
}

std::string Reference::FamiliarString() const {
  std::string s = FamiliarName();
  if (!tag.empty()) absl::StrAppend(&s, ":", tag);
  if (!digest.empty()) absl::StrAppend(&s, "@", digest);
  return s;
}

absl::StatusOr<Reference> ParseNormalized(absl::string_view s) {
  if (IsFullHexId(s)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid repository name (", s, "), cannot specify 64-byte hexadecimal strings"));
  }
  if (s.empty()) {
    return absl::InvalidArgumentError("repository name must have at least one component");
  }
  absl::StatusOr<Split> split = SplitReference(s);
  if (!split.ok()) {
    // Docker tells upper case apart: the same string in lower case would have parsed.
    if (SplitReference(absl::AsciiStrToLower(s)).ok()) {
      return absl::InvalidArgumentError(
          "invalid reference format: repository name must be lowercase");
    }
    return split.status();
  }
  Reference ref;
  absl::string_view name = split->name;
  size_t slash = name.find('/');
  absl::string_view first = name.substr(0, slash);
  if (slash == absl::string_view::npos ||
      (!absl::StrContains(first, '.') && !absl::StrContains(first, ':') && first != "localhost" &&
       absl::AsciiStrToLower(first) == first)) {
    ref.domain = kDefaultDomain;
    ref.path = std::string(name);
  } else {
    ref.domain = std::string(first);
    ref.path = std::string(name.substr(slash + 1));
  }
  if (ref.domain == "index.docker.io") ref.domain = kDefaultDomain;
  if (ref.domain == kDefaultDomain && !absl::StrContains(ref.path, '/')) {
    ref.path = absl::StrCat("library/", ref.path);
  }
  if (absl::AsciiStrToLower(ref.path) != ref.path) {
    return absl::InvalidArgumentError(
        "invalid reference format: repository name must be lowercase");
  }
  if (ref.Name().size() > kNameTotalLengthMax) {
    return absl::InvalidArgumentError(
        absl::StrCat("repository name must not be more than ", kNameTotalLengthMax, " characters"));
  }
  ref.tag = std::move(split->tag);
  if (!split->digest.empty()) {
    absl::StatusOr<digest::Digest> d = digest::Digest::Parse(split->digest);
    if (!d.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid reference format: ", d.status().message()));
    }
    ref.digest = d->ToString();
  }
  return ref;
}

absl::StatusOr<Reference> ParseWithDefaultTag(absl::string_view s) {
  absl::StatusOr<Reference> ref = ParseNormalized(s);
  if (ref.ok() && ref->tag.empty() && ref->digest.empty()) ref->tag = kDefaultTag;
  return ref;
}

absl::StatusOr<Reference> ParseDockerRef(absl::string_view s) {
  absl::StatusOr<Reference> ref = ParseWithDefaultTag(s);
  if (ref.ok() && !ref->digest.empty()) ref->tag.clear();
  return ref;
}

namespace {

// One character class "[...]" at the start of `p` (after '['): whether `c` matches it and
// where the class ends. False `ok` for a malformed class.
bool MatchClass(absl::string_view p, char c, size_t* end, bool* ok) {
  size_t i = 0;
  bool negate = false;
  if (i < p.size() && (p[i] == '^' || p[i] == '!')) {
    negate = true;
    ++i;
  }
  bool matched = false;
  bool first = true;
  while (true) {
    if (i >= p.size()) {
      *ok = false;
      return false;
    }
    if (p[i] == ']' && !first) break;
    first = false;
    char lo = p[i];
    if (lo == '\\') {
      if (++i >= p.size()) {
        *ok = false;
        return false;
      }
      lo = p[i];
    }
    ++i;
    char hi = lo;
    if (i + 1 < p.size() && p[i] == '-' && p[i + 1] != ']') {
      hi = p[i + 1];
      if (hi == '\\') {
        if (i + 2 >= p.size()) {
          *ok = false;
          return false;
        }
        hi = p[i + 2];
        ++i;
      }
      i += 2;
    }
    if (lo <= c && c <= hi) matched = true;
  }
  *end = i + 1;
  *ok = true;
  return matched != negate;
}

bool MatchHere(absl::string_view p, absl::string_view s) {
  while (!p.empty()) {
    char pc = p[0];
    if (pc == '*') {
      while (!p.empty() && p[0] == '*') p.remove_prefix(1);
      // '*' matches any run of non-'/' characters.
      for (size_t n = 0;; ++n) {
        if (MatchHere(p, s.substr(n))) return true;
        if (n >= s.size() || s[n] == '/') return false;
      }
    }
    if (s.empty()) return false;
    if (pc == '?') {
      if (s[0] == '/') return false;
      p.remove_prefix(1);
    } else if (pc == '[') {
      size_t end = 0;
      bool ok = false;
      bool m = MatchClass(p.substr(1), s[0], &end, &ok);
      if (!ok || !m || s[0] == '/') return false;
      p.remove_prefix(1 + end);
    } else {
      if (pc == '\\') {
        p.remove_prefix(1);
        if (p.empty()) return false;
        pc = p[0];
      }
      if (pc != s[0]) return false;
      p.remove_prefix(1);
    }
    s.remove_prefix(1);
  }
  return s.empty();
}

}  // namespace

bool PathMatch(absl::string_view pattern, absl::string_view name) {
  return MatchHere(pattern, name);
}

}  // namespace berth::engine::reference
