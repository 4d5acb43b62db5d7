#include "registry/auth/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status/status_macros.h"

namespace berth::registry::auth {
namespace {

using Json = nlohmann::json;

EVP_PKEY* Pkey(void* p) { return static_cast<EVP_PKEY*>(p); }

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

BioPtr MemBio(absl::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// RFC 4648 base32 with the standard alphabet; `data` is a multiple of 5 bytes here.
std::string Base32(absl::string_view data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  uint64_t buffer = 0;
  int bits = 0;
  for (unsigned char c : data) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

struct AlgInfo {
  const EVP_MD* md;
  size_t ec_coordinate_bytes;  // 0 for RSA
};

// The digest and signature shape of `alg` for key `pkey`; md null when they do not fit.
AlgInfo AlgFor(absl::string_view alg, EVP_PKEY* pkey) {
  const int type = EVP_PKEY_get_base_id(pkey);
  if (type == EVP_PKEY_RSA) {
    if (alg == "RS256") return {EVP_sha256(), 0};
    if (alg == "RS384") return {EVP_sha384(), 0};
    if (alg == "RS512") return {EVP_sha512(), 0};
  } else if (type == EVP_PKEY_EC) {
    const int bits = EVP_PKEY_get_bits(pkey);
    if (alg == "ES256" && bits == 256) return {EVP_sha256(), 32};
    if (alg == "ES384" && bits == 384) return {EVP_sha384(), 48};
    if (alg == "ES512" && bits == 521) return {EVP_sha512(), 66};
  }
  return {nullptr, 0};
}

absl::StatusOr<std::string> DefaultAlg(EVP_PKEY* pkey) {
  const int type = EVP_PKEY_get_base_id(pkey);
  if (type == EVP_PKEY_RSA) {
    if (EVP_PKEY_get_bits(pkey) < 2048) {
      return absl::InvalidArgumentError("RSA keys shorter than 2048 bits are not accepted");
    }
    return std::string("RS256");
  }
  if (type == EVP_PKEY_EC) {
    switch (EVP_PKEY_get_bits(pkey)) {
      case 256:
        return std::string("ES256");
      case 384:
        return std::string("ES384");
      case 521:
        return std::string("ES512");
    }
    return absl::InvalidArgumentError("EC keys must be on P-256, P-384 or P-521");
  }
  return absl::InvalidArgumentError("key must be RSA or EC");
}

int64_t ToUnix(absl::Time t) { return absl::ToUnixSeconds(t); }

// A NumericDate claim; false when present and not a number.
bool ReadTime(const Json& claims, const char* name, absl::Time* out) {
  auto it = claims.find(name);
  if (it == claims.end()) return true;
  if (!it->is_number()) return false;
  *out = absl::FromUnixSeconds(it->get<int64_t>());
  return true;
}

bool ReadString(const Json& claims, const char* name, std::string* out) {
  auto it = claims.find(name);
  if (it == claims.end()) return true;
  if (!it->is_string()) return false;
  *out = it->get<std::string>();
  return true;
}

}  // namespace

Key::Key(Key&& o) noexcept
    : pkey_(o.pkey_), private_(o.private_), key_id_(std::move(o.key_id_)), alg_(std::move(o.alg_)) {
  o.pkey_ = nullptr;
}

Key& Key::operator=(Key&& o) noexcept {
  if (this != &o) {
    if (pkey_ != nullptr) EVP_PKEY_free(Pkey(pkey_));
    pkey_ = o.pkey_;
    o.pkey_ = nullptr;
    private_ = o.private_;
    key_id_ = std::move(o.key_id_);
    alg_ = std::move(o.alg_);
  }
  return *this;
}

Key::~Key() {
  if (pkey_ != nullptr) EVP_PKEY_free(Pkey(pkey_));
}

absl::StatusOr<Key> Key::Adopt(void* raw, bool is_private) {
  Key key;
  key.pkey_ = raw;  // owned from here on, also on the error paths
  key.private_ = is_private;
  BERTH_ASSIGN_OR_RETURN(key.alg_, DefaultAlg(Pkey(raw)));
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(Pkey(raw), &der);
  if (len <= 0) return absl::InternalError(absl::StrCat("encode public key: ", OpenSslError()));
  unsigned char hash[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(len), hash);
  OPENSSL_free(der);
  const std::string b32 = Base32(absl::string_view(reinterpret_cast<char*>(hash), 30));
  std::vector<absl::string_view> groups;
  for (size_t i = 0; i < b32.size(); i += 4) groups.push_back(absl::string_view(b32).substr(i, 4));
  key.key_id_ = absl::StrJoin(groups, ":");
  return key;
}

absl::StatusOr<Key> Key::PrivateFromPem(absl::string_view pem) {
  BioPtr bio = MemBio(pem);
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("not a PEM private key: ", OpenSslError()));
  }
  return Adopt(pkey, true);
}

absl::StatusOr<Key> Key::PublicFromCertificatePem(absl::string_view pem) {
  BERTH_ASSIGN_OR_RETURN(std::vector<Key> keys, PublicKeysFromCertificateBundle(pem));
  return std::move(keys.front());
}

absl::StatusOr<std::vector<Key>> PublicKeysFromCertificateBundle(absl::string_view pem) {
  BioPtr bio = MemBio(pem);
  std::vector<Key> out;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    EVP_PKEY* pkey = X509_get_pubkey(cert);  // a new reference
    X509_free(cert);
    if (pkey == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("certificate ", out.size() + 1, ": no public key: ", OpenSslError()));
    }
    BERTH_ASSIGN_OR_RETURN(Key key, Key::Adopt(pkey, false),
                           absl::StrCat("certificate ", out.size() + 1));
    out.push_back(std::move(key));
  }
  ERR_clear_error();  // the read that ended the loop
  if (out.empty()) return absl::InvalidArgumentError("no PEM certificate found");
  return out;
}

