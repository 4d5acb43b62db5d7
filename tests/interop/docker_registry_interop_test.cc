// berth-registry against Debian's real clients and registry (issue #6, acceptance): dockerd 20.10
// pushes and pulls through it and runs what it pulled, containerd 1.6's ctr pulls from it and
// pushes to it, and skopeo copies images between it and docker-registry 2.8 in both directions.
// Every image must survive byte-identical: the same manifest digest as the client reports, and
// every blob there under its digest. Root only; each test skips when a tool is missing. Every
// daemon has its own temp dir, sockets and port, so copies of a test run in parallel; each test
// ends by checking that nothing is left mounted and the daemons' dirs are gone.
#include <sys/stat.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/digest/digest.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/testing/busybox.h"
#include "common/testing/certs.h"
#include "common/testing/child_process.h"
#include "common/testing/runfiles.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/interop/reference_daemons.h"
#include "tests/registry/registry_harness.h"

namespace berth::tests::interop {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::TempDir;
using ::testing::IsEmpty;
using Json = nlohmann::json;

constexpr char kDockerManifest[] = "application/vnd.docker.distribution.manifest.v2+json";
constexpr char kDockerList[] = "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
constexpr char kOciIndex[] = "application/vnd.oci.image.index.v1+json";

// GTEST_SKIP when something cannot run here (FailedPrecondition: a tool missing, not root), a fatal
// failure for any other error; otherwise binds the value.
#define ASSIGN_OR_SKIP(lhs, expr)                      \
  auto lhs##_or = (expr);                              \
  if (absl::IsFailedPrecondition(lhs##_or.status())) { \
    GTEST_SKIP() << lhs##_or.status().message();       \
  }                                                    \
  ASSERT_THAT(lhs##_or, IsOk());                       \
  auto lhs = std::move(*lhs##_or)

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

std::string Sha256(const std::string& bytes) {
  return digest::Digest::FromBytes(bytes)->ToString();
}

// A manifest as a registry serves it over the Distribution API.
struct Manifest {
  std::string bytes;
  std::string digest;        // Docker-Content-Digest
  std::string content_type;  // Content-Type
};

// GET /v2/<repo>/manifests/<reference> from the registry at `address`, accepting every image
// manifest type: docker-registry serves an OCI manifest only to a client that asks for it, even by
// digest.
Manifest GetManifest(const std::string& address, const std::string& repo,
                     const std::string& reference) {
  auto r = Http("GET", absl::StrCat("http://", address, "/v2/", repo, "/manifests/", reference),
                "",
                {absl::StrCat("Accept: ", kOciManifest, ", ", kOciIndex, ", ", kDockerManifest,
                              ", ", kDockerList)});
  EXPECT_THAT(r, IsOk());
  if (!r.ok()) return {};
  EXPECT_EQ(r->status, 200) << address << " " << repo << ":" << reference << "\n" << r->body;
  return {r->body, r->Header("Docker-Content-Digest"), r->Header("Content-Type")};
}

// Digests of the config and layers a manifest references.
std::vector<std::string> BlobDigests(const std::string& manifest) {
  Json m = Json::parse(manifest, nullptr, false);
  EXPECT_FALSE(m.is_discarded()) << manifest;
  std::vector<std::string> digests;
  if (m.is_discarded() || !m.contains("config") || !m.contains("layers")) {
    ADD_FAILURE() << "not an image manifest: " << manifest;
    return digests;
  }
  digests.push_back(m["config"]["digest"].get<std::string>());
  for (const Json& layer : m["layers"]) digests.push_back(layer["digest"].get<std::string>());
  return digests;
}

// Every blob the manifest references is served by the registry at `address` under `repo`, and its
// bytes hash to its digest with the size the manifest gives.
void ExpectBlobsServed(const std::string& address, const std::string& repo,
                       const std::string& manifest) {
  Json m = Json::parse(manifest, nullptr, false);
  ASSERT_FALSE(m.is_discarded());
  std::vector<Json> descriptors = {m["config"]};
  for (const Json& layer : m["layers"]) descriptors.push_back(layer);
  ASSERT_GE(descriptors.size(), 2u) << manifest;
  for (const Json& d : descriptors) {
    const std::string digest = d["digest"].get<std::string>();
    auto r = Http("GET", absl::StrCat("http://", address, "/v2/", repo, "/blobs/", digest));
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->status, 200) << address << " " << repo << " " << digest;
    EXPECT_EQ(Sha256(r->body), digest) << address << " " << repo;
    EXPECT_EQ(r->body.size(), d["size"].get<size_t>()) << digest;
  }
}

// The DIGEST column of `ctr images ls` for `ref`, "" when it is not listed.
std::string CtrImageDigest(const std::string& listing, const std::string& ref) {
  for (absl::string_view line : absl::StrSplit(listing, '\n')) {
    std::vector<absl::string_view> cols = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (cols.size() >= 3 && cols[0] == ref) return std::string(cols[2]);
  }
  return "";
}

class ReferenceInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (absl::Status root = RequireRoot(); !root.ok()) GTEST_SKIP() << root.message();
    auto dir = TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    work_.emplace(std::move(*dir));
    auto registry = RegistryProcess::Start(work_->Sub("berth-registry"), work_->path());
    ASSERT_THAT(registry, IsOk());
    registry_.emplace(std::move(*registry));
    address_ = registry_->address();
  }

  void TearDown() override {
    if (registry_) {
      EXPECT_THAT(registry_->Stop(), IsOk()) << registry_->log_path();
    }
    if (work_) {
      ExpectNothingMounted(work_->path());
      const std::string path = work_->path();
      work_.reset();
      EXPECT_FALSE(Exists(path));
    }
  }

  std::string BusyboxTar() {
    const std::string tar = work_->Sub("busybox.tar");
    if (!Exists(tar)) {
      absl::Status s = berth::testing::MakeBusyboxTar(work_->path(), tar);
      EXPECT_THAT(s, IsOk());
    }
    return tar;
  }

  // `skopeo copy` of the busybox tarball (one uncompressed layer, which skopeo compresses) to
  // `dest` ("docker://host:port/repo:tag").
  void PushTarball(const std::string& dest) {
    auto copy = RunSkopeo(work_->path(),
                          {"copy", "--dest-tls-verify=false", "tarball:" + BusyboxTar(), dest});
    ASSERT_THAT(copy, IsOk());
    ASSERT_TRUE(copy->Succeeded()) << copy->Describe();
  }

  // `mount | grep <dir>` is empty.
  static void ExpectNothingMounted(const std::string& dir) {
    auto mounts = MountsUnder(dir);
    ASSERT_THAT(mounts, IsOk());
    EXPECT_THAT(*mounts, IsEmpty()) << dir;
  }

  // Stops a reference daemon: it reports nothing left behind, nothing is mounted under its
  // directory and the directory is gone.
  template <typename Daemon>
  static void ExpectStopsClean(Daemon& daemon) {
    const std::string dir = daemon.dir();
    EXPECT_THAT(daemon.Stop(), IsOk());
    ExpectNothingMounted(dir);
    EXPECT_FALSE(Exists(dir)) << dir;
  }

  std::optional<TempDir> work_;
  std::optional<RegistryProcess> registry_;
  std::string address_;  // berth-registry's "127.0.0.1:<port>"
};

TEST_F(ReferenceInteropTest, DockerPushPullAndRunThroughBerthRegistry) {
  ASSIGN_OR_SKIP(containerd, ContainerdProcess::Start());
  ASSIGN_OR_SKIP(dockerd, DockerdProcess::Start(*containerd));
  const std::string tar = BusyboxTar();
  const std::string repo = "interop/busybox";
  const std::string ref = absl::StrCat(address_, "/", repo, ":1");

  auto imported = dockerd->Docker({"import", tar, ref});
  ASSERT_THAT(imported, IsOk());
  ASSERT_TRUE(imported->Succeeded()) << imported->Describe();
  const std::string image_id(absl::StripAsciiWhitespace(imported->out));
  ASSERT_TRUE(absl::StartsWith(image_id, "sha256:")) << image_id;

  // Docker treats 127.0.0.0/8 registries as insecure (plain HTTP) without configuration.
  auto push = dockerd->Docker({"push", ref});
  ASSERT_THAT(push, IsOk());
  ASSERT_TRUE(push->Succeeded()) << push->Describe() << "\n" << dockerd->Log();

  auto inspect = dockerd->Docker(
      {"image", "inspect", "--format", "{{.Id}} {{range .RepoDigests}}{{.}} {{end}}", ref});
  ASSERT_THAT(inspect, IsOk());
  ASSERT_TRUE(inspect->Succeeded()) << inspect->Describe();
  std::vector<std::string> fields =
      absl::StrSplit(absl::StripAsciiWhitespace(inspect->out), ' ', absl::SkipEmpty());
  ASSERT_EQ(fields.size(), 2u) << inspect->out;  // the ID and exactly one repo digest
  EXPECT_EQ(fields[0], image_id);
  const std::string repo_digest = fields[1];
  ASSERT_TRUE(absl::StartsWith(repo_digest, absl::StrCat(address_, "/", repo, "@sha256:")))
      << repo_digest;
  const std::string digest = repo_digest.substr(repo_digest.find('@') + 1);

  // What berth-registry holds is what docker says it pushed.
  const Manifest by_tag = GetManifest(address_, repo, "1");
  EXPECT_EQ(by_tag.digest, digest);
  EXPECT_EQ(Sha256(by_tag.bytes), digest);
  EXPECT_EQ(by_tag.content_type, kDockerManifest);
  const Manifest by_digest = GetManifest(address_, repo, digest);
  EXPECT_EQ(by_digest.bytes, by_tag.bytes);
  ExpectBlobsServed(address_, repo, by_tag.bytes);

  // Gone locally, then pulled back: the same image, under the same digest.
  auto rmi = dockerd->Docker({"rmi", ref});
  ASSERT_THAT(rmi, IsOk());
  ASSERT_TRUE(rmi->Succeeded()) << rmi->Describe();
  auto gone = dockerd->Docker({"image", "inspect", image_id});
  ASSERT_THAT(gone, IsOk());
  ASSERT_FALSE(gone->Succeeded()) << "image still present after rmi: " << gone->out;

  auto pull = dockerd->Docker({"pull", ref});
  ASSERT_THAT(pull, IsOk());
  ASSERT_TRUE(pull->Succeeded()) << pull->Describe() << "\n" << dockerd->Log();
  EXPECT_THAT(pull->out, ::testing::HasSubstr("Digest: " + digest));
  auto again = dockerd->Docker(
      {"image", "inspect", "--format", "{{.Id}} {{range .RepoDigests}}{{.}} {{end}}", ref});
  ASSERT_THAT(again, IsOk());
  ASSERT_TRUE(again->Succeeded()) << again->Describe();
  EXPECT_EQ(absl::StripAsciiWhitespace(again->out), absl::StrCat(image_id, " ", repo_digest));

  // The pulled image runs (no bridge here: --network none).
  auto run = dockerd->Docker({"run", "--rm", "--network", "none", ref, "echo", "ok"});
  ASSERT_THAT(run, IsOk());
  EXPECT_TRUE(run->Succeeded()) << run->Describe() << "\n" << dockerd->Log();
  EXPECT_EQ(run->out, "ok\n");
  auto ps = dockerd->Docker({"ps", "-aq"});
  ASSERT_THAT(ps, IsOk());
  EXPECT_EQ(ps->out, "") << "--rm left a container";

  ExpectStopsClean(*dockerd);
  ExpectStopsClean(*containerd);
}

// docker login against berth-registry in token mode (its own /token endpoint, htpasswd users,
// per-repository permissions): docker's whole Bearer flow, as dockerd runs it.
TEST_F(ReferenceInteropTest, DockerLoginAndPushWithTokenAuth) {
  ASSIGN_OR_SKIP(containerd, ContainerdProcess::Start());
  ASSIGN_OR_SKIP(dockerd, DockerdProcess::Start(*containerd));
  const std::string dir = work_->Sub("token-registry");
  ASSERT_THAT(berth::fs::MakeDirs(dir, 0700), IsOk());
  // bcrypt ($2y$, as `htpasswd -B` writes) of "pw"; alice may do anything, bob only pull.
  constexpr char kPwHash[] = "$2y$05$k2hgroof7v3SnwWSSEGJt.N/ikcSLUxPSrb5x2zcC70YekOLCJNWa";
  ASSERT_THAT(berth::fs::WriteFileAtomically(
                  dir + "/htpasswd", absl::StrCat("alice:", kPwHash, "\nbob:", kPwHash, "\n"),
                  0600),
              IsOk());
  ASSERT_THAT(berth::fs::WriteFileAtomically(dir + "/acl.json", R"([
    {"account": "alice", "name": "**", "actions": ["*"]},
    {"account": "bob", "name": "**", "actions": ["pull"]}
  ])", 0600),
              IsOk());
  ASSERT_THAT(berth::testing::RunOpenssl({"genpkey", "-algorithm", "RSA", "-pkeyopt",
                                          "rsa_keygen_bits:2048", "-out", dir + "/token.key"}),
              IsOk());
  auto started = RegistryProcess::Start(
      dir + "/root", dir,
      {"--auth=token", "--token_key=" + dir + "/token.key", "--htpasswd=" + dir + "/htpasswd",
       "--acl=" + dir + "/acl.json"});
  ASSERT_THAT(started, IsOk());
  RegistryProcess registry = std::move(*started);
  const std::string address = registry.address();
  const std::string ref = absl::StrCat(address, "/team/busybox:1");
  auto docker = [&](const std::vector<std::string>& args) {
    auto r = dockerd->Docker(args);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : ToolRun{-1, "", r.status().ToString()};
  };

