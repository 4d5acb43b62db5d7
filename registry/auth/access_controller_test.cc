// BasicAccessController, TokenAccessController and TokenServer together, in memory: the
// decisions and challenges the API turns into 401/403, and tokens from /token that the
// registry's own verifier accepts.
#include "registry/auth/access_controller.h"

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "registry/auth/test_keys.h"
#include "registry/auth/token_server.h"

namespace berth::registry::auth {
namespace {

using ::berth::testing::IsOk;
using ::testing::HasSubstr;
using Json = nlohmann::json;
using Outcome = Decision::Outcome;

class CountingObserver : public AuthObserver {
 public:
  void AuthFailed(absl::string_view reason) override { reasons.emplace_back(reason); }
  std::vector<std::string> reasons;
};

std::string Basic(const std::string& user_pass) { return "Basic " + absl::Base64Escape(user_pass); }

class AccessControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto hash = BcryptHash("pw", 4);
    ASSERT_THAT(hash, IsOk());
    auto h = Htpasswd::Parse("alice:" + *hash + "\nbob:" + *hash);
    ASSERT_THAT(h, IsOk());
    htpasswd_ = *std::move(h);
    auto acl = Acl::Parse(R"([{"account":"alice","name":"**","actions":["*"]},
                              {"account":"bob","name":"shared/*","actions":["pull"]},
                              {"account":"","name":"public/*","actions":["pull"]}])");
    ASSERT_THAT(acl, IsOk());
    acl_ = *std::move(acl);
  }
  std::unique_ptr<Htpasswd> htpasswd_;
  std::unique_ptr<Acl> acl_;
  CountingObserver observer_;
};

TEST_F(AccessControllerTest, Basic) {
  BasicAccessController c(htpasswd_.get(), acl_.get(), "r", &observer_);
  const std::string alice = Basic("alice:pw"), bob = Basic("bob:pw"), wrong = Basic("bob:x");
  const std::vector<Access> pull_shared = {{kRepository, "shared/app", {kPull}}};
  const std::vector<Access> push_shared = {{kRepository, "shared/app", {kPull, kPush}}};

  Decision d = c.Authorize({alice, std::nullopt}, push_shared);
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.account, "alice");
  EXPECT_TRUE(c.Authorize({bob, std::nullopt}, pull_shared).allowed());
  d = c.Authorize({bob, std::nullopt}, push_shared);
  EXPECT_EQ(d.outcome, Outcome::kDenied);
  EXPECT_EQ(d.challenge, "");
  d = c.Authorize({wrong, std::nullopt}, pull_shared);
  EXPECT_EQ(d.outcome, Outcome::kUnauthorized);
  EXPECT_EQ(d.challenge, "Basic realm=\"r\"");
  d = c.Authorize({std::nullopt, std::nullopt}, pull_shared);
  EXPECT_EQ(d.outcome, Outcome::kUnauthorized);
  // Anonymous callers may do what "" rules allow, but never pass the base endpoint.
  EXPECT_TRUE(
      c.Authorize({std::nullopt, std::nullopt}, {{kRepository, "public/x", {kPull}}}).allowed());
  EXPECT_EQ(c.Authorize({std::nullopt, std::nullopt}, {}).outcome, Outcome::kUnauthorized);
  EXPECT_TRUE(c.Authorize({bob, std::nullopt}, {}).allowed());
  // The catalog shows what the caller may pull.
  d = c.Authorize({bob, std::nullopt}, {});
  EXPECT_TRUE(c.CatalogShows(d, "shared/app"));
  EXPECT_TRUE(c.CatalogShows(d, "public/app"));
  EXPECT_FALSE(c.CatalogShows(d, "alice/app"));
  // Probes are not failures.
  AuthRequest quiet{bob, std::nullopt};
  quiet.quiet = true;
  EXPECT_FALSE(c.Authorize(quiet, push_shared).allowed());
  EXPECT_THAT(observer_.reasons, ::testing::ElementsAre("denied", "bad_credentials",
                                                        "no_credentials", "no_credentials"));
}

