#include "registry/http/router.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace berth::registry::http {
namespace {

// "/a/b/" -> {"a", "b", ""}: the leading slash is implied, a trailing one is an empty segment.
std::vector<absl::string_view> SplitPath(absl::string_view path) {
  absl::ConsumePrefix(&path, "/");
  return absl::StrSplit(path, '/');
}

bool IsPlaceholder(absl::string_view s) {
  return s.size() >= 2 && s.front() == '{' && s.back() == '}';
}
bool IsRest(absl::string_view s) { return IsPlaceholder(s) && absl::EndsWith(s, "...}"); }
std::string PlaceholderName(absl::string_view s) {
  s = s.substr(1, s.size() - 2);
  absl::ConsumeSuffix(&s, "...");
  return std::string(s);
}

Response PlainNotFound(Request&) { return Response::Text(404, "404 page not found\n"); }
Response PlainMethodNotAllowed(Request&) { return Response::Text(405, "405 method not allowed\n"); }

}  // namespace

Router::Router() : not_found_(PlainNotFound), method_not_allowed_(PlainMethodNotAllowed) {}

absl::Status Router::Handle(absl::string_view method, absl::string_view pattern, Handler handler) {
  if (method.empty()) return absl::InvalidArgumentError("route: empty method");
  if (!absl::StartsWith(pattern, "/")) {
    return absl::InvalidArgumentError(absl::StrCat("route ", pattern, ": must start with /"));
  }
  std::vector<std::string> segments;
  int rest = 0;
  for (absl::string_view s : SplitPath(pattern)) {
    const bool braces = absl::StrContains(s, "{") || absl::StrContains(s, "}");
    if (braces && (!IsPlaceholder(s) || PlaceholderName(s).empty() ||
                   absl::StrContains(s.substr(1, s.size() - 2), "{"))) {
      return absl::InvalidArgumentError(
          absl::StrCat("route ", pattern, ": bad placeholder segment ", s));
    }
    if (IsRest(s)) ++rest;
    segments.emplace_back(s);
  }
  if (rest > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("route ", pattern, ": at most one {x...} placeholder"));
  }
  auto it = std::find_if(routes_.begin(), routes_.end(),
                         [&](const Route& r) { return r.pattern == pattern; });
  if (it == routes_.end()) {
    routes_.push_back(Route{std::string(pattern), std::move(segments), {}});
    it = routes_.end() - 1;
  }
  for (const auto& [m, h] : it->methods) {
    if (m == method) {
      return absl::AlreadyExistsError(absl::StrCat("route ", method, " ", pattern, " exists"));
    }
  }
  it->methods.emplace_back(std::string(method), std::move(handler));
  return absl::OkStatus();
}

bool Router::MatchSegments(const std::vector<std::string>& pattern, size_t pi,
                           const std::vector<absl::string_view>& path, size_t si,
                           absl::flat_hash_map<std::string, std::string>& params) {
  if (pi == pattern.size()) return si == path.size();
  if (si == path.size()) return false;
  const std::string& p = pattern[pi];
  if (IsRest(p)) {
    // Longest first, like a greedy regex: "/v2/a/manifests/b/manifests/c" names "a/manifests/b".
    const size_t after = pattern.size() - pi - 1;  // segments the rest of the pattern needs
    if (path.size() - si < after + 1) return false;
    for (size_t n = path.size() - si - after; n >= 1; --n) {
      bool empty = false;
      for (size_t k = si; k < si + n; ++k) empty |= path[k].empty();
      if (empty) continue;
      if (MatchSegments(pattern, pi + 1, path, si + n, params)) {
        std::vector<absl::string_view> taken(path.begin() + si, path.begin() + si + n);
        params[PlaceholderName(p)] = absl::StrJoin(taken, "/");
        return true;
      }
    }
    return false;
  }
  if (IsPlaceholder(p)) {
    if (path[si].empty() || !MatchSegments(pattern, pi + 1, path, si + 1, params)) return false;
    params[PlaceholderName(p)] = std::string(path[si]);
    return true;
  }
  return p == path[si] && MatchSegments(pattern, pi + 1, path, si + 1, params);
}

Router::Match Router::Find(absl::string_view method, absl::string_view path) const {
  const std::vector<absl::string_view> segments = SplitPath(path);
  Match first_path_match;
  bool path_matched = false;
  for (const Route& route : routes_) {
    absl::flat_hash_map<std::string, std::string> params;
    if (!absl::StartsWith(path, "/") || !MatchSegments(route.segments, 0, segments, 0, params)) {
      continue;
    }
    const Handler* get = nullptr;
    for (const auto& [m, h] : route.methods) {
      if (m == method) return Match{&h, route.pattern, std::move(params), {}};
      if (m == "GET") get = &h;
    }
    if (method == "HEAD" && get != nullptr) {
      return Match{get, route.pattern, std::move(params), {}};
    }
    if (!path_matched) {
      path_matched = true;
      first_path_match.route = route.pattern;
      first_path_match.params = std::move(params);
    }
    auto& allowed = first_path_match.allowed_methods;
    for (const auto& [m, h] : route.methods) {
      allowed.push_back(m);
      if (m == "GET") allowed.push_back("HEAD");
    }
  }
  if (!path_matched) return Match{&not_found_, "", {}, {}};
  auto& allowed = first_path_match.allowed_methods;
  std::sort(allowed.begin(), allowed.end());
  allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
  first_path_match.handler = &method_not_allowed_;
  return first_path_match;
}

}  // namespace berth::registry::http
