// Pull, push and login against Debian's docker-registry 2.8 (a real registry, started here;
// the tests skip when it is absent) and against TestServer for what a real registry will not
// do: tampered blobs, dropped connections, bearer tokens, slow bodies.
#include "engine/distribution/registry_distribution.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <fstream>
#include <optional>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/digest/digest.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/testing/certs.h"
#include "common/testing/child_process.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "engine/distribution/blobs.h"
#include "engine/distribution/gzip.h"
#include "engine/distribution/test_server.h"
#include "engine/images/fake_backend.h"
#include "engine/images/oci.h"
#include "engine/images/tar_writer.h"

namespace berth::engine::distribution {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::Contains;
using ::testing::HasSubstr;
namespace oci = images::oci;

std::string Digest(const std::string& data) { return digest::Digest::FromBytes(data)->ToString(); }

std::string Gunzip(const std::string& in) {
  z_stream zs{};
  inflateInit2(&zs, 16 + 15);
  std::string out;
  char buf[1 << 16];
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - zs.avail_out);
  }
  inflateEnd(&zs);
  return rc == Z_STREAM_END ? out : "<bad gzip>";
}

// The fake backend's differ takes plain tars only; pulled layers are gzip, so this one
// gunzips first (the diff id is the digest of the tar, as with the real differ).
class GzipDiffer final : public images::Differ {
 public:
  GzipDiffer(images::Differ* inner, images::ContentStore* content)
      : inner_(inner), content_(content) {}
  absl::StatusOr<images::Descriptor> Apply(const images::Descriptor& layer,
                                           const std::vector<images::Mount>& mounts) override {
    if (!absl::EndsWith(layer.media_type(), "gzip")) return inner_->Apply(layer, mounts);
    absl::StatusOr<std::string> data = content_->ReadAll(layer.digest(), 1 << 30);
    if (!data.ok()) return data.status();
    std::string tar = Gunzip(*data);
    images::Descriptor out;
    out.set_media_type(oci::kMediaTypeLayer);
    out.set_digest(Digest(tar));
    out.set_size(static_cast<int64_t>(tar.size()));
    return out;
  }

 private:
  images::Differ* inner_;
  images::ContentStore* content_;
};

// An image store over the fake backend.
struct Local {
  Local() : differ(fake.backend().differ, fake.backend().content) {
    images::Backend b = fake.backend();
    b.differ = &differ;
    store = std::make_unique<images::ImageStore>(b, images::ImageStoreOptions());
  }
  images::FakeBackend fake;
  GzipDiffer differ;
  std::unique_ptr<images::ImageStore> store;
};

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string LayerTar(const std::string& name, const std::string& data) {
  return absl::StrCat(images::tar::Header(name, static_cast<int64_t>(data.size()), false),
                      data, images::tar::Padding(static_cast<int64_t>(data.size())),
                      images::tar::End());
}

struct BuiltImage {
  std::string manifest;  // JSON
  std::string config;
  std::vector<std::string> layers;  // blobs as in the manifest
  std::string manifest_digest() const { return Digest(manifest); }
  std::string config_digest() const { return Digest(config); }
};

// An image whose layers are `layers` (plain tars, or gzip when `gzip`).
BuiltImage BuildImage(const std::vector<std::string>& tars, bool gzip) {
  BuiltImage img;
  nlohmann::json config = {{"architecture", "amd64"}, {"os", "linux"}};
  config["rootfs"] = {{"type", "layers"}, {"diff_ids", nlohmann::json::array()}};
  oci::Manifest m;
  m.media_type = oci::kMediaTypeManifest;
  for (const auto& t : tars) {
    config["rootfs"]["diff_ids"].push_back(Digest(t));
    std::string blob = t;
    if (gzip) {
      blob.clear();
      (void)GzipCompress(
          [&, done = false](std::string* c) mutable -> absl::StatusOr<bool> {
            if (done) return false;
            *c = t;
            done = true;
            return true;
          },
          [&](GzipPiece&& piece) {
            piece.AppendTo(&blob);
            return absl::OkStatus();
          });
    }
    images::Descriptor d;
    d.set_media_type(gzip ? oci::kMediaTypeLayerGzip : oci::kMediaTypeLayer);
    d.set_digest(Digest(blob));
    d.set_size(static_cast<int64_t>(blob.size()));
    m.layers.push_back(d);
    img.layers.push_back(blob);
  }
  img.config = config.dump();
  m.config.set_media_type(oci::kMediaTypeConfig);
  m.config.set_digest(Digest(img.config));
  m.config.set_size(static_cast<int64_t>(img.config.size()));
  img.manifest = oci::ManifestJson(m);
  return img;
}

