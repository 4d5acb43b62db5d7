// BuildSpec turns what berthd knows about a new container (the image's config, the user's
// ContainerConfig and HostConfig from the engine API, and the paths berthd prepared) into the
// OCI runtime spec (config.json, runtime-spec 1.1) that berth-containerd hands to the
// runtime. It reproduces Docker's defaults and rules (moby daemon/oci_linux.go,
// oci/defaults.go) so that containers behave as under dockerd:
//   - process: entrypoint + cmd merged as Docker does, env (PATH, HOSTNAME, TERM with a tty,
//     image env, user env, HOME), working dir, user/groups resolved in the rootfs, tty,
//     Docker's 14 default capabilities with cap-add/cap-drop, no-new-privileges, rlimits
//     (never above the host's hard limits), oomScoreAdj;
//   - mounts: /proc, /dev, /dev/pts, /sys (ro), /sys/fs/cgroup (ro), /dev/mqueue, /dev/shm
//     (--shm-size, 64 MiB by default), /etc/{hostname,hosts,resolv.conf}, then binds,
//     volumes and tmpfs mounts of the user, parents before children;
//   - linux: namespaces by mode (network/pid/ipc/uts/cgroup), cgroupsPath <parent>/<id>,
//     resources (memory, swap, cpus -> CFS quota with period 100000, shares, cpuset, pids,
//     blkio weight, devices allowlist), sysctls (namespaced ones only), Docker's masked and
//     read-only /proc paths, and the default seccomp profile (or a user profile, or none);
//   - privileged: all capabilities the host grants, all host devices, no masked or read-only
//     paths, no seccomp, /sys and /sys/fs/cgroup writable.
// BuildSpec has no side effects beyond reading: it creates no bind source, volume or cgroup
// (berthd prepares those and passes their paths) and reads only the rootfs's passwd/group,
// a seccomp profile file named in security_opts, device nodes named by the user, and, for
// privileged containers, the host's /dev.
// AppArmor and SELinux options are accepted and ignored (berth's hosts have neither), with a
// warning.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "berth/engine/v1/containers.pb.h"
#include "engine/oci/host_facts.h"

namespace berth::engine::oci {

struct SpecInput {
  // Full container id (64 hex digits): the default hostname is its first 12 digits and the
  // cgroup is named after it.
  std::string container_id;
  // The image's config blob (OCI image-spec config.md: {"config": {"Entrypoint", "Cmd",
  // "Env", "WorkingDir", "User", "Labels", "ExposedPorts", "Volumes", ...}, ...}); empty for
  // a container without image config.
  std::string image_config_json;
  berth::engine::v1::ContainerConfig config;
  berth::engine::v1::HostConfig host_config;

  // Host directory holding the container's root filesystem (mounted), where /etc/passwd and
  // /etc/group are read.
  std::string rootfs_dir;
  // root.path of config.json; empty means rootfs_dir.
  std::string root_path;

  // Generated files bind-mounted over the container's /etc/hostname, /etc/hosts and
  // /etc/resolv.conf; empty leaves the image's file.
  std::string hostname_path;
  std::string hosts_path;
  std::string resolv_conf_path;

  // Namespaces to join instead of creating one. network: the netns berthd prepared for
  // "bridge" and named networks, or the other container's for "container:<x>". pid/ipc: the
  // other container's for "container:<x>" modes (required then).
  std::string network_namespace_path;
  std::string pid_namespace_path;
  std::string ipc_namespace_path;

  // Host paths of volumes: by volume name (named volumes in binds and mounts) and by
  // container destination (anonymous volumes of the image's or the config's VOLUME list and of
  // `--mount type=volume` without a source). An image volume without a path is left as the
  // image's directory, with a warning.
  std::map<std::string, std::string> named_volume_paths;
  std::map<std::string, std::string> anonymous_volume_paths;

  // Daemon defaults.
  std::string default_cgroup_parent = "/berth";
  // Used when HostConfig.resources.pids_limit is unset; unset means no limit.
  std::optional<int64_t> default_pids_limit;
  // Cgroup namespace for CGROUPNS_MODE_UNSPECIFIED: Docker makes it private on cgroup v2 and
  // shares the host's on v1.
  bool default_cgroupns_private = false;

  // Host facts; unset means DetectHostFacts().
  std::optional<HostFacts> host;
};

// Builds config.json (indented JSON text). `warnings`, when given, receives non-fatal notes
// (ignored AppArmor/SELinux options, a swap limit the kernel cannot apply, ...), worded for
// CreateContainerResponse.warnings.
// Errors (InvalidArgument unless noted): "no command specified" when entrypoint + cmd is
// empty; an unknown user or group; a relative working dir; unknown capabilities; limits out
// of range (memory below 6 MB, swap below memory, cpus above the host's CPUs, ulimits above
// the host's hard limits, ...); an invalid or unreadable seccomp profile; malformed binds or
// mounts; sysctls that are not namespaced or conflict with a shared namespace; a missing
// namespace path for a "container:<x>" mode; a malformed image config.
absl::StatusOr<std::string> BuildSpec(const SpecInput& input,
                                      std::vector<std::string>* warnings = nullptr);

// The hostname BuildSpec gives the container, for berthd's /etc/hostname and /etc/hosts:
// config.hostname; else, with network mode "host" or uts mode "host", the host's name (as
// Docker); else the first 12 digits of the id.
std::string ContainerHostname(const SpecInput& input);

}  // namespace berth::engine::oci
