// The API handlers in process: routing, status codes, headers and error bodies, with request
// bodies fed through the handlers' sinks the way the server does. The same API over real
// HTTP is in tests/registry/.
#include "registry/api/routes.h"

#include <optional>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/digest/digest.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "registry/storage/storage.h"

namespace berth::registry::api {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";

struct Result {
  int status = 0;
  http::HeaderList headers;
  std::string body;
  std::string Header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return "";
  }
};

class RoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(std::move(*dir));
    Build(ApiOptions());
  }
  void Build(ApiOptions options) {
    router_.emplace();
    api_.reset();
    storage_.reset();
    storage::StorageOptions so;
    so.root = dir_->path();
    so.sweep_interval = absl::ZeroDuration();
    so.fsync = false;
    auto s = storage::Storage::Open(so);
    ASSERT_THAT(s, IsOk());
    storage_ = std::move(*s);
    api_ = std::make_unique<Api>(*storage_, options);
    ASSERT_THAT(RegisterRoutes(*router_, *api_), IsOk());
  }

  // Routes and runs a request the way http::Server does, feeding `body` to a sink.
  Result Serve(const std::string& method, const std::string& target, const std::string& body = "",
               const http::HeaderList& headers = {}) {
    http::Request req;
    req.method = method;
    req.target = target;
    const size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = target.substr(q + 1);
    req.headers = headers;
    req.content_length = body.size();
    auto match = router_->Find(method, req.path);
    req.params = match.params;
    req.route = match.route;
    req.allowed_methods = match.allowed_methods;
    http::HandlerResult result = (*match.handler)(req);
    http::Response resp;
    if (result.has_sink()) {
      auto& sink = result.sink();
      if (auto max = sink->MaxBytes(); max && body.size() > *max) {
        const absl::Status why = absl::ResourceExhaustedError("too large");
        sink->Abort(why);
        resp = sink->ErrorResponse(why);
      } else {
        // Two chunks, as a body arrives in pieces.
        const size_t half = body.size() / 2;
        absl::Status st = sink->Write(absl::string_view(body).substr(0, half));
        if (st.ok()) st = sink->Write(absl::string_view(body).substr(half));
        if (st.ok()) {
          resp = sink->Finish();
        } else {
          sink->Abort(st);
          resp = sink->ErrorResponse(st);
        }
      }
    } else {
      resp = std::move(result.response());
    }
    Result out{resp.status, resp.headers, resp.body};
    if (resp.source) {
      out.body.clear();
      char buf[4096];
      while (true) {
        auto n = resp.source->Read(absl::MakeSpan(buf, sizeof(buf)));
        if (!n.ok() || *n == 0) break;
        out.body.append(buf, *n);
      }
      if (resp.content_length) out.body.resize(*resp.content_length);
    }
    return out;
  }

  std::string PushBlob(const std::string& repo, const std::string& content) {
    const std::string d = digest::Digest::FromBytes(content)->ToString();
    Result r = Serve("POST", absl::StrCat("/v2/", repo, "/blobs/uploads/?digest=", d), content);
    EXPECT_EQ(r.status, 201) << r.body;
    return d;
  }

  std::string ImageManifest(const std::string& config, const std::string& layer,
                            const std::string& extra = "") {
    return absl::StrCat(R"({"schemaVersion":2,"mediaType":")", kOciManifest,
                        R"(","config":{"mediaType":"application/vnd.oci.image.config.v1+json",)",
                        R"("size":2,"digest":")", config, R"("},"layers":[{"mediaType":)",
                        R"("application/vnd.oci.image.layer.v1.tar","size":5,"digest":")", layer,
                        R"("}])", extra, "}");
  }

  std::optional<TempDir> dir_;
  std::unique_ptr<storage::Storage> storage_;
  std::unique_ptr<Api> api_;
  std::optional<http::Router> router_;
};