  ToolRun imported = docker({"import", BusyboxTar(), ref});
  ASSERT_TRUE(imported.Succeeded()) << imported.Describe();
  // Anonymous: the challenge sends docker to /token, which gives nobody push rights.
  ToolRun anonymous = docker({"push", ref});
  EXPECT_FALSE(anonymous.Succeeded()) << anonymous.out;
  ToolRun wrong = docker({"login", "-u", "alice", "-p", "nope", address});
  EXPECT_FALSE(wrong.Succeeded()) << wrong.out;

  ToolRun login = docker({"login", "-u", "alice", "-p", "pw", address});
  ASSERT_TRUE(login.Succeeded()) << login.Describe() << "\n" << registry.log_path();
  EXPECT_THAT(login.out, ::testing::HasSubstr("Login Succeeded"));
  ToolRun push = docker({"push", ref});
  ASSERT_TRUE(push.Succeeded()) << push.Describe() << "\n" << dockerd->Log();
  EXPECT_THAT(push.out, ::testing::HasSubstr("digest: sha256:"));

  // bob may pull what alice pushed, not push over it.
  ToolRun logout = docker({"logout", address});
  EXPECT_TRUE(logout.Succeeded()) << logout.Describe();
  ToolRun bob = docker({"login", "-u", "bob", "-p", "pw", address});
  ASSERT_TRUE(bob.Succeeded()) << bob.Describe();
  ToolRun rmi = docker({"rmi", ref});
  ASSERT_TRUE(rmi.Succeeded()) << rmi.Describe();
  ToolRun pull = docker({"pull", ref});
  EXPECT_TRUE(pull.Succeeded()) << pull.Describe() << "\n" << dockerd->Log();
  ToolRun retag = docker({"tag", ref, absl::StrCat(address, "/team/busybox:2")});
  ASSERT_TRUE(retag.Succeeded()) << retag.Describe();
  ToolRun denied = docker({"push", absl::StrCat(address, "/team/busybox:2")});
  EXPECT_FALSE(denied.Succeeded()) << denied.out;

