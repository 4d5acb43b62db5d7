// berth-registry over real HTTP: each distribution API route as a client sees it, bad input,
// restarts in the middle of an upload, expiry, read-only mode, garbage collection and metrics.
// Starts the real binary on loopback port 0 with a temp root.
#include <dirent.h>
#include <sys/stat.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/digest/digest.h"
#include "common/fs/atomic_file.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/registry/registry_harness.h"

namespace berth::tests {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
constexpr char kDockerManifest[] = "application/vnd.docker.distribution.manifest.v2+json";

std::string DigestOf(const std::string& data) {
  return digest::Digest::FromBytes(data)->ToString();
}

// Regular files under `dir`, recursively.
int CountFiles(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return 0;
  int n = 0;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = dir + "/" + name;
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) continue;
    n += S_ISDIR(st.st_mode) ? CountFiles(path) : 1;
  }
  closedir(d);
  return n;
}

// Incompressible-looking bytes of any length.
std::string Bytes(size_t n, uint32_t seed) {
  std::string out(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out[i] = static_cast<char>(x);
  }
  return out;
}

class RegistryApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(std::move(*dir));
    root_ = dir_->Sub("root");
    Start();
  }
  void TearDown() override {
    if (registry_) registry_->Stop().IgnoreError();
  }
  void Start(const std::vector<std::string>& flags = {}) {
    if (registry_) {
      ASSERT_THAT(registry_->Stop(), IsOk());
    }
    registry_.reset();
    auto r = RegistryProcess::Start(root_, dir_->path(), flags);
    ASSERT_THAT(r, IsOk());
    registry_.emplace(std::move(*r));
  }
  std::string Url(const std::string& path) const { return registry_->base() + path; }
  // An absolute URL for a Location header value (the registry sends paths).
  std::string Resolve(const std::string& location) const {
    return absl::StartsWith(location, "http") ? location : Url(location);
  }

  HttpResult Do(const std::string& method, const std::string& path, const std::string& body = "",
                const std::vector<std::string>& headers = {}, bool send_body = false) {
    auto r = Http(method, absl::StartsWith(path, "http") ? path : Url(path), body, headers,
                  send_body);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : HttpResult();
  }

  // POST then PUT, as most clients push.
  std::string PushBlob(const std::string& repo, const std::string& content) {
    const std::string d = DigestOf(content);
    HttpResult start = Do("POST", "/v2/" + repo + "/blobs/uploads/");
    EXPECT_EQ(start.status, 202);
    HttpResult put = Do("PUT", Resolve(start.Header("Location")) + "?digest=" + d, content,
                        {"Content-Type: application/octet-stream"}, true);
    EXPECT_EQ(put.status, 201) << put.body;
    return d;
  }

  std::string Manifest(const std::string& config, const std::vector<std::string>& layers,
                       const std::string& media_type = kOciManifest) {
    std::string out = absl::StrCat(R"({"schemaVersion":2,"mediaType":")", media_type,
                                   R"(","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":")",
                                   config, R"("},"layers":[)");
    for (size_t i = 0; i < layers.size(); ++i) {
      absl::StrAppend(&out, i ? "," : "",
                      R"({"mediaType":"application/vnd.oci.image.layer.v1.tar","size":1,"digest":")",
                      layers[i], R"("})");
    }
    return out + "]}";
  }

  std::string Metrics() {
    auto r = Http("GET", "http://" + registry_->metrics_address() + "/metrics");
    return r.ok() ? r->body : "";
  }

  std::optional<TempDir> dir_;
  std::string root_;
  std::optional<RegistryProcess> registry_;
};

