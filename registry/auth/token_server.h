// berth-registry's own token endpoint (the Docker token authentication specification), so a
// registry in token mode needs no separate authorization server:
//
//   GET
//   /token?service=S&scope=repository:app:pull,push[&scope=...][&account=U][&offline_token=true]
//        Authorization: Basic ... (optional; without it the caller is anonymous)
//     -> 200 {"token": JWT, "access_token": JWT, "expires_in": secs, "issued_at": RFC 3339
//             [, "refresh_token": ...]}
//   POST /token (application/x-www-form-urlencoded, "OAuth2 token authentication"):
//        grant_type=password&username=U&password=P&service=S&scope=A B&client_id=C
//          [&access_type=offline]
//        grant_type=refresh_token&refresh_token=R&service=S&scope=...&client_id=C
//     -> 200 {"access_token", "token", "scope", "expires_in", "issued_at"[, "refresh_token"]}
//
// The token grants, of the scopes asked for, only what the Acl allows the caller (scopes
// with nothing allowed are left out, not refused: the registry then answers 401
// insufficient_scope). Credentials are checked against htpasswd; wrong ones get 401 with
// the spec's UNAUTHORIZED error body. A refresh token is a JWT too, signed by the same key with
// audience "<service>:refresh", so it is never accepted as an access token; it stays valid
// for refresh_lifetime while its account exists in htpasswd.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "registry/auth/access_controller.h"
#include "registry/auth/acl.h"
#include "registry/auth/htpasswd.h"
#include "registry/auth/jwt.h"
#include "registry/http/handler.h"

namespace berth::registry::auth {

struct TokenServerOptions {
  std::string issuer;
  std::string service;  // the audience of issued tokens; a request naming another is 400
  absl::Duration lifetime = absl::Minutes(5);
  absl::Duration refresh_lifetime = absl::Hours(24 * 7);
  // Not owned; outlive the server. htpasswd may be null (every caller is anonymous).
  Htpasswd* htpasswd = nullptr;
  const Acl* acl = nullptr;
  AuthObserver* observer = nullptr;
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

// Thread-safe.
class TokenServer {
 public:
  // `key` signs tokens (private; InvalidArgument otherwise).
  static absl::StatusOr<std::unique_ptr<TokenServer>> Create(Key key, TokenServerOptions options);

  // GET /token.
  http::HandlerResult Get(http::Request& r);
  // POST /token; reads the form body (at most 64 KiB).
  http::HandlerResult Post(http::Request& r);

  // The public half of the signing key, for the registry's own verifier.
  absl::StatusOr<Key> PublicKey() const { return key_.Public(); }

 private:
  TokenServer(Key key, TokenServerOptions options);
  struct Grant;
  http::Response Answer(const std::optional<std::string>& account,
                        const std::vector<std::string>& scopes, bool with_refresh, bool oauth);
  http::Response PostForm(const std::string& body);
  http::Response Unauthorized(absl::string_view reason, absl::string_view message);

  const Key key_;
  const TokenServerOptions options_;
  std::unique_ptr<TokenVerifier> refresh_verifier_;
};

}  // namespace berth::registry::auth