  EXPECT_THAT(registry.Stop(), IsOk()) << registry.log_path();
  ExpectStopsClean(*dockerd);
  ExpectStopsClean(*containerd);
}

TEST_F(ReferenceInteropTest, CtrPullsFromAndPushesToBerthRegistry) {
  if (absl::Status s = RequireTool(kSkopeoBin, "skopeo"); !s.ok()) GTEST_SKIP() << s.message();
  ASSIGN_OR_SKIP(containerd, ContainerdProcess::Start());
  const std::string src = absl::StrCat(address_, "/interop/ctr-src:1");
  PushTarball("docker://" + src);
  const Manifest pushed = GetManifest(address_, "interop/ctr-src", "1");
  ASSERT_EQ(Sha256(pushed.bytes), pushed.digest);
  const std::vector<std::string> blobs = BlobDigests(pushed.bytes);

  auto pull = containerd->Ctr({"images", "pull", "--plain-http", src});
  ASSERT_THAT(pull, IsOk());
  ASSERT_TRUE(pull->Succeeded()) << pull->Describe() << "\n" << containerd->Log();
  auto images = containerd->Ctr({"images", "ls"});
  ASSERT_THAT(images, IsOk());
  EXPECT_EQ(CtrImageDigest(images->out, src), pushed.digest) << images->out;
  auto content = containerd->Ctr({"content", "ls", "--quiet"});
  ASSERT_THAT(content, IsOk());
  for (const std::string& blob : blobs) EXPECT_THAT(content->out, ::testing::HasSubstr(blob));

  // ctr pushes what it pulled into another repository: the same manifest, every blob there.
  const std::string dest_repo = "interop/ctr-pushed";
  auto push = containerd->Ctr(
      {"images", "push", "--plain-http", absl::StrCat(address_, "/", dest_repo, ":1"), src});
  ASSERT_THAT(push, IsOk());
  ASSERT_TRUE(push->Succeeded()) << push->Describe();
  const Manifest copy = GetManifest(address_, dest_repo, "1");
  EXPECT_EQ(copy.digest, pushed.digest);
  EXPECT_EQ(copy.bytes, pushed.bytes);
  ExpectBlobsServed(address_, dest_repo, copy.bytes);

  // A second containerd, with nothing in its content store, pulls that by digest.
  ASSIGN_OR_SKIP(fresh, ContainerdProcess::Start());
  const std::string by_digest = absl::StrCat(address_, "/", dest_repo, "@", pushed.digest);
  auto pull2 = fresh->Ctr({"images", "pull", "--plain-http", by_digest});
  ASSERT_THAT(pull2, IsOk());
  ASSERT_TRUE(pull2->Succeeded()) << pull2->Describe() << "\n" << fresh->Log();
  auto images2 = fresh->Ctr({"images", "ls"});
  ASSERT_THAT(images2, IsOk());
  EXPECT_EQ(CtrImageDigest(images2->out, by_digest), pushed.digest) << images2->out;
  auto content2 = fresh->Ctr({"content", "ls", "--quiet"});
  ASSERT_THAT(content2, IsOk());
  for (const std::string& blob : blobs) EXPECT_THAT(content2->out, ::testing::HasSubstr(blob));

  ExpectStopsClean(*fresh);
  ExpectStopsClean(*containerd);
}