// Stores `img` in `local` as `name` (normalized), unpacked, like `berth load` would.
void StoreImage(Local& local, const BuiltImage& img, const std::string& name) {
  images::ContentStore* c = local.store->backend().content;
  for (const auto& l : img.layers) {
    ASSERT_THAT(WriteSmallBlob(c, "t-" + Digest(l), l, Digest(l), {}, ""), IsOk());
  }
  ASSERT_THAT(WriteSmallBlob(c, "t-config", img.config, img.config_digest(), {}, ""), IsOk());
  ASSERT_THAT(WriteSmallBlob(c, "t-manifest", img.manifest, img.manifest_digest(), {}, ""),
              IsOk());
  images::Descriptor target;
  target.set_media_type(oci::kMediaTypeManifest);
  target.set_digest(img.manifest_digest());
  target.set_size(static_cast<int64_t>(img.manifest.size()));
  ASSERT_THAT(local.store->Unpack(target, ""), IsOk());
  ASSERT_THAT(local.store->SetName(name, target), IsOk());
}

struct Lines {
  std::vector<v1::TransferProgress> progress;
  std::vector<std::string> statuses;
  std::vector<v1::PullImageResult> pulled;
  std::vector<v1::PushImageResult> pushed;
  bool Has(const std::string& s) const {
    for (const auto& x : statuses) {
      if (absl::StrContains(x, s)) return true;
    }
    return false;
  }
  int Count(v1::TransferPhase phase) const {
    int n = 0;
    for (const auto& p : progress) n += p.phase() == phase;
    return n;
  }
};

absl::Status Pull(images::Distribution& d, const std::string& ref, Lines* lines,
                  const std::atomic<bool>* cancel = nullptr, v1::AuthConfig auth = {}) {
  static std::atomic<bool> never{false};
  v1::PullImageRequest req;
  req.set_reference(ref);
  *req.mutable_auth() = auth;
  return d.Pull(
      req,
      [lines](v1::PullImageResponse r) {
        if (r.has_progress()) {
          lines->statuses.push_back(r.progress().status());
          lines->progress.push_back(r.progress());
        } else {
          lines->pulled.push_back(r.result());
        }
      },
      cancel != nullptr ? *cancel : never);
}

absl::Status Push(images::Distribution& d, const std::string& ref, Lines* lines,
                  v1::AuthConfig auth = {}) {
  std::atomic<bool> never{false};
  v1::PushImageRequest req;
  req.set_reference(ref);
  *req.mutable_auth() = auth;
  return d.Push(
      req,
      [lines](v1::PushImageResponse r) {
        if (r.has_progress()) {
          lines->statuses.push_back(r.progress().status());
          lines->progress.push_back(r.progress());
        } else {
          lines->pushed.push_back(r.result());
        }
      },
      never);
}

