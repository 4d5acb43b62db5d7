#include "engine/events/event_filter.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/reference/reference.h"

namespace berth::engine::events {
namespace {

const std::set<std::string>& Keys() {
  static const auto* keys = new std::set<std::string>{"type",   "event",   "container", "image",
                                                      "volume", "network", "label",     "daemon"};
  return *keys;
}

std::string Attribute(const Event& e, const std::string& key) {
  auto it = e.attributes.find(key);
  return it == e.attributes.end() ? std::string() : it->second;
}

// Docker's stripTag: the familiar repository name without tag or digest, or the input when it
// is no reference.
std::string StripTag(const std::string& image) {
  absl::StatusOr<reference::Reference> r = reference::ParseNormalized(image);
  return r.ok() ? r->FamiliarName() : image;
}

// The full normalized reference with Docker's default tag, or "" when `image` is none.
std::string Normalized(const std::string& image) {
  absl::StatusOr<reference::Reference> r = reference::ParseWithDefaultTag(image);
  return r.ok() ? r->String() : std::string();
}

bool LabelMatches(const std::map<std::string, std::string>& attributes, const std::string& want) {
  const size_t eq = want.find('=');
  if (eq == std::string::npos) return attributes.count(want) > 0;
  auto it = attributes.find(want.substr(0, eq));
  return it != attributes.end() && it->second == want.substr(eq + 1);
}

}  // namespace

absl::StatusOr<EventFilter> EventFilter::Parse(
    const google::protobuf::RepeatedPtrField<::berth::engine::v1::Filter>& filters) {
  EventFilter f;
  for (const auto& c : filters) {
    if (Keys().count(c.key()) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("invalid filter '", c.key(), "'"));
    }
    if (c.key() == "type") {
      v1::EventType t;
      if (!ParseTypeName(c.value(), &t)) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid filter 'type=", c.value(),
                         "': expected container, image, volume, network, daemon or builder"));
      }
    }
    if (c.key() == "label" && (c.value().empty() || c.value()[0] == '=')) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid filter 'label=", c.value(), "': the label key is empty"));
    }
    f.values_[c.key()].push_back(c.value());
  }
  return f;
}

bool EventFilter::Admits(const std::string& key, const Event& e) const {
  auto it = values_.find(key);
  if (it == values_.end()) return true;
  for (const std::string& v : it->second) {
    if (key == "type") {
      if (TypeName(e.type) == v) return true;
    } else if (key == "event") {
      // Docker matches these by prefix because its actions carry the command after a colon.
      const bool fuzzy = v == "exec_create" || v == "exec_start" || v == "health_status";
      if (e.action == v || (fuzzy && absl::StartsWith(e.action, v))) return true;
    } else if (key == "image") {
      const std::string name =
          Attribute(e, e.type == v1::EVENT_TYPE_IMAGE ? std::string("name") : "image");
      if (e.actor_id == v || name == v) return true;
      if (StripTag(e.actor_id) == v || (!name.empty() && StripTag(name) == v)) return true;
      // Beyond Docker: the same image written differently ("busybox:latest" and
      // "docker.io/library/busybox:latest").
      if (!name.empty() && Normalized(name) == Normalized(v) && !Normalized(v).empty()) {
        return true;
      }
    } else if (key == "label") {
      if (LabelMatches(e.attributes, v)) return true;
    } else {
      // container, volume, network, daemon: Docker's FuzzyMatch on the id and the name.
      if (absl::StartsWith(e.actor_id, v) || absl::StartsWith(Attribute(e, "name"), v)) {
        return true;
      }
    }
  }
  return false;
}

bool EventFilter::Matches(const Event& e) const {
  for (const auto& [key, values] : values_) {
    if (!Admits(key, e)) return false;
  }
  return true;
}

}  // namespace berth::engine::events
