// JSON Web Tokens as the Docker token authentication specification uses them ("Token
// Authentication Implementation"): JWS compact serialization, RS256 (RSA keys) and
// ES256/ES384/ES512 (EC P-256/P-384/P-521 keys), claims iss/sub/aud/exp/nbf/iat/jti plus the
// registry's "access" list. Signatures use OpenSSL's libcrypto.
//
// Which key signed a token is found the way distribution/registry 2.8 finds it: a "kid" header
// naming a trusted key by its libtrust key ID (below), or an "x5c" certificate chain that
// verifies against the trusted certificates and whose leaf holds the key. Tokens this library
// signs carry "kid", so registries built from distribution accept them too.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "registry/auth/scope.h"

namespace berth::registry::auth {

// An OpenSSL public or private key (EVP_PKEY), move-only.
class Key {
 public:
  // A private key in PEM (PKCS#8, "RSA PRIVATE KEY" or "EC PRIVATE KEY"). InvalidArgument for
  // anything else or a key type/curve JWT cannot use here.
  static absl::StatusOr<Key> PrivateFromPem(absl::string_view pem);
  // The public key of the first certificate in `pem`.
  static absl::StatusOr<Key> PublicFromCertificatePem(absl::string_view pem);

  Key(Key&&) noexcept;
  Key& operator=(Key&&) noexcept;
  ~Key();

  // libtrust's key ID (docker/libtrust keyIDFromCryptoKey): the SHA-256 of the DER
  // SubjectPublicKeyInfo, first 240 bits, base32, in 12 groups of 4 joined by ':'.
  const std::string& key_id() const { return key_id_; }
  // "RS256", "ES256", "ES384" or "ES512": what this key signs with.
  const std::string& alg() const { return alg_; }
  bool is_private() const { return private_; }
  // The public half, as a separate key.
  absl::StatusOr<Key> Public() const;
  // Same public key material.
  bool SamePublicKey(const Key& other) const;

  // A JWS signature of `input` (raw r||s for EC, as JWS requires). FailedPrecondition for a
  // public key; Internal when OpenSSL fails.
  absl::StatusOr<std::string> Sign(absl::string_view input) const;
  // Whether `signature` is a valid JWS signature of `input` under `alg` with this key. An
  // `alg` that does not fit the key type is false (no algorithm confusion).
  bool Verify(absl::string_view alg, absl::string_view input, absl::string_view signature) const;

  void* evp_pkey() const { return pkey_; }  // EVP_PKEY*, owned by this Key
  // Takes ownership of an EVP_PKEY* (freed also when this fails).
  static absl::StatusOr<Key> Adopt(void* pkey, bool is_private);

 private:
  Key() = default;
  void* pkey_ = nullptr;
  bool private_ = false;
  std::string key_id_;
  std::string alg_;
};

// All certificates in a PEM bundle, each as a public Key. InvalidArgument when there is none.
absl::StatusOr<std::vector<Key>> PublicKeysFromCertificateBundle(absl::string_view pem);

struct TokenClaims {
  std::string issuer;                            // iss
  std::string subject;                           // sub: the account; "" for anonymous
  std::vector<std::string> audience;             // aud: a string or a list in JSON
  absl::Time expires = absl::InfiniteFuture();   // exp
  absl::Time not_before = absl::InfinitePast();  // nbf
  absl::Time issued_at = absl::InfinitePast();   // iat
  std::string id;                                // jti
  std::vector<Access> access;                    // access
};

// header.payload.signature with {"typ":"JWT","alg":key.alg(),"kid":key.key_id()}.
absl::StatusOr<std::string> SignToken(const TokenClaims& claims, const Key& key);

// Why a token was refused (for the metrics label and the challenge's error parameter).
enum class TokenError {
  kNone,
  kMalformed,
  kUntrustedKey,
  kBadSignature,
  kExpired,
  kNotYetValid,
  kWrongIssuer,
  kWrongAudience
};
absl::string_view TokenErrorName(TokenError e);

struct TokenVerifierOptions {
  std::string issuer;    // iss must equal this
  std::string audience;  // aud must contain this (the registry's service name)
  // Keys (public; private ones are reduced) a "kid" may name.
  std::vector<Key> trusted_keys;
  // PEM certificates an "x5c" chain must verify against; "" accepts no x5c.
  std::string trusted_certificates_pem;
  // Allowed clock difference for exp/nbf (distribution uses 60 s).
  absl::Duration leeway = absl::Seconds(60);
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

// Thread-safe after Create.
class TokenVerifier {
 public:
  static absl::StatusOr<std::unique_ptr<TokenVerifier>> Create(TokenVerifierOptions options);
  ~TokenVerifier();

  // The token's claims when it is well-formed, signed by a trusted key, from the issuer, for
  // the audience and within its validity window. Unauthenticated otherwise, with `why` set.
  absl::StatusOr<TokenClaims> Verify(absl::string_view token, TokenError* why = nullptr) const;

 private:
  explicit TokenVerifier(TokenVerifierOptions options) : options_(std::move(options)) {}
  absl::StatusOr<const Key*> KeyFor(const std::string& header_json, std::vector<Key>& x5c_keys,
                                    TokenError* why) const;
  TokenVerifierOptions options_;
  void* store_ = nullptr;  // X509_STORE* of trusted_certificates_pem, or null
};

}  // namespace berth::registry::auth
