#include "engine/cli/container_format.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/cli/cli.h"
#include "engine/cli/format.h"
#include "engine/cli/template.h"

namespace berth::cli {
namespace {

namespace v1 = ::berth::engine::v1;
using Json = nlohmann::ordered_json;

Json Strings(const google::protobuf::RepeatedPtrField<std::string>& v) {
  if (v.empty()) return Json();  // Go's nil slice marshals as null
  Json a = Json::array();
  for (const auto& s : v) a.push_back(s);
  return a;
}

// StringList fields: unset -> null, set -> the list (possibly empty).
Json OptStrings(bool has, const v1::StringList& l) {
  if (!has) return Json();
  Json a = Json::array();
  for (const auto& s : l.values()) a.push_back(s);
  return a;
}

Json StringMap(const google::protobuf::Map<std::string, std::string>& m) {
  if (m.empty()) return Json();
  std::map<std::string, std::string> sorted(m.begin(), m.end());
  Json o = Json::object();
  for (const auto& [k, v] : sorted) o[k] = v;
  return o;
}

std::string ProtocolName(v1::PortProtocol p) {
  switch (p) {
    case v1::PORT_PROTOCOL_UDP: return "udp";
    case v1::PORT_PROTOCOL_SCTP: return "sctp";
    default: return "tcp";
  }
}

std::string RestartName(v1::RestartPolicyName n) {
  switch (n) {
    case v1::RESTART_POLICY_NAME_ALWAYS: return "always";
    case v1::RESTART_POLICY_NAME_UNLESS_STOPPED: return "unless-stopped";
    case v1::RESTART_POLICY_NAME_ON_FAILURE: return "on-failure";
    default: return "no";
  }
}

std::string MountTypeName(v1::MountType t) {
  switch (t) {
    case v1::MOUNT_TYPE_BIND: return "bind";
    case v1::MOUNT_TYPE_VOLUME: return "volume";
    case v1::MOUNT_TYPE_TMPFS: return "tmpfs";
    default: return "";
  }
}

std::string PropagationName(v1::BindPropagation p) {
  switch (p) {
    case v1::BIND_PROPAGATION_PRIVATE: return "private";
    case v1::BIND_PROPAGATION_RPRIVATE: return "rprivate";
    case v1::BIND_PROPAGATION_SHARED: return "shared";
    case v1::BIND_PROPAGATION_RSHARED: return "rshared";
    case v1::BIND_PROPAGATION_SLAVE: return "slave";
    case v1::BIND_PROPAGATION_RSLAVE: return "rslave";
    default: return "";
  }
}

std::string HealthName(v1::HealthStatus h) {
  switch (h) {
    case v1::HEALTH_STATUS_STARTING: return "starting";
    case v1::HEALTH_STATUS_HEALTHY: return "healthy";
    case v1::HEALTH_STATUS_UNHEALTHY: return "unhealthy";
    default: return "none";
  }
}

// Docker's PortMap: {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]} or null when exposed
// only.
Json PortMap(const google::protobuf::RepeatedPtrField<v1::PortBinding>& ports) {
  Json o = Json::object();
  for (const auto& p : ports) {
    std::string key = absl::StrCat(p.container_port(), "/", ProtocolName(p.protocol()));
    if (p.host_port() == 0 && p.host_ip().empty()) {
      if (!o.contains(key)) o[key] = Json();
      continue;
    }
    if (!o.contains(key) || o[key].is_null()) o[key] = Json::array();
    o[key].push_back({{"HostIp", p.host_ip()}, {"HostPort", absl::StrCat(p.host_port())}});
  }
  return o;
}

Json Endpoint(const v1::EndpointSettings& e) {
  Json ipam;
  if (e.has_ipam_config()) {
    ipam = {{"IPv4Address", e.ipam_config().ipv4_address()},
            {"IPv6Address", e.ipam_config().ipv6_address()},
            {"LinkLocalIPs", Strings(e.ipam_config().link_local_ips())}};
  }
  return Json{{"IPAMConfig", ipam},
              {"Links", Strings(e.links())},
              {"Aliases", Strings(e.aliases())},
              {"MacAddress", e.mac_address()},
              {"DriverOpts", StringMap(e.driver_opts())},
              {"NetworkID", e.network_id()},
              {"EndpointID", e.endpoint_id()},
              {"Gateway", e.gateway()},
              {"IPAddress", e.ip_address()},
              {"IPPrefixLen", e.ip_prefix_len()},
              {"IPv6Gateway", e.ipv6_gateway()},
              {"GlobalIPv6Address", e.global_ipv6_address()},
              {"GlobalIPv6PrefixLen", e.global_ipv6_prefix_len()},
              {"DNSNames", Strings(e.dns_names())}};
}

Json Networks(const google::protobuf::Map<std::string, v1::EndpointSettings>& m) {
  std::map<std::string, const v1::EndpointSettings*> sorted;
  for (const auto& [k, v] : m) sorted[k] = &v;
  Json o = Json::object();
  for (const auto& [k, v] : sorted) o[k] = Endpoint(*v);
  return o;
}

int64_t DurationNanos(const google::protobuf::Duration& d) {
  return d.seconds() * 1000000000 + d.nanos();
}

Json HostConfigJson(const v1::HostConfig& h) {
  const v1::Resources& r = h.resources();
  Json ulimits;
  if (!r.ulimits().empty()) {
    ulimits = Json::array();
    for (const auto& u : r.ulimits()) {
      ulimits.push_back({{"Name", u.name()}, {"Hard", u.hard()}, {"Soft", u.soft()}});
    }
  }
  Json tmpfs = StringMap(h.tmpfs());
  std::string cgroupns = h.cgroupns_mode() == v1::CGROUPNS_MODE_HOST      ? "host"
                         : h.cgroupns_mode() == v1::CGROUPNS_MODE_PRIVATE ? "private"
                                                                           : "";
  Json console = Json::array({h.console_size().height(), h.console_size().width()});
  return Json{
      {"Binds", Strings(h.binds())},
      {"ContainerIDFile", ""},
      {"LogConfig", {{"Type", h.log_config().type()}, {"Config", StringMap(h.log_config().config())}}},
      {"NetworkMode", h.network_mode()},
      {"PortBindings", PortMap(h.port_bindings())},
      {"RestartPolicy",
       {{"Name", RestartName(h.restart_policy().name())},
        {"MaximumRetryCount", h.restart_policy().maximum_retry_count()}}},
      {"AutoRemove", h.auto_remove()},
      {"VolumeDriver", h.volume_driver()},
      {"VolumesFrom", Strings(h.volumes_from())},
      {"ConsoleSize", console},
      {"Annotations", StringMap(h.annotations())},
      {"CapAdd", Strings(h.cap_add())},
      {"CapDrop", Strings(h.cap_drop())},
      {"CgroupnsMode", cgroupns},
      {"Dns", Strings(h.dns())},
      {"DnsOptions", Strings(h.dns_options())},
      {"DnsSearch", Strings(h.dns_search())},
      {"ExtraHosts", Strings(h.extra_hosts())},
      {"GroupAdd", Strings(h.group_add())},
      {"IpcMode", h.ipc_mode()},
      {"Cgroup", ""},
      {"Links", Strings(h.links())},
      {"OomScoreAdj", h.oom_score_adj()},
      {"PidMode", h.pid_mode()},
      {"Privileged", h.privileged()},
      {"PublishAllPorts", h.publish_all_ports()},
      {"ReadonlyRootfs", h.read_only_rootfs()},
      {"SecurityOpt", Strings(h.security_opts())},
      {"StorageOpt", StringMap(h.storage_opt())},
      {"Tmpfs", tmpfs},
      {"UTSMode", h.uts_mode()},
      {"UsernsMode", h.userns_mode()},
      {"ShmSize", h.shm_size()},
      {"Sysctls", StringMap(h.sysctls())},
      {"Runtime", h.runtime()},
      {"Isolation", ""},
      {"CpuShares", r.cpu_shares()},
      {"Memory", r.memory()},
      {"NanoCpus", r.nano_cpus()},
      {"CgroupParent", r.cgroup_parent()},
      {"BlkioWeight", r.blkio_weight()},
      {"CpuPeriod", r.cpu_period()},
      {"CpuQuota", r.cpu_quota()},
      {"CpuRealtimePeriod", r.cpu_realtime_period()},
      {"CpuRealtimeRuntime", r.cpu_realtime_runtime()},
      {"CpusetCpus", r.cpuset_cpus()},
      {"CpusetMems", r.cpuset_mems()},
      {"DeviceCgroupRules", Strings(r.device_cgroup_rules())},
      {"MemoryReservation", r.memory_reservation()},
      {"MemorySwap", r.memory_swap()},
      {"MemorySwappiness", r.has_memory_swappiness() ? Json(r.memory_swappiness()) : Json()},
      {"OomKillDisable", r.has_oom_kill_disable() ? Json(r.oom_kill_disable()) : Json()},
      {"PidsLimit", r.has_pids_limit() ? Json(r.pids_limit()) : Json()},
      {"Ulimits", ulimits},
      {"MaskedPaths", Strings(h.masked_paths())},
      {"ReadonlyPaths", Strings(h.readonly_paths())},
      {"Init", h.has_init() ? Json(h.init()) : Json()},
  };
}

Json ConfigJson(const v1::ContainerConfig& c) {
  Json exposed;
  if (!c.exposed_ports().empty()) {
    exposed = Json::object();
    for (const auto& p : c.exposed_ports()) {
      exposed[absl::StrCat(p.port(), "/", ProtocolName(p.protocol()))] = Json::object();
    }
  }
  Json volumes;
  if (!c.volumes().empty()) {
    volumes = Json::object();
    for (const auto& v : c.volumes()) volumes[v] = Json::object();
  }
  Json j = {
      {"Hostname", c.hostname()},
      {"Domainname", c.domainname()},
      {"User", c.user()},
      {"AttachStdin", c.attach_stdin()},
      {"AttachStdout", c.attach_stdout()},
      {"AttachStderr", c.attach_stderr()},
  };
  if (!exposed.is_null()) j["ExposedPorts"] = exposed;
  j["Tty"] = c.tty();
  j["OpenStdin"] = c.open_stdin();
  j["StdinOnce"] = c.stdin_once();
  j["Env"] = Strings(c.env());
  j["Cmd"] = OptStrings(c.has_cmd(), c.cmd());
  if (c.has_healthcheck()) {
    const auto& hc = c.healthcheck();
    Json h = {{"Test", Strings(hc.tests())}};
    if (hc.has_interval()) h["Interval"] = DurationNanos(hc.interval());
    if (hc.has_timeout()) h["Timeout"] = DurationNanos(hc.timeout());
    if (hc.has_start_period()) h["StartPeriod"] = DurationNanos(hc.start_period());
    if (hc.retries() != 0) h["Retries"] = hc.retries();
    j["Healthcheck"] = h;
  }
  j["Image"] = c.image();
  j["Volumes"] = volumes;
  j["WorkingDir"] = c.working_dir();
  j["Entrypoint"] = OptStrings(c.has_entrypoint(), c.entrypoint());
  if (c.network_disabled()) j["NetworkDisabled"] = true;
  j["OnBuild"] = Json();
  j["Labels"] = c.labels().empty() ? Json::object() : StringMap(c.labels());
  if (!c.stop_signal().empty()) j["StopSignal"] = c.stop_signal();
  if (c.has_stop_timeout()) j["StopTimeout"] = c.stop_timeout().seconds();
  if (!c.shell().empty()) j["Shell"] = Strings(c.shell());
  return j;
}

Json StateJson(const v1::ContainerState& s) {
  Json j = {{"Status", StatusName(s.status())},
            {"Running", s.running()},
            {"Paused", s.paused()},
            {"Restarting", s.restarting()},
            {"OOMKilled", s.oom_killed()},
            {"Dead", s.dead()},
            {"Pid", s.pid()},
            {"ExitCode", s.exit_code()},
            {"Error", s.error()},
            {"StartedAt", Rfc3339Nano(s.started_at())},
            {"FinishedAt", Rfc3339Nano(s.finished_at())}};
  if (s.has_health()) {
    Json logs = Json::array();
    for (const auto& l : s.health().logs()) {
      logs.push_back({{"Start", Rfc3339Nano(l.start())},
                      {"End", Rfc3339Nano(l.end())},
                      {"ExitCode", l.exit_code()},
                      {"Output", l.output()}});
    }
    j["Health"] = {{"Status", HealthName(s.health().status())},
                   {"FailingStreak", s.health().failing_streak()},
                   {"Log", logs}};
  }
  return j;
}

// Go's strconv.Quote for the printable ASCII and UTF-8 a command line holds.
std::string GoQuote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += absl::StrFormat("\\x%02x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out + "\"";
}

// docker's formatter.Ellipsis: at most `max` characters (UTF-8 aware), the last one "…".
std::string Ellipsis(const std::string& s, size_t max) {
  std::vector<size_t> starts;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  if (starts.size() <= max) return s;
  return s.substr(0, starts[max - 1]) + "\xE2\x80\xA6";
}

}  // namespace

absl::Time ToAbslTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t ns = absl::ToUnixNanos(t);
  ts.set_seconds(ns >= 0 ? ns / 1000000000 : (ns - 999999999) / 1000000000);
  ts.set_nanos(static_cast<int32_t>(ns - ts.seconds() * 1000000000));
  return ts;
}

