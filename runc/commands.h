// berth-runc's commands, behind main.cc's global flag parsing.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace berth::runc {

struct Globals {
  std::string root = "/run/berth-runc";
  std::string log;  // empty: stderr
  std::string log_format = "text";
  bool debug = false;
};

// Runs `cmd` with its arguments; returns the process exit code (1 for berth-runc's own
// errors, the container process's code for run/exec in the foreground).
int RunCommand(const Globals& g, const std::string& cmd, const std::vector<std::string>& args);

// Logs an error to --log (in --log-format) or stderr, the way runc does, so shims that parse
// runc's log find the message.
void LogError(const Globals& g, absl::string_view message);
void LogWarning(const Globals& g, absl::string_view message);

}  // namespace berth::runc
