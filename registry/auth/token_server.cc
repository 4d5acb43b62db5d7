#include "registry/auth/token_server.h"

#include <openssl/rand.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"

namespace berth::registry::auth {
namespace {

using Json = nlohmann::json;

constexpr uint64_t kMaxFormBytes = 64 << 10;

std::string RefreshAudience(const std::string& service) { return service + ":refresh"; }

std::string RandomId() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    // Unique, not secret: jti only lets a token be told apart in logs.
    return absl::StrCat(absl::ToUnixNanos(absl::Now()));
  }
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes)));
}

http::Response JsonResponse(int status, const Json& body) {
  http::Response r = http::Response::Text(status, body.dump(), "application/json");
  // RFC 6749 section 5.1: token responses must not be cached.
  r.SetHeader("Cache-Control", "no-store");
  r.SetHeader("Pragma", "no-cache");
  return r;
}

http::Response BadRequest(absl::string_view error, absl::string_view message) {
  // Both shapes clients read: the distribution error list and OAuth2's error fields.
  return JsonResponse(400, {{"errors", {{{"code", "UNSUPPORTED"}, {"message", message}}}},
                            {"error", error},
                            {"error_description", message}});
}

}  // namespace

absl::StatusOr<std::unique_ptr<TokenServer>> TokenServer::Create(Key key,
                                                                 TokenServerOptions options) {
  if (!key.is_private()) return absl::InvalidArgumentError("token key must be a private key");
  if (options.acl == nullptr) return absl::InvalidArgumentError("token server needs an acl");
  std::unique_ptr<TokenServer> s(new TokenServer(std::move(key), std::move(options)));
  TokenVerifierOptions v;
  v.issuer = s->options_.issuer;
  v.audience = RefreshAudience(s->options_.service);
  BERTH_ASSIGN_OR_RETURN(Key pub, s->key_.Public());
  v.trusted_keys.push_back(std::move(pub));
  v.clock = s->options_.clock;
  BERTH_ASSIGN_OR_RETURN(s->refresh_verifier_, TokenVerifier::Create(std::move(v)));
  return s;
}

TokenServer::TokenServer(Key key, TokenServerOptions options)
    : key_(std::move(key)), options_(std::move(options)) {}

http::Response TokenServer::Unauthorized(absl::string_view reason, absl::string_view message) {
  if (options_.observer != nullptr) options_.observer->AuthFailed(reason);
  http::Response r =
      JsonResponse(401, {{"errors", {{{"code", "UNAUTHORIZED"}, {"message", message}}}},
                         {"error", "invalid_grant"},
                         {"error_description", message}});
  r.SetHeader("WWW-Authenticate", "Basic realm=\"berth-registry token\"");
  return r;
}

