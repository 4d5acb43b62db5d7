// `berth-runc features` and the JSON of `events --stats`.
#pragma once

#include <string>
#include <vector>

#include "runc/cgroups/manager.h"
#include "runc/commands.h"

namespace berth::runc {

// Prints the runtime-spec "features" document (features.md): what this build of berth-runc
// supports, so a shim or engine can check before creating containers.
int CmdFeatures(const Globals& g, const std::vector<std::string>& args);

// runc's stats event: {"type":"stats","id":...,"data":{"cpu":...,"memory":...,"pids":...}}.
std::string StatsEventJson(const std::string& id, const cgroups::Stats& stats);

}  // namespace berth::runc