// Debian's docker-registry 2.8 on a loopback port with its own root.
class DockerRegistry {
 public:
  // With `tls_cert`/`tls_key` (PEM files) it serves HTTPS only.
  static absl::StatusOr<std::unique_ptr<DockerRegistry>> Start(const std::string& dir,
                                                               const std::string& htpasswd = "",
                                                               const std::string& tls_cert = "",
                                                               const std::string& tls_key = "") {
    auto r = std::unique_ptr<DockerRegistry>(new DockerRegistry);
    std::string config = absl::StrCat("version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n"
                                      "    rootdirectory: ", dir, "/data\n  delete:\n    enabled: true\n"
                                      "http:\n  addr: 127.0.0.1:0\n");
    if (!tls_cert.empty()) {
      absl::StrAppend(&config, "  tls:\n    certificate: ", tls_cert, "\n    key: ", tls_key,
                      "\n");
    }
    if (!htpasswd.empty()) {
      absl::StrAppend(&config, "auth:\n  htpasswd:\n    realm: berth-test\n    path: ", htpasswd,
                      "\n");
    }
    const std::string path = dir + "/config.yml";
    {
      std::ofstream(path) << config;
    }
    r->log_ = dir + "/registry.log";
    absl::StatusOr<berth::testing::ChildProcess> p = berth::testing::ChildProcess::Start(
        {"/usr/bin/docker-registry", "serve", path}, r->log_);
    if (!p.ok()) return p.status();
    r->process_.emplace(std::move(*p));
    bool up = berth::testing::WaitFor(
        [&] {
          std::string log = berth::testing::ReadFileOrEmpty(r->log_);
          size_t at = log.find("listening on 127.0.0.1:");
          if (at == std::string::npos) return false;
          at += strlen("listening on ");
          size_t end = log.find_first_of("\",", at);  // "..., tls" when serving TLS
          r->address_ = log.substr(at, end - at);
          return true;
        },
        absl::Seconds(20));
    if (!up) return absl::DeadlineExceededError("docker-registry did not start");
    return r;
  }
  const std::string& address() const { return address_; }

 private:
  DockerRegistry() = default;
  std::optional<berth::testing::ChildProcess> process_;
  std::string log_;
  std::string address_;
};

bool HaveDockerRegistry() { return access("/usr/bin/docker-registry", X_OK) == 0; }

class DistributionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<berth::testing::TempDir> d = berth::testing::TempDir::Create();
    ASSERT_TRUE(d.ok());
    dir_.emplace(std::move(*d));
    options_.certs_dir = dir_->Sub("certs.d");
  }
  std::unique_ptr<images::Distribution> New(Local& local) {
    return NewRegistryDistribution(options_, local.store.get());
  }
  std::optional<berth::testing::TempDir> dir_;
  Options options_;
};

