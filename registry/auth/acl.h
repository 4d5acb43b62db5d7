// Per-repository permissions for berth-registry (--acl), used by basic and token auth alike.
//
// The file is a JSON array of rules; a caller's rights are the union of every rule matching it:
//
//   [
//     {"account": "alice", "name": "alice/*",   "actions": ["pull", "push", "delete"]},
//     {"account": "*",     "name": "library/*", "actions": ["pull"]},
//     {"account": "",      "name": "public/*",  "actions": ["pull"]},
//     {"account": "ci",    "name": "${account}/**", "actions": ["*"]},
//     {"account": "admin", "type": "registry",  "name": "catalog", "actions": ["*"]}
//   ]
//
// - "account": a user name from --htpasswd; "*" any authenticated user; "" every caller,
//   anonymous ones included (what anonymous callers may do, signed-in ones may too).
// - "name": a glob on the repository name: '*' matches any run of characters except '/',
//   "**" any run including '/', '?' one character other than '/'. "${account}" stands for
//   the caller's user name (never matches for anonymous callers).
// - "type": "repository" (the default) or "registry" (name "catalog": the _catalog endpoint
//   in token mode).
// - "actions": "pull", "push", "delete", or "*" (all of them).
// Unknown keys and actions are errors: a typo in a permission file must not go unnoticed.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "registry/auth/scope.h"

namespace berth::registry::auth {

// Whether `name` matches `pattern` (the glob syntax above, without ${account}).
bool GlobMatch(absl::string_view pattern, absl::string_view name);

// Immutable once built; thread-safe.
class Acl {
 public:
  struct Rule {
    std::string account;
    std::string type = kRepository;
    std::string name;
    std::vector<std::string> actions;
  };

  // InvalidArgument (naming the rule's index) for malformed JSON, unknown keys or actions,
  // a missing name or actions.
  static absl::StatusOr<std::unique_ptr<Acl>> Parse(absl::string_view json);
  static absl::StatusOr<std::unique_ptr<Acl>> Load(const std::string& path);
  // What berth-registry does without --acl: every authenticated user may do everything
  // (catalog included), anonymous callers nothing.
  static std::unique_ptr<Acl> AuthenticatedMayDoAll();

  // Of `requested`, the actions `account` (nullopt: anonymous) is allowed; an empty action
  // list when none. Requested "*" is granted only by a "*" rule.
  Access Grant(const std::optional<std::string>& account, const Access& requested) const;
  // Whether `account` may do `action` on (type, name).
  bool Allows(const std::optional<std::string>& account, absl::string_view type,
              absl::string_view name, absl::string_view action) const;

  size_t size() const { return rules_.size(); }

 private:
  explicit Acl(std::vector<Rule> rules) : rules_(std::move(rules)) {}
  bool Matches(const Rule& rule, const std::optional<std::string>& account, absl::string_view type,
               absl::string_view name) const;

  const std::vector<Rule> rules_;
};

}  // namespace berth::registry::auth
