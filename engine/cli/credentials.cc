#include "engine/cli/credentials.h"

#include <pwd.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "engine/reference/reference.h"

namespace berth::cli {

using Json = nlohmann::json;

std::string ConfigDir(const EnvLookup& env) {
  if (auto dir = env("BERTH_CONFIG"); dir.has_value() && !dir->empty()) return *dir;
  std::string home;
  if (auto h = env("HOME"); h.has_value() && !h->empty()) {
    home = *h;
  } else if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr) {
    home = pw->pw_dir;
  } else {
    home = "/";
  }
  return absl::StrCat(absl::StripSuffix(home, "/"), "/.berth");
}

std::string RegistryKey(const std::string& server) {
  absl::string_view s = absl::StripAsciiWhitespace(server);
  if (s.empty()) return kDockerHubKey;
  if (s == kDockerHubKey) return kDockerHubKey;
  if (!absl::ConsumePrefix(&s, "https://")) absl::ConsumePrefix(&s, "http://");
  s = s.substr(0, s.find('/'));
  std::string host = absl::AsciiStrToLower(s);
  if (host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io") {
    return kDockerHubKey;
  }
  return host;
}

absl::StatusOr<std::string> RegistryKeyForImage(const std::string& image) {
  absl::StatusOr<engine::reference::Reference> ref = engine::reference::ParseNormalized(image);
  if (!ref.ok()) return ref.status();
  return RegistryKey(ref->domain);
}

std::string ServerAddressForKey(const std::string& key) {
  return key == kDockerHubKey ? "" : key;
}

absl::StatusOr<CredentialStore> CredentialStore::Load(const std::string& dir) {
  const std::string path = dir + "/config.json";
  absl::StatusOr<std::string> data = fs::ReadFile(path);
  Json doc = Json::object();
  if (data.ok()) {
    doc = Json::parse(*data, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
    }
  } else if (!absl::IsNotFound(data.status())) {
    return absl::Status(data.status().code(),
                        absl::StrCat("read ", path, ": ", data.status().message()));
  }
  if (doc.contains("auths") && !doc["auths"].is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": \"auths\" is not an object"));
  }
  return CredentialStore(dir, std::move(doc));
}

std::optional<Credential> CredentialStore::Get(const std::string& key) const {
  if (!doc_.contains("auths")) return std::nullopt;
  const Json& auths = doc_["auths"];
  auto it = auths.find(key);
  if (it == auths.end() || !it->is_object()) return std::nullopt;
  Credential c;
  if (auto a = it->find("auth"); a != it->end() && a->is_string()) {
    std::string decoded;
    if (!absl::Base64Unescape(a->get<std::string>(), &decoded)) return std::nullopt;
    size_t colon = decoded.find(':');
    if (colon == std::string::npos) return std::nullopt;
    c.username = decoded.substr(0, colon);
    c.password = decoded.substr(colon + 1);
  }
  // Older files (and other tools) may keep the user name on its own.
  if (auto u = it->find("username"); c.username.empty() && u != it->end() && u->is_string()) {
    c.username = u->get<std::string>();
  }
  if (auto t = it->find("identitytoken"); t != it->end() && t->is_string()) {
    c.identity_token = t->get<std::string>();
  }
  if (c.username.empty() && c.password.empty() && c.identity_token.empty()) return std::nullopt;
  return c;
}

void CredentialStore::Set(const std::string& key, const Credential& c) {
  if (!doc_.contains("auths")) doc_["auths"] = Json::object();
  Json entry = Json::object();
  // With an identity token the password is not kept, as docker does.
  const std::string secret = c.identity_token.empty() ? c.password : "";
  entry["auth"] = absl::Base64Escape(absl::StrCat(c.username, ":", secret));
  if (!c.identity_token.empty()) entry["identitytoken"] = c.identity_token;
  doc_["auths"][key] = std::move(entry);
}

bool CredentialStore::Erase(const std::string& key) {
  if (!doc_.contains("auths")) return false;
  return doc_["auths"].erase(key) > 0;
}

absl::Status CredentialStore::Save() const {
  if (absl::Status s = fs::MakeDirs(dir_, 0700); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("create ", dir_, ": ", s.message()));
  }
  if (absl::Status s = fs::WriteFileAtomically(path_, doc_.dump(1, '\t') + "\n", 0600); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("write ", path_, ": ", s.message()));
  }
  return absl::OkStatus();
}

std::optional<engine::v1::AuthConfig> CredentialStore::AuthFor(const std::string& key) const {
  std::optional<Credential> c = Get(key);
  if (!c.has_value()) return std::nullopt;
  engine::v1::AuthConfig a;
  a.set_username(c->username);
  if (c->identity_token.empty()) {
    a.set_password(c->password);
  } else {
    a.set_identity_token(c->identity_token);
  }
  a.set_server_address(ServerAddressForKey(key));
  return a;
}

}  // namespace berth::cli
