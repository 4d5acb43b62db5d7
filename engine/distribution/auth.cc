#include "engine/distribution/auth.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/images/oci.h"

namespace berth::engine::distribution {
namespace {

// A lexer over one WWW-Authenticate value (RFC 7235 section 4.1).
class Lexer {
 public:
  explicit Lexer(absl::string_view s) : s_(s) {}
  void SkipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  bool Done() {
    SkipSpace();
    return i_ >= s_.size();
  }
  char Peek() { return i_ < s_.size() ? s_[i_] : '\0'; }
  bool Consume(char c) {
    SkipSpace();
    if (Peek() != c) return false;
    ++i_;
    return true;
  }
  // An RFC 7230 token (plus '/' and '=' trailing in token68 forms are left to the caller).
  std::string Token() {
    SkipSpace();
    size_t start = i_;
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == ' ' || c == '\t' || c == ',' || c == '=' || c == '"') break;
      ++i_;
    }
    return std::string(s_.substr(start, i_ - start));
  }
  // A quoted-string with backslash escapes; the opening quote is next.
  std::string Quoted() {
    ++i_;  // '"'
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
      out.push_back(s_[i_++]);
    }
    if (i_ < s_.size()) ++i_;  // closing quote
    return out;
  }
  size_t pos() const { return i_; }
  void set_pos(size_t p) { i_ = p; }

 private:
  absl::string_view s_;
  size_t i_ = 0;
};

void ParseOne(absl::string_view value, std::vector<Challenge>* out) {
  Lexer lx(value);
  Challenge* current = nullptr;
  while (!lx.Done()) {
    if (lx.Consume(',')) continue;
    size_t start = lx.pos();
    std::string tok = lx.Token();
    if (tok.empty()) {
      // Stray quote or '=': skip one character.
      lx.set_pos(start + 1);
      continue;
    }
    if (lx.Consume('=')) {
      // "name=value" of the current challenge.
      std::string v;
      lx.SkipSpace();
      v = lx.Peek() == '"' ? lx.Quoted() : lx.Token();
      if (current != nullptr) current->params[absl::AsciiStrToLower(tok)] = v;
      continue;
    }
    // A scheme starts a new challenge.
    out->push_back(Challenge{absl::AsciiStrToLower(tok), {}});
    current = &out->back();
  }
}

int64_t JsonInt(const nlohmann::json& j, const char* key, int64_t def) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return def;
  return it->get<int64_t>();
}

