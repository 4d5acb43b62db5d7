// berth's image commands end to end: the real `berth` binary against real berth-containerd and
// berthd. A busybox rootfs (Debian's busybox-static plus applet links) is imported with
// --change, listed, inspected, tagged, saved, removed and loaded back with the same ids and
// digests; removal respects containers; bad input fails with one clear line and leaves nothing.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "berth/containerd/containers/v1/containers.grpc.pb.h"
#include "berth/containerd/content/v1/content.grpc.pb.h"
#include "berth/containerd/images/v1/images.grpc.pb.h"
#include "berth/containerd/snapshots/v1/snapshots.grpc.pb.h"
#include "common/grpc/server.h"
#include "common/testing/busybox.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "tests/daemon_harness.h"

namespace berth::tests {
namespace {

using ::berth::testing::ExitCode;
using ::berth::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

namespace contentpb = ::berth::containerd::content::v1;
namespace snapshotspb = ::berth::containerd::snapshots::v1;
namespace containerspb = ::berth::containerd::containers::v1;
namespace imagespb = ::berth::containerd::images::v1;

size_t Lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

std::unique_ptr<::grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<::grpc::ClientContext>();
  ctx->AddMetadata("berth-namespace", "berth");
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return ctx;
}

class ImagesTest : public EngineTest {
 protected:
  EngineEnv::Options EnvOptions() const override {
    EngineEnv::Options options;
    options.tasks = false;
    options.import_busybox = false;
    return options;
  }
  void SetUp() override {
    EngineTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto ch = grpc_util::DialUnix(env_.containerd()->socket);
    ASSERT_THAT(ch, IsOk());
    channel_ = *ch;
    // The busybox rootfs as a plain and a gzip tarball.
    const std::string root = env_.dir().Sub("rootfs");
    ASSERT_THAT(berth::testing::MakeBusyboxRootfs(root), IsOk());
    tar_ = env_.dir().Sub("busybox.tar");
    tgz_ = env_.dir().Sub("busybox.tgz");
    ASSERT_THAT(berth::testing::TarDirectory(root, tar_), IsOk());
    ASSERT_THAT(berth::testing::TarDirectory(root, tgz_, /*gzip=*/true), IsOk());
  }

  nlohmann::json Inspect(const std::string& image) { return env_.InspectImage(image); }

  size_t SnapshotCount() {
    auto stub = snapshotspb::Snapshots::NewStub(channel_);
    auto ctx = Ctx();
    auto reader = stub->List(ctx.get(), snapshotspb::ListRequest());
    size_t n = 0;
    snapshotspb::ListResponse resp;
    while (reader->Read(&resp)) n += resp.infos_size();
    EXPECT_TRUE(reader->Finish().ok());
    return n;
  }
  size_t BlobCount() {
    auto stub = contentpb::Content::NewStub(channel_);
    auto ctx = Ctx();
    auto reader = stub->List(ctx.get(), contentpb::ListRequest());
    size_t n = 0;
    contentpb::ListResponse resp;
    while (reader->Read(&resp)) n += resp.infos_size();
    EXPECT_TRUE(reader->Finish().ok());
    return n;
  }
  size_t ImageRecordCount() {
    auto stub = imagespb::Images::NewStub(channel_);
    auto ctx = Ctx();
    imagespb::ListResponse resp;
    EXPECT_TRUE(stub->List(ctx.get(), imagespb::ListRequest(), &resp).ok());
    return resp.images_size();
  }
  void ExpectNothingLeft() {
    EXPECT_EQ(ImageRecordCount(), 0u);
    EXPECT_EQ(SnapshotCount(), 0u);
    EXPECT_EQ(BlobCount(), 0u);
  }

