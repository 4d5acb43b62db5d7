#include "registry/api/routes.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::registry::api {
namespace {

using ::berth::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class RoutesTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_THAT(RegisterRoutes(router_), IsOk()); }

  // Routes and runs a request; returns the response the handler chose.
  http::Response Serve(const std::string& method, const std::string& path) {
    auto match = router_.Find(method, path);
    request_ = http::Request();
    request_.method = method;
    request_.path = path;
    request_.params = match.params;
    request_.allowed_methods = match.allowed_methods;
    http::HandlerResult result = (*match.handler)(request_);
    EXPECT_FALSE(result.has_sink());
    return std::move(result.response());
  }

  static std::string HeaderOf(const http::Response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }

  http::Router router_;
  http::Request request_;
};

TEST_F(RoutesTest, BaseEndpoint) {
  for (const char* method : {"GET", "HEAD"}) {
    http::Response r = Serve(method, "/v2/");
    EXPECT_EQ(r.status, 200) << method;
    EXPECT_EQ(r.body, "{}");
    EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/json");
    EXPECT_EQ(HeaderOf(r, "Docker-Distribution-API-Version"), "registry/2.0");
  }
}

TEST_F(RoutesTest, PullEndpointsReportAnUnknownRepository) {
  for (const char* path : {"/v2/library/alpine/manifests/latest", "/v2/a/blobs/sha256:00",
                           "/v2/a/b/c/tags/list", "/v2/a/referrers/sha256:00"}) {
    http::Response r = Serve("GET", path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_THAT(r.body, HasSubstr(R"("code":"NAME_UNKNOWN")")) << path;
    EXPECT_EQ(HeaderOf(r, "Docker-Distribution-API-Version"), "registry/2.0");
  }
  EXPECT_THAT(Serve("GET", "/v2/library/alpine/manifests/latest").body,
              HasSubstr(R"("detail":{"name":"library/alpine"})"));
}

TEST_F(RoutesTest, UnknownV2PathIs404Unsupported) {
  http::Response r = Serve("GET", "/v2/nothing-here");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr(R"("code":"UNSUPPORTED")"));
  EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/json");
  EXPECT_EQ(Serve("GET", "/elsewhere").status, 404);
  EXPECT_EQ(Serve("GET", "/elsewhere").body, "404 page not found\n");
}

TEST_F(RoutesTest, OtherMethodsOnBaseAre405) {
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH"}) {
    http::Response r = Serve(method, "/v2/");
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_THAT(r.body, HasSubstr(R"("code":"UNSUPPORTED")"));
    EXPECT_THAT(request_.allowed_methods, ElementsAre("GET", "HEAD"));
  }
}

TEST_F(RoutesTest, Healthz) {
  http::Response r = Serve("GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
}

}  // namespace
}  // namespace berth::registry::api
