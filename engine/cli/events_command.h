// `berth events`: streams berthd's events (System.Events) like `docker events`. The helpers
// here shape one event the way the docker CLI prints it.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "berth/engine/v1/system.pb.h"
#include "engine/cli/commands.h"

namespace berth::cli {

std::unique_ptr<Command> NewEventsCommand();

// Docker's default line: "<RFC 3339 time, 9 fraction digits, UTC> <type> <action> <actor id>"
// and, when there are attributes, " (k1=v1, k2=v2)" sorted by key.
std::string EventLine(const engine::v1::Event& e);

// What `--format json` prints (one object per line): Docker's events.Message JSON, with the
// deprecated "status", "id" and "from" of container and image events, "Type", "Action",
// "Actor" {"ID", "Attributes"}, "scope", "time" (Unix seconds) and "timeNano".
nlohmann::ordered_json EventJson(const engine::v1::Event& e);

// The data of --format templates: events.Message's Go field names (.Type, .Action, .Actor.ID,
// .Actor.Attributes, .Status, .ID, .From, .Scope, .Time, .TimeNano), as the docker CLI's
// templates see them.
nlohmann::ordered_json EventTemplateData(const engine::v1::Event& e);

}  // namespace berth::cli
