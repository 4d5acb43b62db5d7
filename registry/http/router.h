// Router maps (method, path) to a Handler. Patterns are "/"-separated segments matched against
// the raw request path:
//   "/v2/"                              literal
//   "/v2/{name...}/manifests/{ref}"     {x} matches one non-empty segment; {x...} matches one or
//                                       more segments, longest first (repository names contain
//                                       slashes, distribution spec "Pulling manifests")
// A trailing slash is significant. A GET route also answers HEAD unless HEAD has its own
// handler (the server never sends a body to HEAD). When the path matches but the method does
// not, the method-not-allowed handler runs with Request::allowed_methods filled in.
//
// Build the router fully, then share it read-only: Find() is thread-safe, Handle() is not.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "registry/http/handler.h"

namespace berth::registry::http {

class Router {
 public:
  Router();

  // Registers `handler` for `method` on `pattern`. InvalidArgument for a malformed pattern
  // (not starting with '/', unbalanced braces, more than one {x...}, an empty method);
  // AlreadyExists when the same method and pattern were registered before.
  absl::Status Handle(absl::string_view method, absl::string_view pattern, Handler handler);

  // Replace the defaults (plain-text 404 / 405).
  void SetNotFound(Handler handler) { not_found_ = std::move(handler); }
  void SetMethodNotAllowed(Handler handler) { method_not_allowed_ = std::move(handler); }

  struct Match {
    const Handler* handler = nullptr;  // never null; points into the router
    std::string route;                 // the matched pattern, "" when none matched
    absl::flat_hash_map<std::string, std::string> params;
    std::vector<std::string> allowed_methods;  // filled when the method did not match
  };
  // Finds the handler for a request; the first registered pattern that matches the path wins.
  Match Find(absl::string_view method, absl::string_view path) const;

 private:
  struct Route {
    std::string pattern;
    std::vector<std::string> segments;
    std::vector<std::pair<std::string, Handler>> methods;  // registration order
  };
  static bool MatchSegments(const std::vector<std::string>& pattern, size_t pi,
                            const std::vector<absl::string_view>& path, size_t si,
                            absl::flat_hash_map<std::string, std::string>& params);

  std::vector<Route> routes_;
  Handler not_found_;
  Handler method_not_allowed_;
};

}  // namespace berth::registry::http
