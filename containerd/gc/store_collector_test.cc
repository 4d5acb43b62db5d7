// StoreCollector over real stores in a temp dir (metadata store, local content store, overlayfs
// snapshotter without mounting): what is collected, what images, containers and leases keep,
// ingests, files a crash left behind, and ingest under a lease racing collections.
#include "containerd/gc/store_collector.h"

#include <sys/stat.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "berth/containerd/events/v1/payloads.pb.h"
#include "common/status/status_macros.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "containerd/events/fake_publisher.h"
#include "containerd/gc/scheduler.h"
#include "containerd/gc/triggering_publisher.h"
#include "containerd/server/service_test_util.h"
#include "containerd/snapshots/overlay_snapshotter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::gc {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

constexpr char kNs[] = "default";
constexpr char kSn[] = "overlayfs";

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

class StoreCollectorTest : public ::testing::Test {
 protected:
  StoreCollectorTest() : metrics_(registry_) {}

  void SetUp() override {
    auto env = server::ServiceTestEnv::Create();
    ASSERT_THAT(env, IsOk());
    env_ = std::move(*env);
    content_ = std::make_unique<content::NamespacedStore>(&env_->metadata(), &env_->blobs());
    snapshots::OverlaySnapshotterOptions overlay_options;
    overlay_options.root = env_->dir().Sub("root");
    overlay_options.probe_mount = false;
    auto overlay = snapshots::OverlaySnapshotter::Create(&env_->metadata(), overlay_options);
    ASSERT_THAT(overlay, IsOk());
    overlay_ = std::move(*overlay);
    MakeCollector(StoreCollectorOptions());
  }

  void MakeCollector(StoreCollectorOptions options) {
    collector_ = std::make_unique<StoreCollector>(
        &env_->metadata(), content_.get(), &env_->blobs(),
        std::map<std::string, snapshots::Snapshotter*>{{kSn, overlay_.get()}}, &publisher_,
        &metrics_, std::move(options));
  }

  // Writes and commits `data` in `ns`, under `lease` when given; returns its digest.
  std::string WriteBlob(const std::string& data, metadata::Labels labels = {},
                        const std::string& lease = "", const std::string& ns = kNs) {
    const std::string ref = absl::StrCat("ref-", ++refs_);
    auto w = content_->OpenWriter(
        ns, ref, lease.empty() ? std::nullopt : std::optional<std::string>(lease), 0, std::nullopt);
    EXPECT_THAT(w, IsOk());
    if (!w.ok()) return "";
    EXPECT_THAT((*w)->Write(0, data), IsOk());
    auto info = (*w)->Commit(static_cast<int64_t>(data.size()), std::nullopt, labels);
    EXPECT_THAT(info, IsOk());
    return info.ok() ? info->digest : "";
  }
  bool FileExists(const std::string& digest) {
    return env_->blobs().Info(*digest::Digest::Parse(digest)).ok();
  }
  bool Recorded(const std::string& digest, const std::string& ns = kNs) {
    return content_->Info(ns, digest).ok();
  }
  std::string SnapshotDir(const std::string& key) {
    absl::StatusOr<int64_t> id = overlay_->SnapshotId(kNs, key);
    return id.ok() ? overlay_->SnapshotDir(*id) : "";
  }
  bool SnapshotExists(const std::string& key) { return overlay_->Stat(kNs, key).ok(); }

  absl::Status Tx(const std::function<absl::Status(metadata::Transaction&)>& fn) {
    return env_->metadata().WithTransaction(fn);
  }
  absl::Status CreateLease(const std::string& id) {
    return Tx([&](metadata::Transaction& tx) {
      return tx.CreateLease(kNs, metadata::Lease{id, {}, {}, {}}).status();
    });
  }
  absl::Status DeleteLease(const std::string& id) {
    return Tx([&](metadata::Transaction& tx) { return tx.DeleteLease(kNs, id); });
  }
  double Removed(const std::string& type) {
    return metrics_.gc_removed.Add({{"type", type}}).Value();
  }

