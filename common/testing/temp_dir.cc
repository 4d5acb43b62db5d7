#include "common/testing/temp_dir.h"

#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"

namespace berth::testing {

absl::StatusOr<TempDir> TempDir::Create() {
  char templ[] = "/tmp/berth-test-XXXXXX";
  if (mkdtemp(templ) == nullptr) return absl::ErrnoToStatus(errno, "mkdtemp");
  return TempDir(templ);
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) {
  other.path_.clear();
}

TempDir::~TempDir() {
  if (!path_.empty()) RemoveTree(path_);
}

std::string TempDir::Sub(absl::string_view name) const { return absl::StrCat(path_, "/", name); }

void RemoveTree(const std::string& path) {
  nftw(
      path.c_str(),
      [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p) == 0 ? 0 : 0; },
      64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

}  // namespace berth::testing