TEST_F(DistributionTest, PushPullRoundTripWithDockerRegistry) {
  if (!HaveDockerRegistry()) GTEST_SKIP() << "docker-registry not installed";
  absl::StatusOr<std::unique_ptr<DockerRegistry>> reg = DockerRegistry::Start(dir_->path());
  ASSERT_THAT(reg.status(), IsOk());
  const std::string host = (*reg)->address();

  Local src;
  BuiltImage img = BuildImage({LayerTar("a", RandomBytes(300000, 1)),
                               LayerTar("b", RandomBytes(2500000, 2)),
                               LayerTar("c", RandomBytes(1000, 3))},
                              /*gzip=*/false);
  StoreImage(src, img, host + "/test/app:v1");
  auto dist = New(src);

  Lines first;
  ASSERT_THAT(Push(*dist, host + "/test/app:v1", &first), IsOk());
  ASSERT_EQ(first.pushed.size(), 1u);
  EXPECT_EQ(first.Count(v1::TRANSFER_PHASE_PUSHED), 3);
  EXPECT_TRUE(first.Has("The push refers to repository [" + host + "/test/app]"));
  const std::string pushed_digest = first.pushed[0].digest();
  // Layers were compressed on the way: the registry holds another manifest than the local one.
  EXPECT_NE(pushed_digest, img.manifest_digest());

  // Pushing again finds every layer (the same gzip blobs: same digests) and the same manifest.
  Lines second;
  ASSERT_THAT(Push(*dist, host + "/test/app:v1", &second), IsOk());
  EXPECT_EQ(second.Count(v1::TRANSFER_PHASE_LAYER_ALREADY_EXISTS), 3);
  EXPECT_EQ(second.Count(v1::TRANSFER_PHASE_PUSHED), 0);
  ASSERT_EQ(second.pushed.size(), 1u);
  EXPECT_EQ(second.pushed[0].digest(), pushed_digest);

  // Another repository of the same registry: mounted, not uploaded.
  ASSERT_THAT(src.store->Tag(host + "/test/app:v1", host + "/other/app:v2"), IsOk());
  Lines third;
  ASSERT_THAT(Push(*dist, host + "/other/app:v2", &third), IsOk());
  EXPECT_EQ(third.Count(v1::TRANSFER_PHASE_MOUNTED_FROM), 3);
  EXPECT_TRUE(third.Has("Mounted from test/app"));

  // Another registry, empty: the gzip blobs were not kept, so the layers are compressed again
  // on the way up, into the very same bytes (same layer and manifest digests).
  const std::string other_dir = dir_->path() + "/second";
  ASSERT_THAT(fs::MakeDirs(other_dir, 0700), IsOk());
  absl::StatusOr<std::unique_ptr<DockerRegistry>> reg2 = DockerRegistry::Start(other_dir);
  ASSERT_THAT(reg2.status(), IsOk());
  const std::string host2 = (*reg2)->address();
  ASSERT_THAT(src.store->Tag(host + "/test/app:v1", host2 + "/test/app:v1"), IsOk());
  Lines fourth;
  ASSERT_THAT(Push(*dist, host2 + "/test/app:v1", &fourth), IsOk());
  EXPECT_EQ(fourth.Count(v1::TRANSFER_PHASE_PUSHED), 3);
  ASSERT_EQ(fourth.pushed.size(), 1u);
  EXPECT_EQ(fourth.pushed[0].digest(), pushed_digest);

  // Pull into an empty store: same manifest digest, same image id, unpacked.
  Local dst;
  auto dist2 = New(dst);
  Lines pull;
  ASSERT_THAT(Pull(*dist2, host + "/test/app:v1", &pull), IsOk());
  ASSERT_EQ(pull.pulled.size(), 1u);
  EXPECT_EQ(pull.pulled[0].digest(), pushed_digest);
  EXPECT_EQ(pull.pulled[0].image_id(), img.config_digest());
  EXPECT_FALSE(pull.pulled[0].up_to_date());
  EXPECT_EQ(pull.Count(v1::TRANSFER_PHASE_PULL_COMPLETE), 3);
  EXPECT_TRUE(pull.Has("Digest: " + pushed_digest));
  EXPECT_TRUE(pull.Has("Status: Downloaded newer image for " + host + "/test/app:v1"));
  absl::StatusOr<images::LocalImage> got = dst.store->Resolve(host + "/test/app:v1");
  ASSERT_THAT(got.status(), IsOk());
  EXPECT_EQ(got->id, img.config_digest());
  EXPECT_EQ(dst.fake.LeaseCount(), 0u);

  // Again: up to date.
  Lines again;
  ASSERT_THAT(Pull(*dist2, host + "/test/app:v1", &again), IsOk());
  ASSERT_EQ(again.pulled.size(), 1u);
  EXPECT_TRUE(again.pulled[0].up_to_date());
  EXPECT_TRUE(again.Has("Status: Image is up to date for " + host + "/test/app:v1"));

  // By digest, and then push the pulled (gzip) image back: nothing to upload.
  Lines by_digest;
  ASSERT_THAT(Pull(*dist2, host + "/test/app@" + pushed_digest, &by_digest), IsOk());
  EXPECT_THAT(dst.fake.backend().images->Get(host + "/test/app@" + pushed_digest).status(),
              IsOk());
  Lines repush;
  ASSERT_THAT(Push(*dist2, host + "/test/app:v1", &repush), IsOk());
  EXPECT_EQ(repush.pushed[0].digest(), pushed_digest);

  // InspectDistribution resolves without pulling.
  v1::InspectDistributionRequest ireq;
  ireq.set_reference(host + "/test/app:v1");
  absl::StatusOr<v1::InspectDistributionResponse> ins = dist2->InspectDistribution(ireq);
  ASSERT_THAT(ins.status(), IsOk());
  EXPECT_EQ(ins->target().digest(), pushed_digest);
  ASSERT_EQ(ins->platforms_size(), 1);
  EXPECT_EQ(ins->platforms(0).architecture(), "amd64");

  // Unknown things.
  Lines none;
  EXPECT_THAT(Pull(*dist2, host + "/test/app:nope", &none),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("manifest for")));
  EXPECT_THAT(Push(*dist2, host + "/test/absent:v1", &none),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(DistributionTest, BasicAuthWithDockerRegistry) {
  if (!HaveDockerRegistry()) GTEST_SKIP() << "docker-registry not installed";
  // bcrypt ($2y$, as `htpasswd -B` writes it) of "pw".
  const std::string htpasswd = dir_->Sub("htpasswd");
  ASSERT_THAT(fs::WriteFileAtomically(
                  htpasswd, "alice:$2y$05$k2hgroof7v3SnwWSSEGJt.N/ikcSLUxPSrb5x2zcC70YekOLCJNWa\n",
                  0600),
              IsOk());
  absl::StatusOr<std::unique_ptr<DockerRegistry>> reg =
      DockerRegistry::Start(dir_->path(), htpasswd);
  ASSERT_THAT(reg.status(), IsOk());
  const std::string host = (*reg)->address();
  Local src;
  StoreImage(src, BuildImage({LayerTar("a", RandomBytes(5000, 4))}, false), host + "/p/q:1");
  auto dist = New(src);

  Lines l;
  EXPECT_THAT(Push(*dist, host + "/p/q:1", &l), StatusIs(absl::StatusCode::kUnauthenticated));
  v1::AuthConfig bad;
  bad.set_username("alice");
  bad.set_password("wrong");
  EXPECT_THAT(Push(*dist, host + "/p/q:1", &l, bad),
              StatusIs(absl::StatusCode::kUnauthenticated));
  v1::AuthConfig good;
  good.set_username("alice");
  good.set_password("pw");
  ASSERT_THAT(Push(*dist, host + "/p/q:1", &l, good), IsOk());

  Local dst;
  auto dist2 = New(dst);
  EXPECT_THAT(Pull(*dist2, host + "/p/q:1", &l),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("pull access denied for " + host + "/p/q")));
  ASSERT_THAT(Pull(*dist2, host + "/p/q:1", &l, nullptr, good), IsOk());

  v1::LoginRequest login;
  login.mutable_auth()->set_server_address(host);
  login.mutable_auth()->set_username("alice");
  login.mutable_auth()->set_password("wrong");
  EXPECT_THAT(dist->Login(login).status(), StatusIs(absl::StatusCode::kUnauthenticated));
  login.mutable_auth()->set_password("pw");
  absl::StatusOr<v1::LoginResponse> ok = dist->Login(login);
  ASSERT_THAT(ok.status(), IsOk());
  EXPECT_EQ(ok->status(), "Login Succeeded");
}