  prometheus::Registry registry_;
  metrics::ContainerdMetrics metrics_;
  events::FakePublisher publisher_;
  std::unique_ptr<server::ServiceTestEnv> env_;
  std::unique_ptr<content::NamespacedStore> content_;
  std::unique_ptr<snapshots::OverlaySnapshotter> overlay_;
  std::unique_ptr<StoreCollector> collector_;
  int refs_ = 0;
};

TEST_F(StoreCollectorTest, UnreferencedBlobAndSnapshotAreCollected) {
  const std::string digest = WriteBlob("nobody wants me");
  ASSERT_THAT(overlay_->Prepare(kNs, "scratch", ""), IsOk());
  const std::string dir = SnapshotDir("scratch");
  ASSERT_TRUE(Exists(dir));
  ASSERT_TRUE(FileExists(digest));

  absl::StatusOr<CollectionStats> stats = collector_->Collect();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->content_records, 1);
  EXPECT_EQ(stats->snapshot_records, 1);
  EXPECT_EQ(stats->blob_files, 1);
  EXPECT_EQ(stats->blob_bytes, 15);
  EXPECT_FALSE(FileExists(digest));
  EXPECT_FALSE(Recorded(digest));
  EXPECT_FALSE(SnapshotExists("scratch"));
  EXPECT_FALSE(Exists(dir)) << "snapshot directory left behind";

  using Event = events::FakePublisher::Event;
  EXPECT_THAT(
      publisher_.events(),
      UnorderedElementsAre(AllOf(Field(&Event::ns, kNs), Field(&Event::topic, "/content/delete"),
                                 Field(&Event::debug, HasSubstr(digest))),
                           AllOf(Field(&Event::topic, "/snapshot/remove"),
                                 Field(&Event::debug, HasSubstr("key: \"scratch\"")),
                                 Field(&Event::debug, HasSubstr("snapshotter: \"overlayfs\"")))));
  EXPECT_EQ(metrics_.gc_runs.Add({{"result", "ok"}}).Value(), 1);
  EXPECT_EQ(metrics_.gc_duration.Collect().histogram.sample_count, 1u);
  EXPECT_EQ(Removed("content"), 1);
  EXPECT_EQ(Removed("snapshot"), 1);
  EXPECT_EQ(Removed("blob_file"), 1);
  EXPECT_EQ(metrics_.content_blobs.Value(), 0);

  // Nothing left: a second collection removes nothing.
  stats = collector_->Collect();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->content_records + stats->snapshot_records + stats->blob_files, 0);
}

