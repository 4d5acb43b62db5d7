#include "common/id/id.h"

#include <errno.h>
#include <sys/random.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace berth::id {
namespace {

constexpr size_t kIdBytes = kIdLength / 2;

// Fills `buf` from getrandom(2). Without GRND_NONBLOCK it waits for the kernel's generator to
// be seeded instead of returning weak bytes; it can still be interrupted or, for requests over
// 256 bytes, return short, hence the loop.
absl::Status FillRandom(absl::Span<uint8_t> buf) {
  size_t done = 0;
  while (done < buf.size()) {
    const ssize_t n = getrandom(buf.data() + done, buf.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, "getrandom");
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

bool AllDigits(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return true;
}

}  // namespace

namespace internal {

absl::StatusOr<std::string> GenerateIdFrom(
    const std::function<absl::Status(absl::Span<uint8_t>)>& fill) {
  uint8_t bytes[kIdBytes];
  while (true) {
    if (absl::Status st = fill(absl::MakeSpan(bytes)); !st.ok()) {
      return absl::InternalError(absl::StrCat("generate id: ", st.message()));
    }
    std::string id =
        absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(bytes), kIdBytes));
    if (!AllDigits(ShortId(id))) return id;
  }
}

}  // namespace internal

absl::StatusOr<std::string> GenerateId() { return internal::GenerateIdFrom(FillRandom); }

absl::string_view ShortId(absl::string_view id) { return id.substr(0, kShortIdLength); }

bool IsValidId(absl::string_view id) { return ValidateId(id).ok(); }

absl::Status ValidateId(absl::string_view id) {
  if (id.size() != kIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid id \"", absl::CHexEscape(id.substr(0, 2 * kIdLength)), "\": must be ",
                     kIdLength, " characters, got ", id.size()));
  }
  for (size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid id \"", absl::CHexEscape(id), "\": character ",
          absl::CHexEscape(absl::string_view(&c, 1)), " at offset ", i, " is not lowercase hex"));
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::id
