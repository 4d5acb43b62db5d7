#include "common/grpc/address.h"

#include <sys/un.h>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"

namespace berth::grpc_util {

absl::StatusOr<std::string> ParseUnixAddress(absl::string_view address) {
  absl::string_view path = address;
  if (absl::ConsumePrefix(&path, "unix://")) {
    // unix:///abs/path -> /abs/path
  } else if (absl::ConsumePrefix(&path, "unix:")) {
  } else if (absl::StrContains(address, "://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("address ", address, ": only unix:// sockets are supported"));
  }
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("address ", address, ": socket path must be absolute"));
  }
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("address ", address, ": socket path is ",
                                                   path.size(), " bytes, longer than ",
                                                   sizeof(sockaddr_un{}.sun_path) - 1));
  }
  return std::string(path);
}

std::string UnixTarget(absl::string_view path) { return absl::StrCat("unix:", path); }

}  // namespace berth::grpc_util