TEST_F(RoutesTest, BaseEndpoint) {
  for (const char* method : {"GET", "HEAD"}) {
    Result r = Serve(method, "/v2/");
    EXPECT_EQ(r.status, 200) << method;
    EXPECT_EQ(r.body, "{}");
    EXPECT_EQ(r.Header("Docker-Distribution-API-Version"), "registry/2.0");
  }
  EXPECT_EQ(Serve("POST", "/v2/").status, 405);
  EXPECT_EQ(Serve("GET", "/healthz").body, "ok\n");
  Result unknown = Serve("GET", "/v2/nothing-here");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_THAT(unknown.body, HasSubstr(R"("code":"UNSUPPORTED")"));
  EXPECT_EQ(Serve("GET", "/elsewhere").body, "404 page not found\n");
}

TEST_F(RoutesTest, MonolithicPushThenPullWithRanges) {
  const std::string d = PushBlob("a/b", "hello world");
  Result get = Serve("GET", "/v2/a/b/blobs/" + d);
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, "hello world");
  EXPECT_EQ(get.Header("Docker-Content-Digest"), d);
  EXPECT_EQ(get.Header("Content-Type"), "application/octet-stream");

  Result part = Serve("GET", "/v2/a/b/blobs/" + d, "", {{"Range", "bytes=6-"}});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, "world");
  EXPECT_EQ(part.Header("Content-Range"), "bytes 6-10/11");
  Result bad = Serve("GET", "/v2/a/b/blobs/" + d, "", {{"Range", "bytes=11-"}});
  EXPECT_EQ(bad.status, 416);
  EXPECT_EQ(bad.Header("Content-Range"), "bytes */11");
  EXPECT_EQ(Serve("GET", "/v2/a/b/blobs/" + d, "", {{"Range", "bytes=0-1,4-5"}}).status, 200);

  // Blobs are scoped to the repositories that have them.
  Result other = Serve("GET", "/v2/other/blobs/" + d);
  EXPECT_EQ(other.status, 404);
  EXPECT_THAT(other.body, HasSubstr("BLOB_UNKNOWN"));
}

TEST_F(RoutesTest, MonolithicPushWithWrongDigestStoresNothing) {
  const std::string wrong = digest::Digest::FromBytes("other")->ToString();
  Result r = Serve("POST", "/v2/r/blobs/uploads/?digest=" + wrong, "content");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("DIGEST_INVALID"));
  EXPECT_EQ(storage_->blobs().count(), 0);
  EXPECT_EQ(storage_->uploads().count(), 0);
}

TEST_F(RoutesTest, ChunkedUploadInOrderAndOutOfOrder) {
  Result start = Serve("POST", "/v2/r/blobs/uploads/");
  ASSERT_EQ(start.status, 202);
  const std::string location = start.Header("Location");
  EXPECT_THAT(location, HasSubstr("/v2/r/blobs/uploads/"));
  EXPECT_EQ(start.Header("Range"), "0-0");
  EXPECT_FALSE(start.Header("Docker-Upload-UUID").empty());

  Result c1 = Serve("PATCH", location, "abc", {{"Content-Range", "0-2"}});
  EXPECT_EQ(c1.status, 202);
  EXPECT_EQ(c1.Header("Range"), "0-2");
  // A chunk that does not start at 3 is out of order.
  Result gap = Serve("PATCH", location, "xyz", {{"Content-Range", "5-7"}});
  EXPECT_EQ(gap.status, 416);
  EXPECT_EQ(gap.Header("Range"), "0-2");
  Result overlap = Serve("PATCH", location, "xyz", {{"Content-Range", "0-2"}});
  EXPECT_EQ(overlap.status, 416);
  EXPECT_EQ(Serve("PATCH", location, "xyz", {{"Content-Range", "3-9"}}).status, 416);
  EXPECT_EQ(Serve("PATCH", location, "xyz", {{"Content-Range", "x"}}).status, 400);
  Result status = Serve("GET", location);
  EXPECT_EQ(status.status, 204);
  EXPECT_EQ(status.Header("Range"), "0-2");
  // Streamed chunk without Content-Range appends.
  EXPECT_EQ(Serve("PATCH", location, "def").Header("Range"), "0-5");

  const std::string d = digest::Digest::FromBytes("abcdefgh")->ToString();
  Result fin = Serve("PUT", location + "?digest=" + d, "gh", {{"Content-Range", "6-7"}});
  EXPECT_EQ(fin.status, 201) << fin.body;
  EXPECT_EQ(fin.Header("Location"), "/v2/r/blobs/" + d);
  EXPECT_EQ(fin.Header("Docker-Content-Digest"), d);
  EXPECT_EQ(Serve("GET", "/v2/r/blobs/" + d).body, "abcdefgh");
  EXPECT_EQ(Serve("GET", location).status, 404);
}