TEST_F(RegistryApiTest, PushAndPullAnImage) {
  HttpResult base = Do("GET", "/v2/");
  EXPECT_EQ(base.status, 200);
  EXPECT_EQ(base.Header("Docker-Distribution-API-Version"), "registry/2.0");

  const std::string config = PushBlob("library/app", "{}");
  const std::string layer_content = Bytes(3 << 20, 1);
  const std::string layer = PushBlob("library/app", layer_content);
  const std::string manifest = Manifest(config, {layer});
  HttpResult put = Do("PUT", "/v2/library/app/manifests/1.0", manifest,
                      {std::string("Content-Type: ") + kOciManifest});
  ASSERT_EQ(put.status, 201) << put.body;
  EXPECT_EQ(put.Header("Docker-Content-Digest"), DigestOf(manifest));

  HttpResult get = Do("GET", "/v2/library/app/manifests/1.0", "",
                      {std::string("Accept: ") + kDockerManifest, std::string("Accept: ") + kOciManifest});
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, manifest);
  EXPECT_EQ(get.Header("Content-Type"), kOciManifest);
  HttpResult head = Do("HEAD", "/v2/library/app/manifests/" + DigestOf(manifest));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("Content-Length"), std::to_string(manifest.size()));
  EXPECT_EQ(Do("GET", "/v2/library/app/manifests/1.0", "", {"Accept: " + std::string(kDockerManifest)})
                .status,
            404);

  HttpResult blob = Do("GET", "/v2/library/app/blobs/" + layer);
  EXPECT_EQ(blob.status, 200);
  EXPECT_TRUE(blob.body == layer_content);
  EXPECT_EQ(blob.Header("Docker-Content-Digest"), layer);
  HttpResult blob_head = Do("HEAD", "/v2/library/app/blobs/" + layer);
  EXPECT_EQ(blob_head.Header("Content-Length"), std::to_string(layer_content.size()));
  HttpResult part = Do("GET", "/v2/library/app/blobs/" + layer, "", {"Range: bytes=1048576-1048585"});
  EXPECT_EQ(part.status, 206);
  EXPECT_TRUE(part.body == layer_content.substr(1048576, 10));
  EXPECT_EQ(part.Header("Content-Range"), absl::StrCat("bytes 1048576-1048585/", 3 << 20));

  EXPECT_EQ(Do("GET", "/v2/_catalog").body, R"({"repositories":["library/app"]})");
  EXPECT_EQ(Do("GET", "/v2/library/app/tags/list").body,
            R"({"name":"library/app","tags":["1.0"]})");
}

TEST_F(RegistryApiTest, HostileRangeHeaders) {
  const std::string d = PushBlob("r", "0123456789");
  const std::string path = "/v2/r/blobs/" + d;
  HttpResult past = Do("GET", path, "", {"Range: bytes=10-"});
  EXPECT_EQ(past.status, 416);
  EXPECT_EQ(past.Header("Content-Range"), "bytes */10");
  EXPECT_EQ(Do("GET", path, "", {"Range: bytes=99999999999999999999999999999-"}).status, 416);
  EXPECT_EQ(Do("GET", path, "", {"Range: bytes=-0"}).status, 416);
  for (const char* ignored : {"Range: bytes=5-1", "Range: bytes=x-y", "Range: lines=0-1",
                              "Range: bytes=0-1,2-3,4-5", "Range: bytes=--1"}) {
    HttpResult r = Do("GET", path, "", {ignored});
    EXPECT_EQ(r.status, 200) << ignored;
    EXPECT_EQ(r.body, "0123456789") << ignored;
  }
  HttpResult tail = Do("GET", path, "", {"Range: bytes=-3"});
  EXPECT_EQ(tail.status, 206);
  EXPECT_EQ(tail.body, "789");
  HttpResult clamp = Do("GET", path, "", {"Range: bytes=8-100000000000000000000000"});
  EXPECT_EQ(clamp.status, 206);
  EXPECT_EQ(clamp.body, "89");
}