// A registry serving one image from memory, with knobs.
class FakeRegistry {
 public:
  explicit FakeRegistry(BuiltImage img) : img_(std::move(img)) {}

  TestResponse Handle(const TestRequest& req) {
    absl::MutexLock l(&mu_);
    requests_.push_back(req);
    if (!token_.empty()) {
      if (absl::StartsWith(req.target, "/token")) return Token(req);
      auto it = req.headers.find("authorization");
      if (it == req.headers.end() || it->second != "Bearer " + token_) {
        TestResponse r;
        r.status = 401;
        r.headers.push_back({"WWW-Authenticate",
                             absl::StrCat("Bearer realm=\"http://", address_,
                                          "/token\",service=\"fake\",scope=\"repository:img:pull\"")});
        r.body = R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})";
        return r;
      }
    }
    TestResponse r;
    if (req.target == "/v2/") return r;
    if (req.target == "/v2/img/manifests/latest" ||
        req.target == "/v2/img/manifests/" + img_.manifest_digest()) {
      r.headers.push_back({"Content-Type", oci::kMediaTypeManifest});
      r.headers.push_back({"Docker-Content-Digest", img_.manifest_digest()});
      r.body = img_.manifest;
      return r;
    }
    if (req.target == "/v2/img/blobs/" + img_.config_digest()) {
      r.body = img_.config;
      return r;
    }
    for (size_t i = 0; i < img_.layers.size(); ++i) {
      if (req.target != "/v2/img/blobs/" + Digest(img_.layers[i])) continue;
      std::string body = img_.layers[i];
      if (tamper_) body[body.size() / 2] ^= 1;
      r.pace = pace_;
      auto range = req.headers.find("range");
      if (range != req.headers.end()) {
        int64_t from = 0;
        std::string v = range->second;
        if (absl::SimpleAtoi(v.substr(6, v.find('-') - 6), &from)) {
          r.status = 206;
          r.headers.push_back(
              {"Content-Range", absl::StrCat("bytes ", from, "-", body.size() - 1, "/", body.size())});
          r.body = body.substr(from);
          ranges_.push_back(from);
          return r;
        }
      }
      r.body = body;
      if (cut_ > 0) {
        r.cut_after = static_cast<int64_t>(body.size() / 2);
        --cut_;
      }
      return r;
    }
    r.status = 404;
    r.body = R"({"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]})";
    return r;
  }

  TestResponse Token(const TestRequest& req) {
    TestResponse r;
    auto it = req.headers.find("authorization");
    // alice:pw
    if (it == req.headers.end() || it->second != "Basic YWxpY2U6cHc=" ||
        !absl::StrContains(req.target, "service=fake") ||
        !absl::StrContains(req.target, "scope=repository%3Aimg%3Apull")) {
      r.status = 401;
      return r;
    }
    ++tokens_issued_;
    r.headers.push_back({"Content-Type", "application/json"});
    r.body = absl::StrCat(R"({"token":")", token_, R"(","expires_in":300})");
    return r;
  }

  BuiltImage img_;
  absl::Mutex mu_;
  std::vector<TestRequest> requests_;
  std::vector<int64_t> ranges_;
  bool tamper_ = false;
  int cut_ = 0;
  absl::Duration pace_;
  std::string token_;
  std::string address_;
  int tokens_issued_ = 0;
};