std::string Rfc3339Nano(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "0001-01-01T00:00:00Z";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", ToAbslTime(ts), absl::UTCTimeZone());
}

std::string StatusName(v1::ContainerStatus s) {
  switch (s) {
    case v1::CONTAINER_STATUS_CREATED: return "created";
    case v1::CONTAINER_STATUS_RUNNING: return "running";
    case v1::CONTAINER_STATUS_PAUSED: return "paused";
    case v1::CONTAINER_STATUS_RESTARTING: return "restarting";
    case v1::CONTAINER_STATUS_REMOVING: return "removing";
    case v1::CONTAINER_STATUS_EXITED: return "exited";
    case v1::CONTAINER_STATUS_DEAD: return "dead";
    default: return "unknown";
  }
}

std::string ShortId(const std::string& id) { return id.substr(0, 12); }

Json InspectJson(const v1::Container& c) {
  Json mounts = Json::array();
  for (const auto& m : c.mounts()) {
    Json j = {{"Type", MountTypeName(m.type())}};
    if (!m.name().empty()) j["Name"] = m.name();
    j["Source"] = m.source();
    j["Destination"] = m.destination();
    if (!m.driver().empty()) j["Driver"] = m.driver();
    j["Mode"] = m.mode();
    j["RW"] = m.read_write();
    j["Propagation"] = PropagationName(m.propagation());
    mounts.push_back(std::move(j));
  }
  const v1::NetworkSettings& ns = c.network_settings();
  Json settings = {{"Bridge", ""},
                   {"SandboxID", ns.sandbox_id()},
                   {"SandboxKey", ns.sandbox_key()},
                   {"Ports", PortMap(ns.ports())},
                   {"HairpinMode", false},
                   {"LinkLocalIPv6Address", ""},
                   {"LinkLocalIPv6PrefixLen", 0},
                   {"SecondaryIPAddresses", Json()},
                   {"SecondaryIPv6Addresses", Json()}};
  // The legacy top-level address fields mirror the default bridge network.
  auto bridge = ns.networks().find("bridge");
  const v1::EndpointSettings empty;
  const v1::EndpointSettings& b = bridge != ns.networks().end() ? bridge->second : empty;
  settings["EndpointID"] = b.endpoint_id();
  settings["Gateway"] = b.gateway();
  settings["GlobalIPv6Address"] = b.global_ipv6_address();
  settings["GlobalIPv6PrefixLen"] = b.global_ipv6_prefix_len();
  settings["IPAddress"] = b.ip_address();
  settings["IPPrefixLen"] = b.ip_prefix_len();
  settings["IPv6Gateway"] = b.ipv6_gateway();
  settings["MacAddress"] = b.mac_address();
  settings["Networks"] = Networks(ns.networks());

  Json j = {{"Id", c.id()},
            {"Created", Rfc3339Nano(c.created())},
            {"Path", c.path()},
            {"Args", Json::array()},
            {"State", StateJson(c.state())},
            {"Image", c.image_id()},
            {"ResolvConfPath", c.resolv_conf_path()},
            {"HostnamePath", c.hostname_path()},
            {"HostsPath", c.hosts_path()},
            {"LogPath", c.log_path()},
            {"Name", absl::StrCat("/", c.name())},
            {"RestartCount", c.restart_count()},
            {"Driver", c.driver()},
            {"Platform", c.platform().empty() ? "linux" : c.platform()},
            {"MountLabel", c.mount_label()},
            {"ProcessLabel", c.process_label()},
            {"AppArmorProfile", c.app_armor_profile()},
            {"ExecIDs", Strings(c.exec_ids())},
            {"HostConfig", HostConfigJson(c.host_config())},
            {"GraphDriver",
             {{"Data", StringMap(c.graph_driver().data())}, {"Name", c.graph_driver().name()}}}};
  for (const auto& a : c.args()) j["Args"].push_back(a);
  if (c.has_size_rw()) j["SizeRw"] = c.size_rw();
  if (c.has_size_root_fs()) j["SizeRootFs"] = c.size_root_fs();
  j["Mounts"] = mounts;
  j["Config"] = ConfigJson(c.config());
  j["NetworkSettings"] = settings;
  return j;
}

