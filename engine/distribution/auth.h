// Registry authentication as Docker clients do it: read the WWW-Authenticate challenges of a
// 401 (RFC 7235: several challenges, quoted values), then answer with HTTP basic credentials
// or with a bearer token from the challenge's realm (the Docker "token authentication
// specification": GET realm?service=&scope= with basic credentials, or the OAuth2 POST with a
// refresh token, i.e. an identity token). Tokens are cached per scope set until they expire.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/distribution/http_client.h"

namespace berth::engine::distribution {

struct Challenge {
  std::string scheme;                         // lower case: "basic", "bearer"
  std::map<std::string, std::string> params;  // keys lower case, values unquoted
};

// Parses every challenge in the given WWW-Authenticate header values. Malformed parts are
// skipped (a registry's odd header must not make a pull fail before credentials are tried).
std::vector<Challenge> ParseChallenges(const std::vector<std::string>& header_values);

struct Credentials {
  std::string username;
  std::string password;
  std::string identity_token;  // OAuth2 refresh token from an earlier login
  std::string registry_token;  // a bearer token to send as is
  bool empty() const {
    return username.empty() && password.empty() && identity_token.empty() &&
           registry_token.empty();
  }
};

// Percent-encodes `s` for a URL query value (RFC 3986 unreserved characters stay).
std::string QueryEscape(absl::string_view s);

// The credentials and tokens for one registry host. Thread-safe.
class Authorizer {
 public:
  Authorizer(HttpClient* http, Credentials creds, TlsConfig tls,
             std::function<absl::Time()> clock = [] { return absl::Now(); });

  // The Authorization header value for a request needing `scopes` ("repository:a/b:pull"),
  // fetching a token if the registry uses bearer tokens and none is cached; "" when the
  // registry has not asked for credentials (yet). Errors as for Challenge().
  absl::StatusOr<std::string> Header(const std::vector<std::string>& scopes,
                                     const std::atomic<bool>* cancelled);

  // Learns how to authenticate from the challenges of a 401 and drops the token cached for
  // `scopes` (it was refused). Unauthenticated when no challenge is one berth answers, or
  // when a bearer challenge comes but there is nothing to try (no credentials and the
  // anonymous token was refused already).
  absl::Status Challenged(const std::vector<Challenge>& challenges,
                          const std::vector<std::string>& scopes);

  // Learns the scheme (and token realm) from the challenges of a 401 to a ping, without
  // counting it as a refusal.
  void Learn(const std::vector<Challenge>& challenges);

  // Whether the registry asked for credentials at all.
  bool Required();
  // The refresh token the token server issued (login with offline_token=true); "" if none.
  std::string RefreshToken();

  // Fetches a token for `scopes` now (login); Unauthenticated when the token server refuses
  // the credentials. OK without a request for basic auth or no auth.
  absl::Status FetchToken(const std::vector<std::string>& scopes, bool offline,
                          const std::atomic<bool>* cancelled);

 private:
  struct Token {
    std::string value;
    absl::Time expires;
  };
  absl::StatusOr<Token> RequestToken(const std::vector<std::string>& scopes, bool offline,
                                     const std::atomic<bool>* cancelled);
  static std::string Key(const std::vector<std::string>& scopes);

  HttpClient* const http_;
  const Credentials creds_;
  const TlsConfig tls_;
  const std::function<absl::Time()> clock_;

  absl::Mutex mu_;
  std::string scheme_ ABSL_GUARDED_BY(mu_);  // "", "basic", "bearer"
  std::string realm_ ABSL_GUARDED_BY(mu_);
  std::string service_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Token> tokens_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> refused_ ABSL_GUARDED_BY(mu_);
  std::string refresh_token_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::engine::distribution
