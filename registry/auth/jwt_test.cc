#include "registry/auth/jwt.h"

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "registry/auth/test_keys.h"

namespace berth::registry::auth {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::MatchesRegex;
using Json = nlohmann::json;

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

TokenClaims Claims() {
  TokenClaims c;
  c.issuer = "berth-token";
  c.subject = "alice";
  c.audience = {"berth-registry"};
  c.issued_at = kNow;
  c.not_before = kNow;
  c.expires = kNow + absl::Minutes(5);
  c.id = "id1";
  c.access = {{"repository", "app", {"pull", "push"}}};
  return c;
}

std::unique_ptr<TokenVerifier> Verifier(std::vector<Key> keys, absl::Time now = kNow,
                                        std::string certs = "") {
  TokenVerifierOptions o;
  o.issuer = "berth-token";
  o.audience = "berth-registry";
  o.trusted_keys = std::move(keys);
  o.trusted_certificates_pem = std::move(certs);
  o.clock = [now] { return now; };
  auto v = TokenVerifier::Create(std::move(o));
  EXPECT_THAT(v, IsOk());
  return v.ok() ? *std::move(v) : nullptr;
}

// Re-signs header+claims JSON with `key` (for hand-made tokens).
std::string Forge(const Json& header, const Json& claims, const Key& key) {
  const std::string input =
      absl::WebSafeBase64Escape(header.dump()) + "." + absl::WebSafeBase64Escape(claims.dump());
  return input + "." + absl::WebSafeBase64Escape(*key.Sign(input));
}

class JwtAlgTest : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(JwtAlgTest, SignsAndVerifies) {
  auto key = Key::PrivateFromPem(testkeys::NewKeyPem(GetParam().first));
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(key->alg(), GetParam().second);
  EXPECT_THAT(key->key_id(), MatchesRegex("([A-Z2-7]{4}:){11}[A-Z2-7]{4}"));
  auto token = SignToken(Claims(), *key);
  ASSERT_THAT(token, IsOk());
  const std::vector<std::string> parts = absl::StrSplit(*token, '.');
  ASSERT_EQ(parts.size(), 3u);
  std::string header, sig;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[0], &header));
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[2], &sig));
  EXPECT_EQ(Json::parse(header),
            (Json{{"typ", "JWT"}, {"alg", key->alg()}, {"kid", key->key_id()}}));
  if (key->alg() == "ES256") EXPECT_EQ(sig.size(), 64u);  // r||s, not DER
  if (key->alg() == "ES384") EXPECT_EQ(sig.size(), 96u);

  std::vector<Key> trusted;
  trusted.push_back(*key->Public());
  auto verifier = Verifier(std::move(trusted));
  TokenError why;
  auto claims = verifier->Verify(*token, &why);
  ASSERT_THAT(claims, IsOk());
  EXPECT_EQ(why, TokenError::kNone);
  EXPECT_EQ(claims->subject, "alice");
  EXPECT_THAT(claims->audience, ElementsAre("berth-registry"));
  EXPECT_EQ(claims->expires, kNow + absl::Minutes(5));
  EXPECT_EQ(claims->access, Claims().access);

  // One flipped bit anywhere in the signed part: refused.
  std::string tampered = *token;
  tampered[parts[0].size() + 5] ^= 1;
  EXPECT_THAT(verifier->Verify(tampered, &why), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_TRUE(why == TokenError::kBadSignature || why == TokenError::kMalformed);
}

INSTANTIATE_TEST_SUITE_P(Algs, JwtAlgTest,
                         ::testing::Values(std::make_pair("rsa", "RS256"),
                                           std::make_pair("P-256", "ES256"),
                                           std::make_pair("P-384", "ES384")));