std::string FormatPorts(const google::protobuf::RepeatedPtrField<v1::PortBinding>& ports) {
  std::vector<std::string> out;
  for (const auto& p : ports) {
    std::string cport = absl::StrCat(p.container_port(), "/", ProtocolName(p.protocol()));
    if (p.host_port() == 0) {
      out.push_back(cport);
      continue;
    }
    std::string ip = p.host_ip().empty() ? "0.0.0.0" : p.host_ip();
    if (ip.find(':') != std::string::npos) ip = absl::StrCat("[", ip, "]");
    out.push_back(absl::StrCat(ip, ":", p.host_port(), "->", cport));
  }
  return absl::StrJoin(out, ", ");
}

Json PsRow(const v1::ContainerSummary& c, const PsOptions& o) {
  std::vector<std::string> labels;
  std::map<std::string, std::string> sorted(c.labels().begin(), c.labels().end());
  for (const auto& [k, v] : sorted) labels.push_back(absl::StrCat(k, "=", v));
  std::vector<std::string> mounts;
  for (const auto& m : c.mounts()) {
    std::string n = m.name().empty() ? m.source() : m.name();
    mounts.push_back(o.no_trunc ? n : Ellipsis(n, 15));
  }
  std::vector<std::string> networks;
  for (const auto& [k, v] : c.networks()) networks.push_back(k);
  std::sort(networks.begin(), networks.end());
  int local_volumes = 0;
  for (const auto& m : c.mounts()) local_volumes += m.type() == v1::MOUNT_TYPE_VOLUME;

  std::string size;
  if (c.has_size_rw() || c.has_size_root_fs()) {
    size = HumanSize(static_cast<double>(c.size_rw()));
    if (c.size_root_fs() > 0) {
      size = absl::StrCat(size, " (virtual ", HumanSize(static_cast<double>(c.size_root_fs())), ")");
    }
  }
  const absl::Time created = ToAbslTime(c.created());
  return Json{
      {"Command", GoQuote(o.no_trunc ? c.command() : Ellipsis(c.command(), 20))},
      {"CreatedAt", absl::FormatTime("%Y-%m-%d %H:%M:%S %z %Z", created, absl::LocalTimeZone())},
      {"ID", o.no_trunc ? c.id() : ShortId(c.id())},
      {"Image", c.image()},
      {"Labels", absl::StrJoin(labels, ",")},
      {"LocalVolumes", absl::StrCat(local_volumes)},
      {"Mounts", absl::StrJoin(mounts, ",")},
      {"Names", c.name()},
      {"Networks", absl::StrJoin(networks, ",")},
      {"Ports", FormatPorts(c.ports())},
      {"RunningFor", absl::StrCat(HumanDuration(o.now - created), " ago")},
      {"Size", size},
      {"State", StatusName(c.state())},
      {"Status", c.status()},
  };
}