http::Response TokenServer::Answer(const std::optional<std::string>& account,
                                   const std::vector<std::string>& scope_params, bool with_refresh,
                                   bool oauth) {
  // Requested scopes, merged per resource.
  std::vector<Access> requested;
  for (const std::string& param : scope_params) {
    for (absl::string_view text : absl::StrSplit(param, ' ', absl::SkipEmpty())) {
      absl::StatusOr<Access> a = ParseScope(text);
      if (!a.ok()) return BadRequest("invalid_scope", a.status().message());
      auto same = std::find_if(requested.begin(), requested.end(), [&](const Access& r) {
        return r.type == a->type && r.name == a->name;
      });
      if (same == requested.end()) {
        requested.push_back(*std::move(a));
        continue;
      }
      for (std::string& action : a->actions) {
        if (std::find(same->actions.begin(), same->actions.end(), action) == same->actions.end()) {
          same->actions.push_back(std::move(action));
        }
      }
    }
  }
  std::vector<Access> granted;
  std::vector<std::string> granted_scopes;
  for (const Access& a : requested) {
    Access g = options_.acl->Grant(account, a);
    if (g.actions.empty()) continue;
    granted_scopes.push_back(FormatScope(g));
    granted.push_back(std::move(g));
  }

  const absl::Time now = options_.clock();
  TokenClaims claims;
  claims.issuer = options_.issuer;
  claims.subject = account.value_or("");
  claims.audience = {options_.service};
  claims.issued_at = now;
  claims.not_before = now;
  claims.expires = now + options_.lifetime;
  claims.id = RandomId();
  claims.access = granted;
  absl::StatusOr<std::string> token = SignToken(claims, key_);
  if (!token.ok()) {
    LOG(ERROR) << "token signing failed error=\"" << token.status().message() << "\"";
    return JsonResponse(500, {{"errors", {{{"code", "UNKNOWN"}, {"message", "signing failed"}}}}});
  }
  Json body = {{"token", *token},
               {"access_token", *token},
               {"expires_in", absl::ToInt64Seconds(options_.lifetime)},
               {"issued_at", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", now, absl::UTCTimeZone())}};
  if (oauth) body["scope"] = absl::StrJoin(granted_scopes, " ");
  if (with_refresh && account) {
    TokenClaims refresh;
    refresh.issuer = options_.issuer;
    refresh.subject = *account;
    refresh.audience = {RefreshAudience(options_.service)};
    refresh.issued_at = now;
    refresh.not_before = now;
    refresh.expires = now + options_.refresh_lifetime;
    refresh.id = RandomId();
    absl::StatusOr<std::string> r = SignToken(refresh, key_);
    if (r.ok()) body["refresh_token"] = *r;
  }
  VLOG(1) << "token issued account=" << account.value_or("<anonymous>") << " scope=\""
          << absl::StrJoin(granted_scopes, " ") << "\"";
  return JsonResponse(200, body);
}

http::HandlerResult TokenServer::Get(http::Request& r) {
  std::vector<std::string> scopes;
  std::optional<std::string> service, account_param;
  bool offline = false;
  for (auto& [key, value] : r.QueryParams()) {
    if (key == "scope") scopes.push_back(value);
    if (key == "service") service = value;
    if (key == "account") account_param = value;
    if (key == "offline_token") offline = value == "true";
  }
  if (service && *service != options_.service) {
    return BadRequest("invalid_request", absl::StrCat("unknown service \"", *service, "\""));
  }
  std::optional<std::string> account;
  if (auto header = r.Header("Authorization")) {
    auto creds = ParseBasicAuthorization(*header);
    if (!creds) return Unauthorized("bad_credentials", "only Basic credentials are accepted");
    if (options_.htpasswd == nullptr || !options_.htpasswd->Verify(creds->first, creds->second)) {
      return Unauthorized("bad_credentials", "invalid username or password");
    }
    account = std::move(creds->first);
  }
  // "account" names whom the client acts as; it must be the one that signed in.
  if (account_param && !account_param->empty() && account_param != account) {
    return Unauthorized("bad_credentials", "account does not match the credentials");
  }
  return Answer(account, scopes, offline, /*oauth=*/false);
}

http::HandlerResult TokenServer::Post(http::Request& r) {
  return http::BufferedSink(kMaxFormBytes, [this](std::string body) { return PostForm(body); });
}

http::Response TokenServer::PostForm(const std::string& body) {
  std::optional<std::string> grant_type, service, username, password, refresh_token;
  std::vector<std::string> scopes;
  bool offline = false;
  for (auto& [key, value] : http::ParseFormUrlEncoded(body)) {
    if (key == "grant_type") grant_type = value;
    if (key == "service") service = value;
    if (key == "username") username = value;
    if (key == "password") password = value;
    if (key == "refresh_token") refresh_token = value;
    if (key == "scope") scopes.push_back(value);
    if (key == "access_type") offline = value == "offline";
  }
  if (!service || *service != options_.service) {
    return BadRequest("invalid_request",
                      absl::StrCat("unknown service \"", service.value_or(""), "\""));
  }
  if (grant_type == "password") {
    if (!username || !password) {
      return BadRequest("invalid_request", "password grant needs username and password");
    }
    if (options_.htpasswd == nullptr || !options_.htpasswd->Verify(*username, *password)) {
      return Unauthorized("bad_credentials", "invalid username or password");
    }
    return Answer(*username, scopes, offline, /*oauth=*/true);
  }
  if (grant_type == "refresh_token") {
    if (!refresh_token) return BadRequest("invalid_request", "refresh_token is missing");
    TokenError why;
    absl::StatusOr<TokenClaims> claims = refresh_verifier_->Verify(*refresh_token, &why);
    if (!claims.ok()) return Unauthorized(TokenErrorName(why), claims.status().message());
    if (claims->subject.empty() || options_.htpasswd == nullptr ||
        !options_.htpasswd->HasUser(claims->subject)) {
      return Unauthorized("bad_credentials", "the refresh token's account no longer exists");
    }
    return Answer(claims->subject, scopes, /*with_refresh=*/true, /*oauth=*/true);
  }
  return BadRequest("unsupported_grant_type",
                    absl::StrCat("grant_type \"", grant_type.value_or(""),
                                 "\" is not supported (password or refresh_token)"));
}

}  // namespace berth::registry::auth