TEST_F(ReferenceInteropTest, SkopeoCopiesBetweenBerthRegistryAndDockerRegistry) {
  if (absl::Status s = RequireTool(kSkopeoBin, "skopeo"); !s.ok()) GTEST_SKIP() << s.message();
  ASSIGN_OR_SKIP(dreg, DockerRegistryProcess::Start());
  auto skopeo = [&](std::vector<std::string> args) {
    auto r = RunSkopeo(work_->path(), args);
    EXPECT_THAT(r, IsOk());
    if (!r.ok()) return std::string();
    EXPECT_TRUE(r->Succeeded()) << r->Describe();
    return r->out;
  };
  const std::string berth = "docker://" + address_;
  const std::string docker = "docker://" + dreg->address();

  // berth-registry -> docker-registry.
  PushTarball(berth + "/interop/from-berth:1");
  const Manifest original = GetManifest(address_, "interop/from-berth", "1");
  ASSERT_EQ(Sha256(original.bytes), original.digest);
  skopeo({"copy", "--src-tls-verify=false", "--dest-tls-verify=false",
          berth + "/interop/from-berth:1", docker + "/interop/copied:1"});
  EXPECT_EQ(skopeo({"inspect", "--raw", "--tls-verify=false", docker + "/interop/copied:1"}),
            original.bytes);
  const Manifest in_docker =
      GetManifest(dreg->address(), "interop/copied", original.digest);
  EXPECT_EQ(in_docker.bytes, original.bytes);
  EXPECT_EQ(in_docker.digest, original.digest);
  ExpectBlobsServed(dreg->address(), "interop/copied", original.bytes);

  // docker-registry -> berth-registry.
  PushTarball(docker + "/interop/from-docker:1");
  const std::string raw =
      skopeo({"inspect", "--raw", "--tls-verify=false", docker + "/interop/from-docker:1"});
  ASSERT_FALSE(raw.empty());
  const std::string digest = Sha256(raw);
  const Manifest in_docker_by_tag =
      GetManifest(dreg->address(), "interop/from-docker", "1");
  EXPECT_EQ(in_docker_by_tag.bytes, raw);
  EXPECT_EQ(in_docker_by_tag.digest, digest);
  skopeo({"copy", "--src-tls-verify=false", "--dest-tls-verify=false",
          docker + "/interop/from-docker:1", berth + "/interop/copied:1"});
  const Manifest in_berth = GetManifest(address_, "interop/copied", "1");
  EXPECT_EQ(in_berth.bytes, raw);
  EXPECT_EQ(in_berth.digest, digest);
  ExpectBlobsServed(address_, "interop/copied", raw);
  // And skopeo reads back from berth-registry what docker-registry had.
  EXPECT_EQ(skopeo({"inspect", "--raw", "--tls-verify=false", berth + "/interop/copied:1"}), raw);

  ExpectStopsClean(*dreg);
}

}  // namespace
}  // namespace berth::tests::interop
