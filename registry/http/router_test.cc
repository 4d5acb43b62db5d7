#include "registry/http/router.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::registry::http {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// A handler that answers with `tag` so tests can tell which one ran.
Handler Tagged(std::string tag) {
  return [tag](Request&) -> HandlerResult { return Response::Text(200, tag); };
}

std::string RunHandler(const Router::Match& m) {
  Request req;
  HandlerResult r = (*m.handler)(req);
  return r.response().body;
}

TEST(RouterTest, MatchesLiteralsAndPlaceholders) {
  Router router;
  ASSERT_THAT(router.Handle("GET", "/v2/", Tagged("base")), IsOk());
  ASSERT_THAT(router.Handle("GET", "/v2/{name...}/manifests/{reference}", Tagged("manifest")),
              IsOk());
  ASSERT_THAT(router.Handle("GET", "/v2/{name...}/blobs/{digest}", Tagged("blob")), IsOk());

  auto m = router.Find("GET", "/v2/");
  EXPECT_EQ(RunHandler(m), "base");
  EXPECT_EQ(m.route, "/v2/");

  m = router.Find("GET", "/v2/library/alpine/manifests/3.19");
  EXPECT_EQ(RunHandler(m), "manifest");
  EXPECT_EQ(m.route, "/v2/{name...}/manifests/{reference}");
  EXPECT_THAT(m.params,
              UnorderedElementsAre(Pair("name", "library/alpine"), Pair("reference", "3.19")));

  m = router.Find("GET", "/v2/a/blobs/sha256:abc");
  EXPECT_EQ(RunHandler(m), "blob");
  EXPECT_THAT(m.params, UnorderedElementsAre(Pair("name", "a"), Pair("digest", "sha256:abc")));
}

TEST(RouterTest, RestPlaceholderIsGreedyLikeTheSpecRegex) {
  Router router;
  ASSERT_THAT(router.Handle("GET", "/v2/{name...}/manifests/{reference}", Tagged("m")), IsOk());
  auto m = router.Find("GET", "/v2/a/manifests/b/manifests/c");
  EXPECT_EQ(m.params["name"], "a/manifests/b");
  EXPECT_EQ(m.params["reference"], "c");
}

TEST(RouterTest, EmptySegmentsAndTrailingSlashDoNotMatch) {
  Router router;
  ASSERT_THAT(router.Handle("GET", "/v2/{name...}/tags/list", Tagged("tags")), IsOk());
  EXPECT_EQ(router.Find("GET", "/v2//tags/list").route, "");
  EXPECT_EQ(router.Find("GET", "/v2/a//b/tags/list").route, "");
  EXPECT_EQ(router.Find("GET", "/v2/a/tags/list/").route, "");
  EXPECT_EQ(router.Find("GET", "/v2/tags/list").route, "");  // the name needs a segment
  EXPECT_EQ(router.Find("GET", "v2/a/tags/list").route, "");
  EXPECT_EQ(router.Find("GET", "/v2/a/b/tags/list").params.at("name"), "a/b");
}

TEST(RouterTest, HeadFallsBackToGet) {
  Router router;
  ASSERT_THAT(router.Handle("GET", "/x", Tagged("get")), IsOk());
  EXPECT_EQ(RunHandler(router.Find("HEAD", "/x")), "get");
  ASSERT_THAT(router.Handle("HEAD", "/x", Tagged("head")), IsOk());
  EXPECT_EQ(RunHandler(router.Find("HEAD", "/x")), "head");
}

TEST(RouterTest, WrongMethodGivesAllowedMethods) {
  Router router;
  ASSERT_THAT(router.Handle("GET", "/v2/", Tagged("base")), IsOk());
  ASSERT_THAT(router.Handle("DELETE", "/v2/", Tagged("delete")), IsOk());
  router.SetMethodNotAllowed(Tagged("405"));
  router.SetNotFound(Tagged("404"));
  auto m = router.Find("POST", "/v2/");
  EXPECT_EQ(RunHandler(m), "405");
  EXPECT_EQ(m.route, "/v2/");
  EXPECT_THAT(m.allowed_methods, ElementsAre("DELETE", "GET", "HEAD"));
  m = router.Find("GET", "/nope");
  EXPECT_EQ(RunHandler(m), "404");
  EXPECT_EQ(m.route, "");
}

TEST(RouterTest, DefaultErrorHandlersArePlainText) {
  Router router;
  Request req;
  HandlerResult r = (*router.Find("GET", "/").handler)(req);
  EXPECT_EQ(r.response().status, 404);
  ASSERT_THAT(router.Handle("PUT", "/", Tagged("put")), IsOk());
  HandlerResult r2 = (*router.Find("GET", "/").handler)(req);
  EXPECT_EQ(r2.response().status, 405);
}

TEST(RouterTest, RejectsBadPatterns) {
  Router router;
  EXPECT_THAT(router.Handle("GET", "v2/", Tagged("")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(router.Handle("GET", "/v2/{name", Tagged("")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(router.Handle("GET", "/v2/x{name}", Tagged("")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(router.Handle("GET", "/v2/{}", Tagged("")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(router.Handle("GET", "/{a...}/{b...}", Tagged("")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(router.Handle("", "/", Tagged("")), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(router.Handle("GET", "/", Tagged("")), IsOk());
  EXPECT_THAT(router.Handle("GET", "/", Tagged("")), StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST(RequestTest, QueryParamsAreDecodedInOrder) {
  Request req;
  req.query = "tag=a&tag=b%2Fc&n=10&last=x+y&flag&=v&bad=%zz";
  EXPECT_THAT(req.QueryParams(), ElementsAre(Pair("tag", "a"), Pair("tag", "b/c"), Pair("n", "10"),
                                             Pair("last", "x y"), Pair("flag", ""), Pair("", "v"),
                                             Pair("bad", "%zz")));
}

TEST(RequestTest, HeaderLookupIgnoresCase) {
  Request req;
  req.headers = {{"Content-Type", "application/json"}, {"X-A", "1"}, {"x-a", "2"}};
  EXPECT_EQ(req.Header("content-type").value_or(""), "application/json");
  EXPECT_EQ(req.Header("X-a").value_or(""), "1");
  EXPECT_FALSE(req.Header("missing").has_value());
}

}  // namespace
}  // namespace berth::registry::http
