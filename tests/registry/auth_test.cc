// berth-registry's security features against the real binary: basic auth with per-repository
// permissions (401/403), the Docker token flow with the registry's own /token endpoint (and
// with tokens from an outside issuer trusted through --token_rootcertbundle), TLS with
// certificates made by the openssl CLI at test time, and skopeo as a real client of both.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/digest/digest.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/testing/certs.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "registry/auth/jwt.h"
#include "tests/registry/registry_harness.h"

namespace berth::tests {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::RunCommand;
using ::berth::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

constexpr char kSkopeo[] = "/usr/bin/skopeo";
// bcrypt ($2y$, as `htpasswd -B` writes) of "pw".
constexpr char kPwHash[] = "$2y$05$k2hgroof7v3SnwWSSEGJt.N/ikcSLUxPSrb5x2zcC70YekOLCJNWa";
constexpr char kAcl[] = R"([
  {"account": "alice", "name": "**", "actions": ["*"]},
  {"account": "alice", "type": "registry", "name": "catalog", "actions": ["*"]},
  {"account": "bob", "name": "team/*", "actions": ["pull"]},
  {"account": "bob", "name": "bob/*", "actions": ["pull", "push"]},
  {"account": "", "name": "public/*", "actions": ["pull"]}
])";

std::string BasicHeader(const std::string& user_pass) {
  return "Authorization: Basic " + absl::Base64Escape(user_pass);
}

std::string DigestOf(const std::string& data) {
  return digest::Digest::FromBytes(data)->ToString();
}

// The value of `name` in a metrics text ("" when absent).
std::string MetricValue(const std::string& text, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, name + " ")) return std::string(line.substr(name.size() + 1));
  }
  return "";
}

class RegistryAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(std::move(*dir));
    ASSERT_THAT(
        fs::WriteFileAtomically(dir_->Sub("htpasswd"),
                                absl::StrCat("alice:", kPwHash, "\nbob:", kPwHash, "\n"), 0600),
        IsOk());
    ASSERT_THAT(fs::WriteFileAtomically(dir_->Sub("acl.json"), kAcl, 0600), IsOk());
  }
  void TearDown() override {
    if (registry_) registry_->Stop().IgnoreError();
  }

  void Start(const std::vector<std::string>& flags) {
    auto r = RegistryProcess::Start(dir_->Sub("root"), dir_->path(), flags);
    ASSERT_THAT(r, IsOk());
    registry_.emplace(std::move(*r));
  }

  // Runs the openssl CLI; fails the test when it fails.
  void Openssl(std::vector<std::string> args) {
    ASSERT_THAT(berth::testing::RunOpenssl(args), IsOk());
  }

  // ca.crt/ca.key (EC CA) and server.crt/server.key (EC, SAN IP:127.0.0.1) in the test dir;
  // also certs/ca.crt, the layout skopeo's --dest-cert-dir wants.
  void MakeCertificates() {
    const std::string d = dir_->path();
    ASSERT_THAT(berth::testing::MakeCaAndServerCert(d, "berth test CA"), IsOk());
    ASSERT_THAT(fs::MakeDirs(d + "/certs", 0700), IsOk());
    auto ca = fs::ReadFile(d + "/ca.crt");
    ASSERT_THAT(ca, IsOk());
    ASSERT_THAT(fs::WriteFileAtomically(d + "/certs/ca.crt", *ca, 0600), IsOk());
  }

  // token.key: the RSA key /token signs with.
  void MakeTokenKey() {
    Openssl({"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
             dir_->Sub("token.key")});
  }

  std::vector<std::string> TokenFlags() {
    return {"--auth=token", "--token_key=" + dir_->Sub("token.key"),
            "--htpasswd=" + dir_->Sub("htpasswd"), "--acl=" + dir_->Sub("acl.json")};
  }

  HttpResult Do(const std::string& method, const std::string& path,
                const std::vector<std::string>& headers = {}, const std::string& body = "") {
    auto r = Http(method, absl::StartsWith(path, "http") ? path : registry_->base() + path, body,
                  headers, !body.empty(), ca_);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : HttpResult();
  }

  // A token from the registry's /token for `scopes`, signed in as `user_pass` ("" anonymous).
  std::string Token(const std::string& user_pass, const std::vector<std::string>& scopes) {
    std::string query = "?service=berth-registry";
    for (const std::string& s : scopes) absl::StrAppend(&query, "&scope=", s);
    std::vector<std::string> headers;
    if (!user_pass.empty()) headers.push_back(BasicHeader(user_pass));
    HttpResult r = Do("GET", "/token" + query, headers);
    EXPECT_EQ(r.status, 200) << r.body;
    Json body = Json::parse(r.body, nullptr, false);
    if (!body.is_object() || !body.contains("token")) return "";
    EXPECT_EQ(body["access_token"], body["token"]);
    EXPECT_GT(body["expires_in"].get<int>(), 0);
    EXPECT_TRUE(body.contains("issued_at"));
    return "Authorization: Bearer " + body["token"].get<std::string>();
  }

  std::string Metrics() {
    auto r = Http("GET", "http://" + registry_->metrics_address() + "/metrics");
    return r.ok() ? r->body : "";
  }

  std::optional<TempDir> dir_;
  std::optional<RegistryProcess> registry_;
  std::string ca_;  // CA file for https requests
};

