#include "engine/oci/etc_files.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::engine::oci {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

TEST(EtcFilesTest, Hostname) { EXPECT_EQ(GenerateHostnameFile("3f2a9b1c0d4e"), "3f2a9b1c0d4e\n"); }

TEST(EtcFilesTest, HostsWithExtraHostsAndAddress) {
  HostsOptions o;
  o.hostname = "web";
  o.domainname = "example.com";
  o.addresses = {"172.18.0.2"};
  o.extra_hosts = {"db:10.0.0.5", "v6:2001:db8::1", "gw:host-gateway", "br:[fe80::1]"};
  o.host_gateway_ip = "172.18.0.1";
  auto hosts = GenerateHostsFile(o);
  ASSERT_THAT(hosts, IsOk());
  EXPECT_EQ(*hosts,
            "127.0.0.1\tlocalhost\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n"
            "fe00::0\tip6-localnet\n"
            "ff00::0\tip6-mcastprefix\n"
            "ff02::1\tip6-allnodes\n"
            "ff02::2\tip6-allrouters\n"
            "10.0.0.5\tdb\n"
            "2001:db8::1\tv6\n"
            "172.18.0.1\tgw\n"
            "fe80::1\tbr\n"
            "172.18.0.2\tweb.example.com web\n");
}

TEST(EtcFilesTest, HostsWithoutNetworkHasOnlyLoopback) {
  HostsOptions o;
  o.hostname = "abc";
  auto hosts = GenerateHostsFile(o);
  ASSERT_THAT(hosts, IsOk());
  EXPECT_THAT(*hosts, HasSubstr("127.0.0.1\tlocalhost\n"));
  EXPECT_THAT(*hosts, ::testing::Not(HasSubstr("abc")));
}

TEST(EtcFilesTest, HostsErrors) {
  HostsOptions o;
  o.extra_hosts = {"db:not-an-ip"};
  EXPECT_THAT(GenerateHostsFile(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("invalid IP address in add-host")));
  o.extra_hosts = {"nocolon"};
  EXPECT_THAT(GenerateHostsFile(o), StatusIs(absl::StatusCode::kInvalidArgument));
  o.extra_hosts = {"gw:host-gateway"};
  EXPECT_THAT(GenerateHostsFile(o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("host-gateway")));
}

TEST(EtcFilesTest, ResolvConfDropsLocalhostNameservers) {
  ResolvConfOptions o;
  o.host_resolv_conf =
      "# generated\n"
      "nameserver 127.0.0.53\n"
      "nameserver 10.255.255.53\n"
      "nameserver ::1\n"
      "nameserver 2001:db8::53\n"
      "search corp.example\n"
      "options edns0 trust-ad\n";
  auto conf = GenerateResolvConf(o);
  ASSERT_THAT(conf, IsOk());
  EXPECT_EQ(*conf,
            "# generated\n"
            "nameserver 10.255.255.53\n"
            "nameserver 2001:db8::53\n"
            "search corp.example\n"
            "options edns0 trust-ad\n");
}

TEST(EtcFilesTest, ResolvConfFallsBackToDockersDefaults) {
  ResolvConfOptions o;
  o.host_resolv_conf = "nameserver 127.0.0.53\noptions edns0\n";
  auto conf = GenerateResolvConf(o);
  ASSERT_THAT(conf, IsOk());
  EXPECT_EQ(*conf, "options edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n");
  auto empty = GenerateResolvConf(ResolvConfOptions{});
  ASSERT_THAT(empty, IsOk());
  EXPECT_EQ(*empty, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
}

TEST(EtcFilesTest, ResolvConfHostNetworkKeepsLocalhost) {
  ResolvConfOptions o;
  o.host_resolv_conf = "nameserver 127.0.0.53\n";
  o.host_network = true;
  auto conf = GenerateResolvConf(o);
  ASSERT_THAT(conf, IsOk());
  EXPECT_EQ(*conf, "nameserver 127.0.0.53\n");
}

TEST(EtcFilesTest, ResolvConfOverrides) {
  ResolvConfOptions o;
  o.host_resolv_conf = "nameserver 10.0.0.1\nsearch host.example\noptions ndots:2\n";
  o.dns = {"1.1.1.1"};
  o.dns_search = {"a.example", "b.example"};
  o.dns_options = {"ndots:5"};
  auto conf = GenerateResolvConf(o);
  ASSERT_THAT(conf, IsOk());
  EXPECT_EQ(*conf, "nameserver 1.1.1.1\nsearch a.example b.example\noptions ndots:5\n");
  o.dns = {"not-an-ip"};
  EXPECT_THAT(GenerateResolvConf(o), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace berth::engine::oci
