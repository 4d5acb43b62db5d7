#include "registry/auth/htpasswd.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"

namespace berth::registry::auth {
namespace {

bool IsBcrypt(absl::string_view hash) {
  return absl::StartsWith(hash, "$2a$") || absl::StartsWith(hash, "$2b$") ||
         absl::StartsWith(hash, "$2y$");
}

std::string Sha256(absl::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<char*>(out), sizeof(out));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Htpasswd>> Htpasswd::Parse(absl::string_view text) {
  std::unique_ptr<Htpasswd> out(new Htpasswd());
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return absl::InvalidArgumentError(absl::StrCat("htpasswd line ", number, ": want user:hash"));
    }
    const std::string user(line.substr(0, colon));
    const std::string hash(line.substr(colon + 1));
    if (!IsBcrypt(hash)) {
      return absl::InvalidArgumentError(
          absl::StrCat("htpasswd line ", number, ": user ", user,
                       " has no bcrypt hash (create it with htpasswd -B)"));
    }
    if (!out->hashes_.emplace(user, hash).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("htpasswd line ", number, ": user ", user, " appears twice"));
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Htpasswd>> Htpasswd::Load(const std::string& path) {
  BERTH_ASSIGN_OR_RETURN(std::string text, fs::ReadFile(path));
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<Htpasswd> h, Parse(text), path);
  return h;
}

bool Htpasswd::Verify(absl::string_view user, absl::string_view password) {
  auto it = hashes_.find(user);
  if (it == hashes_.end()) return false;
  const std::string digest = Sha256(password);
  {
    absl::MutexLock lock(&mu_);
    auto v = verified_.find(user);
    if (v != verified_.end() &&
        CRYPTO_memcmp(v->second.data(), digest.data(), digest.size()) == 0) {
      return true;
    }
  }
  // bcrypt ignores what follows a NUL; a password with one must not match a shorter one.
  if (password.find('\0') != absl::string_view::npos) return false;
  auto data = std::make_unique<crypt_data>();  // ~32 KiB: not for the stack
  const std::string phrase(password);
  const char* result = crypt_rn(phrase.c_str(), it->second.c_str(), data.get(), sizeof(*data));
  if (result == nullptr || result[0] == '*') return false;
  const std::string& expected = it->second;
  if (strlen(result) != expected.size() ||
      CRYPTO_memcmp(result, expected.data(), expected.size()) != 0) {
    return false;
  }
  absl::MutexLock lock(&mu_);
  verified_[std::string(user)] = digest;
  return true;
}

absl::StatusOr<std::string> BcryptHash(absl::string_view password, int cost) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", cost, nullptr, 0, salt, sizeof(salt)) == nullptr) {
    return absl::InternalError("crypt_gensalt_rn failed");
  }
  auto data = std::make_unique<crypt_data>();
  const std::string phrase(password);
  const char* result = crypt_rn(phrase.c_str(), salt, data.get(), sizeof(*data));
  if (result == nullptr || result[0] == '*') return absl::InternalError("crypt_rn failed");
  return std::string(result);
}

}  // namespace berth::registry::auth