TEST_F(RegistryApiTest, ChunkedUploadOutOfOrderIs416) {
  HttpResult start = Do("POST", "/v2/r/blobs/uploads/");
  ASSERT_EQ(start.status, 202);
  const std::string loc = Resolve(start.Header("Location"));
  const std::string a = Bytes(1000, 2), b = Bytes(2000, 3);
  HttpResult c1 = Do("PATCH", loc, a, {"Content-Range: 0-999", "Content-Type: application/octet-stream"});
  ASSERT_EQ(c1.status, 202);
  EXPECT_EQ(c1.Header("Range"), "0-999");
  // Skips ahead, then repeats the first chunk: both out of order. The second is larger than the
  // server's default body limit, so the 416 must come without reading it.
  HttpResult skip = Do("PATCH", Resolve(c1.Header("Location")), b, {"Content-Range: 1500-3499"});
  EXPECT_EQ(skip.status, 416);
  EXPECT_EQ(skip.Header("Range"), "0-999");
  EXPECT_THAT(skip.body, HasSubstr("BLOB_UPLOAD_INVALID"));
  const std::string big = Bytes(3 << 20, 4);
  HttpResult again = Do("PATCH", loc, big, {absl::StrCat("Content-Range: 0-", big.size() - 1)});
  EXPECT_EQ(again.status, 416);
  HttpResult status = Do("GET", loc);
  EXPECT_EQ(status.status, 204);
  EXPECT_EQ(status.Header("Range"), "0-999");

  HttpResult c2 = Do("PATCH", loc, b, {"Content-Range: 1000-2999"});
  ASSERT_EQ(c2.status, 202);
  EXPECT_EQ(c2.Header("Range"), "0-2999");
  const std::string d = DigestOf(a + b);
  HttpResult done = Do("PUT", loc + "?digest=" + d, "", {}, true);
  EXPECT_EQ(done.status, 201) << done.body;
  EXPECT_EQ(done.Header("Location"), "/v2/r/blobs/" + d);
  EXPECT_TRUE(Do("GET", "/v2/r/blobs/" + d).body == a + b);
}

TEST_F(RegistryApiTest, WrongDigestOnFinishStoresNothing) {
  HttpResult start = Do("POST", "/v2/r/blobs/uploads/");
  const std::string loc = Resolve(start.Header("Location"));
  ASSERT_EQ(Do("PATCH", loc, "some bytes").status, 202);
  const std::string wrong = DigestOf("other bytes");
  HttpResult done = Do("PUT", loc + "?digest=" + wrong, "", {}, true);
  EXPECT_EQ(done.status, 400);
  EXPECT_THAT(done.body, HasSubstr(R"("code":"DIGEST_INVALID")"));
  EXPECT_EQ(Do("HEAD", "/v2/r/blobs/" + wrong).status, 404);
  EXPECT_EQ(Do("HEAD", "/v2/r/blobs/" + DigestOf("some bytes")).status, 404);
  EXPECT_EQ(CountFiles(root_ + "/blobs"), 0);
  EXPECT_EQ(CountFiles(root_ + "/uploads"), 0);
  EXPECT_EQ(Do("GET", loc).status, 404);

  // Monolithic POST with a wrong digest: same.
  HttpResult mono = Do("POST", "/v2/r/blobs/uploads/?digest=" + wrong, "abc");
  EXPECT_EQ(mono.status, 400);
  EXPECT_EQ(CountFiles(root_ + "/blobs"), 0);
  EXPECT_EQ(CountFiles(root_ + "/uploads"), 0);
}

