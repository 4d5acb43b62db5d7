// Basic authentication against an Apache htpasswd file with bcrypt hashes ("user:$2y$..."),
// the format Docker's registry accepts (`htpasswd -B`). bcrypt comes from libxcrypt's crypt_rn,
// since OpenSSL has none.
//
// bcrypt is deliberately slow (tens of milliseconds); a registry client sends the same
// credentials with every request, so a successful check is remembered as a SHA-256 of the
// password and later requests compare against that in constant time. Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace berth::registry::auth {

class Htpasswd {
 public:
  // Parses htpasswd text: one "user:hash" per line; blank lines and '#' comments are skipped.
  // InvalidArgument (naming the line) for a malformed line, a duplicate user, or a hash that
  // is not bcrypt ($2a$, $2b$, $2y$): other schemes (MD5, SHA1, crypt) are too weak to accept.
  static absl::StatusOr<std::unique_ptr<Htpasswd>> Parse(absl::string_view text);
  // Reads and parses the file at `path`.
  static absl::StatusOr<std::unique_ptr<Htpasswd>> Load(const std::string& path);

  // Whether `password` is `user`'s. False for unknown users.
  bool Verify(absl::string_view user, absl::string_view password);

  // Whether `user` has an entry (a refresh token's account must still exist).
  bool HasUser(absl::string_view user) const { return hashes_.contains(user); }

  size_t size() const { return hashes_.size(); }

 private:
  Htpasswd() = default;

  absl::flat_hash_map<std::string, std::string> hashes_;  // user -> bcrypt hash
  absl::Mutex mu_;
  // user -> SHA-256 of a password that passed bcrypt.
  absl::flat_hash_map<std::string, std::string> verified_ ABSL_GUARDED_BY(mu_);
};

// A bcrypt hash of `password` with `cost` (4..31), for tests and tooling. Internal if
// libxcrypt fails.
absl::StatusOr<std::string> BcryptHash(absl::string_view password, int cost = 10);

}  // namespace berth::registry::auth