TEST(JwtTest, RefusesWhatItShould) {
  auto key = Key::PrivateFromPem(testkeys::NewKeyPem("P-256"));
  auto other = Key::PrivateFromPem(testkeys::NewKeyPem("P-256"));
  auto rsa = Key::PrivateFromPem(testkeys::NewKeyPem("rsa"));
  ASSERT_THAT(key, IsOk());
  ASSERT_THAT(other, IsOk());
  ASSERT_THAT(rsa, IsOk());
  std::vector<Key> trusted;
  trusted.push_back(*key->Public());
  trusted.push_back(*rsa->Public());
  auto v = Verifier(std::move(trusted));
  const auto refused = [&](const std::string& token) {
    TokenError why = TokenError::kNone;
    EXPECT_THAT(v->Verify(token, &why), StatusIs(absl::StatusCode::kUnauthenticated));
    return why;
  };
  EXPECT_THAT(v->Verify(*SignToken(Claims(), *key)), IsOk());

  // Signed by an untrusted key.
  EXPECT_EQ(refused(*SignToken(Claims(), *other)), TokenError::kUntrustedKey);
  // Signed by an untrusted key but claiming a trusted kid: the signature fails.
  const Json claims_json = Json::parse(R"({"iss":"berth-token","aud":"berth-registry",
      "exp":1800000300,"access":[]})");
  EXPECT_EQ(refused(Forge({{"alg", "ES256"}, {"kid", key->key_id()}}, claims_json, *other)),
            TokenError::kBadSignature);
  EXPECT_THAT(v->Verify(Forge({{"alg", "ES256"}, {"kid", key->key_id()}}, claims_json, *key)),
              IsOk());
  // Algorithm confusion: "none", HMAC, or RS256 named for an EC key.
  for (const char* alg : {"none", "HS256", "RS256", "ES384"}) {
    EXPECT_EQ(refused(Forge({{"alg", alg}, {"kid", key->key_id()}}, claims_json, *key)),
              TokenError::kBadSignature)
        << alg;
  }
  // No kid and no x5c.
  EXPECT_EQ(refused(Forge({{"alg", "ES256"}}, claims_json, *key)), TokenError::kUntrustedKey);
  // Garbage.
  EXPECT_EQ(refused("abc"), TokenError::kMalformed);
  EXPECT_EQ(refused("a.b.c"), TokenError::kMalformed);
  EXPECT_EQ(refused(""), TokenError::kMalformed);

  TokenClaims c = Claims();
  c.issuer = "someone-else";
  EXPECT_EQ(refused(*SignToken(c, *key)), TokenError::kWrongIssuer);
  c = Claims();
  c.audience = {"other-registry"};
  EXPECT_EQ(refused(*SignToken(c, *key)), TokenError::kWrongAudience);
  c.audience = {"other-registry", "berth-registry"};  // a list containing ours is fine
  EXPECT_THAT(v->Verify(*SignToken(c, *key)), IsOk());
  c = Claims();
  c.expires = absl::InfiniteFuture();  // no exp at all
  EXPECT_EQ(refused(*SignToken(c, *key)), TokenError::kExpired);
  EXPECT_EQ(refused(Forge({{"alg", "ES256"}, {"kid", key->key_id()}},
                          Json::parse(R"({"iss":"berth-token","aud":"berth-registry",
                              "exp":"soon"})"),
                          *key)),
            TokenError::kMalformed);
}

TEST(JwtTest, ValidityWindowHasLeeway) {
  auto key = Key::PrivateFromPem(testkeys::NewKeyPem("P-256"));
  ASSERT_THAT(key, IsOk());
  const std::string token = *SignToken(Claims(), *key);  // valid [kNow, kNow+5m]
  const auto at = [&](absl::Time now) {
    std::vector<Key> trusted;
    trusted.push_back(*key->Public());
    TokenError why = TokenError::kNone;
    auto r = Verifier(std::move(trusted), now)->Verify(token, &why);
    return why;
  };
  EXPECT_EQ(at(kNow + absl::Minutes(5) + absl::Seconds(59)), TokenError::kNone);
  EXPECT_EQ(at(kNow + absl::Minutes(6) + absl::Seconds(1)), TokenError::kExpired);
  EXPECT_EQ(at(kNow - absl::Seconds(59)), TokenError::kNone);
  EXPECT_EQ(at(kNow - absl::Seconds(61)), TokenError::kNotYetValid);
}

TEST(JwtTest, CertificateBundleAndX5cChain) {
  const std::string ca_key = testkeys::NewKeyPem("P-256");
  const std::string ca_cert = testkeys::CertPem(ca_key, "berth test CA");
  const std::string signer_pem = testkeys::NewKeyPem("rsa");
  const std::string signer_cert = testkeys::CertPem(signer_pem, "token signer", ca_key, ca_cert);
  auto signer = Key::PrivateFromPem(signer_pem);
  ASSERT_THAT(signer, IsOk());

  // The bundle's keys carry the same key ID as the private key they certify.
  auto bundle = PublicKeysFromCertificateBundle(signer_cert + ca_cert);
  ASSERT_THAT(bundle, IsOk());
  ASSERT_EQ(bundle->size(), 2u);
  EXPECT_EQ((*bundle)[0].key_id(), signer->key_id());
  EXPECT_TRUE((*bundle)[0].SamePublicKey(*signer));
  EXPECT_FALSE((*bundle)[1].SamePublicKey(*signer));
  EXPECT_THAT(PublicKeysFromCertificateBundle("not pem"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Key::PrivateFromPem(ca_cert), StatusIs(absl::StatusCode::kInvalidArgument));

  // x5c: the leaf chains to the trusted CA, so its key is accepted without being listed.
  const Json claims = Json::parse(R"({"iss":"berth-token","aud":"berth-registry",
      "exp":1800000300,"sub":"ci",
      "access":[{"type":"repository","name":"a","actions":["pull"]}]})");
  const Json header = {{"alg", "RS256"}, {"x5c", {testkeys::CertDerBase64(signer_cert)}}};
  auto by_chain = Verifier({}, kNow, ca_cert)->Verify(Forge(header, claims, *signer));
  ASSERT_THAT(by_chain, IsOk()) << by_chain.status();
  EXPECT_EQ(by_chain->subject, "ci");
  // A self-signed leaf that does not chain to the bundle is refused.
  const std::string rogue_cert = testkeys::CertPem(signer_pem, "rogue");
  TokenError why;
  EXPECT_THAT(Verifier({}, kNow, ca_cert)
                  ->Verify(Forge({{"alg", "RS256"}, {"x5c", {testkeys::CertDerBase64(rogue_cert)}}},
                                 claims, *signer),
                           &why),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(why, TokenError::kUntrustedKey);
  // Without trusted certificates no x5c is accepted.
  EXPECT_THAT(Verifier({}, kNow)->Verify(Forge(header, claims, *signer)),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

}  // namespace
}  // namespace berth::registry::auth
