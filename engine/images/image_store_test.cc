#include "engine/images/image_store.h"

#include "common/digest/digest.h"
#include "common/testing/status_matchers.h"
#include "engine/images/archive.h"
#include "engine/images/fake_backend.h"
#include "engine/images/tar_writer.h"
#include "gtest/gtest.h"

namespace berth::engine::images {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string TarFile(const std::string& name, const std::string& data) {
  return tar::Header(name, static_cast<int64_t>(data.size()), false) + data +
         tar::Padding(static_cast<int64_t>(data.size()));
}

std::string RootfsTar(const std::string& marker = "hello") {
  return tar::Header("bin/", 0, true) + TarFile("bin/sh", "#!fake shell " + marker) + tar::End();
}

class ImageStoreTest : public ::testing::Test {
 protected:
  ImageStoreTest() : store_(fake_.backend(), Options()) {}
  static ImageStoreOptions Options() {
    ImageStoreOptions o;
    o.clock = [] { return absl::FromUnixSeconds(1700000000); };
    return o;
  }
  absl::StatusOr<std::string> Import(const std::string& ref, std::vector<std::string> changes = {},
                                     const std::string& data = RootfsTar()) {
    ImportOptions o;
    o.reference = ref;
    o.changes = std::move(changes);
    StringSource src(data, 100);
    return store_.Import(o, src);
  }
  void ExpectEmpty() {
    EXPECT_EQ(fake_.BlobCount(), 0u);
    EXPECT_EQ(fake_.SnapshotCount(), 0u);
    EXPECT_EQ(fake_.LeaseCount(), 0u);
    EXPECT_EQ(fake_.IngestCount(), 0u);
    auto all = store_.List();
    ASSERT_THAT(all, IsOk());
    EXPECT_THAT(*all, IsEmpty());
  }
  std::string Save(const std::vector<std::string>& refs) {
    auto s = SaveStream::Create(store_, refs, v1::IMAGE_ARCHIVE_FORMAT_DOCKER_ARCHIVE);
    EXPECT_THAT(s, IsOk());
    if (!s.ok()) return "";
    std::string out, chunk;
    while (true) {
      auto more = (*s)->Next(&chunk);
      EXPECT_THAT(more, IsOk());
      if (!more.ok() || !*more) break;
      out += chunk;
    }
    return out;
  }

