// Registry credentials of the berth CLI, kept like the docker CLI keeps them in
// ~/.docker/config.json, but in berth's own config dir ($BERTH_CONFIG, else ~/.berth):
//
//   {"auths": {"127.0.0.1:5000": {"auth": base64("user:password")},
//              "https://index.docker.io/v1/": {"auth": base64("user:"), "identitytoken": "…"}}}
//
// The file is written atomically with mode 0600 (its dir 0700); keys berth does not know are
// kept as they were, so a file shared with other tools survives a login. berthd never stores
// credentials: `berth login` checks them through the daemon, then saves them here, and pull
// and push send the matching entry as an AuthConfig with every request.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "berth/engine/v1/types.pb.h"
#include "engine/cli/parse_options.h"

namespace berth::cli {

// The key Docker Hub's credentials are stored under.
inline constexpr char kDockerHubKey[] = "https://index.docker.io/v1/";

// The config dir: $BERTH_CONFIG if set, else $HOME/.berth (the passwd entry's home when HOME
// is unset).
std::string ConfigDir(const EnvLookup& env);

// The key for what a user typed as SERVER in `berth login SERVER` ("" means Docker Hub):
// scheme and path dropped ("https://reg:5000/v2/" -> "reg:5000"), Docker Hub's names
// ("docker.io", "index.docker.io", "registry-1.docker.io") mapped to kDockerHubKey.
std::string RegistryKey(const std::string& server);

// The key for the registry an image reference lives in ("busybox" -> kDockerHubKey,
// "127.0.0.1:5000/a/b:1" -> "127.0.0.1:5000"). InvalidArgument for a malformed reference.
absl::StatusOr<std::string> RegistryKeyForImage(const std::string& image);

struct Credential {
  std::string username;
  std::string password;
  // Refresh token the registry issued at login; replaces the password when set.
  std::string identity_token;
};

class CredentialStore {
 public:
  // Reads <dir>/config.json; a missing file is an empty store. InvalidArgument when the file
  // is not valid JSON or an "auth" entry is malformed.
  static absl::StatusOr<CredentialStore> Load(const std::string& dir);

  const std::string& path() const { return path_; }

  std::optional<Credential> Get(const std::string& key) const;
  void Set(const std::string& key, const Credential& c);
  // Whether there was an entry.
  bool Erase(const std::string& key);
  // Writes the file (0600) atomically, creating the dir (0700).
  absl::Status Save() const;

  // The AuthConfig to send for images of registry `key`; unset (anonymous) without an entry.
  std::optional<engine::v1::AuthConfig> AuthFor(const std::string& key) const;

 private:
  CredentialStore(std::string dir, nlohmann::json doc)
      : dir_(std::move(dir)), path_(dir_ + "/config.json"), doc_(std::move(doc)) {}
  std::string dir_;
  std::string path_;
  nlohmann::json doc_;
};

// The AuthConfig's server_address for a key: the host for private registries, "" (Docker Hub,
// as the engine API defines it) for kDockerHubKey.
std::string ServerAddressForKey(const std::string& key);

}  // namespace berth::cli