TEST_F(RegistryAuthTest, BasicAuthWithPerRepositoryPermissions) {
  Start({"--htpasswd=" + dir_->Sub("htpasswd"), "--acl=" + dir_->Sub("acl.json"),
         "--auth_realm=berth test"});
  const std::string alice = BasicHeader("alice:pw"), bob = BasicHeader("bob:pw");
  HttpResult anonymous = Do("GET", "/v2/");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.Header("WWW-Authenticate"), R"(Basic realm="berth test")");
  EXPECT_THAT(anonymous.body, HasSubstr(R"("code":"UNAUTHORIZED")"));
  EXPECT_EQ(Do("GET", "/v2/", {BasicHeader("bob:wrong")}).status, 401);
  EXPECT_EQ(Do("GET", "/v2/", {bob}).status, 200);

  // alice may push anywhere; bob may not push to team/* (403 DENIED, nothing stored).
  const std::string blob = "layer bytes";
  const std::string d = DigestOf(blob);
  HttpResult denied = Do("POST", "/v2/team/app/blobs/uploads/?digest=" + d, {bob}, blob);
  EXPECT_EQ(denied.status, 403);
  EXPECT_THAT(denied.body, HasSubstr(R"("code":"DENIED")"));
  EXPECT_EQ(denied.Header("WWW-Authenticate"), "");
  EXPECT_EQ(Do("HEAD", "/v2/team/app/blobs/" + d, {alice}).status, 404);
  EXPECT_EQ(Do("POST", "/v2/team/app/blobs/uploads/?digest=" + d, {}, blob).status, 401);
  EXPECT_EQ(Do("POST", "/v2/team/app/blobs/uploads/?digest=" + d, {alice}, blob).status, 201);
  EXPECT_EQ(Do("POST", "/v2/alice/private/blobs/uploads/?digest=" + d, {alice}, blob).status, 201);
  EXPECT_EQ(Do("POST", "/v2/public/app/blobs/uploads/?digest=" + d, {alice}, blob).status, 201);
  EXPECT_EQ(Do("POST", "/v2/bob/own/blobs/uploads/?digest=" + d, {bob}, blob).status, 201);
  // Pulls: bob reads team/*, not alice/*; anonymous callers read public/* only.
  EXPECT_EQ(Do("GET", "/v2/team/app/blobs/" + d, {bob}).body, blob);
  EXPECT_EQ(Do("GET", "/v2/alice/private/blobs/" + d, {bob}).status, 403);
  EXPECT_EQ(Do("GET", "/v2/public/app/blobs/" + d).body, blob);
  HttpResult anon_team = Do("GET", "/v2/team/app/blobs/" + d);
  EXPECT_EQ(anon_team.status, 401);
  EXPECT_EQ(anon_team.Header("WWW-Authenticate"), R"(Basic realm="berth test")");
  EXPECT_EQ(Do("DELETE", "/v2/team/app/blobs/" + d, {bob}).status, 403);
  // A mount from a repository bob may not read is a plain upload, not a copy.
  HttpResult mount =
      Do("POST", "/v2/bob/own2/blobs/uploads/?mount=" + d + "&from=alice/private", {bob});
  EXPECT_EQ(mount.status, 202);
  EXPECT_EQ(Do("HEAD", "/v2/bob/own2/blobs/" + d, {bob}).status, 404);
  EXPECT_EQ(Do("POST", "/v2/bob/own3/blobs/uploads/?mount=" + d + "&from=team/app", {bob}).status,
            201);

  // The catalog lists only what the caller may pull.
  Json bob_catalog = Json::parse(Do("GET", "/v2/_catalog", {bob}).body);
  EXPECT_EQ(bob_catalog["repositories"], Json({"bob/own", "bob/own3", "public/app", "team/app"}));
  Json alice_catalog = Json::parse(Do("GET", "/v2/_catalog", {alice}).body);
  EXPECT_EQ(alice_catalog["repositories"].size(), 5u);

  // Three 403s (the refused mount source was a probe, not a refusal), one wrong password,
  // three anonymous refusals.
  const std::string metrics = Metrics();
  const std::string family = "berth_registry_auth_failures_total";
  EXPECT_EQ(MetricValue(metrics, family + R"({reason="denied"})"), "3");
  EXPECT_EQ(MetricValue(metrics, family + R"({reason="bad_credentials"})"), "1");
  EXPECT_EQ(MetricValue(metrics, family + R"({reason="no_credentials"})"), "3");
}