  FakeBackend fake_;
  ImageStore store_;
};

TEST_F(ImageStoreTest, ImportBuildsConfigManifestRecordAndSnapshot) {
  auto id = Import("busybox", {"CMD [\"sh\"]", "ENV A=1", "WORKDIR /w", "EXPOSE 80/udp"});
  ASSERT_THAT(id, IsOk());
  EXPECT_THAT(*id, HasSubstr("sha256:"));
  auto img = store_.Inspect("busybox");
  ASSERT_THAT(img, IsOk());
  EXPECT_EQ(img->id(), *id);
  EXPECT_THAT(img->repo_tags(), ElementsAre("busybox:latest"));
  EXPECT_THAT(img->config().cmd(), ElementsAre("sh"));
  EXPECT_THAT(img->config().env(), ElementsAre("A=1"));
  EXPECT_EQ(img->config().working_dir(), "/w");
  ASSERT_EQ(img->config().exposed_ports_size(), 1);
  EXPECT_EQ(img->config().exposed_ports(0).port(), 80u);
  EXPECT_EQ(img->architecture(), "amd64");
  EXPECT_EQ(img->os(), "linux");
  const std::string layer = digest::Digest::FromBytes(RootfsTar())->ToString();
  EXPECT_THAT(img->root_fs().layers(), ElementsAre(layer));
  EXPECT_EQ(img->size(), static_cast<int64_t>(RootfsTar().size()));
  EXPECT_EQ(img->created().seconds(), 1700000000);
  ASSERT_EQ(img->history_size(), 1);
  EXPECT_EQ(img->history(0).comment(), "Imported from -");
  EXPECT_EQ(img->target().media_type(), oci::kMediaTypeManifest);
  // The layer is unpacked under its chain id (= diff id for one layer); the lease is gone.
  EXPECT_THAT(fake_.SnapshotNames(), ElementsAre(layer));
  EXPECT_EQ(fake_.LeaseCount(), 0u);
  // Garbage collection keeps everything the image references.
  fake_.Collect();
  EXPECT_EQ(fake_.BlobCount(), 3u);
  EXPECT_EQ(fake_.SnapshotCount(), 1u);
}

TEST_F(ImageStoreTest, ImportWithoutReferenceIsDanglingAndResolvableById) {
  auto id = Import("");
  ASSERT_THAT(id, IsOk());
  auto list = store_.ListSummaries(v1::ListImagesRequest());
  ASSERT_THAT(list, IsOk());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_THAT((*list)[0].repo_tags(), IsEmpty());
  v1::ListImagesRequest dangling;
  auto* f = dangling.add_filters();
  f->set_key("dangling");
  f->set_value("false");
  EXPECT_THAT(*store_.ListSummaries(dangling), IsEmpty());
  EXPECT_THAT(store_.Resolve(id->substr(7, 12)), IsOk());
  EXPECT_THAT(store_.Resolve(*id), IsOk());
  EXPECT_THAT(store_.Resolve(id->substr(7)), IsOk());
  auto pruned = store_.Prune(v1::PruneImagesRequest());
  ASSERT_THAT(pruned, IsOk());
  ASSERT_EQ(pruned->entries_size(), 1);
  EXPECT_EQ(pruned->entries(0).deleted(), *id);
  ExpectEmpty();
}

TEST_F(ImageStoreTest, BadImportsLeaveNothing) {
  EXPECT_THAT(Import("busybox", {}, "this is not a tarball at all"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a tar archive")));
  ExpectEmpty();
  EXPECT_THAT(Import("busybox", {}, std::string("BZh91AY&SY") + std::string(600, 'x')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bzip2")));
  ExpectEmpty();
  fake_.FailNextApply(absl::FailedPreconditionError("broken tar"));
  EXPECT_THAT(Import("busybox"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("broken tar")));
  ExpectEmpty();
  EXPECT_THAT(Import("Bad/Name"), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("repository name must be lowercase")));
  EXPECT_THAT(
      Import("busybox", {"RUN true"}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("run is not a valid change command")));
  EXPECT_THAT(Import("busybox", {"ONBUILD RUN x"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ONBUILD")));
  ExpectEmpty();
}

TEST_F(ImageStoreTest, ResolveErrors) {
  EXPECT_THAT(store_.Resolve("foo"),
              StatusIs(absl::StatusCode::kNotFound, "No such image: foo:latest"));
  EXPECT_THAT(store_.Resolve("FOO"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must be lowercase")));
  EXPECT_THAT(store_.Resolve("sha256:" + std::string(64, 'a')),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("No such image")));
}

TEST_F(ImageStoreTest, TagUntagAndDelete) {
  auto id = Import("busybox");
  ASSERT_THAT(id, IsOk());
  ASSERT_THAT(store_.Tag("busybox", "localhost:5000/bb:v1"), IsOk());
  EXPECT_THAT(store_.Tag("busybox", "bb@sha256:" + std::string(64, 'a')),
              StatusIs(absl::StatusCode::kInvalidArgument));
  auto img = store_.Inspect(*id);
  ASSERT_THAT(img, IsOk());
  EXPECT_THAT(img->repo_tags(), ElementsAre("busybox:latest", "localhost:5000/bb:v1"));
  // By id with two names: refused without force.
  EXPECT_THAT(store_.Remove(*id, false),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("referenced in multiple repositories")));
  auto removed = store_.Remove("localhost:5000/bb:v1", false);
  ASSERT_THAT(removed, IsOk());
  ASSERT_EQ(removed->size(), 1u);
  EXPECT_EQ((*removed)[0].untagged(), "localhost:5000/bb:v1");
  removed = store_.Remove("busybox", false);
  ASSERT_THAT(removed, IsOk());
  ASSERT_EQ(removed->size(), 2u);
  EXPECT_EQ((*removed)[0].untagged(), "busybox:latest");
  EXPECT_EQ((*removed)[1].deleted(), *id);
  ExpectEmpty();
}

TEST_F(ImageStoreTest, MovingATagLeavesTheOldImageDangling) {
  auto a = Import("app", {}, RootfsTar("a"));
  auto b = Import("app", {}, RootfsTar("b"));
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  ASSERT_NE(*a, *b);
  auto list = store_.List();
  ASSERT_THAT(list, IsOk());
  ASSERT_EQ(list->size(), 2u);
  auto old = store_.Resolve(*a);
  ASSERT_THAT(old, IsOk());
  EXPECT_TRUE(old->Dangling());
}

TEST_F(ImageStoreTest, RemoveRefusesImagesUsedByContainers) {
  auto id = Import("busybox");
  ASSERT_THAT(id, IsOk());
  fake_.SetContainers({{std::string(64, 'c'), "docker.io/library/busybox:latest"}});
  EXPECT_THAT(store_.Remove("busybox", false),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("container cccccccccccc is using its referenced image")));
  EXPECT_THAT(store_.Remove(*id, false),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("being used")));
  // Prune -a skips it.
  v1::PruneImagesRequest all;
  all.set_all(true);
  auto pruned = store_.Prune(all);
  ASSERT_THAT(pruned, IsOk());
  EXPECT_EQ(pruned->entries_size(), 0);
  // Forced: the name goes, the image stays (untagged) for the container.
  auto removed = store_.Remove("busybox", true);
  ASSERT_THAT(removed, IsOk());
  ASSERT_EQ(removed->size(), 1u);
  EXPECT_EQ((*removed)[0].untagged(), "busybox:latest");
  auto img = store_.Resolve(*id);
  ASSERT_THAT(img, IsOk());
  EXPECT_TRUE(img->Dangling());
  // The container still counts as a user of the untagged image.
  pruned = store_.Prune(v1::PruneImagesRequest());
  ASSERT_THAT(pruned, IsOk());
  EXPECT_EQ(pruned->entries_size(), 0);
  fake_.SetContainers({});
  pruned = store_.Prune(v1::PruneImagesRequest());
  ASSERT_THAT(pruned, IsOk());
  EXPECT_EQ(pruned->entries_size(), 1);
  ExpectEmpty();
}

TEST_F(ImageStoreTest, HistoryNewestFirstWithIdAndTags) {
  ImportOptions o;
  o.reference = "busybox:1";
  o.message = "my import";
  StringSource src(RootfsTar());
  auto id = store_.Import(o, src);
  ASSERT_THAT(id, IsOk());
  auto h = store_.History("busybox:1");
  ASSERT_THAT(h, IsOk());
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ((*h)[0].id(), *id);
  EXPECT_THAT((*h)[0].tags(), ElementsAre("busybox:1"));
  EXPECT_EQ((*h)[0].comment(), "my import");
  EXPECT_EQ((*h)[0].size(), static_cast<int64_t>(RootfsTar().size()));
}

TEST_F(ImageStoreTest, SaveRemoveLoadKeepsIdsAndDigests) {
  auto id = Import("busybox", {"CMD [\"sh\"]"});
  ASSERT_THAT(id, IsOk());
  ASSERT_THAT(store_.Tag("busybox", "other:2"), IsOk());
  auto before = store_.Inspect("busybox");
  ASSERT_THAT(before, IsOk());
  const std::string archive = Save({"busybox", "other:2"});
  ASSERT_FALSE(archive.empty());
  EXPECT_THAT(archive, HasSubstr("manifest.json"));
  EXPECT_THAT(archive, HasSubstr("io.containerd.image.name"));
  ASSERT_THAT(store_.Remove(*id, true), IsOk());
  ExpectEmpty();

  StringSource src(archive, 777);
  auto loaded = LoadArchive(store_, src);
  ASSERT_THAT(loaded, IsOk());
  ASSERT_EQ(loaded->size(), 2u);
  EXPECT_EQ((*loaded)[0].reference(), "busybox:latest");
  EXPECT_EQ((*loaded)[0].image_id(), *id);
  EXPECT_EQ((*loaded)[1].reference(), "other:2");
  auto after = store_.Inspect("busybox");
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->id(), before->id());
  EXPECT_EQ(after->target().digest(), before->target().digest());
  EXPECT_THAT(after->repo_tags(), ElementsAre("busybox:latest", "other:2"));
  EXPECT_EQ(fake_.LeaseCount(), 0u);
  // Loading again changes nothing.
  StringSource again(archive);
  ASSERT_THAT(LoadArchive(store_, again), IsOk());
  EXPECT_EQ(store_.List()->size(), 1u);
}

TEST_F(ImageStoreTest, LoadsLegacyDockerArchive) {
  const std::string layer = RootfsTar();
  const std::string diff_id = digest::Digest::FromBytes(layer)->ToString();
  const std::string config =
      "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"sh\"]},"
      "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" +
      diff_id + "\"]}}";
  const std::string config_hex(digest::Digest::FromBytes(config)->hex());
  const std::string manifest =
      "[{\"Config\":\"" + config_hex +
      ".json\",\"RepoTags\":[\"legacy:1\"],\"Layers\":[\"abc/layer.tar\"]}]";
  const std::string archive = TarFile(config_hex + ".json", config) + tar::Header("abc/", 0, true) +
                              TarFile("abc/layer.tar", layer) + TarFile("manifest.json", manifest) +
                              tar::End();
  StringSource src(archive);
  auto loaded = LoadArchive(store_, src);
  ASSERT_THAT(loaded, IsOk());
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].reference(), "legacy:1");
  EXPECT_EQ((*loaded)[0].image_id(), "sha256:" + config_hex);
  auto img = store_.Inspect("legacy:1");
  ASSERT_THAT(img, IsOk());
  EXPECT_THAT(img->config().cmd(), ElementsAre("sh"));
  EXPECT_THAT(fake_.SnapshotNames(), ElementsAre(diff_id));
}

TEST_F(ImageStoreTest, LoadRejectsCorruptArchivesAndLeavesNothing) {
  auto id = Import("busybox");
  ASSERT_THAT(id, IsOk());
  std::string archive = Save({"busybox"});
  ASSERT_THAT(store_.Remove("busybox", false), IsOk());
  ExpectEmpty();
  // Flip one byte inside the layer blob ("#!fake shell" is in it).
  size_t at = archive.find("#!fake shell");
  ASSERT_NE(at, std::string::npos);
  archive[at] = '?';
  StringSource src(archive);
  EXPECT_THAT(LoadArchive(store_, src),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not match")));
  ExpectEmpty();

  StringSource garbage(std::string(3000, 'x'));
  EXPECT_THAT(LoadArchive(store_, garbage), StatusIs(absl::StatusCode::kInvalidArgument));
  ExpectEmpty();
  StringSource no_manifest(TarFile("hello.txt", "hi") + tar::End());
  EXPECT_THAT(LoadArchive(store_, no_manifest),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("manifest.json")));
  ExpectEmpty();
}

TEST_F(ImageStoreTest, ListFiltersByReferenceAndLabel) {
  ASSERT_THAT(Import("busybox", {"LABEL tier=web"}, RootfsTar("1")), IsOk());
  ASSERT_THAT(Import("alpine:3", {}, RootfsTar("2")), IsOk());
  auto count = [&](const std::string& key, const std::string& value) -> size_t {
    v1::ListImagesRequest req;
    auto* f = req.add_filters();
    f->set_key(key);
    f->set_value(value);
    auto r = store_.ListSummaries(req);
    return r.ok() ? r->size() : 999;
  };
  EXPECT_EQ(count("reference", "busy*"), 1u);
  EXPECT_EQ(count("reference", "alpine:3"), 1u);
  EXPECT_EQ(count("reference", "*"), 2u);
  EXPECT_EQ(count("reference", "nothing"), 0u);
  EXPECT_EQ(count("label", "tier"), 1u);
  EXPECT_EQ(count("label", "tier=db"), 0u);
  EXPECT_EQ(count("bogus", "x"), 999u);
}

}  // namespace
}  // namespace berth::engine::images
