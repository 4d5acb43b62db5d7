#include "engine/cli/run_options.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "berth/types/v1/descriptor.pb.h"
#include "common/units/units.h"

namespace berth::cli {
namespace {

namespace v1 = ::berth::engine::v1;

// docker's wording for a flag whose value does not parse.
absl::Status BadFlag(const std::string& value, const std::string& flag, const absl::Status& s) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid argument \"", value, "\" for \"", flag, "\" flag: ", s.message()));
}

}  // namespace

void RunOptions::Define(FlagSet& f, bool run) {
  if (run) {
    f.AddBool(&detach, "detach", 'd', "Run container in background and print container ID");
    f.AddBool(&rm, "rm", 0, "Automatically remove the container when it exits");
    f.AddBool(&sig_proxy, "sig-proxy", 0, "Proxy received signals to the process");
    f.AddString(&detach_keys, "detach-keys", 0,
                "Override the key sequence for detaching a container");
  }
  f.AddBool(&interactive, "interactive", 'i', "Keep STDIN open even if not attached");
  f.AddBool(&tty, "tty", 't', "Allocate a pseudo-TTY");
  f.AddString(&name, "name", 0, "Assign a name to the container");
  f.AddStringList(&env, "env", 'e', "Set environment variables");
  f.AddStringList(&env_files, "env-file", 0, "Read in a file of environment variables");
  f.AddString(&workdir, "workdir", 'w', "Working directory inside the container");
  f.AddString(&user, "user", 'u', "Username or UID (format: <name|uid>[:<group|gid>])");
  f.AddString(&entrypoint, "entrypoint", 0, "Overwrite the default ENTRYPOINT of the image");
  f.AddStringList(&labels, "label", 'l', "Set meta data on a container");
  f.AddStringList(&label_files, "label-file", 0, "Read in a line delimited file of labels");
  f.AddString(&hostname, "hostname", 'h', "Container host name");
  f.AddString(&domainname, "domainname", 0, "Container NIS domain name");
  f.AddString(&memory, "memory", 'm', "Memory limit");
  f.AddString(&memory_swap, "memory-swap", 0,
              "Swap limit equal to memory plus swap: '-1' to enable unlimited swap");
  f.AddString(&memory_reservation, "memory-reservation", 0, "Memory soft limit");
  f.AddString(&cpus, "cpus", 0, "Number of CPUs");
  f.AddInt(&cpu_shares, "cpu-shares", 'c', "CPU shares (relative weight)");
  f.AddString(&cpuset_cpus, "cpuset-cpus", 0, "CPUs in which to allow execution (0-3, 0,1)");
  f.AddInt(&pids_limit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)");
  f.AddStringList(&ulimits, "ulimit", 0, "Ulimit options");
  f.AddStringList(&cap_add, "cap-add", 0, "Add Linux capabilities");
  f.AddStringList(&cap_drop, "cap-drop", 0, "Drop Linux capabilities");
  f.AddBool(&privileged, "privileged", 0, "Give extended privileges to this container");
  f.AddBool(&read_only, "read-only", 0, "Mount the container's root filesystem as read only");
  f.AddStringList(&security_opts, "security-opt", 0, "Security Options");
  f.AddString(&restart, "restart", 0, "Restart policy to apply when a container exits");
  f.AddBool(&init, "init", 0,
            "Run an init inside the container that forwards signals and reaps processes");
  f.AddString(&stop_signal, "stop-signal", 0, "Signal to stop the container");
  f.AddInt(&stop_timeout, "stop-timeout", 0, "Timeout (in seconds) to stop a container");
  f.AddStringList(&add_hosts, "add-host", 0, "Add a custom host-to-IP mapping (host:ip)");
  f.AddStringList(&dns, "dns", 0, "Set custom DNS servers");
  f.AddStringList(&dns_search, "dns-search", 0, "Set custom DNS search domains");
  f.AddString(&network, "network", 0, "Connect a container to a network");
  f.AddStringList(&volumes, "volume", 'v', "Bind mount a volume");
  f.AddStringList(&tmpfs, "tmpfs", 0, "Mount a tmpfs directory");
  f.AddString(&log_driver, "log-driver", 0, "Logging driver for the container");
  f.AddStringList(&log_opts, "log-opt", 0, "Log driver options");
  f.AddString(&shm_size, "shm-size", 0, "Size of /dev/shm");
  f.AddStringList(&group_add, "group-add", 0, "Add additional groups to join");
  f.AddStringList(&sysctls, "sysctl", 0, "Sysctl options");
  f.AddString(&platform, "platform", 0, "Set platform if server is multi-platform capable");
  f.AddString(&pull, "pull", 0,
              "Pull image before running (\"always\", \"missing\", \"never\")");
}

