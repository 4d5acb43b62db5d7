#include "common/testing/runfiles.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace berth::testing {

std::string RunfilePath(absl::string_view workspace_relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr) return std::string(workspace_relative);  // run by hand from the root
  return absl::StrCat(srcdir, "/", workspace != nullptr ? workspace : "berth", "/",
                      workspace_relative);
}

}  // namespace berth::testing
