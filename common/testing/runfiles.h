// Paths of files a test declared in its `data` attribute.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace berth::testing {

// Absolute path of a workspace-relative file in the test's runfiles, e.g.
// RunfilePath("engine/berthd").
std::string RunfilePath(absl::string_view workspace_relative);

}  // namespace berth::testing
