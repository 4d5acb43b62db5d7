// Helpers shared by the ContainerManager's source files (manager.cc, exits.cc).
#pragma once

#include <string>

#include "absl/time/time.h"
#include "berth/engine/v1/containers.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace berth::engine::containers::internal {

namespace ev1 = ::berth::engine::v1;

inline google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  ts.set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(ts.seconds())) /
                                    absl::Nanoseconds(1)));
  return ts;
}

inline absl::Time FromTs(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

inline bool IsRunning(const ev1::ContainerState& s) {
  return s.status() == ev1::CONTAINER_STATUS_RUNNING ||
         s.status() == ev1::CONTAINER_STATUS_PAUSED;
}

inline void SetStatus(ev1::ContainerState* s, ev1::ContainerStatus status) {
  s->set_status(status);
  s->set_running(status == ev1::CONTAINER_STATUS_RUNNING ||
                 status == ev1::CONTAINER_STATUS_PAUSED);
  s->set_paused(status == ev1::CONTAINER_STATUS_PAUSED);
  s->set_restarting(status == ev1::CONTAINER_STATUS_RESTARTING);
  s->set_dead(status == ev1::CONTAINER_STATUS_DEAD);
}

inline std::string ShortId(const std::string& id) { return id.substr(0, 12); }

}  // namespace berth::engine::containers::internal
