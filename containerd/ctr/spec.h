// The OCI runtime spec (config.json) berth-ctr gives the containers it creates: what `runc spec`
// and `ctr run` produce, i.e. a Docker-like default (new pid/ipc/uts/mount/network namespaces,
// Docker's default capability set, masked and read-only /proc paths, the standard mounts), with
// the process and root filled in from the command line.
#pragma once

#include <string>
#include <vector>

namespace berth::containerd::ctr {

struct SpecOptions {
  // Container id; names the cgroup ("/berth-ctr/<namespace>/<id>") and the hostname.
  std::string id;
  std::string ns = "default";
  std::vector<std::string> args;
  // "KEY=VALUE"; PATH and TERM defaults are added unless given.
  std::vector<std::string> env;
  std::string cwd = "/";
  bool terminal = false;
  // root.path: "rootfs" (the bundle's, where the shim mounts the snapshot) or an absolute
  // directory given with --rootfs.
  std::string root_path = "rootfs";
  bool read_only = false;
  // Keep the host's network namespace (ctr's --net-host).
  bool host_network = false;
};

// The config.json text.
std::string DefaultSpec(const SpecOptions& options);

}  // namespace berth::containerd::ctr
