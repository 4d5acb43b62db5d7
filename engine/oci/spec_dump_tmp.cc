// TEMPORARY manual check (to be deleted): writes config.json for a busybox bundle.
#include <fstream>
#include <iostream>

#include "engine/oci/etc_files.h"
#include "engine/oci/spec_builder.h"

int main(int argc, char** argv) {
  using namespace berth::engine::oci;
  const std::string bundle = argv[1];
  const std::string mode = argc > 2 ? argv[2] : "";
  SpecInput in;
  in.container_id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  in.image_config_json = R"({"config":{"Cmd":["sh"],"Env":["PATH=/bin"],"WorkingDir":"/tmp"}})";
  in.rootfs_dir = bundle + "/rootfs";
  in.hostname_path = bundle + "/hostname";
  in.hosts_path = bundle + "/hosts";
  in.resolv_conf_path = bundle + "/resolv.conf";
  in.default_cgroup_parent = "/berth-spec-check";
  in.default_pids_limit = 100;
  std::ofstream(in.hostname_path) << GenerateHostnameFile(ContainerHostname(in));
  HostsOptions h;
  h.hostname = ContainerHostname(in);
  std::ofstream(in.hosts_path) << *GenerateHostsFile(h);
  ResolvConfOptions r;
  r.host_resolv_conf = "nameserver 127.0.0.1\n";
  std::ofstream(in.resolv_conf_path) << *GenerateResolvConf(r);
  in.config.mutable_cmd()->add_values("sh");
  in.config.mutable_cmd()->add_values("-c");
  in.config.mutable_cmd()->add_values(
      "id; pwd; cat /etc/hostname /etc/resolv.conf; grep -E 'Cap(Bnd|Eff)|Seccomp|NoNewPrivs' "
      "/proc/self/status; ulimit -n; mount | grep -E ' /(dev/shm|sys|proc) '; "
      "unshare -m true 2>&1 || echo unshare-denied; ls /dev; echo done");
  in.config.set_user(mode == "user" ? "app" : "");
  auto* res = in.host_config.mutable_resources();
  res->set_memory(64 << 20);
  res->set_nano_cpus(500000000);
  auto* u = res->add_ulimits();
  u->set_name("nofile");
  u->set_soft(1000);
  u->set_hard(2000);
  in.host_config.add_security_opts("no-new-privileges");
  if (mode == "priv") in.host_config.set_privileged(true);
  std::vector<std::string> warnings;
  auto spec = BuildSpec(in, &warnings);
  if (!spec.ok()) {
    std::cerr << spec.status() << "\n";
    return 1;
  }
  for (auto& w : warnings) std::cerr << "warning: " << w << "\n";
  std::ofstream(bundle + "/config.json") << *spec;
  return 0;
}
