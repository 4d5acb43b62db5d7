#include "engine/events/event.h"

#include <google/protobuf/util/time_util.h>

#include <utility>

namespace berth::engine::events {
namespace {

constexpr std::pair<v1::EventType, const char*> kTypeNames[] = {
    {v1::EVENT_TYPE_CONTAINER, "container"}, {v1::EVENT_TYPE_IMAGE, "image"},
    {v1::EVENT_TYPE_VOLUME, "volume"},       {v1::EVENT_TYPE_NETWORK, "network"},
    {v1::EVENT_TYPE_DAEMON, "daemon"},       {v1::EVENT_TYPE_BUILDER, "builder"},
};

}  // namespace

std::string TypeName(v1::EventType type) {
  for (const auto& [t, name] : kTypeNames) {
    if (t == type) return name;
  }
  return "";
}

bool ParseTypeName(absl::string_view name, v1::EventType* type) {
  for (const auto& [t, n] : kTypeNames) {
    if (name == n) {
      *type = t;
      return true;
    }
  }
  return false;
}

v1::Event ToProto(const Event& e) {
  v1::Event out;
  out.set_type(e.type);
  out.set_action(e.action);
  out.set_actor_id(e.actor_id);
  for (const auto& [k, v] : e.attributes) (*out.mutable_attributes())[k] = v;
  *out.mutable_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(e.time));
  return out;
}

}  // namespace berth::engine::events
