#include "containerd/server/request_context.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::server {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Optional;

// string_refs point into these strings, which outlive each metadata map.
ClientMetadata Md(const std::vector<std::pair<std::string, std::string>>& kv) {
  ClientMetadata md;
  for (const auto& [k, v] : kv) md.emplace(::grpc::string_ref(k), ::grpc::string_ref(v));
  return md;
}

TEST(RequestContextTest, NamespaceDefaultsToDefault) {
  std::vector<std::pair<std::string, std::string>> kv = {{"other", "x"}};
  auto ns = NamespaceFromMetadata(Md(kv));
  ASSERT_THAT(ns, IsOk());
  EXPECT_EQ(*ns, "default");
}

TEST(RequestContextTest, NamespaceFromHeader) {
  std::vector<std::pair<std::string, std::string>> kv = {{"berth-namespace", "k8s.io"}};
  auto ns = NamespaceFromMetadata(Md(kv));
  ASSERT_THAT(ns, IsOk());
  EXPECT_EQ(*ns, "k8s.io");
}

TEST(RequestContextTest, InvalidNamespaceIsInvalidArgument) {
  for (std::string bad : std::vector<std::string>{"", "a/b", "-x", "x..y", std::string(77, 'a')}) {
    std::vector<std::pair<std::string, std::string>> kv = {{"berth-namespace", bad}};
    EXPECT_THAT(NamespaceFromMetadata(Md(kv)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("berth-namespace")))
        << bad;
  }
}

TEST(RequestContextTest, RepeatedNamespace) {
  std::vector<std::pair<std::string, std::string>> same = {{"berth-namespace", "a"},
                                                           {"berth-namespace", "a"}};
  EXPECT_THAT(NamespaceFromMetadata(Md(same)), IsOk());
  std::vector<std::pair<std::string, std::string>> different = {{"berth-namespace", "a"},
                                                                {"berth-namespace", "b"}};
  EXPECT_THAT(NamespaceFromMetadata(Md(different)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than once")));
}

TEST(RequestContextTest, Lease) {
  std::vector<std::pair<std::string, std::string>> none;
  auto absent = LeaseFromMetadata(Md(none));
  ASSERT_THAT(absent, IsOk());
  EXPECT_FALSE(absent->has_value());

  std::vector<std::pair<std::string, std::string>> kv = {{"berth-lease", "pull-1"}};
  auto lease = LeaseFromMetadata(Md(kv));
  ASSERT_THAT(lease, IsOk());
  EXPECT_THAT(*lease, Optional(std::string("pull-1")));

  std::vector<std::pair<std::string, std::string>> empty = {{"berth-lease", ""}};
  EXPECT_THAT(LeaseFromMetadata(Md(empty)), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace berth::containerd::server