TEST_F(RegistryApiTest, RestartInTheMiddleOfAnUploadThenResume) {
  HttpResult start = Do("POST", "/v2/team/app/blobs/uploads/");
  const std::string loc_path = start.Header("Location");
  const std::string first = Bytes(1 << 20, 5), second = Bytes(777, 6);
  ASSERT_EQ(Do("PATCH", Resolve(loc_path), first, {"Content-Range: 0-1048575"}).status, 202);

  Start();  // SIGTERM, then a new process on the same root (and a new port)
  HttpResult status = Do("GET", Resolve(loc_path));
  ASSERT_EQ(status.status, 204) << status.body;
  EXPECT_EQ(status.Header("Range"), "0-1048575");
  ASSERT_EQ(Do("PATCH", Resolve(loc_path), second, {"Content-Range: 1048576-1049352"}).status,
            202);
  const std::string d = DigestOf(first + second);
  HttpResult done = Do("PUT", Resolve(loc_path) + "?digest=" + d, "", {}, true);
  ASSERT_EQ(done.status, 201) << done.body;
  EXPECT_TRUE(Do("GET", "/v2/team/app/blobs/" + d).body == first + second);
}

TEST_F(RegistryApiTest, ExpiredUploadsAreSwept) {
  Start({"--upload_ttl=1s", "--upload_sweep_interval=100ms"});
  HttpResult start = Do("POST", "/v2/r/blobs/uploads/");
  const std::string loc = Resolve(start.Header("Location"));
  ASSERT_EQ(Do("GET", loc).status, 204);
  EXPECT_TRUE(berth::testing::WaitFor([&] { return Do("GET", loc).status == 404; },
                                      absl::Seconds(10)));
  EXPECT_THAT(Do("PATCH", loc, "x").body, HasSubstr("BLOB_UPLOAD_UNKNOWN"));
  EXPECT_EQ(CountFiles(root_ + "/uploads"), 0);
}

TEST_F(RegistryApiTest, ManifestReferencingMissingBlobsIsRefused) {
  const std::string config = PushBlob("r", "{}");
  const std::string missing = DigestOf("never pushed");
  HttpResult put = Do("PUT", "/v2/r/manifests/latest", Manifest(config, {missing}),
                      {std::string("Content-Type: ") + kOciManifest});
  EXPECT_EQ(put.status, 400);
  EXPECT_THAT(put.body, HasSubstr(R"("code":"MANIFEST_BLOB_UNKNOWN")"));
  EXPECT_THAT(put.body, HasSubstr(missing));
  // A blob only in another repository does not count either.
  const std::string elsewhere = PushBlob("other", "layer");
  EXPECT_EQ(Do("PUT", "/v2/r/manifests/latest", Manifest(config, {elsewhere}),
               {std::string("Content-Type: ") + kOciManifest})
                .status,
            400);
  EXPECT_EQ(Do("GET", "/v2/r/manifests/latest").status, 404);
  EXPECT_EQ(Do("GET", "/v2/r/tags/list").body, R"({"name":"r","tags":[]})");
}

TEST_F(RegistryApiTest, MalformedAndOversizedManifests) {
  const std::string config = PushBlob("r", "{}");
  const std::string ct = std::string("Content-Type: ") + kOciManifest;
  for (const std::string& body :
       {std::string("{"), std::string("[]"), std::string(R"({"schemaVersion":2})"),
        std::string(R"({"schemaVersion":1,"config":{},"layers":[]})"),
        absl::StrCat(R"({"schemaVersion":2,"config":{"mediaType":"a/b","size":2,"digest":"sha256:abc"},"layers":[]})"),
        std::string("")}) {
    HttpResult r = Do("PUT", "/v2/r/manifests/bad", body, {ct}, true);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_THAT(r.body, HasSubstr("MANIFEST_INVALID")) << body;
  }
  // Content-Type contradicting the body's mediaType.
  EXPECT_EQ(Do("PUT", "/v2/r/manifests/bad", Manifest(config, {}, kDockerManifest), {ct}).status,
            400);
  // Over the 4 MiB default limit: 413, refused before the body is read.
  const std::string huge = Manifest(config, {}) + std::string((4 << 20) + 1, ' ');
  HttpResult big = Do("PUT", "/v2/r/manifests/big", huge, {ct});
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(Do("GET", "/v2/r/tags/list").body, R"({"name":"r","tags":[]})");
  EXPECT_EQ(CountFiles(root_ + "/repositories/r/_manifests"), 0);
}

