#include "engine/cli/container_format.h"

#include <google/protobuf/text_format.h>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

namespace v1 = ::berth::engine::v1;
using ::berth::testing::IsOk;
using ::testing::HasSubstr;
using Json = nlohmann::ordered_json;

template <typename M>
M Text(const std::string& text) {
  M m;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &m)) << text;
  return m;
}

const std::string kId = "3f2a9c8b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a";

TEST(InspectJsonTest, DockerFieldNamesAndShapes) {
  auto c = Text<v1::Container>(absl::StrCat(
      "id: '", kId, "' name: 'web' created { seconds: 1700000000 nanos: 120000000 } "
      "path: 'sh' args: ['-c', 'sleep 1'] image_id: 'sha256:abcd' restart_count: 2 "
      "driver: 'overlayfs' "
      "state { status: CONTAINER_STATUS_RUNNING running: true pid: 812 "
      "        started_at { seconds: 1700000001 } } "
      "config { image: 'busybox' cmd { values: ['sh'] } env: ['A=1'] tty: true "
      "         labels { key: 'tier' value: 'web' } exposed_ports { port: 80 } "
      "         stop_timeout { seconds: 5 } } "
      "host_config { binds: ['/h:/c:ro'] network_mode: 'bridge' auto_remove: true "
      "  restart_policy { name: RESTART_POLICY_NAME_ON_FAILURE maximum_retry_count: 3 } "
      "  resources { memory: 536870912 nano_cpus: 1500000000 pids_limit: 100 "
      "              ulimits { name: 'nofile' soft: 10 hard: 20 } } "
      "  port_bindings { container_port: 80 host_port: 8080 } } "
      "mounts { type: MOUNT_TYPE_BIND source: '/h' destination: '/c' mode: 'ro' } "
      "network_settings { networks { key: 'bridge' value { ip_address: '172.17.0.2' "
      "  gateway: '172.17.0.1' ip_prefix_len: 16 } } }"));
  Json j = InspectJson(c);
  EXPECT_EQ(j["Id"], kId);
  EXPECT_EQ(j["Name"], "/web");
  EXPECT_EQ(j["Created"], "2023-11-14T22:13:20.12Z");
  EXPECT_EQ(j["Path"], "sh");
  EXPECT_EQ(j["Args"], Json::array({"-c", "sleep 1"}));
  EXPECT_EQ(j["Image"], "sha256:abcd");
  EXPECT_EQ(j["RestartCount"], 2);
  const Json& s = j["State"];
  EXPECT_EQ(s["Status"], "running");
  EXPECT_EQ(s["Running"], true);
  EXPECT_EQ(s["Paused"], false);
  EXPECT_EQ(s["OOMKilled"], false);
  EXPECT_EQ(s["Pid"], 812);
  EXPECT_EQ(s["ExitCode"], 0);
  EXPECT_EQ(s["StartedAt"], "2023-11-14T22:13:21Z");
  EXPECT_EQ(s["FinishedAt"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(j["Config"]["Cmd"], Json::array({"sh"}));
  EXPECT_TRUE(j["Config"]["Entrypoint"].is_null());
  EXPECT_EQ(j["Config"]["Tty"], true);
  EXPECT_EQ(j["Config"]["Labels"]["tier"], "web");
  EXPECT_TRUE(j["Config"]["ExposedPorts"].contains("80/tcp"));
  EXPECT_EQ(j["Config"]["StopTimeout"], 5);
  const Json& h = j["HostConfig"];
  EXPECT_EQ(h["Binds"], Json::array({"/h:/c:ro"}));
  EXPECT_EQ(h["AutoRemove"], true);
  EXPECT_EQ(h["RestartPolicy"]["Name"], "on-failure");
  EXPECT_EQ(h["RestartPolicy"]["MaximumRetryCount"], 3);
  EXPECT_EQ(h["Memory"], 536870912);
  EXPECT_EQ(h["NanoCpus"], 1500000000);
  EXPECT_EQ(h["PidsLimit"], 100);
  EXPECT_EQ(h["Ulimits"][0]["Name"], "nofile");
  EXPECT_EQ(h["Ulimits"][0]["Soft"], 10);
  EXPECT_EQ(h["PortBindings"]["80/tcp"][0]["HostPort"], "8080");
  EXPECT_EQ(h["PortBindings"]["80/tcp"][0]["HostIp"], "");
  EXPECT_TRUE(h["Init"].is_null());
  EXPECT_EQ(j["Mounts"][0]["Type"], "bind");
  EXPECT_EQ(j["Mounts"][0]["RW"], false);
  EXPECT_EQ(j["NetworkSettings"]["IPAddress"], "172.17.0.2");
  EXPECT_EQ(j["NetworkSettings"]["Networks"]["bridge"]["Gateway"], "172.17.0.1");
  // Docker's order of the top-level keys.
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys.front(), "Id");
  EXPECT_EQ(keys[1], "Created");
  EXPECT_EQ(keys.back(), "NetworkSettings");
}

v1::ContainerSummary Summary() {
  return Text<v1::ContainerSummary>(absl::StrCat(
      "id: '", kId, "' name: 'web' image: 'busybox' "
      "command: 'sh -c \"while true; do echo hi; sleep 1; done\"' "
      "created { seconds: 1700000000 } state: CONTAINER_STATUS_RUNNING "
      "status: 'Up 2 minutes' labels { key: 'b' value: '2' } labels { key: 'a' value: '1' } "
      "ports { container_port: 80 host_port: 8080 } ports { container_port: 53 protocol: "
      "PORT_PROTOCOL_UDP } size_rw: 12000 size_root_fs: 4260000"));
}

TEST(PsRowTest, DockerColumns) {
  PsOptions o;
  o.now = absl::FromUnixSeconds(1700000000 + 125);
  Json r = PsRow(Summary(), o);
  EXPECT_EQ(r["ID"], kId.substr(0, 12));
  EXPECT_EQ(r["Names"], "web");
  EXPECT_EQ(r["Image"], "busybox");
  // 20 characters with the ellipsis, quoted like Go's %q.
  EXPECT_EQ(r["Command"], "\"sh -c \\\"while true; \xE2\x80\xA6\"");
  EXPECT_EQ(r["RunningFor"], "2 minutes ago");
  EXPECT_EQ(r["Status"], "Up 2 minutes");
  EXPECT_EQ(r["State"], "running");
  EXPECT_EQ(r["Labels"], "a=1,b=2");
  EXPECT_EQ(r["Ports"], "0.0.0.0:8080->80/tcp, 53/udp");
  EXPECT_EQ(r["Size"], "12kB (virtual 4.26MB)");
  o.no_trunc = true;
  r = PsRow(Summary(), o);
  EXPECT_EQ(r["ID"], kId);
  EXPECT_EQ(r["Command"], "\"sh -c \\\"while true; do echo hi; sleep 1; done\\\"\"");
}

TEST(FormatRowsTest, TableJsonAndTemplates) {
  PsOptions o;
  o.now = absl::FromUnixSeconds(1700000000 + 5);
  std::vector<Json> rows = {PsRow(Summary(), o)};
  auto table = FormatRows("", rows, "table {{.ID}}\t{{.Image}}\t{{.Names}}", false);
  ASSERT_THAT(table, IsOk());
  EXPECT_EQ(*table,
            "CONTAINER ID   IMAGE     NAMES\n" + kId.substr(0, 12) + "   busybox   web\n");
  auto custom = FormatRows("{{.ID}}: {{.Status}}", rows, "", false);
  ASSERT_THAT(custom, IsOk());
  EXPECT_EQ(*custom, kId.substr(0, 12) + ": Up 2 minutes\n");
  auto json = FormatRows("json", rows, "", false);
  ASSERT_THAT(json, IsOk());
  Json parsed = Json::parse(*json);
  EXPECT_EQ(parsed["Names"], "web");
  EXPECT_EQ(parsed["RunningFor"], "5 seconds ago");
  EXPECT_FALSE(FormatRows("{{.ID", rows, "", false).ok());
  // "\t" as a shell passes it (backslash, t) is a tab, as in docker's formatter.
  auto escaped = FormatRows("table {{.ID}}\\t{{.Names}}", rows, "", false);
  ASSERT_THAT(escaped, IsOk());
  EXPECT_EQ(*escaped, "CONTAINER ID   NAMES\n" + kId.substr(0, 12) + "   web\n");
  // Other commands name their columns themselves.
  auto renamed = FormatRowsWith("table {{.ID}}", rows, "",
                                [](const std::string& f) { return "THE " + f; });
  ASSERT_THAT(renamed, IsOk());
  EXPECT_EQ(*renamed, "THE ID\n" + kId.substr(0, 12) + "\n");
}

v1::ContainerStats Sample() {
  return Text<v1::ContainerStats>(absl::StrCat(
      "id: '", kId, "' name: 'web' "
      "cpu { total_usage_ns: 300000000 system_usage_ns: 4000000000 online_cpus: 2 } "
      "precpu { total_usage_ns: 100000000 system_usage_ns: 2000000000 online_cpus: 2 } "
      "memory { usage: 10485760 limit: 104857600 stats { key: 'total_inactive_file' "
      "value: 2097152 } } pids { current: 3 } "
      "networks { key: 'eth0' value { rx_bytes: 1500 tx_bytes: 648 } } "
      "blkio { io_bytes_entries { op: 'Read' value: 4096000 } io_bytes_entries { op: 'Write' "
      "value: 0 } }"));
}

TEST(StatsTest, DockerCalculations) {
  v1::ContainerStats s = Sample();
  // (0.2s / 2s) * 2 CPUs * 100.
  EXPECT_DOUBLE_EQ(CpuPercent(s), 20.0);
  EXPECT_DOUBLE_EQ(MemoryUsed(s.memory()), 8388608.0);
  Json r = StatsRow(s, "web", false);
  EXPECT_EQ(r["ID"], kId.substr(0, 12));
  EXPECT_EQ(r["Name"], "web");
  EXPECT_EQ(r["CPUPerc"], "20.00%");
  EXPECT_EQ(r["MemUsage"], "8MiB / 100MiB");
  EXPECT_EQ(r["MemPerc"], "8.00%");
  EXPECT_EQ(r["NetIO"], "1.5kB / 648B");
  EXPECT_EQ(r["BlockIO"], "4.1MB / 0B");
  EXPECT_EQ(r["PIDs"], "3");

  // No previous sample: 0%, never negative or NaN.
  s.clear_precpu();
  s.mutable_cpu()->set_system_usage_ns(0);
  EXPECT_DOUBLE_EQ(CpuPercent(s), 0.0);

  // cgroup v2 counters.
  v1::MemoryStats m;
  m.set_usage(1000);
  (*m.mutable_stats())["inactive_file"] = 400;
  EXPECT_DOUBLE_EQ(MemoryUsed(m), 600.0);
}

TEST(StatsTest, Table) {
  auto text = FormatRows("", {StatsRow(Sample(), "web", false)},
                         "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t"
                         "{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}",
                         true);
  ASSERT_THAT(text, IsOk());
  EXPECT_THAT(*text, HasSubstr(std::string("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     ") +
                               "NET I/O" + std::string(8, ' ') + "BLOCK I/O    PIDS\n"));
  EXPECT_THAT(*text, HasSubstr(kId.substr(0, 12) + "   web       20.00%    8MiB / 100MiB"));
}

TEST(TimeTest, Rfc3339Nano) {
  google::protobuf::Timestamp ts;
  EXPECT_EQ(Rfc3339Nano(ts), "0001-01-01T00:00:00Z");
  ts.set_seconds(1700000000);
  ts.set_nanos(5);
  EXPECT_EQ(Rfc3339Nano(ts), "2023-11-14T22:13:20.000000005Z");
  EXPECT_EQ(ToAbslTime(ToProtoTime(absl::FromUnixNanos(-1500000000))),
            absl::FromUnixNanos(-1500000000));
}

}  // namespace
}  // namespace berth::cli
