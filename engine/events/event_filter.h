// EventFilter: the `--filter` conditions of `berth events` (System.Events), with the keys and
// matching rules of Docker's daemon/events/filter.go:
//   type       the event's type name ("container", "image", ...), exact;
//   event      the action, exact ("exec_create", "exec_start" and "health_status" also match
//              as prefixes, since those actions carry a suffix in Docker: "exec_start: sh");
//   container, volume, network, daemon
//              the actor id or its "name" attribute starts with the value (so a container
//              filter also drops events of other types, as in Docker);
//   image      the actor id or image name (attribute "name" for image events, "image" for
//              others) equals the value, either as is or with tag/digest and docker.io/library
//              stripped (Docker's stripTag: "busybox" matches "busybox:1.36"), or both name the
//              same normalized reference ("busybox:latest" matches "docker.io/library/busybox");
//   label      "k" (the attribute exists) or "k=v" (it has that value): container events carry
//              the container's labels as attributes.
// Values of one key are OR-ed, different keys AND-ed (types.proto). Unknown keys, unknown type
// names and empty label keys are InvalidArgument.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "berth/engine/v1/types.pb.h"
#include "engine/events/event.h"
#include "google/protobuf/repeated_field.h"

namespace berth::engine::events {

class EventFilter {
 public:
  // An empty filter matches every event.
  EventFilter() = default;

  static absl::StatusOr<EventFilter> Parse(
      const google::protobuf::RepeatedPtrField<::berth::engine::v1::Filter>& filters);

  bool Matches(const Event& e) const;

 private:
  // Whether the values of `key` admit the event; true when the key is absent.
  bool Admits(const std::string& key, const Event& e) const;

  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace berth::engine::events