TEST_F(RegistryApiTest, InvalidNamesAndDigests) {
  for (const char* path : {"/v2/Upper/tags/list", "/v2/a__-b/tags/list", "/v2/a/../b/tags/list",
                           "/v2/a%2Fb/tags/list"}) {
    HttpResult r = Do("GET", path);
    EXPECT_TRUE(r.status == 400 || r.status == 404) << path << " " << r.status;
    EXPECT_THAT(r.body, Not(HasSubstr(R"("tags")"))) << path;
  }
  HttpResult upper = Do("POST", "/v2/Upper/blobs/uploads/");
  EXPECT_EQ(upper.status, 400);
  EXPECT_THAT(upper.body, HasSubstr("NAME_INVALID"));
  const std::string long_name(256, 'a');
  EXPECT_EQ(Do("POST", "/v2/" + long_name + "/blobs/uploads/").status, 400);
  for (const char* d : {"sha256:abc", "sha256:" "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ",
                        "md5:d41d8cd98f00b204e9800998ecf8427e", "nonsense"}) {
    HttpResult r = Do("GET", std::string("/v2/r/blobs/") + d);
    EXPECT_EQ(r.status, 400) << d;
    EXPECT_THAT(r.body, HasSubstr("DIGEST_INVALID")) << d;
  }
  EXPECT_EQ(Do("POST", "/v2/r/blobs/uploads/?digest=sha256:1", "x").status, 400);
  EXPECT_EQ(Do("GET", "/v2/r/blobs/uploads/not-a-uuid").status, 404);
  EXPECT_EQ(CountFiles(root_), 0);
}

TEST_F(RegistryApiTest, DeleteByTagAndByDigest) {
  const std::string config = PushBlob("r", "{}");
  const std::string manifest = Manifest(config, {});
  const std::string d = DigestOf(manifest);
  const std::string ct = std::string("Content-Type: ") + kOciManifest;
  ASSERT_EQ(Do("PUT", "/v2/r/manifests/a", manifest, {ct}).status, 201);
  ASSERT_EQ(Do("PUT", "/v2/r/manifests/b", manifest, {ct}).status, 201);

  EXPECT_EQ(Do("DELETE", "/v2/r/manifests/a").status, 202);
  EXPECT_EQ(Do("GET", "/v2/r/manifests/a").status, 404);
  EXPECT_EQ(Do("GET", "/v2/r/manifests/b").status, 200);
  EXPECT_EQ(Do("GET", "/v2/r/manifests/" + d).status, 200);

  EXPECT_EQ(Do("DELETE", "/v2/r/manifests/" + d).status, 202);
  EXPECT_EQ(Do("GET", "/v2/r/manifests/" + d).status, 404);
  HttpResult b = Do("GET", "/v2/r/manifests/b");
  EXPECT_EQ(b.status, 404);
  EXPECT_THAT(b.body, HasSubstr("MANIFEST_UNKNOWN"));
  EXPECT_EQ(Do("DELETE", "/v2/r/manifests/" + d).status, 404);
  EXPECT_EQ(Do("DELETE", "/v2/nope/manifests/x").status, 404);

  EXPECT_EQ(Do("DELETE", "/v2/r/blobs/" + config).status, 202);
  EXPECT_EQ(Do("HEAD", "/v2/r/blobs/" + config).status, 404);
  EXPECT_EQ(Do("DELETE", "/v2/r/blobs/" + config).status, 404);
}

