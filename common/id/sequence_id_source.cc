#include "common/id/sequence_id_source.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace berth::id {

namespace {
constexpr uint64_t kMaxSequence = (uint64_t{1} << 44) - 1;  // 11 hex digits
}  // namespace

std::string SequenceIdSource::IdFor(uint64_t n) {
  return absl::StrFormat("a%011x%s", n, std::string(kIdLength - kShortIdLength, '0'));
}

absl::StatusOr<std::string> SequenceIdSource::NewId() {
  absl::MutexLock lock(&mu_);
  if (next_ > kMaxSequence) {
    return absl::OutOfRangeError(absl::StrCat("sequence id source exhausted at ", next_));
  }
  return IdFor(next_++);
}

}  // namespace berth::id