TEST_F(RoutesTest, FinishWithWrongDigestDropsTheUpload) {
  const std::string location = Serve("POST", "/v2/r/blobs/uploads/").Header("Location");
  ASSERT_EQ(Serve("PATCH", location, "data").status, 202);
  const std::string wrong = digest::Digest::FromBytes("not data")->ToString();
  Result fin = Serve("PUT", location + "?digest=" + wrong);
  EXPECT_EQ(fin.status, 400);
  EXPECT_THAT(fin.body, HasSubstr("DIGEST_INVALID"));
  EXPECT_EQ(Serve("GET", "/v2/r/blobs/" + wrong).status, 404);
  EXPECT_EQ(storage_->blobs().count(), 0);
  EXPECT_EQ(Serve("GET", location).status, 404);
  EXPECT_EQ(Serve("PUT", location + "?digest=" + wrong).status, 404);
  EXPECT_EQ(Serve("PUT", location + "?digest=nope").status, 400);
}

TEST_F(RoutesTest, CancelUpload) {
  const std::string location = Serve("POST", "/v2/r/blobs/uploads/").Header("Location");
  EXPECT_EQ(Serve("DELETE", location).status, 204);
  EXPECT_EQ(Serve("DELETE", location).status, 404);
  EXPECT_THAT(Serve("PATCH", location, "x").body, HasSubstr("BLOB_UPLOAD_UNKNOWN"));
  // Another repository cannot see or touch a session.
  const std::string other = Serve("POST", "/v2/r/blobs/uploads/").Header("Location");
  const std::string id = other.substr(other.rfind('/') + 1);
  EXPECT_EQ(Serve("GET", "/v2/s/blobs/uploads/" + id).status, 404);
  EXPECT_EQ(Serve("DELETE", "/v2/s/blobs/uploads/" + id).status, 404);
}

TEST_F(RoutesTest, CrossRepositoryMount) {
  const std::string d = PushBlob("src", "shared layer");
  Result mounted = Serve("POST", "/v2/dst/blobs/uploads/?mount=" + d + "&from=src");
  EXPECT_EQ(mounted.status, 201);
  EXPECT_EQ(mounted.Header("Location"), "/v2/dst/blobs/" + d);
  EXPECT_EQ(Serve("GET", "/v2/dst/blobs/" + d).body, "shared layer");
  // Not in the source: an upload session instead.
  const std::string missing = digest::Digest::FromBytes("nope")->ToString();
  Result fallback = Serve("POST", "/v2/dst2/blobs/uploads/?mount=" + missing + "&from=src");
  EXPECT_EQ(fallback.status, 202);
  EXPECT_FALSE(fallback.Header("Location").empty());
  // A repository the blob is not in cannot be used as a source.
  EXPECT_EQ(Serve("POST", "/v2/x/blobs/uploads/?mount=" + d + "&from=other").status, 202);
  EXPECT_EQ(Serve("POST", "/v2/x/blobs/uploads/?mount=" + d + "&from=BAD").status, 202);
  EXPECT_EQ(Serve("POST", "/v2/x/blobs/uploads/?mount=bad&from=src").status, 400);
}

