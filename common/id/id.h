// Object identifiers in Docker's format: 64 lowercase hex characters (256 random bits), shown
// truncated to 12. berth uses them for containers, execs and anything else the user names by
// id or unique prefix. Code that makes ids takes an IdSource, so tests can inject predictable
// ones (STYLE: inject ID sources).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace berth::id {

inline constexpr size_t kIdLength = 64;
inline constexpr size_t kShortIdLength = 12;

// A new random id from getrandom(2), the kernel's cryptographic generator: ids must not be
// guessable (they name containers in API paths) and must not collide across hosts or restarts,
// which a seeded PRNG cannot promise. Blocks only in early boot, until the kernel's generator
// is initialized. Like Docker's stringid, an id whose first 12 characters are all decimal
// digits is thrown away and drawn again: the short id becomes the container's default
// hostname, and an all-digit hostname reads as a number to tools that accept "name or number"
// (and to some resolvers). About 1 draw in 280 is redrawn. Internal if getrandom fails.
// Thread-safe.
absl::StatusOr<std::string> GenerateId();

// The first 12 characters (the whole string if it is shorter): the form users see.
absl::string_view ShortId(absl::string_view id);

// Whether `id` has the full id format: exactly 64 characters of [0-9a-f]. It does not reject
// all-digit short forms: those are only avoided when generating, and ids made elsewhere (an
// imported Docker container) may have one.
bool IsValidId(absl::string_view id);
// The same check as a status for request validation: InvalidArgument saying what is wrong.
absl::Status ValidateId(absl::string_view id);

// Where new ids come from. Implementations are thread-safe.
class IdSource {
 public:
  virtual ~IdSource() = default;
  // A new id, valid per IsValidId, never returned before by this source (ids from random
  // sources are unique with overwhelming probability). Errors are the implementation's.
  virtual absl::StatusOr<std::string> NewId() = 0;
};

// The production source: GenerateId().
class RandomIdSource : public IdSource {
 public:
  absl::StatusOr<std::string> NewId() override { return GenerateId(); }
};

namespace internal {
// GenerateId with its random bytes from `fill` (which fills the whole buffer or fails), so a
// test can feed an all-digit id and see it redrawn.
absl::StatusOr<std::string> GenerateIdFrom(
    const std::function<absl::Status(absl::Span<uint8_t>)>& fill);
}  // namespace internal

}  // namespace berth::id