absl::StatusOr<Key> Key::Public() const {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(Pkey(pkey_), &der);
  if (len <= 0) return absl::InternalError(absl::StrCat("encode public key: ", OpenSslError()));
  const unsigned char* p = der;
  EVP_PKEY* pub = d2i_PUBKEY(nullptr, &p, len);
  OPENSSL_free(der);
  if (pub == nullptr)
    return absl::InternalError(absl::StrCat("decode public key: ", OpenSslError()));
  return Adopt(pub, false);
}

bool Key::SamePublicKey(const Key& other) const {
  return EVP_PKEY_eq(Pkey(pkey_), Pkey(other.pkey_)) == 1;
}

absl::StatusOr<std::string> Key::Sign(absl::string_view input) const {
  if (!private_) return absl::FailedPreconditionError("cannot sign with a public key");
  const AlgInfo info = AlgFor(alg_, Pkey(pkey_));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t len = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  if (ctx == nullptr || info.md == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, info.md, nullptr, Pkey(pkey_)) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1) {
    return absl::InternalError(absl::StrCat("sign: ", OpenSslError()));
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data,
                     input.size()) != 1) {
    return absl::InternalError(absl::StrCat("sign: ", OpenSslError()));
  }
  sig.resize(len);
  if (info.ec_coordinate_bytes == 0) return sig;
  // JWS (RFC 7518 section 3.4) wants r and s as fixed-size big-endian integers, not DER.
  const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
  ECDSA_SIG* ec = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  if (ec == nullptr) return absl::InternalError("sign: bad ECDSA signature from OpenSSL");
  const size_t n = info.ec_coordinate_bytes;
  std::string raw(2 * n, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  const bool ok = BN_bn2binpad(ECDSA_SIG_get0_r(ec), out, static_cast<int>(n)) == int(n) &&
                  BN_bn2binpad(ECDSA_SIG_get0_s(ec), out + n, static_cast<int>(n)) == int(n);
  ECDSA_SIG_free(ec);
  if (!ok) return absl::InternalError("sign: ECDSA signature does not fit");
  return raw;
}

bool Key::Verify(absl::string_view alg, absl::string_view input,
                 absl::string_view signature) const {
  const AlgInfo info = AlgFor(alg, Pkey(pkey_));
  if (info.md == nullptr) return false;
  std::string der;
  if (info.ec_coordinate_bytes != 0) {
    const size_t n = info.ec_coordinate_bytes;
    if (signature.size() != 2 * n) return false;
    const auto* raw = reinterpret_cast<const unsigned char*>(signature.data());
    ECDSA_SIG* ec = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(raw, static_cast<int>(n), nullptr);
    BIGNUM* s = BN_bin2bn(raw + n, static_cast<int>(n), nullptr);
    if (ec == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(ec, r, s) != 1) {
      BN_free(r);
      BN_free(s);
      ECDSA_SIG_free(ec);
      return false;
    }
    unsigned char* buf = nullptr;
    const int len = i2d_ECDSA_SIG(ec, &buf);
    ECDSA_SIG_free(ec);
    if (len <= 0) return false;
    der.assign(reinterpret_cast<char*>(buf), static_cast<size_t>(len));
    OPENSSL_free(buf);
    signature = der;
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const bool ok =
      ctx != nullptr &&
      EVP_DigestVerifyInit(ctx.get(), nullptr, info.md, nullptr, Pkey(pkey_)) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) == 1;
  ERR_clear_error();
  return ok;
}