  std::shared_ptr<::grpc::Channel> channel_;
  std::string tar_, tgz_;
};

TEST_F(ImagesTest, ImportListInspectTagSaveRemoveLoad) {
  auto imp = Berth({"import", "--change", "CMD [\"sh\"]", "--change", "ENV A=1", "-m", "hello",
                    tar_, "busybox"});
  ASSERT_EQ(ExitCode(imp), 0) << imp.output;
  ASSERT_TRUE(absl::StartsWith(imp.output, "sha256:")) << imp.output;
  const std::string id = imp.output.substr(0, 71);
  ASSERT_EQ(imp.output, id + "\n");
  const std::string short_id = id.substr(7, 12);

  auto ls = Berth({"images"});
  ASSERT_EQ(ExitCode(ls), 0) << ls.output;
  std::vector<std::string> lines = absl::StrSplit(ls.output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << ls.output;
  EXPECT_TRUE(absl::StartsWith(lines[0], "REPOSITORY   TAG       IMAGE ID       CREATED"))
      << ls.output;
  EXPECT_TRUE(absl::StartsWith(lines[1], "busybox      latest    " + short_id + "   "))
      << ls.output;
  EXPECT_THAT(lines[1], HasSubstr("ago"));
  EXPECT_THAT(lines[1], HasSubstr("MB"));

  auto quiet = Berth({"image", "ls", "-q"});
  EXPECT_EQ(quiet.output, short_id + "\n");
  auto json = Berth({"images", "--format", "json"});
  EXPECT_THAT(json.output, HasSubstr("\"Repository\":\"busybox\""));
  EXPECT_THAT(json.output, HasSubstr("\"ID\":\"" + short_id + "\""));
  auto dangling = Berth({"images", "--filter", "dangling=true", "-q"});
  EXPECT_EQ(dangling.output, "");
  auto digests = Berth({"images", "--digests", "--no-trunc"});
  EXPECT_THAT(digests.output, HasSubstr("DIGEST"));
  EXPECT_THAT(digests.output, HasSubstr(id));

  nlohmann::json img = Inspect("busybox");
  EXPECT_EQ(img["Id"], id);
  EXPECT_EQ(img["RepoTags"], nlohmann::json::array({"busybox:latest"}));
  EXPECT_EQ(img["Config"]["Cmd"], nlohmann::json::array({"sh"}));
  EXPECT_EQ(img["Config"]["Env"], nlohmann::json::array({"A=1"}));
  EXPECT_EQ(img["Architecture"], "amd64");
  EXPECT_EQ(img["Os"], "linux");
  EXPECT_EQ(img["Comment"], "hello");
  EXPECT_EQ(img["RootFS"]["Type"], "layers");
  EXPECT_EQ(img["RootFS"]["Layers"].size(), 1u);
  EXPECT_GT(img["Size"].get<int64_t>(), 1000000);
  ASSERT_EQ(img["RepoDigests"].size(), 1u);
  // Go templates, as docker's --format; plain `inspect` finds the image when no container has
  // the name.
  auto templated = Berth({"image", "inspect", "--format", "{{.Id}} {{json .RepoTags}}", "busybox"});
  EXPECT_EQ(ExitCode(templated), 0) << templated.output;
  EXPECT_EQ(templated.output, id + " [\"busybox:latest\"]\n");
  auto listed = Berth({"images", "--format", "{{.Repository}}:{{.Tag}}"});
  EXPECT_EQ(ExitCode(listed), 0) << listed.output;
  EXPECT_EQ(listed.output, "busybox:latest\n");
  auto table = Berth({"images", "--format", "table {{.Repository}}\\t{{.ID}}"});
  EXPECT_EQ(ExitCode(table), 0) << table.output;
  EXPECT_EQ(table.output, "REPOSITORY   IMAGE ID\nbusybox      " + short_id + "\n");
  auto any = Berth({"inspect", "-f", "{{.Os}}/{{.Architecture}}", "busybox"});
  EXPECT_EQ(ExitCode(any), 0) << any.output;
  EXPECT_EQ(any.output, "linux/amd64\n");

  auto hist = Berth({"history", "busybox"});
  EXPECT_EQ(ExitCode(hist), 0) << hist.output;
  EXPECT_THAT(hist.output, HasSubstr(short_id));
  EXPECT_THAT(hist.output, HasSubstr("hello"));

  auto tag = Berth({"tag", "busybox", "mybox:1"});
  ASSERT_EQ(ExitCode(tag), 0) << tag.output;
  EXPECT_EQ(tag.output, "");
  EXPECT_EQ(Inspect("mybox:1")["Id"], id);
  const nlohmann::json repo_digests = Inspect("busybox")["RepoDigests"];
  ASSERT_EQ(repo_digests.size(), 2u);  // busybox@ and mybox@ the same manifest

  const std::string archive = env_.dir().Sub("saved.tar");
  auto save = Berth({"save", "-o", archive, "busybox", "mybox:1"});
  ASSERT_EQ(ExitCode(save), 0) << save.output;
  auto list = berth::testing::RunCommand({"/bin/tar", "-tf", archive});
  ASSERT_THAT(list, IsOk());
  for (const char* f :
       {"manifest.json", "index.json", "oci-layout", "repositories", "blobs/sha256/"}) {
    EXPECT_THAT(list->output, HasSubstr(f));
  }

  auto rmi = Berth({"rmi", "mybox:1", "busybox"});
  ASSERT_EQ(ExitCode(rmi), 0) << rmi.output;
  EXPECT_EQ(rmi.output, "Untagged: mybox:1\nUntagged: busybox:latest\nDeleted: " + id + "\n");
  ExpectNothingLeft();

  auto load = Berth({"load", "-i", archive});
  ASSERT_EQ(ExitCode(load), 0) << load.output;
  EXPECT_EQ(load.output, "Loaded image: busybox:latest\nLoaded image: mybox:1\n");
  nlohmann::json again = Inspect("busybox");
  EXPECT_EQ(again["Id"], id);
  EXPECT_EQ(again["RepoDigests"], repo_digests);
  EXPECT_EQ(again["Config"]["Cmd"], nlohmann::json::array({"sh"}));
  EXPECT_EQ(SnapshotCount(), 1u);
}

TEST_F(ImagesTest, RemoveRespectsContainersAndPruneCleansUp) {
  auto imp = Berth({"import", tgz_, "busybox"});
  ASSERT_EQ(ExitCode(imp), 0) << imp.output;
  const std::string id = imp.output.substr(0, 71);
  nlohmann::json img = Inspect("busybox");
  EXPECT_GT(img["Size"].get<int64_t>(), 1000000);  // uncompressed size of the gzip layer

  auto containers = containerspb::Containers::NewStub(channel_);
  const std::string cid(64, 'c');
  {
    containerspb::CreateRequest req;
    req.mutable_container()->set_id(cid);
    req.mutable_container()->set_image("docker.io/library/busybox:latest");
    containerspb::CreateResponse resp;
    auto ctx = Ctx();
    ASSERT_TRUE(containers->Create(ctx.get(), req, &resp).ok());
  }
  auto rmi = Berth({"rmi", "busybox"});
  EXPECT_EQ(ExitCode(rmi), 1);
  EXPECT_EQ(rmi.output,
            "Error response from daemon: conflict: unable to remove repository reference "
            "\"busybox\" (must force) - container cccccccccccc is using its referenced image " +
                id.substr(7, 12) + "\n");
  auto by_id = Berth({"rmi", id.substr(7, 12)});
  EXPECT_EQ(ExitCode(by_id), 1);
  EXPECT_THAT(by_id.output, HasSubstr("is being used by container cccccccccccc"));
  EXPECT_EQ(Inspect("busybox")["Id"], id);

  auto forced = Berth({"rmi", "-f", "busybox"});
  ASSERT_EQ(ExitCode(forced), 0) << forced.output;
  EXPECT_EQ(forced.output, "Untagged: busybox:latest\n");
  auto ls = Berth({"images"});
  EXPECT_THAT(ls.output, HasSubstr("<none>       <none>    " + id.substr(7, 12)));
  // Still in use: prune keeps it.
  auto prune = Berth({"image", "prune", "-f"});
  ASSERT_EQ(ExitCode(prune), 0) << prune.output;
  EXPECT_THAT(prune.output, Not(HasSubstr("deleted:")));

  {
    containerspb::DeleteRequest req;
    req.set_id(cid);
    containerspb::DeleteResponse resp;
    auto ctx = Ctx();
    ASSERT_TRUE(containers->Delete(ctx.get(), req, &resp).ok());
  }
  prune = Berth({"image", "prune", "-f"});
  ASSERT_EQ(ExitCode(prune), 0) << prune.output;
  EXPECT_THAT(prune.output, HasSubstr("deleted: " + id));
  EXPECT_THAT(prune.output, HasSubstr("Total reclaimed space: "));
  ExpectNothingLeft();
}

TEST_F(ImagesTest, BadInputFailsWithOneLineAndLeavesNothing) {
  auto bad_ref = Berth({"import", tar_, "Bad/Name"});
  EXPECT_EQ(ExitCode(bad_ref), 1);
  EXPECT_EQ(bad_ref.output,
            "Error response from daemon: invalid reference format: repository name must be "
            "lowercase\n");
  auto bad_ref2 = Berth({"import", tar_, "a:b:c"});
  EXPECT_EQ(ExitCode(bad_ref2), 1);
  EXPECT_EQ(bad_ref2.output, "Error response from daemon: invalid reference format\n");

  auto missing_file = Berth({"import", env_.dir().Sub("no-such.tar"), "x"});
  EXPECT_EQ(ExitCode(missing_file), 1);
  EXPECT_EQ(missing_file.output,
            "berth: open " + env_.dir().Sub("no-such.tar") + ": No such file or directory\n");

  const std::string junk = env_.dir().Sub("junk.tar");
  {
    std::string data(4096, 'x');
    FILE* f = fopen(junk.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fwrite(data.data(), 1, data.size(), f);
    fclose(f);
  }
  auto not_tar = Berth({"import", junk, "junk"});
  EXPECT_EQ(ExitCode(not_tar), 1);
  EXPECT_EQ(Lines(not_tar.output), 1u) << not_tar.output;
  EXPECT_THAT(not_tar.output, HasSubstr("not a tar archive"));

  const std::string unreadable = env_.dir().Sub("dir.tar");
  ASSERT_EQ(mkdir(unreadable.c_str(), 0755), 0);
  auto dir_input = Berth({"import", unreadable, "x"});
  EXPECT_EQ(ExitCode(dir_input), 1);
  EXPECT_EQ(Lines(dir_input.output), 1u) << dir_input.output;
  EXPECT_THAT(dir_input.output, HasSubstr("berth: read " + unreadable));

  // A gzip stream that is cut short fails in the differ.
  std::string truncated = env_.dir().Sub("truncated.tgz");
  {
    auto cp = berth::testing::RunCommand({"/bin/cp", tgz_, truncated});
    ASSERT_TRUE(cp.ok() && cp->Succeeded());
    ASSERT_EQ(truncate(truncated.c_str(), 4096), 0);
  }
  auto cut = Berth({"import", truncated, "cut"});
  EXPECT_EQ(ExitCode(cut), 1);
  EXPECT_EQ(Lines(cut.output), 1u) << cut.output;
  EXPECT_THAT(cut.output, HasSubstr("Error response from daemon: import: unpack tarball"));

  auto change = Berth({"import", "-c", "RUN true", tar_, "x"});
  EXPECT_EQ(ExitCode(change), 1);
  EXPECT_EQ(change.output, "Error response from daemon: run is not a valid change command\n");
  auto onbuild = Berth({"import", "-c", "ONBUILD RUN x", tar_, "x"});
  EXPECT_EQ(ExitCode(onbuild), 1);
  EXPECT_THAT(onbuild.output, HasSubstr("ONBUILD is not supported"));

  auto no_image = Berth({"rmi", "foo"});
  EXPECT_EQ(ExitCode(no_image), 1);
  EXPECT_EQ(no_image.output, "Error response from daemon: No such image: foo:latest\n");
  auto inspect = Berth({"image", "inspect", "foo"});
  EXPECT_EQ(ExitCode(inspect), 1);
  EXPECT_THAT(inspect.output, HasSubstr("Error: No such image: foo"));
  auto tag_missing = Berth({"tag", "foo", "bar"});
  EXPECT_EQ(ExitCode(tag_missing), 1);
  EXPECT_EQ(tag_missing.output, "Error response from daemon: No such image: foo:latest\n");
  auto save_missing = Berth({"save", "-o", env_.dir().Sub("x.tar"), "foo"});
  EXPECT_EQ(ExitCode(save_missing), 1);
  EXPECT_EQ(save_missing.output, "Error response from daemon: No such image: foo:latest\n");
  EXPECT_NE(access(env_.dir().Sub("x.tar").c_str(), F_OK), 0) << "no partial archive";
  auto load_junk = Berth({"load", "-i", junk});
  EXPECT_EQ(ExitCode(load_junk), 1);
  EXPECT_EQ(Lines(load_junk.output), 1u) << load_junk.output;
  EXPECT_THAT(load_junk.output, HasSubstr("invalid image archive"));

  auto usage = Berth({"tag", "onlyone"});
  EXPECT_EQ(ExitCode(usage), 125);
  auto flag = Berth({"images", "--bogus"});
  EXPECT_EQ(ExitCode(flag), 125);
  EXPECT_THAT(flag.output, HasSubstr("unknown flag: --bogus"));
  auto sub = Berth({"image", "frob"});
  EXPECT_EQ(ExitCode(sub), 125);

  ExpectNothingLeft();
  auto ls = Berth({"images", "-q"});
  EXPECT_EQ(ls.output, "");
}

}  // namespace
}  // namespace berth::tests