TEST_F(StoreCollectorTest, ImagesContainersAndLeasesKeepWhatTheyReference) {
  // An image: manifest -> config + layer.
  const std::string layer = WriteBlob("layer bytes");
  const std::string config = WriteBlob("{\"config\":1}");
  const std::string manifest = WriteBlob(
      "{\"manifest\":1}",
      {{"berth.io/gc.ref.content.config", config}, {"berth.io/gc.ref.content.l.0", layer}});
  // A container whose rootfs sits on a committed layer.
  ASSERT_THAT(overlay_->Prepare(kNs, "unpack", ""), IsOk());
  ASSERT_THAT(overlay_->Commit(kNs, "layer0", "unpack"), IsOk());
  ASSERT_THAT(overlay_->Prepare(kNs, "c1-rootfs", "layer0"), IsOk());
  // A pull in progress under a lease: a blob and a snapshot nothing else references.
  ASSERT_THAT(CreateLease("pull"), IsOk());
  const std::string pulled = WriteBlob("pulled layer", {}, "pull");
  ASSERT_THAT(overlay_->Prepare(kNs, "extract", ""), IsOk());
  ASSERT_THAT(Tx([](metadata::Transaction& tx) {
                return tx.AddLeaseResource(kNs, "pull", {"snapshots/overlayfs", "extract"});
              }),
              IsOk());
  ASSERT_THAT(Tx([&](metadata::Transaction& tx) -> absl::Status {
                metadata::Image image;
                image.name = "docker.io/library/alpine:3.19";
                image.target = {"application/vnd.oci.image.manifest.v1+json", manifest, 10, {}, ""};
                BERTH_RETURN_IF_ERROR(tx.CreateImage(kNs, image).status());
                metadata::Container c;
                c.id = "c1";
                c.snapshotter = kSn;
                c.snapshot_key = "c1-rootfs";
                return tx.CreateContainer(kNs, c).status();
              }),
              IsOk());
  // And garbage beside it.
  const std::string stray = WriteBlob("stray");
  ASSERT_THAT(overlay_->Prepare(kNs, "stray-snapshot", "layer0"), IsOk());

  const std::string layer0_dir = SnapshotDir("layer0");
  const std::string rootfs_dir = SnapshotDir("c1-rootfs");
  const std::string extract_dir = SnapshotDir("extract");

  absl::StatusOr<CollectionStats> stats = collector_->Collect();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->content_records, 1);
  EXPECT_EQ(stats->snapshot_records, 1);
  EXPECT_FALSE(FileExists(stray));
  EXPECT_FALSE(SnapshotExists("stray-snapshot"));
  for (const std::string& d : {layer, config, manifest, pulled}) {
    EXPECT_TRUE(FileExists(d) && Recorded(d)) << d;
  }
  for (const char* key : {"layer0", "c1-rootfs", "extract"}) EXPECT_TRUE(SnapshotExists(key));
  EXPECT_EQ(metrics_.content_blobs.Value(), 4);

  // Deleting the image releases its blobs.
  ASSERT_THAT(Tx([](metadata::Transaction& tx) {
                return tx.DeleteImage(kNs, "docker.io/library/alpine:3.19");
              }),
              IsOk());
  stats = collector_->Collect();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->blob_files, 3);
  for (const std::string& d : {layer, config, manifest}) EXPECT_FALSE(FileExists(d)) << d;
  EXPECT_TRUE(FileExists(pulled));
  EXPECT_TRUE(SnapshotExists("c1-rootfs"));

  // Deleting the container releases its rootfs and, with it, the layer under it.
  ASSERT_THAT(Tx([](metadata::Transaction& tx) { return tx.DeleteContainer(kNs, "c1"); }), IsOk());
  stats = collector_->Collect();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->snapshot_records, 2);
  EXPECT_FALSE(SnapshotExists("c1-rootfs"));
  EXPECT_FALSE(SnapshotExists("layer0"));
  EXPECT_FALSE(Exists(rootfs_dir));
  EXPECT_FALSE(Exists(layer0_dir));
  EXPECT_TRUE(Exists(extract_dir));

  // Deleting the lease releases the pull's blob and snapshot.
  ASSERT_THAT(DeleteLease("pull"), IsOk());
  stats = collector_->Collect();
  ASSERT_THAT(stats, IsOk());
  EXPECT_FALSE(FileExists(pulled));
  EXPECT_FALSE(SnapshotExists("extract"));
  EXPECT_FALSE(Exists(extract_dir));
  EXPECT_EQ(metrics_.content_blobs.Value(), 0);
}

TEST_F(StoreCollectorTest, ExpiredLeasesAreDeletedWithWhatOnlyTheyHeld) {
  ASSERT_THAT(Tx([](metadata::Transaction& tx) {
                return tx.CreateLease(kNs, metadata::Lease{"short", {}, {}, tx.now()}).status();
              }),
              IsOk());
  ASSERT_THAT(CreateLease("long"), IsOk());
  const std::string a = WriteBlob("held by the expired lease", {}, "short");
  const std::string b = WriteBlob("held by the live lease", {}, "long");
  absl::StatusOr<CollectionStats> stats = collector_->Collect();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->leases, 1);
  EXPECT_FALSE(FileExists(a));
  EXPECT_TRUE(FileExists(b));
  EXPECT_EQ(Removed("lease"), 1);
}