TEST_F(RegistryAuthTest, TokenFlowWithOwnTokenEndpoint) {
  MakeTokenKey();
  Start(TokenFlags());
  const std::string realm = registry_->base() + "/token";

  HttpResult base = Do("GET", "/v2/");
  EXPECT_EQ(base.status, 401);
  EXPECT_EQ(base.Header("WWW-Authenticate"),
            absl::StrCat(R"(Bearer realm=")", realm, R"(",service="berth-registry")"));
  HttpResult tags = Do("GET", "/v2/team/app/tags/list");
  EXPECT_EQ(tags.status, 401);
  EXPECT_THAT(tags.body, HasSubstr(R"("code":"UNAUTHORIZED")"));
  EXPECT_EQ(tags.Header("WWW-Authenticate"),
            absl::StrCat(R"(Bearer realm=")", realm,
                         R"(",service="berth-registry",scope="repository:team/app:pull")"));

  // Push as alice with a token from /token.
  const std::string alice = Token("alice:pw", {"repository:team/app:pull,push"});
  ASSERT_FALSE(alice.empty());
  EXPECT_EQ(Do("GET", "/v2/", {alice}).status, 200);
  const std::string blob = "token pushed";
  const std::string d = DigestOf(blob);
  EXPECT_EQ(Do("POST", "/v2/team/app/blobs/uploads/?digest=" + d, {alice}, blob).status, 201);
  EXPECT_EQ(Do("GET", "/v2/team/app/blobs/" + d, {alice}).body, blob);

  // bob asked for pull and push but only got pull: reading works, pushing is 401
  // insufficient_scope with the scope to ask for.
  const std::string bob = Token("bob:pw", {"repository:team/app:pull,push"});
  EXPECT_EQ(Do("GET", "/v2/team/app/blobs/" + d, {bob}).body, blob);
  HttpResult push = Do("POST", "/v2/team/app/blobs/uploads/", {bob});
  EXPECT_EQ(push.status, 401);
  EXPECT_EQ(push.Header("WWW-Authenticate"),
            absl::StrCat(R"(Bearer realm=")", realm,
                         R"(",service="berth-registry",scope="repository:team/app:pull,push",)"
                         R"(error="insufficient_scope")"));
  // A token for repository A does not open repository B.
  const std::string alice_a = Token("alice:pw", {"repository:repo/a:pull"});
  HttpResult other = Do("GET", "/v2/team/app/blobs/" + d, {alice_a});
  EXPECT_EQ(other.status, 401);
  EXPECT_THAT(other.Header("WWW-Authenticate"), HasSubstr(R"(error="insufficient_scope")"));
  // Wrong password at /token: 401, no token.
  HttpResult wrong = Do("GET", "/token?service=berth-registry&scope=repository:team/app:pull",
                        {BasicHeader("alice:nope")});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_THAT(wrong.body, Not(HasSubstr("access_token")));
  // Anonymous: a token, but only for public/*.
  const std::string anonymous = Token("", {"repository:public/x:pull", "repository:team/app:pull"});
  EXPECT_EQ(Do("GET", "/v2/public/x/tags/list", {anonymous}).status, 404);  // allowed, absent
  EXPECT_EQ(Do("GET", "/v2/team/app/tags/list", {anonymous}).status, 401);
  // The catalog needs registry:catalog:*.
  EXPECT_EQ(Do("GET", "/v2/_catalog", {alice}).status, 401);
  const std::string catalog = Token("alice:pw", {"registry:catalog:*"});
  Json list = Json::parse(Do("GET", "/v2/_catalog", {catalog}).body, nullptr, false);
  EXPECT_EQ(list["repositories"], Json({"team/app"}));

  // Expired (beyond the 60 s leeway) and badly signed tokens, made with the same key.
  auto pem = fs::ReadFile(dir_->Sub("token.key"));
  ASSERT_THAT(pem, IsOk());
  auto key = registry::auth::Key::PrivateFromPem(*pem);
  ASSERT_THAT(key, IsOk());
  registry::auth::TokenClaims claims;
  claims.issuer = "berth-registry";
  claims.subject = "alice";
  claims.audience = {"berth-registry"};
  claims.expires = absl::Now() - absl::Minutes(2);
  claims.access = {{"repository", "team/app", {"pull"}}};
  auto expired = registry::auth::SignToken(claims, *key);
  ASSERT_THAT(expired, IsOk());
  HttpResult old = Do("GET", "/v2/team/app/blobs/" + d, {"Authorization: Bearer " + *expired});
  EXPECT_EQ(old.status, 401);
  EXPECT_THAT(old.Header("WWW-Authenticate"), HasSubstr(R"(error="invalid_token")"));
  claims.expires = absl::Now() + absl::Minutes(2);
  auto fresh = registry::auth::SignToken(claims, *key);
  ASSERT_THAT(fresh, IsOk());
  EXPECT_EQ(Do("GET", "/v2/team/app/blobs/" + d, {"Authorization: Bearer " + *fresh}).body, blob);
  // Same header and claims, another token's signature.
  const std::string forged =
      fresh->substr(0, fresh->rfind('.')) + expired->substr(expired->rfind('.'));
  EXPECT_EQ(Do("GET", "/v2/team/app/blobs/" + d, {"Authorization: Bearer " + forged}).status, 401);
  // Claims raised to push, old signature.
  claims.access = {{"repository", "team/app", {"pull", "push"}}};
  auto raised = registry::auth::SignToken(claims, *key);
  const std::string tampered =
      raised->substr(0, raised->rfind('.')) + fresh->substr(fresh->rfind('.'));
  EXPECT_EQ(Do("POST", "/v2/team/app/blobs/uploads/", {"Authorization: Bearer " + tampered}).status,
            401);

  // OAuth2 password grant with a refresh token, then the refresh grant.
  HttpResult oauth = Do("POST", "/token", {"Content-Type: application/x-www-form-urlencoded"},
                        "grant_type=password&username=bob&password=pw&service=berth-registry"
                        "&client_id=test&access_type=offline&scope=repository%3Abob%2Fx%3Apush");
  ASSERT_EQ(oauth.status, 200) << oauth.body;
  Json grant = Json::parse(oauth.body);
  EXPECT_EQ(grant["scope"], "repository:bob/x:push");
  ASSERT_TRUE(grant.contains("refresh_token"));
  HttpResult refreshed =
      Do("POST", "/token", {"Content-Type: application/x-www-form-urlencoded"},
         "grant_type=refresh_token&service=berth-registry&client_id=test&refresh_token=" +
             grant["refresh_token"].get<std::string>() + "&scope=repository%3Abob%2Fx%3Apull");
  ASSERT_EQ(refreshed.status, 200) << refreshed.body;
  const std::string bob_x =
      "Authorization: Bearer " + Json::parse(refreshed.body)["access_token"].get<std::string>();
  EXPECT_EQ(Do("GET", "/v2/bob/x/tags/list", {bob_x}).status, 404);  // allowed, absent

  const std::string metrics = Metrics();
  const std::string family = "berth_registry_auth_failures_total";
  EXPECT_EQ(MetricValue(metrics, family + R"({reason="expired_token"})"), "1");
  EXPECT_EQ(MetricValue(metrics, family + R"({reason="bad_signature"})"), "2");
  EXPECT_EQ(MetricValue(metrics, family + R"({reason="insufficient_scope"})"), "4");
}

