// Test helpers for the metadata store: a settable clock and a fixture that opens a Store in a
// fresh temp dir with it.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "containerd/metadata/store.h"
#include "gtest/gtest.h"

namespace berth::containerd::metadata::testing {

// A clock tests move by hand; thread-safe.
class FakeClock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000)) : now_(start) {}
  absl::Time Now() const {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

inline const std::string kDigestA =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
inline const std::string kDigestB =
    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
inline const std::string kDigestC =
    "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

// A digest made from a number, for tests that need many.
inline std::string DigestOf(int n) {
  std::string hex = absl::StrCat(absl::Hex(n, absl::kZeroPad16));
  return absl::StrCat("sha256:", std::string(64 - hex.size(), '0'), hex);
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<berth::testing::TempDir> dir = berth::testing::TempDir::Create();
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<berth::testing::TempDir>(std::move(*dir));
    Reopen();
  }

  StoreOptions Options() {
    StoreOptions options;
    options.clock = [this] { return clock_.Now(); };
    return options;
  }

  // Closes the store (if open) and opens it again on the same directory.
  void Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_->Sub("root"), Options());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  // Runs fn in a write transaction.
  template <typename Fn>
  auto Tx(Fn&& fn) {
    return store_->WithTransaction(std::forward<Fn>(fn));
  }
  template <typename Fn>
  auto ReadTx(Fn&& fn) {
    return store_->WithReadTransaction(std::forward<Fn>(fn));
  }

  FakeClock clock_;
  std::unique_ptr<berth::testing::TempDir> dir_;
  std::unique_ptr<Store> store_;
};

}  // namespace berth::containerd::metadata::testing