double CpuPercent(const v1::ContainerStats& s) {
  const double cpu_delta =
      static_cast<double>(s.cpu().total_usage_ns() - s.precpu().total_usage_ns());
  const double system_delta =
      static_cast<double>(s.cpu().system_usage_ns() - s.precpu().system_usage_ns());
  int cpus = s.cpu().online_cpus();
  if (cpus == 0) cpus = s.cpu().per_cpu_usage_ns_size();
  if (cpu_delta <= 0 || system_delta <= 0) return 0;
  return cpu_delta / system_delta * cpus * 100.0;
}

double MemoryUsed(const v1::MemoryStats& m) {
  auto v1_inactive = m.stats().find("total_inactive_file");
  if (v1_inactive != m.stats().end()) {
    if (v1_inactive->second < m.usage()) return static_cast<double>(m.usage() - v1_inactive->second);
    return static_cast<double>(m.usage());
  }
  auto v2_inactive = m.stats().find("inactive_file");
  if (v2_inactive != m.stats().end() && v2_inactive->second < m.usage()) {
    return static_cast<double>(m.usage() - v2_inactive->second);
  }
  return static_cast<double>(m.usage());
}

Json StatsRow(const v1::ContainerStats& s, const std::string& container, bool no_trunc) {
  const double used = MemoryUsed(s.memory());
  const double limit = static_cast<double>(s.memory().limit());
  int64_t rx = 0, tx = 0;
  for (const auto& [name, n] : s.networks()) {
    rx += n.rx_bytes();
    tx += n.tx_bytes();
  }
  int64_t rd = 0, wr = 0;
  for (const auto& e : s.blkio().io_bytes_entries()) {
    std::string op = absl::AsciiStrToLower(e.op());
    if (op == "read") rd += e.value();
    if (op == "write") wr += e.value();
  }
  return Json{
      {"BlockIO", absl::StrCat(HumanSize(static_cast<double>(rd)), " / ",
                               HumanSize(static_cast<double>(wr)))},
      {"CPUPerc", absl::StrFormat("%.2f%%", CpuPercent(s))},
      {"Container", container},
      {"ID", no_trunc ? s.id() : ShortId(s.id())},
      {"MemPerc", absl::StrFormat("%.2f%%", limit > 0 ? used / limit * 100.0 : 0.0)},
      {"MemUsage", absl::StrCat(HumanBytes(used), " / ", HumanBytes(limit))},
      {"Name", s.name().empty() ? "--" : s.name()},
      {"NetIO", absl::StrCat(HumanSize(static_cast<double>(rx)), " / ",
                             HumanSize(static_cast<double>(tx)))},
      {"PIDs", absl::StrCat(s.pids().current())},
  };
}