TEST_F(StoreCollectorTest, IdleIngestsOutsideLeasesAreAbortedLeasedOnesKept) {
  StoreCollectorOptions options;
  options.ingest_idle_timeout = absl::ZeroDuration();  // every unleased ingest is idle
  MakeCollector(options);
  ASSERT_THAT(CreateLease("dl"), IsOk());
  const std::string data = "0123456789abcdef";
  {
    auto leased = content_->OpenWriter(kNs, "leased", std::string("dl"), 0, std::nullopt);
    ASSERT_THAT(leased, IsOk());
    ASSERT_THAT((*leased)->Write(0, data.substr(0, 8)), IsOk());
    auto loose = content_->OpenWriter(kNs, "loose", std::nullopt, 0, std::nullopt);
    ASSERT_THAT(loose, IsOk());
    ASSERT_THAT((*loose)->Write(0, "abc"), IsOk());
  }  // both closed, resumable
  // A writer that holds its ingest right now is busy, however old its last write.
  auto busy = content_->OpenWriter(kNs, "busy", std::nullopt, 0, std::nullopt);
  ASSERT_THAT(busy, IsOk());

  absl::StatusOr<CollectionStats> stats = collector_->Collect();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->ingests, 1);
  EXPECT_THAT(content_->Status(kNs, "loose"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(content_->Status(kNs, "busy"), IsOk());
  ASSERT_THAT(content_->Status(kNs, "leased"), IsOk());
  EXPECT_EQ(Removed("ingest"), 1);

  // The leased ingest resumes where it was and commits; the lease now keeps the blob.
  auto resumed = content_->OpenWriter(kNs, "leased", std::string("dl"), 0, std::nullopt);
  ASSERT_THAT(resumed, IsOk());
  EXPECT_EQ((*resumed)->offset(), 8);
  ASSERT_THAT((*resumed)->Write(8, data.substr(8)), IsOk());
  auto info = (*resumed)->Commit(static_cast<int64_t>(data.size()), std::nullopt, {});
  ASSERT_THAT(info, IsOk());
  ASSERT_THAT(collector_->Collect(), IsOk());
  EXPECT_TRUE(FileExists(info->digest));

  ASSERT_THAT(DeleteLease("dl"), IsOk());
  ASSERT_THAT(collector_->Collect(), IsOk());
  EXPECT_FALSE(FileExists(info->digest));
}

TEST_F(StoreCollectorTest, FilesWithoutRecordsAreRemovedSharedOnesKept) {
  // A blob file committed to the content store whose record was never added (a crash between
  // the two), and one another namespace holds as a root.
  auto w = env_->blobs().OpenWriter("crashed", 0, std::nullopt);
  ASSERT_THAT(w, IsOk());
  ASSERT_THAT((*w)->Write(0, "orphan"), IsOk());
  auto orphan = (*w)->Commit(6, std::nullopt);
  ASSERT_THAT(orphan, IsOk());
  const std::string shared = WriteBlob("shared", {{"berth.io/gc.root", "x"}}, "", "other");
  ASSERT_EQ(WriteBlob("shared"), shared);  // "default" holds it too, unreferenced

  absl::StatusOr<CollectionStats> stats = collector_->Collect();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->blob_files, 1);
  EXPECT_FALSE(FileExists(orphan->digest.ToString()));
  EXPECT_TRUE(FileExists(shared));
  EXPECT_FALSE(Recorded(shared, "default"));
  EXPECT_TRUE(Recorded(shared, "other"));
  EXPECT_EQ(metrics_.content_blobs.Value(), 1);
  EXPECT_EQ(metrics_.content_bytes.Value(), 6);
}