absl::string_view TokenErrorName(TokenError e) {
  switch (e) {
    case TokenError::kNone:
      return "none";
    case TokenError::kMalformed:
      return "malformed_token";
    case TokenError::kUntrustedKey:
      return "untrusted_key";
    case TokenError::kBadSignature:
      return "bad_signature";
    case TokenError::kExpired:
      return "expired_token";
    case TokenError::kNotYetValid:
      return "token_not_yet_valid";
    case TokenError::kWrongIssuer:
      return "wrong_issuer";
    case TokenError::kWrongAudience:
      return "wrong_audience";
  }
  return "unknown";
}

absl::StatusOr<std::string> SignToken(const TokenClaims& c, const Key& key) {
  Json header = {{"typ", "JWT"}, {"alg", key.alg()}, {"kid", key.key_id()}};
  Json access = Json::array();
  for (const Access& a : c.access) {
    access.push_back({{"type", a.type}, {"name", a.name}, {"actions", a.actions}});
  }
  Json claims = {{"iss", c.issuer}, {"sub", c.subject}, {"access", access}};
  if (c.audience.size() == 1) {
    claims["aud"] = c.audience.front();
  } else {
    claims["aud"] = c.audience;
  }
  if (c.expires != absl::InfiniteFuture()) claims["exp"] = ToUnix(c.expires);
  if (c.not_before != absl::InfinitePast()) claims["nbf"] = ToUnix(c.not_before);
  if (c.issued_at != absl::InfinitePast()) claims["iat"] = ToUnix(c.issued_at);
  if (!c.id.empty()) claims["jti"] = c.id;
  const std::string input = absl::StrCat(absl::WebSafeBase64Escape(header.dump()), ".",
                                         absl::WebSafeBase64Escape(claims.dump()));
  BERTH_ASSIGN_OR_RETURN(std::string sig, key.Sign(input));
  return absl::StrCat(input, ".", absl::WebSafeBase64Escape(sig));
}

absl::StatusOr<std::unique_ptr<TokenVerifier>> TokenVerifier::Create(TokenVerifierOptions options) {
  for (Key& k : options.trusted_keys) {
    if (k.is_private()) {
      BERTH_ASSIGN_OR_RETURN(k, k.Public());
    }
  }
  std::unique_ptr<TokenVerifier> v(new TokenVerifier(std::move(options)));
  if (!v->options_.trusted_certificates_pem.empty()) {
    X509_STORE* store = X509_STORE_new();
    v->store_ = store;
    BioPtr bio = MemBio(v->options_.trusted_certificates_pem);
    int n = 0;
    while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store, cert);  // takes its own reference
      X509_free(cert);
      ++n;
    }
    ERR_clear_error();
    if (n == 0) return absl::InvalidArgumentError("no PEM certificate in the trusted bundle");
  }
  return v;
}

TokenVerifier::~TokenVerifier() {
  if (store_ != nullptr) X509_STORE_free(static_cast<X509_STORE*>(store_));
}

absl::StatusOr<const Key*> TokenVerifier::KeyFor(const std::string& header_text,
                                                 std::vector<Key>& x5c_keys,
                                                 TokenError* why) const {
  const Json header = Json::parse(header_text, nullptr, false);
  *why = TokenError::kMalformed;
  if (!header.is_object()) return absl::UnauthenticatedError("token header is not a JSON object");
  if (auto x5c = header.find("x5c"); x5c != header.end()) {
    *why = TokenError::kUntrustedKey;
    if (store_ == nullptr || !x5c->is_array() || x5c->empty()) {
      return absl::UnauthenticatedError("token x5c chain is not trusted");
    }
    std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> chain(
        sk_X509_new_null(), [](STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); });
    for (const Json& entry : *x5c) {
      std::string der;
      // x5c holds standard base64 (RFC 7515 section 4.1.6), not base64url.
      if (!entry.is_string() || !absl::Base64Unescape(entry.get<std::string>(), &der)) {
        return absl::UnauthenticatedError("token x5c entry is not base64");
      }
      const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
      X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
      if (cert == nullptr) return absl::UnauthenticatedError("token x5c entry is no certificate");
      sk_X509_push(chain.get(), cert);
    }
    X509* leaf = sk_X509_value(chain.get(), 0);
    std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                        X509_STORE_CTX_free);
    const bool ok =
        ctx != nullptr &&
        X509_STORE_CTX_init(ctx.get(), static_cast<X509_STORE*>(store_), leaf, chain.get()) == 1 &&
        X509_verify_cert(ctx.get()) == 1;
    ERR_clear_error();
    if (!ok) {
      return absl::UnauthenticatedError(absl::StrCat(
          "token x5c chain does not verify: ",
          ctx == nullptr ? "no context"
                         : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()))));
    }
    EVP_PKEY* pkey = X509_get_pubkey(leaf);
    if (pkey == nullptr) return absl::UnauthenticatedError("token x5c leaf has no key");
    absl::StatusOr<Key> key = Key::Adopt(pkey, false);
    if (!key.ok()) return absl::UnauthenticatedError(key.status().message());
    x5c_keys.push_back(*std::move(key));
    return &x5c_keys.back();
  }
  auto kid = header.find("kid");
  if (kid == header.end() || !kid->is_string()) {
    *why = TokenError::kUntrustedKey;
    return absl::UnauthenticatedError("token names no signing key (kid or x5c)");
  }
  for (const Key& k : options_.trusted_keys) {
    if (k.key_id() == kid->get<std::string>()) return &k;
  }
  *why = TokenError::kUntrustedKey;
  return absl::UnauthenticatedError("token signed by an unknown key");
}