TEST_F(RoutesTest, ManifestLifecycle) {
  const std::string config = PushBlob("r", "{}");
  const std::string layer = PushBlob("r", "layer");
  const std::string body = ImageManifest(config, layer);
  const std::string d = digest::Digest::FromBytes(body)->ToString();
  Result put = Serve("PUT", "/v2/r/manifests/v1", body, {{"Content-Type", kOciManifest}});
  ASSERT_EQ(put.status, 201) << put.body;
  EXPECT_EQ(put.Header("Docker-Content-Digest"), d);
  EXPECT_EQ(put.Header("Location"), "/v2/r/manifests/" + d);

  for (const std::string& ref : {std::string("v1"), d}) {
    Result get = Serve("GET", "/v2/r/manifests/" + ref);
    EXPECT_EQ(get.status, 200);
    EXPECT_EQ(get.body, body);
    EXPECT_EQ(get.Header("Content-Type"), kOciManifest);
    EXPECT_EQ(get.Header("Docker-Content-Digest"), d);
  }
  // Accept negotiation by tag.
  EXPECT_EQ(Serve("GET", "/v2/r/manifests/v1", "",
                  {{"Accept", "application/vnd.docker.distribution.manifest.v2+json"}})
                .status,
            404);
  EXPECT_EQ(Serve("GET", "/v2/r/manifests/v1", "",
                  {{"Accept", "application/vnd.docker.distribution.manifest.v2+json"},
                   {"Accept", std::string(kOciManifest) + ";q=0.5"}})
                .status,
            200);
  EXPECT_EQ(Serve("GET", "/v2/r/manifests/v1", "", {{"Accept", "*/*"}}).status, 200);

  // PUT by digest with extra tags.
  Result by_digest = Serve("PUT", "/v2/r/manifests/" + d + "?tag=v2&tag=latest", body,
                           {{"Content-Type", kOciManifest}});
  EXPECT_EQ(by_digest.status, 201);
  EXPECT_EQ(by_digest.Header("OCI-Tag"), "v2, latest");
  EXPECT_EQ(Serve("GET", "/v2/r/tags/list").body, R"({"name":"r","tags":["latest","v1","v2"]})");

  // Delete by tag: only the tag goes.
  EXPECT_EQ(Serve("DELETE", "/v2/r/manifests/v1").status, 202);
  EXPECT_EQ(Serve("GET", "/v2/r/manifests/v1").status, 404);
  EXPECT_EQ(Serve("GET", "/v2/r/manifests/" + d).status, 200);
  EXPECT_EQ(Serve("DELETE", "/v2/r/manifests/v1").status, 404);
  // Delete by digest: the manifest and every tag on it go.
  EXPECT_EQ(Serve("DELETE", "/v2/r/manifests/" + d).status, 202);
  EXPECT_EQ(Serve("GET", "/v2/r/manifests/" + d).status, 404);
  EXPECT_EQ(Serve("GET", "/v2/r/manifests/latest").status, 404);
  EXPECT_EQ(Serve("GET", "/v2/r/tags/list").body, R"({"name":"r","tags":[]})");
}

TEST_F(RoutesTest, ManifestValidation) {
  const std::string config = PushBlob("r", "{}");
  const std::string missing = digest::Digest::FromBytes("missing")->ToString();
  const std::string body = ImageManifest(config, missing);
  Result r = Serve("PUT", "/v2/r/manifests/v1", body, {{"Content-Type", kOciManifest}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("MANIFEST_BLOB_UNKNOWN"));
  EXPECT_THAT(r.body, HasSubstr(missing));
  EXPECT_EQ(Serve("GET", "/v2/r/manifests/v1").status, 404);

  Result junk = Serve("PUT", "/v2/r/manifests/v1", "{not json", {{"Content-Type", kOciManifest}});
  EXPECT_EQ(junk.status, 400);
  EXPECT_THAT(junk.body, HasSubstr("MANIFEST_INVALID"));

  const std::string ok_body = ImageManifest(config, config);
  const std::string wrong = digest::Digest::FromBytes("x")->ToString();
  Result mismatch =
      Serve("PUT", "/v2/r/manifests/" + wrong, ok_body, {{"Content-Type", kOciManifest}});
  EXPECT_EQ(mismatch.status, 400);
  EXPECT_THAT(mismatch.body, HasSubstr("DIGEST_INVALID"));
  EXPECT_EQ(Serve("PUT", "/v2/r/manifests/bad:tag:x", ok_body).status, 400);
  EXPECT_EQ(Serve("PUT", "/v2/r/manifests/.bad", ok_body).status, 400);
  EXPECT_EQ(Serve("PUT", "/v2/r/manifests/v1?tag=-x", ok_body).status, 400);

  // Index referencing a manifest the repository lacks.
  const std::string index =
      absl::StrCat(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)",
                   R"("manifests":[{"mediaType":")", kOciManifest, R"(","size":1,"digest":")",
                   missing, R"("}]})");
  Result idx = Serve("PUT", "/v2/r/manifests/i", index);
  EXPECT_EQ(idx.status, 400);
  EXPECT_THAT(idx.body, HasSubstr("MANIFEST_BLOB_UNKNOWN"));
  EXPECT_EQ(storage_->repositories().ListTags("r")->size(), 0u);
}