std::string ColumnHeader(const std::string& field, bool stats) {
  static const std::map<std::string, std::string> kPs = {
      {"ID", "CONTAINER ID"},  {"Image", "IMAGE"},     {"Command", "COMMAND"},
      {"CreatedAt", "CREATED AT"}, {"RunningFor", "CREATED"}, {"Ports", "PORTS"},
      {"State", "STATE"},      {"Status", "STATUS"},   {"Size", "SIZE"},
      {"Names", "NAMES"},      {"Labels", "LABELS"},   {"Mounts", "MOUNTS"},
      {"Networks", "NETWORKS"}, {"LocalVolumes", "LOCAL VOLUMES"}};
  static const std::map<std::string, std::string> kStats = {
      {"ID", "CONTAINER ID"}, {"Container", "CONTAINER"}, {"Name", "NAME"},
      {"CPUPerc", "CPU %"},   {"MemUsage", "MEM USAGE / LIMIT"}, {"MemPerc", "MEM %"},
      {"NetIO", "NET I/O"},   {"BlockIO", "BLOCK I/O"}, {"PIDs", "PIDS"}};
  const auto& m = stats ? kStats : kPs;
  auto it = m.find(field);
  return it != m.end() ? it->second : absl::AsciiStrToUpper(field);
}

absl::StatusOr<std::string> FormatRows(const std::string& format,
                                       const std::vector<Json>& rows,
                                       const std::string& default_format, bool stats) {
  return FormatRowsWith(format, rows, default_format,
                        [stats](const std::string& field) { return ColumnHeader(field, stats); });
}

