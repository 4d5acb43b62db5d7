#include "runc/container/sync.h"

#include <sys/socket.h>
#include <unistd.h>

namespace berth::runc::container {

absl::Status SendSync(int fd, SyncType type, const std::string& payload) {
  std::string buf(1, static_cast<char>(type));
  buf += payload;
  ssize_t n;
  do {
    n = send(fd, buf.data(), buf.size(), MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(buf.size())) return absl::ErrnoToStatus(errno, "sync send");
  return absl::OkStatus();
}

absl::StatusOr<SyncMessage> ReceiveSync(int fd) {
  char buf[8192];
  ssize_t n;
  do {
    n = recv(fd, buf, sizeof(buf), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return absl::ErrnoToStatus(errno, "sync receive");
  if (n == 0) return absl::UnavailableError("container init exited during set-up");
  return SyncMessage{static_cast<SyncType>(buf[0]), std::string(buf + 1, n - 1)};
}

}  // namespace berth::runc::container