TEST_F(RegistryAuthTest, TokensFromAnOutsideIssuerViaRootCertBundle) {
  Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", dir_->Sub("signer.key"), "-out", dir_->Sub("signer.crt"), "-days", "1",
           "-subj", "/CN=outside token issuer"});
  Start({"--auth=token", "--token_rootcertbundle=" + dir_->Sub("signer.crt"),
         "--token_issuer=auth.example", "--token_service=registry.example",
         "--token_realm=https://auth.example/token"});
  HttpResult base = Do("GET", "/v2/");
  EXPECT_EQ(base.Header("WWW-Authenticate"),
            R"(Bearer realm="https://auth.example/token",service="registry.example")");
  EXPECT_EQ(Do("GET", "/token").status, 404);  // no --token_key: no endpoint of its own

  auto key = registry::auth::Key::PrivateFromPem(*fs::ReadFile(dir_->Sub("signer.key")));
  ASSERT_THAT(key, IsOk());
  registry::auth::TokenClaims claims;
  claims.issuer = "auth.example";
  claims.subject = "ci";
  claims.audience = {"registry.example"};
  claims.not_before = absl::Now();
  claims.expires = absl::Now() + absl::Minutes(5);
  claims.access = {{"repository", "app", {"pull", "push"}}};
  auto token = registry::auth::SignToken(claims, *key);
  ASSERT_THAT(token, IsOk());
  const std::string blob = "from outside";
  EXPECT_EQ(Do("POST", "/v2/app/blobs/uploads/?digest=" + DigestOf(blob),
               {"Authorization: Bearer " + *token}, blob)
                .status,
            201);
  claims.audience = {"another-registry"};
  auto wrong_audience = registry::auth::SignToken(claims, *key);
  EXPECT_EQ(Do("GET", "/v2/", {"Authorization: Bearer " + *wrong_audience}).status, 401);
  claims.audience = {"registry.example"};
  claims.issuer = "someone-else";
  auto wrong_issuer = registry::auth::SignToken(claims, *key);
  EXPECT_EQ(Do("GET", "/v2/", {"Authorization: Bearer " + *wrong_issuer}).status, 401);
}

