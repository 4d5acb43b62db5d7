// Resource scopes of the Docker token authentication specification ("Requesting a Token",
// "Token Scope Documentation"): "repository:library/alpine:pull,push". berth-registry uses them
// for three things: what a request needs (the access check), what a challenge asks a client to
// get (WWW-Authenticate scope=...), and what a token grants (the JWT "access" claim).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::registry::auth {

// Actions the registry checks. "*" in a grant means every action of that resource type.
inline constexpr char kPull[] = "pull";
inline constexpr char kPush[] = "push";
inline constexpr char kDelete[] = "delete";
inline constexpr char kAnyAction[] = "*";

// Resource types.
inline constexpr char kRepository[] = "repository";
inline constexpr char kRegistry[] = "registry";  // name "catalog": the _catalog endpoint

// One resource and the actions asked for or granted on it.
struct Access {
  std::string type;
  std::string name;
  std::vector<std::string> actions;

  bool operator==(const Access& o) const {
    return type == o.type && name == o.name && actions == o.actions;
  }
};

// Parses "type:name:action,action". The name may itself contain ':' (a registry host with a
// port, "repository:localhost:5000/app:pull"), so the type ends at the first ':' and the
// actions start after the last. InvalidArgument when a part is empty or a character is
// outside the spec's grammar (no whitespace, quotes or control characters).
absl::StatusOr<Access> ParseScope(absl::string_view scope);

// "type:name:a,b" (the spec's form, used in challenges and token requests).
std::string FormatScope(const Access& access);

// Whether `granted` allows `action` on (type, name): an entry for the same resource listing
// the action or "*".
bool Permits(const std::vector<Access>& granted, absl::string_view type, absl::string_view name,
             absl::string_view action);

}  // namespace berth::registry::auth
