#include "engine/containers/filter.h"

#include <re2/re2.h>

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace berth::engine::containers {
namespace {

namespace ev1 = ::berth::engine::v1;

const char* StatusName(ev1::ContainerStatus s) {
  switch (s) {
    case ev1::CONTAINER_STATUS_RUNNING: return "running";
    case ev1::CONTAINER_STATUS_PAUSED: return "paused";
    case ev1::CONTAINER_STATUS_RESTARTING: return "restarting";
    case ev1::CONTAINER_STATUS_REMOVING: return "removing";
    case ev1::CONTAINER_STATUS_EXITED: return "exited";
    case ev1::CONTAINER_STATUS_DEAD: return "dead";
    default: return "created";
  }
}

absl::Time CreatedAt(const ContainerRecord& r) {
  return absl::FromUnixSeconds(r.container().created().seconds()) +
         absl::Nanoseconds(r.container().created().nanos());
}

bool LabelMatches(const google::protobuf::Map<std::string, std::string>& labels,
                  const std::string& want) {
  size_t eq = want.find('=');
  if (eq == std::string::npos) return labels.count(want) > 0;
  auto it = labels.find(want.substr(0, eq));
  return it != labels.end() && it->second == want.substr(eq + 1);
}

absl::StatusOr<absl::Time> ParseTime(const std::string& v) {
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, v, &t, &err)) return t;
  double secs = 0;
  if (absl::SimpleAtod(v, &secs)) return absl::FromUnixNanos(static_cast<int64_t>(secs * 1e9));
  return absl::InvalidArgumentError(absl::StrCat("invalid time value: ", v));
}

}  // namespace

absl::StatusOr<ContainerFilter> ContainerFilter::Parse(
    const google::protobuf::RepeatedPtrField<ev1::Filter>& filters, const ContainerStore& store,
    bool prune) {
  static const std::set<std::string> kPsKeys = {
      "id", "name", "label", "label!", "status", "exited", "ancestor", "before", "since",
      "volume", "network", "health", "publish", "expose", "is-task"};
  static const std::set<std::string> kPruneKeys = {"label", "label!", "until"};
  static const std::set<std::string> kStatuses = {"created", "restarting", "running", "removing",
                                                  "paused",  "exited",     "dead"};
  ContainerFilter f;
  for (const ev1::Filter& kv : filters) {
    const auto& keys = prune ? kPruneKeys : kPsKeys;
    if (!keys.count(kv.key())) {
      return absl::InvalidArgumentError(absl::StrCat("invalid filter '", kv.key(), "'"));
    }
    if (kv.key() == "status" && !kStatuses.count(kv.value())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid filter 'status=", kv.value(),
          "': should be one of created, restarting, running, removing, paused, exited, dead"));
    }
    if (kv.key() == "exited") {
      int code = 0;
      if (!absl::SimpleAtoi(kv.value(), &code)) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid filter 'exited=", kv.value(), "'"));
      }
    }
    if (kv.key() == "name") {
      RE2 re(kv.value());
      if (!re.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("invalid filter 'name=", kv.value(), "'"));
      }
    }
    if (kv.key() == "before" || kv.key() == "since") {
      auto id = store.Resolve(kv.value());
      if (!id.ok()) return id.status();
      auto r = store.Get(*id);
      if (!r.ok()) return r.status();
      (kv.key() == "before" ? f.before_ : f.since_) = CreatedAt(*r);
    }
    if (kv.key() == "until") {
      auto t = ParseTime(kv.value());
      if (!t.ok()) return t.status();
      f.until_ = *t;
    }
    f.values_[kv.key()].push_back(kv.value());
  }
  return f;
}

bool ContainerFilter::Matches(const ContainerRecord& r) const {
  const ev1::Container& c = r.container();
  for (const auto& [key, values] : values_) {
    bool any = false;
    for (const std::string& v : values) {
      bool m = false;
      if (key == "id") {
        m = absl::StartsWith(c.id(), v);
      } else if (key == "name") {
        m = RE2::PartialMatch(c.name(), v);
      } else if (key == "label") {
        m = LabelMatches(c.config().labels(), v);
      } else if (key == "label!") {
        m = !LabelMatches(c.config().labels(), v);
      } else if (key == "status") {
        m = v == StatusName(c.state().status());
      } else if (key == "exited") {
        m = c.state().status() == ev1::CONTAINER_STATUS_EXITED &&
            absl::StrCat(c.state().exit_code()) == v;
      } else if (key == "ancestor") {
        m = r.image_ref() == v || c.image_id() == v ||
            absl::StartsWith(c.image_id(), absl::StrCat("sha256:", v)) ||
            (v.find(':') == std::string::npos && r.image_ref() == v + ":latest");
      } else if (key == "before") {
        m = CreatedAt(r) < *before_;
      } else if (key == "since") {
        m = CreatedAt(r) > *since_;
      } else if (key == "until") {
        m = CreatedAt(r) < *until_;
      } else if (key == "volume") {
        for (const auto& mp : c.mounts()) m |= mp.name() == v || mp.destination() == v;
      } else if (key == "network") {
        m = c.host_config().network_mode() == v ||
            (v == "default" && c.host_config().network_mode().empty());
      } else if (key == "health") {
        m = v == "none" && !c.state().has_health();
      } else if (key == "expose" || key == "publish") {
        for (const auto& p : c.config().exposed_ports()) {
          m |= absl::StrCat(p.port()) == v ||
               absl::StartsWith(v, absl::StrCat(p.port(), "/"));
        }
      } else if (key == "is-task") {
        m = v == "false";
      }
      if (m) {
        any = true;
        break;
      }
    }
    // label! conditions must all hold (Docker ANDs negations).
    if (key == "label!") {
      for (const std::string& v : values) {
        if (LabelMatches(c.config().labels(), v)) return false;
      }
      continue;
    }
    if (!any) return false;
  }
  return true;
}

}  // namespace berth::engine::containers