struct Served {
  std::unique_ptr<FakeRegistry> registry;
  std::unique_ptr<TestServer> server;
};

Served Serve(BuiltImage img) {
  Served s;
  s.registry = std::make_unique<FakeRegistry>(std::move(img));
  FakeRegistry* r = s.registry.get();
  s.server = std::move(*TestServer::Start([r](const TestRequest& q) { return r->Handle(q); }));
  absl::MutexLock l(&r->mu_);
  r->address_ = s.server->address();
  return s;
}

TEST_F(DistributionTest, TlsRegistryTrustedThroughCertsDir) {
  if (!HaveDockerRegistry() || access(berth::testing::kOpensslCli, X_OK) != 0) {
    GTEST_SKIP() << "docker-registry or openssl not installed";
  }
  const std::string d = dir_->path();
  ASSERT_THAT(berth::testing::MakeCaAndServerCert(d, "berth distribution test CA"), IsOk());
  absl::StatusOr<std::unique_ptr<DockerRegistry>> reg =
      DockerRegistry::Start(d, "", d + "/server.crt", d + "/server.key");
  ASSERT_THAT(reg.status(), IsOk());
  const std::string host = (*reg)->address();
  const std::string ref = host + "/tls/app:1";

  Local src;
  BuiltImage img = BuildImage({LayerTar("a", RandomBytes(200000, 7))}, false);
  StoreImage(src, img, ref);
  // Not trusted yet (the CA is in no certs.d dir; the system roots do not know it): refused,
  // and the plain-http fallback loopback registries get does not reach a TLS-only server.
  Lines refused;
  EXPECT_FALSE(Push(*New(src), ref, &refused).ok());

  auto ca = fs::ReadFile(d + "/ca.crt");
  ASSERT_THAT(ca, IsOk());
  ASSERT_THAT(fs::MakeDirs(options_.certs_dir + "/" + host, 0700), IsOk());
  ASSERT_THAT(fs::WriteFileAtomically(options_.certs_dir + "/" + host + "/ca.crt", *ca, 0600),
              IsOk());
  Lines pushed;
  ASSERT_THAT(Push(*New(src), ref, &pushed), IsOk());
  ASSERT_EQ(pushed.pushed.size(), 1u);

  // Twice, so the second pull's connections verify against the store the first one built.
  for (int i = 0; i < 2; ++i) {
    Local dst;
    Lines pulled;
    ASSERT_THAT(Pull(*New(dst), ref, &pulled), IsOk()) << i;
    absl::StatusOr<images::ImageRecord> got = dst.fake.backend().images->Get(ref);
    ASSERT_THAT(got.status(), IsOk());
    EXPECT_EQ(got->target.digest(), pushed.pushed[0].digest());
  }
}

