#include "engine/containers/files.h"

#include <pwd.h>
#include <unistd.h>


#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/fs/atomic_file.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"
#include "engine/oci/etc_files.h"

namespace berth::engine::containers {
namespace {

namespace ev1 = ::berth::engine::v1;

}  // namespace

absl::StatusOr<ContainerFiles> WriteContainerFiles(const std::string& dir,
                                                   const std::string& hostname,
                                                   const std::string& domainname,
                                                   const ev1::HostConfig& host,
                                                   const std::string& host_resolv_conf) {
  ContainerFiles f;
  f.hostname_path = absl::StrCat(dir, "/hostname");
  f.hosts_path = absl::StrCat(dir, "/hosts");
  f.resolv_conf_path = absl::StrCat(dir, "/resolv.conf");
  // Not fsync'd (six fsyncs per create were a visible part of it): like container.json and
  // like dockerd's own copies, the files are whole after a crash of berthd (rename), and a power
  // cut that loses them loses the container's record with them.
  const fs::AtomicWriteOptions not_durable{.durable = false};
  BERTH_RETURN_IF_ERROR(fs::WriteFileAtomically(f.hostname_path,
                                                oci::GenerateHostnameFile(hostname), 0644,
                                                not_durable),
                        "write hostname");
  oci::HostsOptions hosts;
  hosts.hostname = hostname;
  hosts.domainname = domainname;
  hosts.extra_hosts.assign(host.extra_hosts().begin(), host.extra_hosts().end());
  BERTH_ASSIGN_OR_RETURN(std::string hosts_text, oci::GenerateHostsFile(hosts));
  BERTH_RETURN_IF_ERROR(fs::WriteFileAtomically(f.hosts_path, hosts_text, 0644, not_durable),
                        "write hosts");
  oci::ResolvConfOptions resolv;
  absl::StatusOr<std::string> host_text = fs::ReadFile(host_resolv_conf);
  if (host_text.ok()) resolv.host_resolv_conf = *host_text;
  resolv.dns.assign(host.dns().begin(), host.dns().end());
  resolv.dns_search.assign(host.dns_search().begin(), host.dns_search().end());
  resolv.dns_options.assign(host.dns_options().begin(), host.dns_options().end());
  resolv.host_network = host.network_mode() == "host";
  BERTH_ASSIGN_OR_RETURN(std::string resolv_text, oci::GenerateResolvConf(resolv));
  BERTH_RETURN_IF_ERROR(
      fs::WriteFileAtomically(f.resolv_conf_path, resolv_text, 0644, not_durable),
      "write resolv.conf");
  return f;
}

absl::StatusOr<ev1::ContainerTopResponse> TopFromProc(const std::vector<int>& pids) {
  ev1::ContainerTopResponse resp;
  for (const char* t : {"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}) {
    resp.add_titles(t);
  }
  const long ticks = sysconf(_SC_CLK_TCK);
  absl::StatusOr<std::string> uptime_text = fs::ReadFile("/proc/uptime");
  double uptime = 0;
  if (uptime_text.ok()) {
    std::vector<std::string> parts = absl::StrSplit(*uptime_text, ' ');
    (void)absl::SimpleAtod(parts[0], &uptime);
  }
  const absl::Time boot = absl::Now() - absl::Seconds(uptime);
  for (int pid : pids) {
    absl::StatusOr<std::string> stat = fs::ReadFile(absl::StrCat("/proc/", pid, "/stat"));
    if (!stat.ok()) continue;  // exited meanwhile
    size_t close = stat->rfind(')');
    if (close == std::string::npos) continue;
    std::vector<std::string> f = absl::StrSplit(stat->substr(close + 2), ' ');
    if (f.size() < 20) continue;
    // Fields after "(comm) ": state(0) ppid(1) ... utime(11) stime(12) ... starttime(19).
    int64_t utime = 0, stime = 0, start = 0;
    (void)absl::SimpleAtoi(f[11], &utime);
    (void)absl::SimpleAtoi(f[12], &stime);
    (void)absl::SimpleAtoi(f[19], &start);
    std::string uid = "?";
    if (auto status = fs::ReadFile(absl::StrCat("/proc/", pid, "/status")); status.ok()) {
      for (absl::string_view line : absl::StrSplit(*status, '\n')) {
        if (absl::ConsumePrefix(&line, "Uid:")) {
          std::vector<std::string> ids =
              absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
          if (!ids.empty()) uid = ids[0];
        }
      }
    }
    uid_t uid_num = 0;
    if (absl::SimpleAtoi(uid, &uid_num)) {
      struct passwd pw, *res = nullptr;
      char buf[1024];
      if (getpwuid_r(uid_num, &pw, buf, sizeof buf, &res) == 0 && res != nullptr) {
        uid = res->pw_name;
      }
    }
    std::string cmd;
    if (auto cmdline = fs::ReadFile(absl::StrCat("/proc/", pid, "/cmdline")); cmdline.ok()) {
      cmd = absl::StrJoin(absl::StrSplit(absl::StripSuffix(*cmdline, std::string(1, '\0')), '\0'),
                          " ");
    }
    if (cmd.empty()) cmd = absl::StrCat("[", stat->substr(stat->find('(') + 1,
                                                          close - stat->find('(') - 1), "]");
    const int64_t cpu_secs = (utime + stime) / ticks;
    const double age = uptime - static_cast<double>(start) / ticks;
    const int c = age > 0 ? static_cast<int>(100.0 * (utime + stime) / ticks / age) : 0;
    const absl::Time started = boot + absl::Seconds(static_cast<double>(start) / ticks);
    auto* p = resp.add_processes();
    for (const std::string& v :
         {uid, absl::StrCat(pid), f[1], absl::StrCat(c),
          absl::FormatTime("%H:%M", started, absl::LocalTimeZone()), std::string("?"),
          absl::StrFormat("%02d:%02d:%02d", cpu_secs / 3600, (cpu_secs / 60) % 60, cpu_secs % 60),
          cmd}) {
      p->add_values(v);
    }
  }
  return resp;
}

}  // namespace berth::engine::containers
