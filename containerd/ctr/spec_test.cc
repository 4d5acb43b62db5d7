#include "containerd/ctr/spec.h"

#include <nlohmann/json.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::containerd::ctr {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::Not;

std::vector<std::string> NamespaceTypes(const json& spec) {
  std::vector<std::string> out;
  for (const auto& n : spec["linux"]["namespaces"]) out.push_back(n["type"]);
  return out;
}

TEST(DefaultSpecTest, FillsProcessRootAndDockerDefaults) {
  SpecOptions o;
  o.id = "0123456789abcdef";
  o.ns = "bench";
  o.args = {"/bin/true"};
  o.env = {"A=1"};
  json spec = json::parse(DefaultSpec(o));
  EXPECT_EQ(spec["process"]["args"], json::array({"/bin/true"}));
  EXPECT_EQ(spec["process"]["env"][0],
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  EXPECT_EQ(spec["process"]["env"][1], "A=1");
  EXPECT_EQ(spec["process"]["terminal"], false);
  EXPECT_EQ(spec["root"]["path"], "rootfs");
  EXPECT_EQ(spec["hostname"], "0123456789ab");
  EXPECT_EQ(spec["linux"]["cgroupsPath"], "/berth-ctr/bench/0123456789abcdef");
  EXPECT_EQ(spec["process"]["capabilities"]["bounding"].size(), 14u);
  EXPECT_THAT(NamespaceTypes(spec), Contains("network"));
  EXPECT_THAT(NamespaceTypes(spec), Contains("pid"));
  bool has_proc = false;
  for (const auto& m : spec["mounts"]) has_proc |= m["destination"] == "/proc";
  EXPECT_TRUE(has_proc);
}

TEST(DefaultSpecTest, TerminalHostNetworkAndGivenPath) {
  SpecOptions o;
  o.id = "c";
  o.args = {"sh"};
  o.env = {"PATH=/bin"};
  o.terminal = true;
  o.host_network = true;
  o.root_path = "/srv/rootfs";
  o.read_only = true;
  json spec = json::parse(DefaultSpec(o));
  EXPECT_EQ(spec["process"]["env"], json::array({"PATH=/bin", "TERM=xterm"}));
  EXPECT_EQ(spec["root"]["path"], "/srv/rootfs");
  EXPECT_EQ(spec["root"]["readonly"], true);
  EXPECT_THAT(NamespaceTypes(spec), Not(Contains("network")));
}

}  // namespace
}  // namespace berth::containerd::ctr