TEST_F(RegistryAuthTest, Tls) {
  MakeCertificates();
  Start({"--tls_cert=" + dir_->Sub("server.crt"), "--tls_key=" + dir_->Sub("server.key")});
  ASSERT_TRUE(absl::StartsWith(registry_->base(), "https://"));
  ca_ = dir_->Sub("ca.crt");
  EXPECT_EQ(Do("GET", "/v2/").status, 200);

  // Not trusting the CA: verification fails.
  auto untrusted = Http("GET", registry_->base() + "/v2/");
  EXPECT_FALSE(untrusted.ok());
  EXPECT_THAT(untrusted.status().message(), HasSubstr("certificate"));
  // Plain HTTP to the TLS port gets a plain 400 saying so; the server keeps serving.
  auto plain = Http("GET", "http://" + registry_->address() + "/v2/");
  ASSERT_THAT(plain, IsOk());
  EXPECT_EQ(plain->status, 400);
  EXPECT_THAT(plain->body, HasSubstr("HTTP request to an HTTPS server"));
  // A client that connects and never says anything does not hold up others.
  const int silent = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(silent, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  int port = 0;
  ASSERT_TRUE(
      absl::SimpleAtoi(registry_->address().substr(registry_->address().rfind(':') + 1), &port));
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ASSERT_EQ(connect(silent, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(write(silent, "\x16\x03\x01", 3), 3);  // the start of a ClientHello, then nothing
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Do("GET", "/v2/").status, 200);
  close(silent);
  // /metrics stays plain HTTP and counted the failed handshakes: the untrusting client, the
  // plain HTTP one, the silent one.
  EXPECT_TRUE(berth::testing::WaitFor(
      [&] { return MetricValue(Metrics(), "berth_registry_tls_handshake_failures_total") == "3"; },
      absl::Seconds(10)))
      << MetricValue(Metrics(), "berth_registry_tls_handshake_failures_total");
  // TLS 1.1 is refused.
  auto old = RunCommand({"/usr/bin/curl", "-sS", "--cacert", ca_, "--tlsv1.1", "--tls-max", "1.1",
                         registry_->base() + "/v2/"});
  ASSERT_THAT(old, IsOk());
  EXPECT_FALSE(old->Succeeded()) << old->output;
  EXPECT_EQ(Do("GET", "/v2/").status, 200);
}

TEST_F(RegistryAuthTest, BadTlsFilesFailAtStartup) {
  MakeCertificates();
  const std::string root = dir_->Sub("root");
  const auto run = [&](const std::vector<std::string>& flags) {
    std::vector<std::string> args = {"--listen=127.0.0.1:0", "--metrics-addr=127.0.0.1:0",
                                     "--root=" + root};
    args.insert(args.end(), flags.begin(), flags.end());
    auto r = RunRegistryCommand(args);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : berth::testing::CommandResult();
  };
  auto missing =
      run({"--tls_cert=" + dir_->Sub("nope.crt"), "--tls_key=" + dir_->Sub("server.key")});
  EXPECT_FALSE(missing.Succeeded());
  EXPECT_THAT(missing.output, HasSubstr("nope.crt"));
  // The CA's key does not belong to the server's certificate.
  auto mismatch =
      run({"--tls_cert=" + dir_->Sub("server.crt"), "--tls_key=" + dir_->Sub("ca.key")});
  EXPECT_FALSE(mismatch.Succeeded());
  EXPECT_THAT(mismatch.output, HasSubstr("tls key"));
  auto not_pem =
      run({"--tls_cert=" + dir_->Sub("ext.cnf"), "--tls_key=" + dir_->Sub("server.key")});
  EXPECT_FALSE(not_pem.Succeeded());
  auto half = run({"--tls_cert=" + dir_->Sub("server.crt")});
  EXPECT_FALSE(half.Succeeded());
  auto no_keys = run({"--auth=token"});
  EXPECT_FALSE(no_keys.Succeeded());
  EXPECT_THAT(no_keys.output, HasSubstr("--token_rootcertbundle"));
  auto bad_acl = run({"--htpasswd=" + dir_->Sub("htpasswd"), "--acl=" + dir_->Sub("htpasswd")});
  EXPECT_FALSE(bad_acl.Succeeded());
  EXPECT_THAT(bad_acl.output, HasSubstr("--acl"));
}

// skopeo does the token flow itself (401 -> /token with --dest-creds -> bearer) over TLS
// with the test's CA in --dest-cert-dir.
TEST_F(RegistryAuthTest, SkopeoCopiesIntoTlsRegistryWithTokenAuth) {
  if (access(kSkopeo, X_OK) != 0) GTEST_SKIP() << "skopeo is not installed";
  MakeCertificates();
  MakeTokenKey();
  std::vector<std::string> flags = TokenFlags();
  flags.push_back("--tls_cert=" + dir_->Sub("server.crt"));
  flags.push_back("--tls_key=" + dir_->Sub("server.key"));
  Start(flags);
  ca_ = dir_->Sub("ca.crt");
  ASSERT_THAT(fs::WriteFileAtomically(dir_->Sub("policy.json"),
                                      R"({"default":[{"type":"insecureAcceptAnything"}]})", 0600),
              IsOk());

  // A one-layer OCI layout.
  const std::string layout = dir_->Sub("layout");
  ASSERT_THAT(fs::MakeDirs(layout + "/blobs/sha256", 0755), IsOk());
  ASSERT_THAT(fs::MakeDirs(dir_->Sub("src"), 0755), IsOk());
  ASSERT_THAT(fs::WriteFileAtomically(dir_->Sub("src/hello"), "hello from berth\n", 0644), IsOk());
  auto tar = RunCommand({"/bin/sh", "-c",
                         "tar --mtime=@0 --owner=0 --group=0 -cf - -C " + dir_->Sub("src") +
                             " . | gzip -n > " + dir_->Sub("layer.tgz")});
  ASSERT_THAT(tar, IsOk());
  ASSERT_TRUE(tar->Succeeded()) << tar->output;
  auto layer = fs::ReadFile(dir_->Sub("layer.tgz"));
  ASSERT_THAT(layer, IsOk());
  auto unzipped =
      RunCommand({"/bin/sh", "-c", "gzip -dc " + dir_->Sub("layer.tgz") + " | sha256sum"});
  ASSERT_THAT(unzipped, IsOk());
  const std::string diff_id = "sha256:" + unzipped->output.substr(0, 64);
  const auto add = [&](const std::string& media_type, const std::string& data) {
    const digest::Digest d = *digest::Digest::FromBytes(data);
    EXPECT_THAT(
        fs::WriteFileAtomically(absl::StrCat(layout, "/blobs/sha256/", d.hex()), data, 0644),
        IsOk());
    return Json{{"mediaType", media_type}, {"digest", d.ToString()}, {"size", data.size()}};
  };
  Json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"config", Json::object()},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", {diff_id}}}}};
  Json manifest = {{"schemaVersion", 2},
                   {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"config", add("application/vnd.oci.image.config.v1+json", config.dump())},
                   {"layers", {add("application/vnd.oci.image.layer.v1.tar+gzip", *layer)}}};
  const std::string manifest_bytes = manifest.dump();
  Json desc = add("application/vnd.oci.image.manifest.v1+json", manifest_bytes);
  desc["annotations"] = {{"org.opencontainers.image.ref.name", "v1"}};
  ASSERT_THAT(
      fs::WriteFileAtomically(layout + "/index.json",
                              Json({{"schemaVersion", 2}, {"manifests", {desc}}}).dump(), 0644),
      IsOk());
  ASSERT_THAT(
      fs::WriteFileAtomically(layout + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})", 0644),
      IsOk());

  const auto skopeo = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {kSkopeo, "--policy", dir_->Sub("policy.json")});
    auto r = RunCommand(args, absl::Seconds(120),
                        {"HOME=" + dir_->path(), "XDG_RUNTIME_DIR=" + dir_->path()});
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : berth::testing::CommandResult();
  };
  const std::string dest = absl::StrCat("docker://", registry_->address(), "/bob/app:v1");
  auto push = skopeo({"copy", "--dest-cert-dir", dir_->Sub("certs"), "--dest-creds", "bob:pw",
                      "oci:" + layout + ":v1", dest});
  ASSERT_TRUE(push.Succeeded()) << push.output << "\n"
                                << berth::testing::ReadFileOrEmpty(registry_->log_path());
  // What the registry holds is the manifest as pushed.
  const std::string token = Token("bob:pw", {"repository:bob/app:pull"});
  HttpResult got = Do("GET", "/v2/bob/app/manifests/v1",
                      {token, "Accept: application/vnd.oci.image.manifest.v1+json"});
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, manifest_bytes);
  // bob may not push to team/*, and wrong credentials get nowhere.
  auto denied = skopeo({"copy", "--dest-cert-dir", dir_->Sub("certs"), "--dest-creds", "bob:pw",
                        "oci:" + layout + ":v1",
                        absl::StrCat("docker://", registry_->address(), "/team/app:v1")});
  EXPECT_FALSE(denied.Succeeded());
  auto wrong = skopeo({"copy", "--dest-cert-dir", dir_->Sub("certs"), "--dest-creds", "bob:nope",
                       "oci:" + layout + ":v1", dest});
  EXPECT_FALSE(wrong.Succeeded());
  // Without the CA skopeo refuses the certificate.
  auto untrusted = skopeo({"copy", "--dest-creds", "bob:pw", "oci:" + layout + ":v1", dest});
  EXPECT_FALSE(untrusted.Succeeded());
  EXPECT_THAT(untrusted.output, HasSubstr("certificate"));
  // And back out with the same credentials.
  auto pull = skopeo({"copy", "--src-cert-dir", dir_->Sub("certs"), "--src-creds", "bob:pw", dest,
                      "oci:" + dir_->Sub("out") + ":v1"});
  ASSERT_TRUE(pull.Succeeded()) << pull.output;
  auto out_index = fs::ReadFile(dir_->Sub("out/index.json"));
  ASSERT_THAT(out_index, IsOk());
  EXPECT_EQ(Json::parse(*out_index)["manifests"][0]["digest"], desc["digest"]);
}

}  // namespace
}  // namespace berth::tests