TEST_F(DistributionTest, TamperedLayerFailsAndLeavesNoImage) {
  Served s = Serve(BuildImage({LayerTar("a", RandomBytes(200000, 5))}, true));
  {
    absl::MutexLock l(&s.registry->mu_);
    s.registry->tamper_ = true;
  }
  Local dst;
  auto dist = New(dst);
  Lines l;
  EXPECT_THAT(Pull(*dist, s.server->address() + "/img", &l),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("digest mismatch")));
  EXPECT_TRUE(dst.fake.backend().images->List()->empty());
  EXPECT_EQ(dst.fake.IngestCount(), 0u);
}

TEST_F(DistributionTest, DroppedConnectionResumesWithRange) {
  BuiltImage img = BuildImage({LayerTar("a", RandomBytes(1 << 20, 6))}, true);
  Served s = Serve(img);
  {
    absl::MutexLock l(&s.registry->mu_);
    s.registry->cut_ = 1;
  }
  Local dst;
  auto dist = New(dst);
  Lines l;
  ASSERT_THAT(Pull(*dist, s.server->address() + "/img", &l), IsOk());
  EXPECT_GE(l.Count(v1::TRANSFER_PHASE_RETRYING), 1);
  absl::MutexLock lock(&s.registry->mu_);
  ASSERT_EQ(s.registry->ranges_.size(), 1u);
  EXPECT_GT(s.registry->ranges_[0], 0);
  EXPECT_THAT(dst.store->Resolve(s.server->address() + "/img").status(), IsOk());
}

TEST_F(DistributionTest, BearerTokenFlow) {
  Served s = Serve(BuildImage({LayerTar("a", RandomBytes(50000, 7))}, true));
  {
    absl::MutexLock l(&s.registry->mu_);
    s.registry->token_ = "tok-123";
  }
  Local dst;
  auto dist = New(dst);
  Lines l;
  EXPECT_THAT(Pull(*dist, s.server->address() + "/img", &l),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("pull access denied")));
  v1::AuthConfig auth;
  auth.set_username("alice");
  auth.set_password("pw");
  ASSERT_THAT(Pull(*dist, s.server->address() + "/img", &l, nullptr, auth), IsOk());
  absl::MutexLock lock(&s.registry->mu_);
  // One token for the repository's pull scope, cached for every request of the pull.
  EXPECT_EQ(s.registry->tokens_issued_, 1);
}

TEST_F(DistributionTest, CancelStopsThePull) {
  Served s = Serve(BuildImage({LayerTar("a", RandomBytes(4 << 20, 8))}, false));
  {
    absl::MutexLock l(&s.registry->mu_);
    s.registry->pace_ = absl::Milliseconds(50);
  }
  Local dst;
  auto dist = New(dst);
  std::atomic<bool> cancel{false};
  v1::PullImageRequest req;
  req.set_reference(s.server->address() + "/img");
  const absl::Time start = absl::Now();
  absl::Status st = dist->Pull(
      req,
      [&](v1::PullImageResponse r) {
        if (r.has_progress() && r.progress().phase() == v1::TRANSFER_PHASE_DOWNLOADING) {
          cancel = true;
        }
      },
      cancel);
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kCancelled));
  // 4 MiB at 64 KiB per 50 ms would take 3 s.
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_TRUE(dst.fake.backend().images->List()->empty());
}

TEST_F(DistributionTest, UnreachableRegistryIsUnavailable) {
  // A port nothing listens on.
  Local dst;
  auto dist = New(dst);
  Lines l;
  EXPECT_THAT(Pull(*dist, "127.0.0.1:1/x", &l), StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace berth::engine::distribution
