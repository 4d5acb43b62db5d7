// Process start-up shared by every berth binary: absl flag parsing, glog set-up from
// --log_level, and (for daemons) termination-signal handling.
#pragma once

#include <vector>

#include "absl/strings/string_view.h"

namespace berth {

struct InitOptions {
  // Daemons block SIGTERM/SIGINT/SIGHUP in every thread (call Init before any thread starts)
  // and receive them through WaitForTerminationSignal(); CLIs keep default signal handling.
  bool daemon = true;
};

// Parses flags (exiting with a usage message on bad ones), points glog at stderr with the
// level from --log_level, ignores SIGPIPE. Returns the positional arguments (argv[0] first).
std::vector<char*> InitProcess(int argc, char** argv, absl::string_view usage,
                               const InitOptions& options = {});

// Blocks until SIGTERM or SIGINT arrives (daemons only); returns the signal number. SIGHUP is
// logged and ignored until berth daemons learn to reload their config.
int WaitForTerminationSignal();

// Rewrites "--exec-root=x" to "--exec_root=x" in place (up to a bare "--"), so berth's
// daemons take dockerd-style dashed flags while absl flag names use underscores. Values after
// '=' are left alone.
void NormalizeFlagNames(int argc, char** argv);

// Applies a --log_level value: "trace", "debug", "info", "warning", "error" or a number n >= 0
// (verbose level n). Returns false for anything else.
bool ApplyLogLevel(absl::string_view level);

}  // namespace berth