TEST_F(RegistryApiTest, PaginationEdges) {
  const std::string config = PushBlob("r", "{}");
  const std::string manifest = Manifest(config, {});
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(Do("PUT", absl::StrCat("/v2/r/manifests/t", i), manifest,
                 {std::string("Content-Type: ") + kOciManifest})
                  .status,
              201);
  }
  HttpResult zero = Do("GET", "/v2/r/tags/list?n=0");
  EXPECT_EQ(zero.body, R"({"name":"r","tags":[]})");
  EXPECT_EQ(zero.Header("Link"), "");
  HttpResult page = Do("GET", "/v2/r/tags/list?n=2");
  EXPECT_EQ(page.body, R"({"name":"r","tags":["t0","t1"]})");
  // Follow the Link header to the end.
  std::vector<std::string> seen = {"t0", "t1"};
  std::string link = page.Header("Link");
  while (!link.empty()) {
    const std::string next = link.substr(1, link.find('>') - 1);
    HttpResult p = Do("GET", next);
    ASSERT_EQ(p.status, 200);
    for (absl::string_view t : absl::StrSplit(
             p.body.substr(p.body.find('[') + 1, p.body.find(']') - p.body.find('[') - 1), ',')) {
      seen.push_back(std::string(absl::StripPrefix(absl::StripSuffix(t, "\""), "\"")));
    }
    link = p.Header("Link");
  }
  EXPECT_THAT(seen, ::testing::ElementsAre("t0", "t1", "t2", "t3", "t4"));
  EXPECT_EQ(Do("GET", "/v2/r/tags/list?n=10&last=t9").body, R"({"name":"r","tags":[]})");
  EXPECT_EQ(Do("GET", "/v2/r/tags/list?n=10&last=t4").Header("Link"), "");
  EXPECT_EQ(Do("GET", "/v2/r/tags/list?n=x").status, 400);
  EXPECT_EQ(Do("GET", "/v2/_catalog?n=0").body, R"({"repositories":[]})");
  EXPECT_EQ(Do("GET", "/v2/_catalog?last=zzz").body, R"({"repositories":[]})");
}

TEST_F(RegistryApiTest, CrossRepositoryMountAndReferrers) {
  const std::string config = PushBlob("src", "{}");
  HttpResult mount = Do("POST", "/v2/dst/blobs/uploads/?mount=" + config + "&from=src");
  EXPECT_EQ(mount.status, 201);
  EXPECT_EQ(mount.Header("Docker-Content-Digest"), config);
  EXPECT_EQ(Do("HEAD", "/v2/dst/blobs/" + config).status, 200);
  HttpResult fallback =
      Do("POST", "/v2/dst/blobs/uploads/?mount=" + DigestOf("absent") + "&from=src");
  EXPECT_EQ(fallback.status, 202);
  EXPECT_THAT(fallback.Header("Location"), HasSubstr("/v2/dst/blobs/uploads/"));

  const std::string image = Manifest(config, {});
  const std::string ct = std::string("Content-Type: ") + kOciManifest;
  ASSERT_EQ(Do("PUT", "/v2/dst/manifests/v1", image, {ct}).status, 201);
  const std::string sig = absl::StrCat(
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)",
      R"("artifactType":"application/vnd.example.sig","config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":")",
      config, R"("},"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":)",
      image.size(), R"(,"digest":")", DigestOf(image), R"("},"annotations":{"a":"b"}})");
  HttpResult put = Do("PUT", "/v2/dst/manifests/" + DigestOf(sig), sig, {ct});
  ASSERT_EQ(put.status, 201) << put.body;
  EXPECT_EQ(put.Header("OCI-Subject"), DigestOf(image));
  HttpResult refs = Do("GET", "/v2/dst/referrers/" + DigestOf(image));
  EXPECT_EQ(refs.status, 200);
  EXPECT_EQ(refs.Header("Content-Type"), "application/vnd.oci.image.index.v1+json");
  EXPECT_THAT(refs.body, HasSubstr(DigestOf(sig)));
  EXPECT_THAT(refs.body, HasSubstr(R"("artifactType":"application/vnd.example.sig")"));
  HttpResult none = Do("GET", "/v2/dst/referrers/" + DigestOf(image) + "?artifactType=x/y");
  EXPECT_EQ(none.Header("OCI-Filters-Applied"), "artifactType");
  EXPECT_THAT(none.body, HasSubstr(R"("manifests":[])"));
  EXPECT_EQ(Do("GET", "/v2/dst/referrers/sha256:nothex").status, 400);
}