TEST_F(RoutesTest, OversizedManifestIs413) {
  ApiOptions options;
  options.max_manifest_bytes = 100;
  Build(options);
  Result r =
      Serve("PUT", "/v2/r/manifests/v1", std::string(101, ' '), {{"Content-Type", kOciManifest}});
  EXPECT_EQ(r.status, 413);
  EXPECT_THAT(r.body, HasSubstr("MANIFEST_INVALID"));
}

TEST_F(RoutesTest, InvalidNamesAndDigests) {
  for (const char* path : {"/v2/UPPER/blobs/sha256:00", "/v2/a..b/manifests/x",
                           "/v2/a/-b/tags/list", "/v2/_x/referrers/sha256:00"}) {
    Result r = Serve("GET", path);
    EXPECT_EQ(r.status, 400) << path;
    EXPECT_THAT(r.body, HasSubstr("NAME_INVALID")) << path;
  }
  EXPECT_EQ(Serve("POST", "/v2/Bad/blobs/uploads/").status, 400);
  for (const char* path : {"/v2/a/blobs/sha256:00", "/v2/a/blobs/md5:abc", "/v2/a/blobs/x",
                           "/v2/a/referrers/sha256:zz", "/v2/a/manifests/sha256:1"}) {
    Result r = Serve("GET", path);
    EXPECT_EQ(r.status, 400) << path;
    EXPECT_THAT(r.body, HasSubstr("DIGEST_INVALID")) << path;
  }
  EXPECT_EQ(Serve("POST", "/v2/a/blobs/uploads/?digest=sha256:zz", "x").status, 400);
  EXPECT_EQ(storage_->uploads().count(), 0);
}

TEST_F(RoutesTest, TagPagination) {
  const std::string config = PushBlob("r", "{}");
  const std::string body = ImageManifest(config, config);
  for (const char* tag : {"c", "a", "e", "b", "d"}) {
    ASSERT_EQ(Serve("PUT", std::string("/v2/r/manifests/") + tag, body).status, 201);
  }
  Result p1 = Serve("GET", "/v2/r/tags/list?n=2");
  EXPECT_EQ(p1.body, R"({"name":"r","tags":["a","b"]})");
  EXPECT_EQ(p1.Header("Link"), R"(</v2/r/tags/list?n=2&last=b>; rel="next")");
  Result p2 = Serve("GET", "/v2/r/tags/list?n=2&last=b");
  EXPECT_EQ(p2.body, R"({"name":"r","tags":["c","d"]})");
  Result p3 = Serve("GET", "/v2/r/tags/list?n=2&last=d");
  EXPECT_EQ(p3.body, R"({"name":"r","tags":["e"]})");
  EXPECT_EQ(p3.Header("Link"), "");
  Result zero = Serve("GET", "/v2/r/tags/list?n=0");
  EXPECT_EQ(zero.body, R"({"name":"r","tags":[]})");
  EXPECT_EQ(zero.Header("Link"), "");
  EXPECT_EQ(Serve("GET", "/v2/r/tags/list?last=zzz").body, R"({"name":"r","tags":[]})");
  EXPECT_EQ(Serve("GET", "/v2/r/tags/list?last=b").body, R"({"name":"r","tags":["c","d","e"]})");
  EXPECT_EQ(Serve("GET", "/v2/r/tags/list?n=5").Header("Link"), "");
  EXPECT_EQ(Serve("GET", "/v2/r/tags/list?n=-1").status, 400);
  EXPECT_EQ(Serve("GET", "/v2/r/tags/list?n=abc").status, 400);
  EXPECT_EQ(Serve("GET", "/v2/r/tags/list?n=99999999999999999999999").status, 400);
  Result unknown = Serve("GET", "/v2/nope/tags/list");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_THAT(unknown.body, HasSubstr("NAME_UNKNOWN"));
}

