#include "registry/auth/access_controller.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace berth::registry::auth {
namespace {

// RFC 9110 quoted-string; the values quoted here (realm, service, scopes) have no '"' or '\'
// after validation, but a realm comes from a flag, so escape anyway.
std::string Quote(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// A Host header fit to be put into a realm URL: host[:port] characters only.
bool UsableHost(absl::string_view host) {
  return !host.empty() && host.size() < 256 && std::all_of(host.begin(), host.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
}

}  // namespace

std::optional<std::pair<std::string, std::string>> ParseBasicAuthorization(
    absl::string_view header) {
  header = absl::StripAsciiWhitespace(header);
  if (header.size() < 6 || !absl::EqualsIgnoreCase(header.substr(0, 6), "Basic ")) {
    return std::nullopt;
  }
  std::string decoded;
  if (!absl::Base64Unescape(absl::StripAsciiWhitespace(header.substr(6)), &decoded)) {
    return std::nullopt;
  }
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::make_pair(decoded.substr(0, colon), decoded.substr(colon + 1));
}

Decision BasicAccessController::Fail(const AuthRequest& request, Decision::Outcome outcome,
                                     absl::string_view reason, std::string message,
                                     std::optional<std::string> account) const {
  if (observer_ != nullptr && !request.quiet) observer_->AuthFailed(reason);
  Decision d;
  d.outcome = outcome;
  d.account = std::move(account);
  d.message = std::move(message);
  // RFC 7617; 403s get none: credentials would not help.
  if (outcome == Decision::Outcome::kUnauthorized) d.challenge = "Basic realm=" + Quote(realm_);
  return d;
}

Decision BasicAccessController::Authorize(const AuthRequest& request,
                                          const std::vector<Access>& required) const {
  std::optional<std::string> account;
  if (request.authorization) {
    auto creds = ParseBasicAuthorization(*request.authorization);
    if (!creds) {
      return Fail(request, Decision::Outcome::kUnauthorized, "bad_credentials",
                  "only Basic credentials are accepted");
    }
    if (!htpasswd_.Verify(creds->first, creds->second)) {
      return Fail(request, Decision::Outcome::kUnauthorized, "bad_credentials",
                  "invalid username or password");
    }
    account = std::move(creds->first);
  }
  // The base endpoint answers who is signed in; anonymous callers learn they must sign in.
  if (required.empty() && !account) {
    return Fail(request, Decision::Outcome::kUnauthorized, "no_credentials",
                "authentication required");
  }
  for (const Access& a : required) {
    for (const std::string& action : a.actions) {
      if (acl_.Allows(account, a.type, a.name, action)) continue;
      if (!account) {
        return Fail(request, Decision::Outcome::kUnauthorized, "no_credentials",
                    "authentication required");
      }
      return Fail(request, Decision::Outcome::kDenied, "denied",
                  absl::StrCat("requested access to the resource is denied: ", FormatScope(a)),
                  account);
    }
  }
  Decision d;
  d.outcome = Decision::Outcome::kAllowed;
  d.account = std::move(account);
  return d;
}

bool BasicAccessController::CatalogShows(const Decision& caller,
                                         absl::string_view repository) const {
  return acl_.Allows(caller.account, kRepository, repository, kPull);
}

std::string TokenAccessController::Realm(const AuthRequest& request) const {
  if (!options_.realm.empty()) return options_.realm;
  const absl::string_view host = request.host && UsableHost(*request.host)
                                     ? *request.host
                                     : absl::string_view(options_.fallback_address);
  return absl::StrCat(options_.scheme, "://", host, "/token");
}

Decision TokenAccessController::Challenge(const AuthRequest& request,
                                          const std::vector<Access>& required,
                                          absl::string_view error, absl::string_view reason,
                                          std::string message) const {
  if (observer_ != nullptr && !request.quiet) observer_->AuthFailed(reason);
  Decision d;
  d.outcome = Decision::Outcome::kUnauthorized;
  d.message = std::move(message);
  // The token specification, "How to authenticate": realm, service and the scope to ask for.
  d.challenge =
      absl::StrCat("Bearer realm=", Quote(Realm(request)), ",service=", Quote(options_.service));
  if (!required.empty()) {
    std::vector<std::string> scopes;
    for (const Access& a : required) scopes.push_back(FormatScope(a));
    absl::StrAppend(&d.challenge, ",scope=", Quote(absl::StrJoin(scopes, " ")));
  }
  if (!error.empty()) absl::StrAppend(&d.challenge, ",error=", Quote(error));
  return d;
}

Decision TokenAccessController::Authorize(const AuthRequest& request,
                                          const std::vector<Access>& required) const {
  absl::string_view header =
      request.authorization ? absl::StripAsciiWhitespace(*request.authorization) : "";
  if (header.size() < 7 || !absl::EqualsIgnoreCase(header.substr(0, 7), "Bearer ")) {
    return Challenge(request, required, "", "no_credentials", "authentication required");
  }
  TokenError why = TokenError::kNone;
  absl::StatusOr<TokenClaims> claims =
      verifier_.Verify(absl::StripAsciiWhitespace(header.substr(7)), &why);
  if (!claims.ok()) {
    // RFC 6750 section 3.1.
    return Challenge(request, required, "invalid_token", TokenErrorName(why),
                     std::string(claims.status().message()));
  }
  for (const Access& a : required) {
    for (const std::string& action : a.actions) {
      if (!Permits(claims->access, a.type, a.name, action)) {
        return Challenge(request, required, "insufficient_scope", "insufficient_scope",
                         absl::StrCat("token does not grant ", FormatScope(a)));
      }
    }
  }
  Decision d;
  d.outcome = Decision::Outcome::kAllowed;
  if (!claims->subject.empty()) d.account = claims->subject;
  return d;
}

}  // namespace berth::registry::auth