TEST_F(RegistryApiTest, ReadOnlyModeRefusesWrites) {
  const std::string d = PushBlob("r", "content");
  Start({"--read_only"});
  HttpResult post = Do("POST", "/v2/r/blobs/uploads/");
  EXPECT_EQ(post.status, 405);
  EXPECT_THAT(post.body, HasSubstr("UNSUPPORTED"));
  EXPECT_EQ(Do("DELETE", "/v2/r/blobs/" + d).status, 405);
  EXPECT_EQ(Do("PUT", "/v2/r/manifests/x", "{}").status, 405);
  EXPECT_EQ(Do("GET", "/v2/r/blobs/" + d).body, "content");
}

TEST_F(RegistryApiTest, GarbageCollectCommand) {
  const std::string config = PushBlob("r", "{}");
  const std::string layer = PushBlob("r", "layer");
  const std::string orphan = PushBlob("r", "orphan");
  ASSERT_EQ(Do("PUT", "/v2/r/manifests/v1", Manifest(config, {layer}),
               {std::string("Content-Type: ") + kOciManifest})
                .status,
            201);
  // Within the default grace period nothing goes, even while the daemon runs.
  auto kept = RunRegistryCommand({"garbage-collect", "--root=" + root_});
  ASSERT_THAT(kept, IsOk());
  EXPECT_TRUE(kept->Succeeded()) << kept->output;
  EXPECT_THAT(kept->output, HasSubstr("blobs_deleted=0"));

  auto dry = RunRegistryCommand({"garbage-collect", "--root=" + root_, "--dry-run",
                                 "--gc-grace=0s"});
  ASSERT_THAT(dry, IsOk());
  EXPECT_THAT(dry->output, HasSubstr("would delete " + orphan));
  EXPECT_EQ(Do("HEAD", "/v2/r/blobs/" + orphan).status, 200);

  auto real = RunRegistryCommand({"garbage-collect", "--root=" + root_, "--gc-grace=0s"});
  ASSERT_THAT(real, IsOk());
  EXPECT_TRUE(real->Succeeded()) << real->output;
  EXPECT_THAT(real->output, HasSubstr("deleted " + orphan));
  EXPECT_THAT(real->output, HasSubstr("blobs_deleted=1"));
  EXPECT_EQ(Do("HEAD", "/v2/r/blobs/" + orphan).status, 404);
  EXPECT_EQ(Do("HEAD", "/v2/r/blobs/" + layer).status, 200);
  EXPECT_EQ(Do("GET", "/v2/r/manifests/v1").status, 200);

  auto missing_root = RunRegistryCommand({"garbage-collect", "--root=" + dir_->Sub("none")});
  ASSERT_THAT(missing_root, IsOk());
  EXPECT_FALSE(missing_root->Succeeded());
}

TEST_F(RegistryApiTest, MetricsCountBlobsUploadsAndRequests) {
  PushBlob("r", "one");
  PushBlob("r", "two");
  ASSERT_EQ(Do("POST", "/v2/r/blobs/uploads/").status, 202);
  EXPECT_TRUE(berth::testing::WaitFor(
      [&] {
        const std::string m = Metrics();
        return absl::StrContains(m, "berth_registry_blobs_stored 2") &&
               absl::StrContains(m, "berth_registry_uploads_in_progress 1") &&
               absl::StrContains(
                   m, R"(berth_registry_http_requests_total{code="201",method="PUT",route="/v2/{name...}/blobs/uploads/{uuid}"} 2)");
      },
      absl::Seconds(5)))
      << Metrics();
  // The counts survive a restart (read back from disk).
  Start();
  EXPECT_THAT(Metrics(), HasSubstr("berth_registry_blobs_stored 2"));
  EXPECT_THAT(Metrics(), HasSubstr("berth_registry_uploads_in_progress 1"));
}