TEST_F(RoutesTest, CatalogPagination) {
  for (const char* repo : {"b", "a/x", "a", "c"}) PushBlob(repo, "x");
  EXPECT_EQ(Serve("GET", "/v2/_catalog").body, R"({"repositories":["a","a/x","b","c"]})");
  Result p1 = Serve("GET", "/v2/_catalog?n=3");
  EXPECT_EQ(p1.body, R"({"repositories":["a","a/x","b"]})");
  EXPECT_EQ(p1.Header("Link"), R"(</v2/_catalog?n=3&last=b>; rel="next")");
  EXPECT_EQ(Serve("GET", "/v2/_catalog?n=3&last=b").body, R"({"repositories":["c"]})");
}

TEST_F(RoutesTest, Referrers) {
  const std::string config = PushBlob("r", "{}");
  const std::string subject_body = ImageManifest(config, config);
  const std::string subject = digest::Digest::FromBytes(subject_body)->ToString();
  const std::string subject_desc =
      absl::StrCat(R"("subject":{"mediaType":")", kOciManifest, R"(","size":)", subject_body.size(),
                   R"(,"digest":")", subject, R"("})");
  // A referrer may be pushed before its subject.
  const std::string sbom =
      ImageManifest(config, config,
                    absl::StrCat(R"(,"artifactType":"application/x-sbom","annotations":{"k":"v"},)",
                                 subject_desc));
  Result put = Serve("PUT", "/v2/r/manifests/" + digest::Digest::FromBytes(sbom)->ToString(), sbom,
                     {{"Content-Type", kOciManifest}});
  ASSERT_EQ(put.status, 201) << put.body;
  EXPECT_EQ(put.Header("OCI-Subject"), subject);
  const std::string sig = ImageManifest(config, config, absl::StrCat(",", subject_desc));
  ASSERT_EQ(Serve("PUT", "/v2/r/manifests/sig", sig).status, 201);

  Result all = Serve("GET", "/v2/r/referrers/" + subject);
  EXPECT_EQ(all.status, 200);
  EXPECT_EQ(all.Header("Content-Type"), "application/vnd.oci.image.index.v1+json");
  EXPECT_THAT(all.body, HasSubstr(R"("artifactType":"application/x-sbom")"));
  EXPECT_THAT(all.body, HasSubstr(R"("artifactType":"application/vnd.oci.image.config.v1+json")"));
  EXPECT_THAT(all.body, HasSubstr(R"("annotations":{"k":"v"})"));
  Result filtered = Serve("GET", "/v2/r/referrers/" + subject + "?artifactType=application/x-sbom");
  EXPECT_EQ(filtered.Header("OCI-Filters-Applied"), "artifactType");
  EXPECT_THAT(filtered.body, HasSubstr("x-sbom"));
  EXPECT_THAT(filtered.body, ::testing::Not(HasSubstr("config.v1")));
  Result none = Serve("GET", "/v2/unknown/referrers/" + config);
  EXPECT_EQ(none.status, 200);
  EXPECT_EQ(
      none.body,
      R"({"manifests":[],"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2})");
}

TEST_F(RoutesTest, ReadOnlyRefusesWrites) {
  const std::string d = PushBlob("r", "kept");
  ApiOptions options;
  options.read_only = true;
  Build(options);
  Result push = Serve("POST", "/v2/r/blobs/uploads/");
  EXPECT_EQ(push.status, 405);
  EXPECT_THAT(push.body, HasSubstr("UNSUPPORTED"));
  EXPECT_EQ(push.Header("Allow"), "GET, HEAD");
  EXPECT_EQ(Serve("PUT", "/v2/r/manifests/v1", "{}").status, 405);
  EXPECT_EQ(Serve("DELETE", "/v2/r/blobs/" + d).status, 405);
  EXPECT_EQ(Serve("GET", "/v2/r/blobs/" + d).body, "kept");
  EXPECT_EQ(storage_->uploads().count(), 0);
}

