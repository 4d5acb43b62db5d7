// A deterministic IdSource for tests: predictable, readable, valid ids, so a test can name the
// container it is about to create and compare output byte for byte. Test-only.
#pragma once

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/id/id.h"

namespace berth::id {

// Returns, for n = first, first + 1, ...:
//   "a" + n as 11 hex digits + 52 zeros, e.g. "a00000000001" "000...0" for n = 1.
// The leading 'a' keeps the short form from being all digits (as GenerateId guarantees), and n
// sits inside the first 12 characters, so short ids differ too and prefix lookups behave as
// with random ids. OutOfRange once n passes 16^11 - 1. Thread-safe.
class SequenceIdSource : public IdSource {
 public:
  explicit SequenceIdSource(uint64_t first = 1) : next_(first) {}

  absl::StatusOr<std::string> NewId() override;

  // The id NewId() returned (or will return) for `n`, for expectations in tests.
  static std::string IdFor(uint64_t n);

 private:
  absl::Mutex mu_;
  uint64_t next_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::id
