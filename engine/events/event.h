// Event: one entry of berthd's event journal, the in-memory form of berth.engine.v1.Event
// (Docker's events message): what kind of object (type), what happened to it (action, e.g.
// "start"), which object (actor id) with Docker's attributes (name, image, exitCode, labels, ...),
// and when. `seq` orders events: it grows by one per published event and survives restarts.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "berth/engine/v1/system.pb.h"

namespace berth::engine::events {

namespace v1 = ::berth::engine::v1;

struct Event {
  uint64_t seq = 0;
  v1::EventType type = v1::EVENT_TYPE_UNSPECIFIED;
  std::string action;
  std::string actor_id;
  std::map<std::string, std::string> attributes;
  absl::Time time;
};

// Docker's lower-case type names: "container", "image", "volume", "network", "daemon",
// "builder"; "" for EVENT_TYPE_UNSPECIFIED.
std::string TypeName(v1::EventType type);
// The reverse of TypeName; false for an unknown name.
bool ParseTypeName(absl::string_view name, v1::EventType* type);

// The wire form.
v1::Event ToProto(const Event& e);

}  // namespace berth::engine::events
