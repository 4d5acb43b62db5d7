// A temporary directory for a test, removed (recursively) when the object dies.
//
// It lives under /tmp with a short name, not under $TEST_TMPDIR, because Bazel's test temp
// paths are already ~105 bytes long and unix socket paths are limited to 107.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::testing {

class TempDir {
 public:
  // Creates /tmp/berth-test-<random>/ with mode 0700.
  static absl::StatusOr<TempDir> Create();

  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) = delete;
  TempDir(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string Sub(absl::string_view name) const;

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Removes `path` and everything under it without following symlinks. Missing is fine.
void RemoveTree(const std::string& path);

}  // namespace berth::testing