TEST_F(StoreCollectorTest, IngestUnderALeaseSurvivesConcurrentCollections) {
  ASSERT_THAT(CreateLease("busy-pull"), IsOk());
  constexpr int kBlobs = 60;
  std::atomic<bool> done{false};
  std::atomic<int> collections{0};
  std::thread gc([&] {
    while (!done) {
      EXPECT_THAT(collector_->Collect(), IsOk());
      ++collections;
    }
  });
  std::vector<std::string> digests;
  for (int i = 0; i < kBlobs; ++i) {
    // Written in pieces, so collections run while an ingest is half-way.
    const std::string ref = absl::StrCat("layer-", i);
    const std::string data = absl::StrCat("layer ", i, std::string(4096, 'x'));
    auto w = content_->OpenWriter(kNs, ref, std::string("busy-pull"), 0, std::nullopt);
    ASSERT_THAT(w, IsOk());
    ASSERT_THAT((*w)->Write(0, data.substr(0, 100)), IsOk());
    ASSERT_THAT((*w)->Close(), IsOk());
    auto again = content_->OpenWriter(kNs, ref, std::string("busy-pull"), 0, std::nullopt);
    ASSERT_THAT(again, IsOk());
    ASSERT_THAT((*again)->Write(100, data.substr(100)), IsOk());
    auto info = (*again)->Commit(static_cast<int64_t>(data.size()), std::nullopt, {});
    ASSERT_THAT(info, IsOk());
    digests.push_back(info->digest);
  }
  // At least a few collections overlapped the writes.
  ASSERT_TRUE(berth::testing::WaitFor([&] { return collections >= 3; }, absl::Seconds(30)));
  done = true;
  gc.join();
  for (const std::string& d : digests) EXPECT_TRUE(FileExists(d) && Recorded(d)) << d;

  ASSERT_THAT(DeleteLease("busy-pull"), IsOk());
  ASSERT_THAT(collector_->Collect(), IsOk());
  for (const std::string& d : digests) EXPECT_FALSE(FileExists(d)) << d;
}

// As berth-containerd wires it: a service's deletion event reaches the exchange (here the fake
// publisher) and triggers a background collection that removes what the deletion freed.
TEST_F(StoreCollectorTest, DeletionEventTriggersABackgroundCollection) {
  const std::string digest = WriteBlob("image manifest");
  ASSERT_THAT(Tx([&](metadata::Transaction& tx) {
                metadata::Image image;
                image.name = "img";
                image.target = {"application/vnd.oci.image.manifest.v1+json", digest, 14, {}, ""};
                return tx.CreateImage(kNs, image).status();
              }),
              IsOk());
  SchedulerOptions options;
  options.delay = absl::Milliseconds(10);
  options.min_interval = absl::Milliseconds(10);
  options.period = absl::InfiniteDuration();
  options.collect_at_start = false;
  Scheduler scheduler(collector_.get(), options);
  TriggeringPublisher services_publisher(&publisher_, &scheduler);

  // An unrelated event triggers nothing.
  ASSERT_THAT(services_publisher.Publish(kNs, "/images/create", events::v1::ImageCreate()), IsOk());
  ASSERT_THAT(Tx([](metadata::Transaction& tx) { return tx.DeleteImage(kNs, "img"); }), IsOk());
  EXPECT_EQ(scheduler.state().runs, 0);
  EXPECT_TRUE(FileExists(digest));

  events::v1::ImageDelete deleted;
  deleted.set_name("img");
  ASSERT_THAT(services_publisher.Publish(kNs, "/images/delete", deleted), IsOk());
  EXPECT_TRUE(berth::testing::WaitFor([&] { return !FileExists(digest); }, absl::Seconds(10)));
  // One collection answered it (its count moves when Collect returns).
  EXPECT_TRUE(
      berth::testing::WaitFor([&] { return scheduler.state().runs == 1; }, absl::Seconds(10)));
  scheduler.Stop();
  EXPECT_EQ(scheduler.state().runs, 1);
}

}  // namespace
}  // namespace berth::containerd::gc