absl::StatusOr<v1::CreateContainerRequest> BuildCreateRequest(const RunOptions& o,
                                                              const FlagSet& flags,
                                                              const CreateInputs& in) {
  if (in.args.empty()) {
    return absl::InvalidArgumentError("requires at least 1 argument");
  }
  v1::CreateContainerRequest req;
  req.set_name(o.name);
  v1::ContainerConfig& c = *req.mutable_config();
  v1::HostConfig& h = *req.mutable_host_config();
  v1::Resources& r = *h.mutable_resources();

  c.set_image(in.args[0]);
  if (in.args.size() > 1) {
    for (size_t i = 1; i < in.args.size(); ++i) c.mutable_cmd()->add_values(in.args[i]);
  }
  if (flags.Changed("entrypoint")) {
    // An empty --entrypoint "" clears the image's entrypoint (an empty list).
    auto* ep = c.mutable_entrypoint();
    if (!o.entrypoint.empty()) ep->add_values(o.entrypoint);
  }

  // Env files first, then -e, so -e overrides (docker's order).
  for (const auto& file : o.env_files) {
    auto lines = ParseEnvFile(file, in.env_lookup);
    if (!lines.ok()) return lines.status();
    for (auto& l : *lines) c.add_env(l);
  }
  for (const auto& e : o.env) {
    if (absl::StartsWith(e, "=")) {
      return BadFlag(e, "-e, --env", absl::InvalidArgumentError("invalid environment variable"));
    }
    if (auto v = ExpandEnv(e, in.env_lookup); v.has_value()) c.add_env(*v);
  }

  std::vector<std::string> labels;
  for (const auto& file : o.label_files) {
    auto lines = ParseLabelFile(file);
    if (!lines.ok()) return lines.status();
    labels.insert(labels.end(), lines->begin(), lines->end());
  }
  labels.insert(labels.end(), o.labels.begin(), o.labels.end());
  for (const auto& l : labels) {
    auto [k, v] = SplitKeyValue(l);
    if (k.empty()) return BadFlag(l, "-l, --label", absl::InvalidArgumentError("empty key"));
    (*c.mutable_labels())[k] = v;
  }

  c.set_working_dir(o.workdir);
  if (!o.workdir.empty() && o.workdir[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("the working directory '", o.workdir, "' is invalid, it needs to be an "
                                                          "absolute path"));
  }
  c.set_user(o.user);
  c.set_hostname(o.hostname);
  c.set_domainname(o.domainname);
  c.set_tty(o.tty);
  c.set_open_stdin(o.interactive);
  c.set_attach_stdin(o.interactive && !o.detach);
  c.set_stdin_once(o.interactive && !o.detach);
  c.set_attach_stdout(!o.detach);
  c.set_attach_stderr(!o.detach);
  c.set_stop_signal(o.stop_signal);
  if (flags.Changed("stop-timeout")) c.mutable_stop_timeout()->set_seconds(o.stop_timeout);

  if (!o.memory.empty()) {
    auto m = units::RamInBytes(o.memory);
    if (!m.ok()) return BadFlag(o.memory, "-m, --memory", m.status());
    r.set_memory(*m);
  }
  if (!o.memory_swap.empty()) {
    if (o.memory_swap == "-1") {
      r.set_memory_swap(-1);
    } else {
      auto m = units::RamInBytes(o.memory_swap);
      if (!m.ok()) return BadFlag(o.memory_swap, "--memory-swap", m.status());
      r.set_memory_swap(*m);
    }
  }
  if (!o.memory_reservation.empty()) {
    auto m = units::RamInBytes(o.memory_reservation);
    if (!m.ok()) return BadFlag(o.memory_reservation, "--memory-reservation", m.status());
    r.set_memory_reservation(*m);
  }
  if (!o.cpus.empty()) {
    auto n = ParseNanoCpus(o.cpus);
    if (!n.ok()) return BadFlag(o.cpus, "--cpus", n.status());
    r.set_nano_cpus(*n);
  }
  r.set_cpu_shares(o.cpu_shares);
  r.set_cpuset_cpus(o.cpuset_cpus);
  if (flags.Changed("pids-limit")) r.set_pids_limit(o.pids_limit);
  for (const auto& u : o.ulimits) {
    auto parsed = ParseUlimit(u);
    if (!parsed.ok()) return BadFlag(u, "--ulimit", parsed.status());
    *r.add_ulimits() = *parsed;
  }

  for (const auto& cap : o.cap_add) h.add_cap_add(cap);
  for (const auto& cap : o.cap_drop) h.add_cap_drop(cap);
  h.set_privileged(o.privileged);
  h.set_read_only_rootfs(o.read_only);
  for (const auto& s : o.security_opts) h.add_security_opts(s);

  if (!o.restart.empty()) {
    auto p = ParseRestartPolicy(o.restart);
    if (!p.ok()) return p.status();
    *h.mutable_restart_policy() = *p;
  }
  if (o.rm) {
    if (h.restart_policy().name() != v1::RESTART_POLICY_NAME_UNSPECIFIED &&
        h.restart_policy().name() != v1::RESTART_POLICY_NAME_NO) {
      return absl::InvalidArgumentError("Conflicting options: --restart and --rm");
    }
    h.set_auto_remove(true);
  }
  if (flags.Changed("init")) h.set_init(o.init);

  for (const auto& e : o.add_hosts) {
    // docker accepts "host:ip" and "host=ip"; the daemon takes "host:ip".
    std::string entry = e;
    if (size_t eq = entry.find('='); eq != std::string::npos) entry[eq] = ':';
    if (entry.find(':') == std::string::npos || entry[0] == ':') {
      return BadFlag(e, "--add-host",
                     absl::InvalidArgumentError(absl::StrCat("invalid argument format: ", e)));
    }
    h.add_extra_hosts(entry);
  }
  for (const auto& d : o.dns) h.add_dns(d);
  for (const auto& d : o.dns_search) h.add_dns_search(d);
  h.set_network_mode(o.network);
  for (const auto& v : o.volumes) {
    // "-v /data" is an anonymous volume (Config.Volumes); anything with ':' is a bind.
    if (v.find(':') == std::string::npos) {
      c.add_volumes(v);
    } else {
      h.add_binds(v);
    }
  }
  for (const auto& t : o.tmpfs) {
    size_t colon = t.find(':');
    std::string path = t.substr(0, colon);
    if (path.empty() || path[0] != '/') {
      return BadFlag(t, "--tmpfs", absl::InvalidArgumentError("invalid tmpfs path"));
    }
    (*h.mutable_tmpfs())[path] = colon == std::string::npos ? "" : t.substr(colon + 1);
  }
  if (!o.log_driver.empty()) h.mutable_log_config()->set_type(o.log_driver);
  for (const auto& lo : o.log_opts) {
    if (lo.find('=') == std::string::npos) {
      return BadFlag(lo, "--log-opt",
                     absl::InvalidArgumentError(absl::StrCat("invalid key value pair format")));
    }
    auto [k, v] = SplitKeyValue(lo);
    (*h.mutable_log_config()->mutable_config())[k] = v;
  }
  if (!o.shm_size.empty()) {
    auto s = units::RamInBytes(o.shm_size);
    if (!s.ok()) return BadFlag(o.shm_size, "--shm-size", s.status());
    h.set_shm_size(*s);
  }
  for (const auto& g : o.group_add) h.add_group_add(g);
  for (const auto& s : o.sysctls) {
    if (s.find('=') == std::string::npos) {
      return BadFlag(s, "--sysctl", absl::InvalidArgumentError("invalid sysctl format"));
    }
    auto [k, v] = SplitKeyValue(s);
    (*h.mutable_sysctls())[k] = v;
  }
  if (!o.detach_keys.empty()) {
    auto keys = ParseDetachKeys(o.detach_keys);
    if (!keys.ok()) return keys.status();
  }
  if (o.tty && in.tty_width > 0 && in.tty_height > 0) {
    h.mutable_console_size()->set_height(in.tty_height);
    h.mutable_console_size()->set_width(in.tty_width);
  }
  if (!o.platform.empty()) {
    absl::StatusOr<berth::types::v1::Platform> p = ParsePlatform(o.platform);
    if (!p.ok()) return p.status();
    // The container's image is picked by os and architecture: both are needed here.
    if (p->architecture().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", o.platform, "\": unknown operating system or architecture"));
    }
    *req.mutable_platform() = *p;
  }
  return req;
}

std::string ImageWithDefaultTag(const std::string& image) {
  if (image.find('@') != std::string::npos) return image;
  size_t slash = image.rfind('/');
  size_t colon = image.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) return image;
  return image + ":latest";
}

}  // namespace berth::cli
