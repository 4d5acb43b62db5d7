#include "registry/auth/acl.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"

namespace berth::registry::auth {
namespace {

using Json = nlohmann::json;

bool KnownAction(absl::string_view a) {
  return a == kPull || a == kPush || a == kDelete || a == kAnyAction;
}

bool Contains(const std::vector<std::string>& v, absl::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

bool GlobMatch(absl::string_view pattern, absl::string_view name) {
  // Backtracking over the last star only is not enough with two kinds of star, so plain
  // recursion; patterns are short and come from the administrator.
  size_t p = 0;
  size_t n = 0;
  while (p < pattern.size()) {
    const char c = pattern[p];
    if (c == '*') {
      const bool deep = p + 1 < pattern.size() && pattern[p + 1] == '*';
      const absl::string_view rest = pattern.substr(p + (deep ? 2 : 1));
      for (size_t k = n; k <= name.size(); ++k) {
        if (GlobMatch(rest, name.substr(k))) return true;
        if (k < name.size() && !deep && name[k] == '/') break;
      }
      return false;
    }
    if (n >= name.size()) return false;
    if (c == '?' ? name[n] == '/' : c != name[n]) return false;
    ++p;
    ++n;
  }
  return n == name.size();
}

absl::StatusOr<std::unique_ptr<Acl>> Acl::Parse(absl::string_view text) {
  const Json doc = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("acl: not valid JSON");
  if (!doc.is_array()) return absl::InvalidArgumentError("acl: want a JSON array of rules");
  std::vector<Rule> rules;
  for (size_t i = 0; i < doc.size(); ++i) {
    const Json& r = doc[i];
    const auto bad = [i](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("acl rule ", i, ": ", why));
    };
    if (!r.is_object()) return bad("want an object");
    Rule rule;
    for (const auto& [key, value] : r.items()) {
      if (key == "actions") {
        if (!value.is_array() || value.empty()) return bad("\"actions\" must be a non-empty list");
        for (const Json& a : value) {
          if (!a.is_string() || !KnownAction(a.get<std::string>())) {
            return bad(absl::StrCat("unknown action ", a.dump(),
                                    " (want \"pull\", \"push\", \"delete\" or \"*\")"));
          }
          if (!Contains(rule.actions, a.get<std::string>())) {
            rule.actions.push_back(a.get<std::string>());
          }
        }
      } else if (key == "account" || key == "name" || key == "type") {
        if (!value.is_string()) return bad(absl::StrCat("\"", key, "\" must be a string"));
        std::string s = value.get<std::string>();
        (key == "account" ? rule.account : key == "name" ? rule.name : rule.type) = std::move(s);
      } else {
        return bad(absl::StrCat("unknown key \"", key, "\""));
      }
    }
    if (!r.contains("account")) return bad("\"account\" is missing (\"\" means anonymous)");
    if (rule.name.empty()) return bad("\"name\" is missing or empty");
    if (rule.actions.empty()) return bad("\"actions\" is missing");
    if (rule.type != kRepository && rule.type != kRegistry) {
      return bad(absl::StrCat("unknown type \"", rule.type, "\""));
    }
    rules.push_back(std::move(rule));
  }
  return std::unique_ptr<Acl>(new Acl(std::move(rules)));
}

absl::StatusOr<std::unique_ptr<Acl>> Acl::Load(const std::string& path) {
  BERTH_ASSIGN_OR_RETURN(std::string text, fs::ReadFile(path));
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<Acl> acl, Parse(text), path);
  return acl;
}

std::unique_ptr<Acl> Acl::AuthenticatedMayDoAll() {
  return std::unique_ptr<Acl>(new Acl({
      Rule{"*", kRepository, "**", {kAnyAction}},
      Rule{"*", kRegistry, "catalog", {kAnyAction}},
  }));
}

bool Acl::Matches(const Rule& rule, const std::optional<std::string>& account,
                  absl::string_view type, absl::string_view name) const {
  if (rule.type != type) return false;
  if (rule.account == "*") {
    if (!account) return false;
  } else if (!rule.account.empty() && (!account || *account != rule.account)) {
    return false;
  }
  if (rule.name.find("${account}") != std::string::npos) {
    // A user name containing glob characters must not widen the pattern.
    if (!account || account->find_first_of("*?") != std::string::npos) return false;
    return GlobMatch(absl::StrReplaceAll(rule.name, {{"${account}", *account}}), name);
  }
  return GlobMatch(rule.name, name);
}

Access Acl::Grant(const std::optional<std::string>& account, const Access& requested) const {
  Access out{requested.type, requested.name, {}};
  for (const std::string& action : requested.actions) {
    if (Allows(account, requested.type, requested.name, action) && !Contains(out.actions, action)) {
      out.actions.push_back(action);
    }
  }
  return out;
}

bool Acl::Allows(const std::optional<std::string>& account, absl::string_view type,
                 absl::string_view name, absl::string_view action) const {
  for (const Rule& rule : rules_) {
    if (!Matches(rule, account, type, name)) continue;
    if (Contains(rule.actions, kAnyAction)) return true;
    if (action != kAnyAction && Contains(rule.actions, action)) return true;
  }
  return false;
}

}  // namespace berth::registry::auth