TEST_F(AccessControllerTest, TokenFlowWithOwnTokenServer) {
  absl::Time now = absl::FromUnixSeconds(1800000000);
  auto key = Key::PrivateFromPem(testkeys::NewKeyPem("P-256"));
  ASSERT_THAT(key, IsOk());
  TokenServerOptions so;
  so.issuer = "iss";
  so.service = "svc";
  so.htpasswd = htpasswd_.get();
  so.acl = acl_.get();
  so.observer = &observer_;
  so.clock = [&now] { return now; };
  auto server = TokenServer::Create(*std::move(key), so);
  ASSERT_THAT(server, IsOk());
  TokenVerifierOptions vo;
  vo.issuer = "iss";
  vo.audience = "svc";
  vo.trusted_keys.push_back(*(*server)->PublicKey());
  vo.clock = [&now] { return now; };
  auto verifier = TokenVerifier::Create(std::move(vo));
  ASSERT_THAT(verifier, IsOk());
  TokenAccessOptions ao;
  ao.service = "svc";
  ao.scheme = "https";
  ao.fallback_address = "127.0.0.1:5000";
  TokenAccessController c(verifier->get(), ao, &observer_);

  const auto get_token = [&](const std::string& query, std::optional<std::string> auth) {
    http::Request r;
    r.method = "GET";
    r.query = query;
    if (auth) r.headers.emplace_back("Authorization", *auth);
    http::HandlerResult result = (*server)->Get(r);
    return std::move(result.response());
  };
  const auto bearer = [](const http::Response& r) {
    return "Bearer " + Json::parse(r.body)["token"].get<std::string>();
  };

  // No token: challenge naming realm (from Host), service and scope.
  const std::vector<Access> push_app = {{kRepository, "shared/app", {kPull, kPush}}};
  Decision d = c.Authorize({std::nullopt, "reg.example:5000"}, push_app);
  EXPECT_EQ(d.outcome, Outcome::kUnauthorized);
  EXPECT_EQ(d.challenge, R"(Bearer realm="https://reg.example:5000/token",service="svc",)"
                         R"(scope="repository:shared/app:pull,push")");
  // A hostile Host header is not copied into the challenge.
  d = c.Authorize({std::nullopt, "evil\"host"}, {});
  EXPECT_EQ(d.challenge, R"(Bearer realm="https://127.0.0.1:5000/token",service="svc")");

  // bob asks for pull+push but may only pull: the token grants pull.
  http::Response r =
      get_token("service=svc&scope=repository%3Ashared%2Fapp%3Apull%2Cpush", Basic("bob:pw"));
  ASSERT_EQ(r.status, 200) << r.body;
  Json body = Json::parse(r.body);
  EXPECT_EQ(body["token"], body["access_token"]);
  EXPECT_EQ(body["expires_in"], 300);
  EXPECT_EQ(body["issued_at"], "2027-01-15T08:00:00Z");
  auto claims = (*verifier)->Verify(body["token"].get<std::string>());
  ASSERT_THAT(claims, IsOk());
  EXPECT_EQ(claims->subject, "bob");
  ASSERT_EQ(claims->access.size(), 1u);
  EXPECT_THAT(claims->access[0].actions, ::testing::ElementsAre("pull"));
  EXPECT_TRUE(
      c.Authorize({bearer(r), std::nullopt}, {{kRepository, "shared/app", {kPull}}}).allowed());
  d = c.Authorize({bearer(r), std::nullopt}, push_app);
  EXPECT_EQ(d.outcome, Outcome::kUnauthorized);
  EXPECT_THAT(d.challenge, HasSubstr(R"(,error="insufficient_scope")"));
  d = c.Authorize({bearer(r), std::nullopt}, {{kRepository, "shared/other", {kPull}}});
  EXPECT_THAT(d.challenge, HasSubstr(R"(error="insufficient_scope")"));
  EXPECT_TRUE(c.Authorize({bearer(r), std::nullopt}, {}).allowed());

  // Expired (past the 60 s leeway): invalid_token.
  now += absl::Minutes(7);
  d = c.Authorize({bearer(r), std::nullopt}, {});
  EXPECT_THAT(d.challenge, HasSubstr(R"(error="invalid_token")"));
  now -= absl::Minutes(7);

  // Wrong password: 401; anonymous: a token with only what "" rules allow.
  EXPECT_EQ(get_token("service=svc", Basic("bob:nope")).status, 401);
  r = get_token("service=svc&scope=repository:public/a:pull,push&scope=repository:shared/app:pull",
                std::nullopt);
  ASSERT_EQ(r.status, 200);
  claims = (*verifier)->Verify(Json::parse(r.body)["token"].get<std::string>());
  ASSERT_THAT(claims, IsOk());
  EXPECT_EQ(claims->subject, "");
  ASSERT_EQ(claims->access.size(), 1u);
  EXPECT_EQ(claims->access[0], (Access{kRepository, "public/a", {kPull}}));
  EXPECT_EQ(get_token("service=other", std::nullopt).status, 400);
  EXPECT_EQ(get_token("scope=nonsense", std::nullopt).status, 400);
  EXPECT_EQ(get_token("account=alice", Basic("bob:pw")).status, 401);

  // OAuth2: password grant with access_type=offline returns a refresh token, which works
  // once more for a new access token but is no access token itself.
  const auto post = [&](const std::string& form) {
    http::Request req;
    req.method = "POST";
    http::HandlerResult result = (*server)->Post(req);
    EXPECT_TRUE(result.has_sink());
    EXPECT_THAT(result.sink()->Write(form), IsOk());
    return result.sink()->Finish();
  };
  r = post(
      "grant_type=password&username=alice&password=pw&service=svc&client_id=t"
      "&access_type=offline&scope=repository%3Aa%2Fb%3Apush+repository%3Ac%3Apull");
  ASSERT_EQ(r.status, 200) << r.body;
  body = Json::parse(r.body);
  EXPECT_EQ(body["scope"], "repository:a/b:push repository:c:pull");
  const std::string refresh = body["refresh_token"];
  EXPECT_EQ(c.Authorize({"Bearer " + refresh, std::nullopt}, {}).outcome, Outcome::kUnauthorized);
  r = post("grant_type=refresh_token&refresh_token=" + refresh +
           "&service=svc&client_id=t&scope=repository%3Ax%3Apull");
  ASSERT_EQ(r.status, 200) << r.body;
  claims = (*verifier)->Verify(Json::parse(r.body)["access_token"].get<std::string>());
  ASSERT_THAT(claims, IsOk());
  EXPECT_EQ(claims->subject, "alice");
  EXPECT_EQ(post("grant_type=password&username=alice&password=no&service=svc").status, 401);
  EXPECT_EQ(post("grant_type=refresh_token&refresh_token=abc&service=svc").status, 401);
  EXPECT_EQ(post("grant_type=client_credentials&service=svc").status, 400);
}

}  // namespace
}  // namespace berth::registry::auth