TEST_F(RoutesTest, BasicAuth) {
  auto hash = auth::BcryptHash("pw", 4);
  ASSERT_THAT(hash, IsOk());
  auto htpasswd = auth::Htpasswd::Parse("alice:" + *hash + "\nbob:" + *hash);
  ASSERT_THAT(htpasswd, IsOk());
  auto acl = auth::Acl::Parse(R"([{"account":"alice","name":"**","actions":["*"]},
                                  {"account":"bob","name":"r","actions":["pull"]}])");
  ASSERT_THAT(acl, IsOk());
  auth::BasicAccessController access(htpasswd->get(), acl->get(), "test realm", nullptr);
  ApiOptions options;
  options.access = &access;
  Build(options);
  const auto basic = [](const std::string& user_pass) {
    return http::HeaderList{{"Authorization", "Basic " + absl::Base64Escape(user_pass)}};
  };
  for (const http::HeaderList& bad :
       {http::HeaderList{}, basic("alice:wrong"), basic("carol:pw"), basic("alicepw"),
        http::HeaderList{{"Authorization", "Bearer abc"}},
        http::HeaderList{{"Authorization", "Basic !!!"}}}) {
    Result r = Serve("GET", "/v2/", "", bad);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.Header("WWW-Authenticate"), R"(Basic realm="test realm")");
    EXPECT_EQ(r.Header("Docker-Distribution-API-Version"), "registry/2.0");
    EXPECT_THAT(r.body, HasSubstr(R"("code":"UNAUTHORIZED")"));
  }
  EXPECT_EQ(Serve("GET", "/v2/", "", basic("alice:pw")).status, 200);
  EXPECT_EQ(Serve("GET", "/v2/", "", basic("bob:pw")).status, 200);
  // A push without credentials stores nothing.
  const std::string d = digest::Digest::FromBytes("x")->ToString();
  EXPECT_EQ(Serve("POST", "/v2/r/blobs/uploads/?digest=" + d, "x").status, 401);
  EXPECT_EQ(storage_->blobs().count(), 0);
  // Nor does one by a user who may only pull: 403 DENIED, no challenge.
  Result denied = Serve("POST", "/v2/r/blobs/uploads/?digest=" + d, "x", basic("bob:pw"));
  EXPECT_EQ(denied.status, 403);
  EXPECT_THAT(denied.body, HasSubstr(R"("code":"DENIED")"));
  EXPECT_EQ(denied.Header("WWW-Authenticate"), "");
  EXPECT_EQ(storage_->blobs().count(), 0);
  EXPECT_EQ(Serve("POST", "/v2/r/blobs/uploads/?digest=" + d, "x", basic("alice:pw")).status, 201);
  EXPECT_EQ(Serve("GET", "/v2/r/blobs/" + d, "", basic("bob:pw")).status, 200);
  EXPECT_EQ(Serve("DELETE", "/v2/r/blobs/" + d, "", basic("bob:pw")).status, 403);
  // An invalid name is refused as such before any challenge echoes it.
  EXPECT_EQ(Serve("GET", "/v2/BAD/tags/list", "", basic("bob:pw")).status, 400);
  EXPECT_EQ(Serve("GET", "/healthz").status, 200);  // not part of the API
}

TEST_F(RoutesTest, DeleteBlob) {
  const std::string d = PushBlob("r", "gone");
  EXPECT_EQ(Serve("DELETE", "/v2/r/blobs/" + d).status, 202);
  EXPECT_EQ(Serve("GET", "/v2/r/blobs/" + d).status, 404);
  EXPECT_EQ(Serve("DELETE", "/v2/r/blobs/" + d).status, 404);
}

}  // namespace
}  // namespace berth::registry::api
