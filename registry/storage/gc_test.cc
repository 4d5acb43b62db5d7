#include "registry/storage/gc.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::registry::storage {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::UnorderedElementsAre;

class GcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(std::move(*dir));
    StorageOptions options;
    options.root = dir_->path();
    options.sweep_interval = absl::ZeroDuration();
    options.fsync = false;
    auto s = Storage::Open(options);
    ASSERT_THAT(s, IsOk());
    storage_ = std::move(*s);
  }
  digest::Digest Blob(const std::string& repo, const std::string& content) {
    const digest::Digest d = *digest::Digest::FromBytes(content);
    EXPECT_THAT(storage_->blobs().Write(d, content), IsOk());
    EXPECT_THAT(storage_->repositories().LinkBlob(repo, d), IsOk());
    return d;
  }
  digest::Digest Manifest(const std::string& repo, const digest::Digest& config,
                          const digest::Digest& layer) {
    const std::string body = absl::StrCat(
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)",
        R"("config":{"mediaType":"a/b","size":1,"digest":")", config.ToString(),
        R"("},"layers":[{"mediaType":"a/c","size":1,"digest":")", layer.ToString(), R"("}]})");
    const digest::Digest d = *digest::Digest::FromBytes(body);
    EXPECT_THAT(storage_->repositories().PutManifest(
                    repo, d, "application/vnd.oci.image.manifest.v1+json", body, std::nullopt,
                    {"t"}),
                IsOk());
    return d;
  }
  GcResult Collect(bool dry_run, absl::Duration grace = absl::ZeroDuration()) {
    GcOptions options;
    options.dry_run = dry_run;
    options.grace = grace;
    options.clock = [] { return absl::Now() + absl::Seconds(5); };
    auto r = CollectGarbage(*storage_, options);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : GcResult();
  }

  std::optional<TempDir> dir_;
  std::unique_ptr<Storage> storage_;
};

TEST_F(GcTest, DeletesOnlyUnreferencedBlobs) {
  const digest::Digest config = Blob("r", "config");
  const digest::Digest layer = Blob("r", "layer");
  const digest::Digest orphan = Blob("r", "orphan");
  const digest::Digest manifest = Manifest("r", config, layer);
  // Shared with another repository: referenced from "r", so kept although "s" has no manifest.
  ASSERT_THAT(storage_->repositories().LinkBlob("s", layer), IsOk());

  GcResult dry = Collect(/*dry_run=*/true);
  EXPECT_THAT(dry.deleted, UnorderedElementsAre(orphan));
  EXPECT_TRUE(storage_->repositories().HasBlob("r", orphan));  // dry run: untouched

  GcResult real = Collect(/*dry_run=*/false);
  EXPECT_EQ(real.manifests, 1);
  EXPECT_EQ(real.blobs_marked, 3);
  EXPECT_THAT(real.deleted, UnorderedElementsAre(orphan));
  EXPECT_EQ(real.bytes_deleted, 6u);
  EXPECT_EQ(real.links_removed, 1);
  EXPECT_FALSE(storage_->repositories().HasBlob("r", orphan));
  EXPECT_THAT(storage_->blobs().Size(orphan), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(storage_->repositories().HasBlob("r", layer));
  EXPECT_TRUE(storage_->repositories().HasBlob("s", layer));
  EXPECT_THAT(storage_->repositories().Resolve("r", "t"), IsOk());
  EXPECT_THAT(storage_->blobs().Size(manifest), IsOk());

  // After the manifest goes, its blobs go too.
  ASSERT_THAT(storage_->repositories().DeleteManifest("r", manifest), IsOk());
  GcResult after = Collect(false);
  EXPECT_THAT(after.deleted, UnorderedElementsAre(config, layer, manifest));
  EXPECT_EQ(storage_->blobs().count(), 0);
}

TEST_F(GcTest, GracePeriodProtectsRecentBlobs) {
  const digest::Digest orphan = Blob("r", "fresh");
  EXPECT_EQ(Collect(false, absl::Hours(1)).blobs_deleted, 0);
  EXPECT_TRUE(storage_->repositories().HasBlob("r", orphan));
}

TEST_F(GcTest, UnparseableManifestStopsEverything) {
  const digest::Digest orphan = Blob("r", "orphan");
  const std::string junk = "not json";
  const digest::Digest d = *digest::Digest::FromBytes(junk);
  ASSERT_THAT(storage_->repositories().PutManifest(
                  "r", d, "application/vnd.oci.image.manifest.v1+json", junk, std::nullopt, {}),
              IsOk());
  GcOptions options;
  options.grace = absl::ZeroDuration();
  options.clock = [] { return absl::Now() + absl::Seconds(5); };
  EXPECT_THAT(CollectGarbage(*storage_, options),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(storage_->repositories().HasBlob("r", orphan));
}

}  // namespace
}  // namespace berth::registry::storage