absl::StatusOr<TokenClaims> TokenVerifier::Verify(absl::string_view token,
                                                  TokenError* why_out) const {
  TokenError scratch;
  TokenError* why = why_out != nullptr ? why_out : &scratch;
  *why = TokenError::kMalformed;
  const std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  std::string header_text, payload_text, signature;
  if (parts.size() != 3 || !absl::WebSafeBase64Unescape(parts[0], &header_text) ||
      !absl::WebSafeBase64Unescape(parts[1], &payload_text) ||
      !absl::WebSafeBase64Unescape(parts[2], &signature)) {
    return absl::UnauthenticatedError("token is not a JWS compact serialization");
  }
  const Json header = Json::parse(header_text, nullptr, false);
  if (!header.is_object() || !header.contains("alg") || !header["alg"].is_string()) {
    return absl::UnauthenticatedError("token header has no alg");
  }
  std::vector<Key> x5c_keys;
  BERTH_ASSIGN_OR_RETURN(const Key* key, KeyFor(header_text, x5c_keys, why));
  const size_t signed_len = parts[0].size() + 1 + parts[1].size();
  if (!key->Verify(header["alg"].get<std::string>(), token.substr(0, signed_len), signature)) {
    *why = TokenError::kBadSignature;
    return absl::UnauthenticatedError("token signature does not verify");
  }

  *why = TokenError::kMalformed;
  const Json claims = Json::parse(payload_text, nullptr, false);
  if (!claims.is_object()) return absl::UnauthenticatedError("token claims are not an object");
  TokenClaims out;
  if (!ReadString(claims, "iss", &out.issuer) || !ReadString(claims, "sub", &out.subject) ||
      !ReadString(claims, "jti", &out.id) || !ReadTime(claims, "exp", &out.expires) ||
      !ReadTime(claims, "nbf", &out.not_before) || !ReadTime(claims, "iat", &out.issued_at)) {
    return absl::UnauthenticatedError("token claim of the wrong type");
  }
  if (auto aud = claims.find("aud"); aud != claims.end()) {
    if (aud->is_string()) {
      out.audience.push_back(aud->get<std::string>());
    } else if (aud->is_array()) {
      for (const Json& a : *aud) {
        if (!a.is_string()) return absl::UnauthenticatedError("token aud is not a string");
        out.audience.push_back(a.get<std::string>());
      }
    } else {
      return absl::UnauthenticatedError("token aud is not a string");
    }
  }
  if (auto access = claims.find("access"); access != claims.end()) {
    if (!access->is_array()) return absl::UnauthenticatedError("token access is not a list");
    for (const Json& a : *access) {
      if (!a.is_object() || !a.contains("type") || !a["type"].is_string() || !a.contains("name") ||
          !a["name"].is_string()) {
        return absl::UnauthenticatedError("token access entry lacks type or name");
      }
      Access entry{a["type"].get<std::string>(), a["name"].get<std::string>(), {}};
      if (auto actions = a.find("actions"); actions != a.end() && !actions->is_null()) {
        if (!actions->is_array()) return absl::UnauthenticatedError("token actions not a list");
        for (const Json& act : *actions) {
          if (!act.is_string()) return absl::UnauthenticatedError("token action not a string");
          entry.actions.push_back(act.get<std::string>());
        }
      }
      out.access.push_back(std::move(entry));
    }
  }
  if (out.issuer != options_.issuer) {
    *why = TokenError::kWrongIssuer;
    return absl::UnauthenticatedError("token is from another issuer");
  }
  if (std::find(out.audience.begin(), out.audience.end(), options_.audience) ==
      out.audience.end()) {
    *why = TokenError::kWrongAudience;
    return absl::UnauthenticatedError("token is for another service");
  }
  const absl::Time now = options_.clock();
  // A token must say when it ends (distribution requires exp too).
  if (out.expires == absl::InfiniteFuture() || now > out.expires + options_.leeway) {
    *why = TokenError::kExpired;
    return absl::UnauthenticatedError("token has expired");
  }
  if (now + options_.leeway < out.not_before) {
    *why = TokenError::kNotYetValid;
    return absl::UnauthenticatedError("token is not valid yet");
  }
  *why = TokenError::kNone;
  return out;
}

}  // namespace berth::registry::auth