std::string JsonString(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

std::vector<Challenge> ParseChallenges(const std::vector<std::string>& header_values) {
  std::vector<Challenge> out;
  for (const auto& v : header_values) ParseOne(v, &out);
  return out;
}

std::string QueryEscape(absl::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Authorizer::Authorizer(HttpClient* http, Credentials creds, TlsConfig tls,
                       std::function<absl::Time()> clock)
    : http_(http), creds_(std::move(creds)), tls_(std::move(tls)), clock_(std::move(clock)) {}

std::string Authorizer::Key(const std::vector<std::string>& scopes) {
  std::vector<std::string> sorted = scopes;
  std::sort(sorted.begin(), sorted.end());
  return absl::StrJoin(sorted, " ");
}

bool Authorizer::Required() {
  absl::MutexLock l(&mu_);
  return !scheme_.empty();
}

std::string Authorizer::RefreshToken() {
  absl::MutexLock l(&mu_);
  return refresh_token_;
}

absl::StatusOr<std::string> Authorizer::Header(const std::vector<std::string>& scopes,
                                               const std::atomic<bool>* cancelled) {
  if (!creds_.registry_token.empty()) return absl::StrCat("Bearer ", creds_.registry_token);
  std::string scheme;
  {
    absl::MutexLock l(&mu_);
    scheme = scheme_;
    if (scheme == "bearer") {
      auto it = tokens_.find(Key(scopes));
      // A token about to expire is renewed now rather than refused mid-transfer.
      if (it != tokens_.end() && it->second.expires > clock_() + absl::Seconds(5)) {
        return absl::StrCat("Bearer ", it->second.value);
      }
    }
  }
  if (scheme == "basic") {
    if (creds_.username.empty() && creds_.password.empty()) return std::string();
    return absl::StrCat("Basic ", absl::Base64Escape(creds_.username + ":" + creds_.password));
  }
  if (scheme != "bearer") return std::string();
  absl::StatusOr<Token> t = RequestToken(scopes, /*offline=*/false, cancelled);
  if (!t.ok()) return t.status();
  absl::MutexLock l(&mu_);
  tokens_[Key(scopes)] = *t;
  return absl::StrCat("Bearer ", t->value);
}

void Authorizer::Learn(const std::vector<Challenge>& challenges) {
  absl::MutexLock l(&mu_);
  for (const auto& c : challenges) {
    if (c.scheme == "bearer") {
      auto realm = c.params.find("realm");
      if (realm == c.params.end() || realm->second.empty()) continue;
      scheme_ = "bearer";
      realm_ = realm->second;
      auto service = c.params.find("service");
      service_ = service != c.params.end() ? service->second : "";
      return;
    }
  }
  for (const auto& c : challenges) {
    if (c.scheme == "basic") {
      scheme_ = "basic";
      return;
    }
  }
}

absl::Status Authorizer::Challenged(const std::vector<Challenge>& challenges,
                                    const std::vector<std::string>& scopes) {
  const Challenge* bearer = nullptr;
  const Challenge* basic = nullptr;
  for (const auto& c : challenges) {
    if (c.scheme == "bearer" && bearer == nullptr) bearer = &c;
    if (c.scheme == "basic" && basic == nullptr) basic = &c;
  }
  absl::MutexLock l(&mu_);
  const std::string key = Key(scopes);
  // Two refusals for the same scopes with what we have: retrying is pointless.
  if (++refused_[key] > 2) {
    return absl::UnauthenticatedError("authentication required");
  }
  if (bearer != nullptr) {
    auto realm = bearer->params.find("realm");
    if (realm == bearer->params.end() || realm->second.empty()) {
      return absl::UnauthenticatedError("bearer challenge without a realm");
    }
    const bool had_token = tokens_.erase(key) > 0;
    if (scheme_ == "bearer" && had_token && realm_ == realm->second) {
      // The registry refused a token it asked for: the credentials do not reach this scope.
      return absl::UnauthenticatedError("authentication required");
    }
    scheme_ = "bearer";
    realm_ = realm->second;
    auto service = bearer->params.find("service");
    service_ = service != bearer->params.end() ? service->second : "";
    return absl::OkStatus();
  }
  if (basic != nullptr) {
    if (creds_.username.empty() && creds_.password.empty()) {
      return absl::UnauthenticatedError("authentication required");
    }
    if (scheme_ == "basic") {
      return absl::UnauthenticatedError("the registry refused the username or password");
    }
    scheme_ = "basic";
    return absl::OkStatus();
  }
  return absl::UnauthenticatedError("authentication required (no supported challenge)");
}

absl::Status Authorizer::FetchToken(const std::vector<std::string>& scopes, bool offline,
                                    const std::atomic<bool>* cancelled) {
  {
    absl::MutexLock l(&mu_);
    if (scheme_ != "bearer") return absl::OkStatus();
  }
  absl::StatusOr<Token> t = RequestToken(scopes, offline, cancelled);
  if (!t.ok()) return t.status();
  absl::MutexLock l(&mu_);
  tokens_[Key(scopes)] = *t;
  return absl::OkStatus();
}

absl::StatusOr<Authorizer::Token> Authorizer::RequestToken(const std::vector<std::string>& scopes,
                                                           bool offline,
                                                           const std::atomic<bool>* cancelled) {
  std::string realm, service;
  {
    absl::MutexLock l(&mu_);
    realm = realm_;
    service = service_;
  }
  HttpRequest req;
  req.tls = tls_;
  req.cancelled = cancelled;
  req.max_body = 1 << 20;
  const bool oauth = !creds_.identity_token.empty();
  if (oauth) {
    // OAuth2 refresh-token grant (distribution's spec/auth/oauth.md).
    req.method = "POST";
    req.url = realm;
    req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
    std::string form = absl::StrCat("grant_type=refresh_token&refresh_token=",
                                    QueryEscape(creds_.identity_token),
                                    "&client_id=berth&service=", QueryEscape(service));
    if (!scopes.empty()) {
      form += absl::StrCat("&scope=", QueryEscape(absl::StrJoin(scopes, " ")));
    }
    req.body = std::move(form);
  } else {
    // GET realm?service=&scope=... (spec/auth/token.md), one scope parameter per scope.
    std::string url = realm;
    char sep = realm.find('?') == std::string::npos ? '?' : '&';
    if (!service.empty()) {
      absl::StrAppend(&url, std::string(1, sep), "service=", QueryEscape(service));
      sep = '&';
    }
    for (const auto& s : scopes) {
      absl::StrAppend(&url, std::string(1, sep), "scope=", QueryEscape(s));
      sep = '&';
    }
    if (offline) {
      absl::StrAppend(&url, std::string(1, sep), "offline_token=true&client_id=berth");
    }
    req.url = std::move(url);
    if (!creds_.username.empty() || !creds_.password.empty()) {
      req.headers.push_back(absl::StrCat(
          "Authorization: Basic ", absl::Base64Escape(creds_.username + ":" + creds_.password)));
    }
  }
  absl::StatusOr<HttpResponse> resp = http_->Do(req);
  if (!resp.ok()) {
    return absl::Status(resp.status().code(),
                        absl::StrCat("fetch token: ", resp.status().message()));
  }
  if (resp->status == 401 || resp->status == 403 || (oauth && resp->status == 400)) {
    return absl::UnauthenticatedError(
        absl::StrCat("the token server refused the credentials (HTTP ", resp->status, ")"));
  }
  if (resp->status != 200) {
    return absl::UnavailableError(absl::StrCat("fetch token: HTTP ", resp->status));
  }
  absl::StatusOr<nlohmann::json> j = images::oci::ParseJson(resp->body, "token response");
  if (!j.ok() || !j->is_object()) {
    return absl::UnavailableError("fetch token: malformed token response");
  }
  Token t;
  // "token" and "access_token" are synonyms; OAuth2 servers send only the latter.
  t.value = JsonString(*j, "access_token");
  if (t.value.empty()) t.value = JsonString(*j, "token");
  if (t.value.empty()) return absl::UnavailableError("fetch token: the response has no token");
  // expires_in defaults to 60 s, and shorter lifetimes are read as 60 s (token.md).
  int64_t expires_in = std::max<int64_t>(JsonInt(*j, "expires_in", 60), 60);
  // Counted from receipt, not from issued_at: the token server's clock may be off.
  t.expires = clock_() + absl::Seconds(expires_in);
  std::string refresh = JsonString(*j, "refresh_token");
  if (!refresh.empty()) {
    absl::MutexLock l(&mu_);
    refresh_token_ = refresh;
  }
  return t;
}

}  // namespace berth::engine::distribution
