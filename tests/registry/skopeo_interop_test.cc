// Interop with a real client: skopeo copies an OCI layout made here into berth-registry and
// back out, and the image must come back byte-identical (same manifest and blob digests).
// Skipped when skopeo is not installed (Debian: apt-get install skopeo).
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/digest/digest.h"
#include "common/digest/hasher.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/registry/registry_harness.h"

namespace berth::tests {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::RunCommand;
using ::berth::testing::TempDir;
using Json = nlohmann::json;

constexpr char kSkopeo[] = "/usr/bin/skopeo";

class SkopeoInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kSkopeo, X_OK) != 0) GTEST_SKIP() << "skopeo is not installed";
    auto dir = TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(std::move(*dir));
    ASSERT_THAT(fs::WriteFileAtomically(
                    dir_->Sub("policy.json"),
                    R"({"default":[{"type":"insecureAcceptAnything"}]})", 0600),
                IsOk());
    auto r = RegistryProcess::Start(dir_->Sub("root"), dir_->path());
    ASSERT_THAT(r, IsOk());
    registry_.emplace(std::move(*r));
  }
  void TearDown() override {
    if (registry_) registry_->Stop().IgnoreError();
  }

  // Writes `data` as a blob of the OCI layout at `layout`; returns its descriptor.
  Json AddBlob(const std::string& layout, const std::string& media_type, const std::string& data) {
    const digest::Digest d = *digest::Digest::FromBytes(data);
    EXPECT_THAT(fs::WriteFileAtomically(
                    absl::StrCat(layout, "/blobs/sha256/", d.hex()), data, 0644),
                IsOk());
    return Json{{"mediaType", media_type}, {"digest", d.ToString()}, {"size", data.size()}};
  }

  // An OCI image layout with one image (two tar layers) tagged `tag`; returns the manifest.
  std::string MakeLayout(const std::string& layout, const std::string& tag) {
    EXPECT_THAT(fs::MakeDirs(layout + "/blobs/sha256", 0755), IsOk());
    std::vector<Json> layers;
    std::vector<std::string> diff_ids;
    for (int i = 0; i < 2; ++i) {
      const std::string src = dir_->Sub(absl::StrCat("src", i));
      EXPECT_THAT(fs::MakeDirs(src, 0755), IsOk());
      std::string content(300000 + i, '\0');
      for (size_t k = 0; k < content.size(); ++k) content[k] = static_cast<char>((k * 7 + i) % 251);
      EXPECT_THAT(fs::WriteFileAtomically(src + "/file" + std::to_string(i), content, 0644),
                  IsOk());
      const std::string tar = dir_->Sub(absl::StrCat("layer", i, ".tar"));
      auto r = RunCommand({"/bin/tar", "--mtime=@0", "--owner=0", "--group=0", "-cf", tar, "-C",
                           src, "."});
      EXPECT_THAT(r, IsOk());
      auto uncompressed = digest::DigestFile(tar);
      EXPECT_THAT(uncompressed, IsOk());
      diff_ids.push_back(uncompressed->ToString());
      // Compressed, as registries hold layers: skopeo would gzip a plain tar on the way in
      // and the digests would change for a reason that has nothing to do with the registry.
      EXPECT_THAT(RunCommand({"/bin/gzip", "-n", "-k", tar}), IsOk());
      auto bytes = fs::ReadFile(tar + ".gz");
      EXPECT_THAT(bytes, IsOk());
      layers.push_back(AddBlob(layout, "application/vnd.oci.image.layer.v1.tar+gzip", *bytes));
    }
    Json config = {{"architecture", "amd64"},
                   {"os", "linux"},
                   {"config", Json::object()},
                   {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
    Json config_desc =
        AddBlob(layout, "application/vnd.oci.image.config.v1+json", config.dump());
    Json manifest = {{"schemaVersion", 2},
                     {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                     {"config", config_desc},
                     {"layers", layers}};
    const std::string manifest_bytes = manifest.dump();
    Json manifest_desc =
        AddBlob(layout, "application/vnd.oci.image.manifest.v1+json", manifest_bytes);
    manifest_desc["annotations"] = {{"org.opencontainers.image.ref.name", tag}};
    Json index = {{"schemaVersion", 2}, {"manifests", {manifest_desc}}};
    EXPECT_THAT(fs::WriteFileAtomically(layout + "/index.json", index.dump(), 0644), IsOk());
    EXPECT_THAT(fs::WriteFileAtomically(layout + "/oci-layout",
                                        R"({"imageLayoutVersion":"1.0.0"})", 0644),
                IsOk());
    return manifest_bytes;
  }

  berth::testing::CommandResult Skopeo(std::vector<std::string> args) {
    args.insert(args.begin(), {kSkopeo, "--policy", dir_->Sub("policy.json")});
    auto r = RunCommand(args, absl::Seconds(120),
                        {"HOME=" + dir_->path(), "XDG_RUNTIME_DIR=" + dir_->path()});
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : berth::testing::CommandResult();
  }

  std::optional<TempDir> dir_;
  std::optional<RegistryProcess> registry_;
};

TEST_F(SkopeoInteropTest, CopyInAndBackOutIsByteIdentical) {
  const std::string layout = dir_->Sub("layout");
  const std::string manifest = MakeLayout(layout, "v1");
  const std::string manifest_digest = digest::Digest::FromBytes(manifest)->ToString();
  const std::string remote = absl::StrCat("docker://", registry_->address(), "/interop/app:v1");

  auto push = Skopeo({"copy", "--dest-tls-verify=false", "oci:" + layout + ":v1", remote});
  ASSERT_TRUE(push.Succeeded()) << push.output << "\n"
                                << berth::testing::ReadFileOrEmpty(registry_->log_path());

  // What the registry holds is the manifest as pushed, under the same digest.
  auto raw = Http("GET", registry_->base() + "/v2/interop/app/manifests/v1", "",
                  {"Accept: application/vnd.oci.image.manifest.v1+json"});
  ASSERT_THAT(raw, IsOk());
  EXPECT_EQ(raw->status, 200);
  EXPECT_EQ(raw->body, manifest);
  EXPECT_EQ(raw->Header("Docker-Content-Digest"), manifest_digest);
  auto inspect = Skopeo({"inspect", "--tls-verify=false", "--raw", remote});
  ASSERT_TRUE(inspect.Succeeded()) << inspect.output;
  EXPECT_EQ(inspect.output, manifest);

  // A second repository: skopeo mounts the blobs across instead of uploading them again.
  auto copy = Skopeo({"copy", "--src-tls-verify=false", "--dest-tls-verify=false", remote,
                      absl::StrCat("docker://", registry_->address(), "/interop/copy:v1")});
  ASSERT_TRUE(copy.Succeeded()) << copy.output;
  // skopeo mounts the layers it knows are in interop/app (201 to a mount POST) instead of
  // uploading them again.
  auto metrics = Http("GET", "http://" + registry_->metrics_address() + "/metrics");
  ASSERT_THAT(metrics, IsOk());
  const std::string mounted =
      R"(berth_registry_http_requests_total{code="201",method="POST",)"
      R"(route="/v2/{name...}/blobs/uploads/"} )";
  const size_t at = metrics->body.find(mounted);
  ASSERT_NE(at, std::string::npos) << metrics->body;
  int mounts = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      metrics->body.substr(at + mounted.size(),
                           metrics->body.find('\n', at) - at - mounted.size()),
      &mounts));
  EXPECT_GE(mounts, 2);

  const std::string out = dir_->Sub("out");
  auto pull = Skopeo({"copy", "--src-tls-verify=false", remote, "oci:" + out + ":v1"});
  ASSERT_TRUE(pull.Succeeded()) << pull.output;
  auto index_text = fs::ReadFile(out + "/index.json");
  ASSERT_THAT(index_text, IsOk());
  Json index = Json::parse(*index_text, nullptr, false);
  ASSERT_FALSE(index.is_discarded());
  ASSERT_EQ(index["manifests"].size(), 1u);
  EXPECT_EQ(index["manifests"][0]["digest"], manifest_digest);
  // Every blob came back identical: same file names (digests) and content.
  auto in_blobs = fs::ListDir(layout + "/blobs/sha256");
  auto out_blobs = fs::ListDir(out + "/blobs/sha256");
  ASSERT_THAT(in_blobs, IsOk());
  ASSERT_THAT(out_blobs, IsOk());
  EXPECT_EQ(*in_blobs, *out_blobs);
  for (const std::string& name : *out_blobs) {
    auto d = digest::DigestFile(out + "/blobs/sha256/" + name);
    ASSERT_THAT(d, IsOk());
    EXPECT_EQ(d->hex(), name);
  }

  // And out as a docker-archive (skopeo converts to Docker's format on the way).
  auto archive = Skopeo({"copy", "--src-tls-verify=false", remote,
                         "docker-archive:" + dir_->Sub("image.tar") + ":interop/app:v1"});
  EXPECT_TRUE(archive.Succeeded()) << archive.output;
}

}  // namespace
}  // namespace berth::tests
