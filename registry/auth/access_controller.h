// Who may do what on berth-registry's API: an AccessController looks at a request's
// Authorization (and Host) header and the access the route needs, and decides. Two mechanisms:
//
// - BasicAccessController: HTTP basic credentials checked against htpasswd, rights from the
//   Acl. No or bad credentials when they are needed: 401 with "Basic realm=...". Signed in but
//   not permitted: 403 DENIED.
// - TokenAccessController: the Docker token flow. A bearer JWT verified by TokenVerifier whose
//   "access" claim must cover the request. Otherwise 401 with
//   'Bearer realm="...",service="...",scope="repository:<name>:pull,push"', plus
//   error="invalid_token" (bad, expired) or error="insufficient_scope" (valid but not enough).
//
// The decision carries no HTTP response: api/ turns it into one with the spec's error body.
// Implementations are immutable after construction and thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "registry/auth/acl.h"
#include "registry/auth/htpasswd.h"
#include "registry/auth/jwt.h"
#include "registry/auth/scope.h"

namespace berth::registry::auth {

// Counts refusals for metrics. Thread-safe, cheap.
class AuthObserver {
 public:
  virtual ~AuthObserver() = default;
  // `reason` is a short fixed label: "no_credentials", "bad_credentials", "denied",
  // "insufficient_scope", or a TokenErrorName ("expired_token", "bad_signature", ...).
  virtual void AuthFailed(absl::string_view reason) = 0;
};

struct AuthRequest {
  std::optional<absl::string_view> authorization;  // the Authorization header
  std::optional<absl::string_view> host;           // the Host header
  // A probe (may the caller also do X?), not a refusal: failures are not reported to the
  // AuthObserver.
  bool quiet = false;
};

struct Decision {
  enum class Outcome { kAllowed, kUnauthorized /* 401 */, kDenied /* 403 */ };
  Outcome outcome = Outcome::kUnauthorized;
  // The signed-in account; nullopt for anonymous callers.
  std::optional<std::string> account;
  // For kUnauthorized: the WWW-Authenticate value.
  std::string challenge;
  // Human-readable, for the error body.
  std::string message;
  bool allowed() const { return outcome == Outcome::kAllowed; }
};

class AccessController {
 public:
  virtual ~AccessController() = default;
  // Decides whether the caller may have every access in `required`. Empty `required` means
  // "any authenticated caller" (GET /v2/).
  virtual Decision Authorize(const AuthRequest& request,
                             const std::vector<Access>& required) const = 0;
  // What GET /v2/_catalog needs: nothing beyond authentication in basic mode (the list is
  // filtered instead), "registry:catalog:*" in token mode (as distribution does).
  virtual std::vector<Access> CatalogAccess() const = 0;
  // Whether an allowed catalog caller sees `repository` in the list.
  virtual bool CatalogShows(const Decision& caller, absl::string_view repository) const = 0;
};

// Splits "Basic <base64>" into user and password; nullopt for another scheme or bad base64.
std::optional<std::pair<std::string, std::string>> ParseBasicAuthorization(
    absl::string_view header);

class BasicAccessController : public AccessController {
 public:
  // None owned; all outlive the controller. `observer` may be null.
  BasicAccessController(Htpasswd* htpasswd, const Acl* acl, std::string realm,
                        AuthObserver* observer)
      : htpasswd_(*htpasswd), acl_(*acl), realm_(std::move(realm)), observer_(observer) {}

  Decision Authorize(const AuthRequest& request,
                     const std::vector<Access>& required) const override;
  std::vector<Access> CatalogAccess() const override { return {}; }
  bool CatalogShows(const Decision& caller, absl::string_view repository) const override;

 private:
  Decision Fail(const AuthRequest& request, Decision::Outcome outcome, absl::string_view reason,
                std::string message, std::optional<std::string> account = std::nullopt) const;

  Htpasswd& htpasswd_;
  const Acl& acl_;
  const std::string realm_;
  AuthObserver* const observer_;
};

struct TokenAccessOptions {
  // The token endpoint clients are sent to. Empty: "<scheme>://<Host header>/token", or
  // "<scheme>://<fallback_address>/token" when the request has no usable Host header.
  std::string realm;
  std::string scheme = "http";
  std::string fallback_address;
  // The service name in challenges (and the audience tokens must carry).
  std::string service;
};

class TokenAccessController : public AccessController {
 public:
  // `verifier` is not owned and outlives the controller; `observer` may be null.
  TokenAccessController(const TokenVerifier* verifier, TokenAccessOptions options,
                        AuthObserver* observer)
      : verifier_(*verifier), options_(std::move(options)), observer_(observer) {}

  Decision Authorize(const AuthRequest& request,
                     const std::vector<Access>& required) const override;
  std::vector<Access> CatalogAccess() const override {
    return {Access{kRegistry, "catalog", {kAnyAction}}};
  }
  bool CatalogShows(const Decision&, absl::string_view) const override { return true; }

  // The realm for a request (see TokenAccessOptions::realm).
  std::string Realm(const AuthRequest& request) const;

 private:
  Decision Challenge(const AuthRequest& request, const std::vector<Access>& required,
                     absl::string_view error, absl::string_view reason, std::string message) const;

  const TokenVerifier& verifier_;
  const TokenAccessOptions options_;
  AuthObserver* const observer_;
};

}  // namespace berth::registry::auth