TEST_F(RegistryApiTest, BasicAuthWithHtpasswd) {
  // A fixed bcrypt hash ($2y$, as `htpasswd -B` writes) of "pw".
  const std::string htpasswd = dir_->Sub("htpasswd");
  ASSERT_THAT(fs::WriteFileAtomically(
                  htpasswd, "alice:$2y$05$k2hgroof7v3SnwWSSEGJt.N/ikcSLUxPSrb5x2zcC70YekOLCJNWa\n",
                  0600),
              IsOk());
  Start({"--htpasswd=" + htpasswd, "--auth_realm=berth test"});
  HttpResult anonymous = Do("GET", "/v2/");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.Header("WWW-Authenticate"), R"(Basic realm="berth test")");
  EXPECT_EQ(anonymous.Header("Docker-Distribution-API-Version"), "registry/2.0");
  EXPECT_THAT(anonymous.body, HasSubstr(R"("code":"UNAUTHORIZED")"));
  const std::string good = "Authorization: Basic " + absl::Base64Escape("alice:pw");
  const std::string bad = "Authorization: Basic " + absl::Base64Escape("alice:nope");
  EXPECT_EQ(Do("GET", "/v2/", "", {bad}).status, 401);
  EXPECT_EQ(Do("GET", "/v2/", "", {good}).status, 200);
  // A push without credentials is refused and stores nothing; with them it works.
  const std::string d = DigestOf("secret layer");
  EXPECT_EQ(Do("POST", "/v2/r/blobs/uploads/?digest=" + d, "secret layer").status, 401);
  EXPECT_EQ(CountFiles(root_ + "/blobs"), 0);
  EXPECT_EQ(Do("POST", "/v2/r/blobs/uploads/?digest=" + d, "secret layer", {good}).status, 201);
  EXPECT_EQ(Do("GET", "/v2/r/blobs/" + d).status, 401);
  EXPECT_EQ(Do("GET", "/v2/r/blobs/" + d, "", {good}).body, "secret layer");

  // A file that is not bcrypt stops the daemon from starting.
  ASSERT_THAT(fs::WriteFileAtomically(htpasswd, "alice:{SHA}abc\n", 0600), IsOk());
  ASSERT_THAT(registry_->Stop(), IsOk());
  registry_.reset();
  auto refused = RunRegistryCommand({"--listen=127.0.0.1:0", "--metrics-addr=127.0.0.1:0",
                                     "--root=" + root_, "--htpasswd=" + htpasswd});
  ASSERT_THAT(refused, IsOk());
  EXPECT_FALSE(refused->Succeeded());
  EXPECT_THAT(refused->output, HasSubstr("bcrypt"));
}

TEST_F(RegistryApiTest, LargeBlobIsStreamedNotBuffered) {
  // 96 MiB up and down; the daemon's resident memory must stay far below that.
  const std::string big = Bytes(96 << 20, 7);
  const std::string d = PushBlob("big", big);
  HttpResult got = Do("GET", "/v2/big/blobs/" + d);
  ASSERT_EQ(got.status, 200);
  EXPECT_TRUE(got.body == big);
  const std::string status = berth::testing::ReadFileOrEmpty(
      absl::StrCat("/proc/", registry_->pid(), "/status"));
  const size_t at = status.find("VmHWM:");
  ASSERT_NE(at, std::string::npos);
  long peak_kb = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(
                                   status.substr(at + 6, status.find("kB", at) - at - 6)),
                               &peak_kb));
  EXPECT_LT(peak_kb, 64 * 1024) << "peak RSS " << peak_kb << " kB";
}

}  // namespace
}  // namespace berth::tests
