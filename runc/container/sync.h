// The messages berth-runc and the container's init exchange over a SOCK_SEQPACKET socketpair
// while the container is being created. Each message is one packet: a type byte and a payload.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth::runc::container {

enum class SyncType : char {
  kMapsDone = 'm',   // parent -> init: id maps written, cgroup joined; payload: host pid
  kNsReady = 'n',    // init -> parent: namespaces joined/created; parent may run hooks now
  kContinue = 'c',   // parent -> init: createRuntime hooks done; set up the rootfs
  kReady = 'r',      // init -> parent: set up, now blocking on the exec FIFO until `start`
  kError = 'e',      // init -> parent: payload is the error message; init exits
};

struct SyncMessage {
  SyncType type;
  std::string payload;
};

absl::Status SendSync(int fd, SyncType type, const std::string& payload = "");
// Unavailable when the peer closed the socket (it died or exited).
absl::StatusOr<SyncMessage> ReceiveSync(int fd);

}  // namespace berth::runc::container