absl::StatusOr<std::string> FormatRowsWith(
    const std::string& format, const std::vector<Json>& rows, const std::string& default_format,
    const std::function<std::string(const std::string&)>& column_header) {
  std::string f = absl::StrReplaceAll(format.empty() ? default_format : format,
                                      {{"\\t", "\t"}, {"\\n", "\n"}});
  if (f == "json") {
    std::string out;
    for (const auto& r : rows) absl::StrAppend(&out, r.dump(), "\n");
    return out;
  }
  const bool table = absl::StartsWith(f, "table");
  if (table) f = std::string(absl::StripLeadingAsciiWhitespace(f.substr(5)));
  auto tmpl = Template::Parse(f);
  if (!tmpl.ok()) return tmpl.status();
  if (!table) {
    std::string out;
    for (const auto& r : rows) {
      auto line = tmpl->Execute(r);
      if (!line.ok()) return line.status();
      absl::StrAppend(&out, *line, "\n");
    }
    return out;
  }
  Json header = Json::object();
  for (const auto& field : tmpl->TopLevelFields()) header[field] = column_header(field);
  auto head = tmpl->Execute(header);
  if (!head.ok()) return head.status();
  Table t(absl::StrSplit(*head, '\t'));
  for (const auto& r : rows) {
    auto line = tmpl->Execute(r);
    if (!line.ok()) return line.status();
    t.Add(absl::StrSplit(*line, '\t'));
  }
  std::ostringstream os;
  t.Print(os);
  return os.str();
}

}  // namespace berth::cli
