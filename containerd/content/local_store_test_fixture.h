// The fixture and helpers that the local store's test files share. Test-only.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/digest/digest.h"
#include "common/digest/hasher.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "containerd/content/content_util.h"
#include "containerd/content/local_store.h"
#include "gtest/gtest.h"

namespace berth::containerd::content::testing {

inline constexpr int64_t kMiB = 1 << 20;

inline std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

inline digest::Digest Sha256(absl::string_view data) { return *digest::Digest::FromBytes(data); }

inline digest::Digest Sha512(absl::string_view data) {
  digest::Sha512Hasher h;
  h.Update(data);
  return *h.Finish();
}

inline bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

inline mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// A LocalStore on a fresh temp directory, with a clock the test can move forward.
class LocalStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<::berth::testing::TempDir> dir = ::berth::testing::TempDir::Create();
    ASSERT_THAT(dir, ::berth::testing::IsOk());
    tmp_.emplace(std::move(*dir));
    dir_ = tmp_->Sub("content");
    Reopen();
  }

  // A new store object on the same directory, as after a daemon restart.
  void Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<LocalStore>> store = LocalStore::Create(Options());
    ASSERT_THAT(store, ::berth::testing::IsOk());
    store_ = *std::move(store);
  }

  LocalStoreOptions Options() {
    LocalStoreOptions options;
    options.dir = dir_;
    // Real time plus a skew the test moves: the data file's mtime is real time, so the clock
    // can only run ahead of it.
    options.now = [this] { return absl::Now() + absl::Seconds(skew_seconds_.load()); };
    return options;
  }

  std::string IngestDir(absl::string_view ref) const {
    return absl::StrCat(dir_, "/ingest/", Sha256(ref).hex());
  }

  std::unique_ptr<Writer> Open(absl::string_view ref, int64_t total = 0,
                               std::optional<digest::Digest> expected = std::nullopt) {
    absl::StatusOr<std::unique_ptr<Writer>> w = store_->OpenWriter(ref, total, expected);
    EXPECT_THAT(w, ::berth::testing::IsOk());
    return w.ok() ? *std::move(w) : nullptr;
  }

  digest::Digest Put(absl::string_view ref, absl::string_view data) {
    absl::StatusOr<digest::Digest> d = WriteBlob(*store_, ref, data, std::nullopt);
    EXPECT_THAT(d, ::berth::testing::IsOk());
    return d.ok() ? *d : Sha256(data);
  }

  // Reads [offset, offset+size) through Read, checking that chunks are contiguous and <= 1 MiB.
  absl::StatusOr<std::string> ReadRange(const digest::Digest& d, int64_t offset, int64_t size) {
    std::string out;
    int64_t next = offset;
    absl::Status s = store_->Read(d, offset, size, [&](int64_t pos, absl::string_view chunk) {
      EXPECT_EQ(pos, next);
      EXPECT_LE(static_cast<int64_t>(chunk.size()), kMiB);
      EXPECT_FALSE(chunk.empty());
      next += static_cast<int64_t>(chunk.size());
      out.append(chunk.data(), chunk.size());
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  std::vector<std::string> BlobDigests() {
    std::vector<std::string> out;
    EXPECT_THAT(store_->Walk([&](const BlobInfo& info) {
      out.push_back(info.digest.ToString());
      return absl::OkStatus();
    }),
                ::berth::testing::IsOk());
    return out;
  }

  std::optional<::berth::testing::TempDir> tmp_;
  std::string dir_;
  std::atomic<int64_t> skew_seconds_{0};
  std::unique_ptr<LocalStore> store_;
};

}  // namespace berth::containerd::content::testing
