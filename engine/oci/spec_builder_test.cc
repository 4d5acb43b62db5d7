#include "engine/oci/spec_builder.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/fs/atomic_file.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "engine/oci/capabilities.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace berth::engine::oci {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAreArray;
using Json = nlohmann::json;

const std::string kId = "0123456789ab" + std::string(52, 'c');

constexpr char kImage[] = R"({
  "architecture": "amd64", "os": "linux",
  "config": {
    "Entrypoint": ["/entry.sh"],
    "Cmd": ["serve", "--port", "80"],
    "Env": ["PATH=/opt/bin:/usr/bin:/bin", "LANG=C.UTF-8", "MODE=image"],
    "WorkingDir": "/srv",
    "User": "app",
    "Labels": {"maintainer": "someone", "tier": "image"},
    "ExposedPorts": {"80/tcp": {}},
    "Volumes": {"/data": {}}
  },
  "rootfs": {"type": "layers", "diff_ids": []}
})";

// This VM: root lacks CAP_SYS_RESOURCE, RLIMIT_NOFILE hard limit 20000, 2 CPUs.
HostFacts TestHost() {
  HostFacts h;
  for (const std::string& c : AllCapabilityNames()) {
    if (c != "CAP_SYS_RESOURCE") h.capabilities.push_back(c);
  }
  h.hard_rlimits = {{"nofile", 20000}, {"nproc", 32768}, {"core", kRlimitInfinity}};
  h.cpus = 2;
  h.kernel_major = 6;
  h.kernel_minor = 1;
  h.arch = "amd64";
  h.swap_limit_supported = true;
  return h;
}

class SpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = berth::testing::TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(*std::move(dir));
    rootfs_ = dir_->Sub("rootfs");
    ASSERT_EQ(::mkdir(rootfs_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((rootfs_ + "/etc").c_str(), 0755), 0);
    ASSERT_THAT(fs::WriteFileAtomically(rootfs_ + "/etc/passwd",
                                        "root:x:0:0:root:/root:/bin/sh\n"
                                        "app:x:1000:1000::/home/app:/bin/sh\n",
                                        0644),
                IsOk());
    ASSERT_THAT(fs::WriteFileAtomically(rootfs_ + "/etc/group",
                                        "root:x:0:\nwheel:x:10:root\napp:x:1000:\nstaff:x:50:app\n",
                                        0644),
                IsOk());
  }

  SpecInput Input() const {
    SpecInput in;
    in.container_id = kId;
    in.image_config_json = kImage;
    in.rootfs_dir = rootfs_;
    in.hostname_path = "/run/berth/c/hostname";
    in.hosts_path = "/run/berth/c/hosts";
    in.resolv_conf_path = "/run/berth/c/resolv.conf";
    in.anonymous_volume_paths = {{"/data", "/var/lib/berth/volumes/anon1/_data"}};
    in.host = TestHost();
    return in;
  }

  Json Build(const SpecInput& in, std::vector<std::string>* warnings = nullptr) {
    absl::StatusOr<std::string> text = BuildSpec(in, warnings);
    EXPECT_THAT(text, IsOk());
    if (!text.ok()) return Json();
    Json j = Json::parse(*text, nullptr, false);
    EXPECT_FALSE(j.is_discarded());
    return j;
  }

  std::optional<TempDir> dir_;
  std::string rootfs_;
};

std::optional<Json> FindMount(const Json& spec, const std::string& dest) {
  for (const Json& m : spec["mounts"]) {
    if (m["destination"] == dest) return m;
  }
  return std::nullopt;
}

std::vector<std::string> MountDestinations(const Json& spec) {
  std::vector<std::string> out;
  for (const Json& m : spec["mounts"]) out.push_back(m["destination"]);
  return out;
}

std::set<std::string> Namespaces(const Json& spec) {
  std::set<std::string> out;
  for (const Json& ns : spec["linux"]["namespaces"]) out.insert(ns["type"]);
  return out;
}

std::optional<Json> FindNamespace(const Json& spec, const std::string& type) {
  for (const Json& ns : spec["linux"]["namespaces"]) {
    if (ns["type"] == type) return ns;
  }
  return std::nullopt;
}

bool SeccompAllows(const Json& spec, const std::string& name) {
  for (const Json& r : spec["linux"]["seccomp"]["syscalls"]) {
    if (r["action"] != "SCMP_ACT_ALLOW" || r.contains("args")) continue;
    for (const Json& n : r["names"]) {
      if (n == name) return true;
    }
  }
  return false;
}

std::vector<std::string> Strings(const Json& j) { return j.get<std::vector<std::string>>(); }

TEST_F(SpecTest, DockerDefaults) {
  std::vector<std::string> warnings;
  SpecInput in = Input();
  in.anonymous_volume_paths.clear();
  const Json spec = Build(in, &warnings);
  EXPECT_EQ(spec["ociVersion"], "1.1.0");
  const Json& p = spec["process"];
  EXPECT_EQ(Strings(p["args"]), (std::vector<std::string>{"/entry.sh", "serve", "--port", "80"}));
  EXPECT_EQ(Strings(p["env"]),
            (std::vector<std::string>{"PATH=/opt/bin:/usr/bin:/bin", "HOSTNAME=0123456789ab",
                                      "LANG=C.UTF-8", "MODE=image", "HOME=/home/app"}));
  EXPECT_EQ(p["cwd"], "/srv");
  EXPECT_EQ(p["terminal"], false);
  EXPECT_EQ(p["user"]["uid"], 1000);
  EXPECT_EQ(p["user"]["gid"], 1000);
  EXPECT_EQ(p["user"]["additionalGids"], Json::array({50}));
  EXPECT_THAT(Strings(p["capabilities"]["bounding"]),
              UnorderedElementsAreArray(DefaultCapabilities()));
  // A non-root user keeps only the bounding set.
  EXPECT_THAT(Strings(p["capabilities"]["effective"]), IsEmpty());
  EXPECT_EQ(p["noNewPrivileges"], false);
  EXPECT_EQ(p["oomScoreAdj"], 0);
  EXPECT_FALSE(p.contains("rlimits"));
  EXPECT_EQ(spec["root"]["path"], rootfs_);
  EXPECT_EQ(spec["root"]["readonly"], false);
  EXPECT_EQ(spec["hostname"], "0123456789ab");

  EXPECT_THAT(MountDestinations(spec),
              ElementsAre("/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue",
                          "/dev/shm", "/etc/resolv.conf", "/etc/hostname", "/etc/hosts"));
  EXPECT_EQ(*FindMount(spec, "/dev/shm"),
            Json::parse(R"({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]})"));
  EXPECT_THAT(Strings((*FindMount(spec, "/sys"))["options"]), Contains("ro"));
  EXPECT_THAT(Strings((*FindMount(spec, "/sys/fs/cgroup"))["options"]), Contains("ro"));
  EXPECT_EQ(*FindMount(spec, "/etc/hosts"),
            Json::parse(R"({"destination": "/etc/hosts", "type": "bind",
                "source": "/run/berth/c/hosts", "options": ["rbind", "rprivate", "rw"]})"));

  const Json& l = spec["linux"];
  EXPECT_EQ(Namespaces(spec), (std::set<std::string>{"pid", "network", "ipc", "uts", "mount"}));
  EXPECT_EQ(l["cgroupsPath"], "/berth/" + kId);
  EXPECT_THAT(Strings(l["maskedPaths"]), Contains("/proc/kcore"));
  EXPECT_THAT(Strings(l["maskedPaths"]), Contains("/sys/firmware"));
  EXPECT_EQ(Strings(l["readonlyPaths"]),
            (std::vector<std::string>{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                      "/proc/sysrq-trigger"}));
  const Json& devices = l["resources"]["devices"];
  EXPECT_EQ(devices[0], Json::parse(R"({"allow": false, "access": "rwm"})"));
  EXPECT_THAT(devices, Contains(Json::parse(
                           R"({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"})")));
  EXPECT_THAT(devices, Contains(Json::parse(
                           R"({"allow": true, "type": "c", "major": 136, "access": "rwm"})")));
  EXPECT_THAT(devices, Contains(Json::parse(
                           R"({"allow": true, "type": "c", "major": 5, "minor": 2, "access": "rwm"})")));
  EXPECT_FALSE(l.contains("devices"));
  EXPECT_FALSE(l["resources"].contains("memory"));
  EXPECT_FALSE(l["resources"].contains("pids"));
  EXPECT_EQ(l["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_TRUE(SeccompAllows(spec, "read"));
  EXPECT_FALSE(SeccompAllows(spec, "kexec_load"));
  EXPECT_FALSE(SeccompAllows(spec, "mount"));
  EXPECT_EQ(spec["annotations"], Json::parse(R"({"maintainer": "someone", "tier": "image"})"));
  // The image's VOLUME without a prepared volume is reported, not mounted.
  EXPECT_THAT(warnings, ElementsAre(HasSubstr("/data")));
}

TEST_F(SpecTest, ImageVolumeIsMountedWhenPrepared) {
  std::vector<std::string> warnings;
  const Json spec = Build(Input(), &warnings);
  EXPECT_THAT(warnings, IsEmpty());
  EXPECT_EQ(*FindMount(spec, "/data"),
            Json::parse(R"({"destination": "/data", "type": "bind",
                "source": "/var/lib/berth/volumes/anon1/_data",
                "options": ["rbind", "rw", "rprivate"]})"));
}

struct ArgsCase {
  const char* name;
  std::optional<std::vector<std::string>> entrypoint;
  std::optional<std::vector<std::string>> cmd;
  bool image_has_command;
  std::vector<std::string> want;  // empty: "no command specified"
};

class ArgsTest : public SpecTest, public ::testing::WithParamInterface<ArgsCase> {};

TEST_P(ArgsTest, MergesEntrypointAndCmdLikeDocker) {
  const ArgsCase& c = GetParam();
  SpecInput in = Input();
  if (!c.image_has_command) {
    in.image_config_json = R"({"config": {"Env": ["A=1"], "Cmd": null}})";
  }
  if (c.entrypoint) {
    auto* l = in.config.mutable_entrypoint();
    for (const std::string& s : *c.entrypoint) l->add_values(s);
  }
  if (c.cmd) {
    auto* l = in.config.mutable_cmd();
    for (const std::string& s : *c.cmd) l->add_values(s);
  }
  absl::StatusOr<std::string> text = BuildSpec(in);
  if (c.want.empty()) {
    EXPECT_THAT(text, StatusIs(absl::StatusCode::kInvalidArgument, "no command specified"));
    return;
  }
  ASSERT_THAT(text, IsOk());
  EXPECT_EQ(Strings(Json::parse(*text)["process"]["args"]), c.want);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ArgsTest,
    ::testing::Values(
        ArgsCase{"image", std::nullopt, std::nullopt, true, {"/entry.sh", "serve", "--port", "80"}},
        ArgsCase{"cmd", std::nullopt, std::vector<std::string>{"sh", "-c", "id"}, true,
                 {"/entry.sh", "sh", "-c", "id"}},
        ArgsCase{"entrypoint_drops_image_cmd", std::vector<std::string>{"/bin/echo"},
                 std::nullopt, true, {"/bin/echo"}},
        ArgsCase{"entrypoint_and_cmd", std::vector<std::string>{"/bin/echo"},
                 std::vector<std::string>{"hi"}, true, {"/bin/echo", "hi"}},
        ArgsCase{"empty_entrypoint_clears", std::vector<std::string>{},
                 std::vector<std::string>{"ls", "-l"}, true, {"ls", "-l"}},
        ArgsCase{"empty_entrypoint_alone", std::vector<std::string>{}, std::nullopt, true, {}},
        ArgsCase{"nothing_anywhere", std::nullopt, std::nullopt, false, {}},
        ArgsCase{"empty_cmd_means_image", std::nullopt, std::vector<std::string>{}, true,
                 {"/entry.sh", "serve", "--port", "80"}}),
    [](const ::testing::TestParamInfo<ArgsCase>& info) { return info.param.name; });

TEST_F(SpecTest, EnvPrecedence) {
  SpecInput in = Input();
  in.config.set_tty(true);
  for (const char* e : {"MODE=user", "PATH=/custom", "LANG", "NEW=1", "HOME=/h"}) {
    in.config.add_env(e);
  }
  const Json spec = Build(in);
  EXPECT_EQ(Strings(spec["process"]["env"]),
            (std::vector<std::string>{"PATH=/custom", "HOSTNAME=0123456789ab", "TERM=xterm",
                                      "MODE=user", "NEW=1", "HOME=/h"}));
  EXPECT_EQ(spec["process"]["terminal"], true);
}

TEST_F(SpecTest, WorkingDirAndHostname) {
  SpecInput in = Input();
  in.config.set_working_dir("/a/./b/../c/");
  in.config.set_hostname("web");
  in.config.set_domainname("example.com");
  const Json spec = Build(in);
  EXPECT_EQ(spec["process"]["cwd"], "/a/c");
  EXPECT_EQ(spec["hostname"], "web");
  EXPECT_EQ(spec["domainname"], "example.com");
  EXPECT_THAT(Strings(spec["process"]["env"]), Contains("HOSTNAME=web"));
  in.config.set_working_dir("relative");
  EXPECT_THAT(BuildSpec(in), StatusIs(absl::StatusCode::kInvalidArgument,
                                      HasSubstr("it needs to be an absolute path")));
}

TEST_F(SpecTest, UserResolution) {
  SpecInput in = Input();
  in.config.set_user("root");
  Json spec = Build(in);
  EXPECT_EQ(spec["process"]["user"]["uid"], 0);
  EXPECT_EQ(spec["process"]["user"]["additionalGids"], Json::array({10}));
  EXPECT_THAT(Strings(spec["process"]["env"]), Contains("HOME=/root"));
  EXPECT_EQ(spec["process"]["capabilities"]["effective"].size(), 14u);

  in.config.set_user("4242:staff");
  in.host_config.add_group_add("wheel");
  in.host_config.add_group_add("5000");
  spec = Build(in);
  EXPECT_EQ(spec["process"]["user"]["uid"], 4242);
  EXPECT_EQ(spec["process"]["user"]["gid"], 50);
  EXPECT_EQ(spec["process"]["user"]["additionalGids"], Json::array({10, 5000}));
  EXPECT_THAT(Strings(spec["process"]["env"]), Contains("HOME=/"));

  in.config.set_user("nobody");
  EXPECT_THAT(BuildSpec(in),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "unable to find user nobody: no matching entries in passwd file"));
}

TEST_F(SpecTest, CapAddAllAndDrop) {
  SpecInput in = Input();
  in.host_config.add_cap_add("ALL");
  in.host_config.add_cap_drop("net_admin");
  in.host_config.add_cap_drop("CAP_SYS_MODULE");
  in.config.set_user("0");
  const Json spec = Build(in);
  const std::vector<std::string> caps = Strings(spec["process"]["capabilities"]["bounding"]);
  EXPECT_EQ(caps.size(), TestHost().capabilities.size() - 2);
  EXPECT_THAT(caps, Not(Contains("CAP_NET_ADMIN")));
  EXPECT_THAT(caps, Not(Contains("CAP_SYS_MODULE")));
  EXPECT_THAT(caps, Not(Contains("CAP_SYS_RESOURCE")));  // the host cannot grant it
  EXPECT_THAT(caps, Contains("CAP_SYS_ADMIN"));
  EXPECT_EQ(Strings(spec["process"]["capabilities"]["effective"]), caps);
  // Seccomp follows the capabilities: CAP_SYS_ADMIN unlocks mount.
  EXPECT_TRUE(SeccompAllows(spec, "mount"));
  EXPECT_FALSE(SeccompAllows(spec, "kexec_load"));

  in.host_config.add_cap_add("CAP_NOPE");
  EXPECT_THAT(BuildSpec(in), StatusIs(absl::StatusCode::kInvalidArgument,
                                      HasSubstr("unknown capability: \"CAP_NOPE\"")));
}

TEST_F(SpecTest, Privileged) {
  SpecInput in = Input();
  in.host_config.set_privileged(true);
  in.host_config.add_cap_drop("ALL");  // ignored with --privileged, as in Docker
  in.config.set_user("root");
  const Json spec = Build(in);
  EXPECT_EQ(Strings(spec["process"]["capabilities"]["bounding"]), TestHost().capabilities);
  const Json& l = spec["linux"];
  EXPECT_FALSE(l.contains("seccomp"));
  EXPECT_FALSE(l.contains("maskedPaths"));
  EXPECT_FALSE(l.contains("readonlyPaths"));
  EXPECT_EQ(l["resources"]["devices"], Json::parse(R"([{"allow": true, "access": "rwm"}])"));
  ASSERT_TRUE(l.contains("devices"));
  bool has_null = false;
  for (const Json& d : l["devices"]) {
    if (d["path"] == "/dev/null") {
      has_null = true;
      EXPECT_EQ(d["type"], "c");
      EXPECT_EQ(d["major"], 1);
      EXPECT_EQ(d["minor"], 3);
    }
    EXPECT_NE(d["path"], "/dev/console");
  }
  EXPECT_TRUE(has_null);
  EXPECT_THAT(Strings((*FindMount(spec, "/sys"))["options"]), Contains("rw"));
}

TEST_F(SpecTest, ReadOnlyRootfsAndSecurityOpts) {
  SpecInput in = Input();
  in.host_config.set_read_only_rootfs(true);
  in.host_config.add_security_opts("no-new-privileges");
  in.host_config.add_security_opts("apparmor=docker-default");
  in.host_config.add_security_opts("label=disable");
  std::vector<std::string> warnings;
  const Json spec = Build(in, &warnings);
  EXPECT_EQ(spec["root"]["readonly"], true);
  EXPECT_EQ(spec["process"]["noNewPrivileges"], true);
  EXPECT_THAT(Strings((*FindMount(spec, "/etc/resolv.conf"))["options"]), Contains("ro"));
  EXPECT_THAT(warnings, ElementsAre(HasSubstr("AppArmor is not supported")));

  in.host_config.add_security_opts("no-new-privileges=false");
  EXPECT_EQ(Build(in)["process"]["noNewPrivileges"], false);
  in.host_config.add_security_opts("seccomp=unconfined");
  EXPECT_FALSE(Build(in)["linux"].contains("seccomp"));
  in.host_config.add_security_opts("bogus=1");
  EXPECT_THAT(BuildSpec(in),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid --security-opt")));
}

TEST_F(SpecTest, SeccompProfileFile) {
  const std::string path = dir_->Sub("profile.json");
  ASSERT_THAT(fs::WriteFileAtomically(path, R"({
      "defaultAction": "SCMP_ACT_ALLOW",
      "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
      "syscalls": [
        {"name": "chmod", "action": "SCMP_ACT_ERRNO"},
        {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_SYS_ADMIN"]}}
      ]})",
                                      0644),
              IsOk());
  SpecInput in = Input();
  in.host_config.add_security_opts("seccomp=" + path);
  const Json spec = Build(in);
  EXPECT_EQ(spec["linux"]["seccomp"], Json::parse(R"({
      "defaultAction": "SCMP_ACT_ALLOW",
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
      "syscalls": [{"names": ["chmod"], "action": "SCMP_ACT_ERRNO"},
                   {"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]})"));

  // The CLI may also send the profile's content inline, as Docker's does.
  SpecInput inline_in = Input();
  inline_in.host_config.add_security_opts(
      R"(seccomp={"defaultAction":"SCMP_ACT_LOG","syscalls":[]})");
  EXPECT_EQ(Build(inline_in)["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_LOG");

  const std::string bad = dir_->Sub("bad.json");
  ASSERT_THAT(fs::WriteFileAtomically(bad, R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [)",
                                      0644),
              IsOk());
  SpecInput bad_in = Input();
  bad_in.host_config.add_security_opts("seccomp=" + bad);
  EXPECT_THAT(BuildSpec(bad_in),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("malformed JSON")));
  SpecInput missing = Input();
  missing.host_config.add_security_opts("seccomp=" + dir_->Sub("nope.json"));
  EXPECT_THAT(BuildSpec(missing), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("opening seccomp profile")));
}

TEST_F(SpecTest, MemoryAndCpuMaths) {
  SpecInput in = Input();
  auto* r = in.host_config.mutable_resources();
  r->set_memory(512 << 20);
  r->set_nano_cpus(1500000000);
  r->set_cpu_shares(512);
  r->set_cpuset_cpus("0-1");
  r->set_pids_limit(100);
  r->set_memory_swappiness(10);
  Json res = Build(in)["linux"]["resources"];
  EXPECT_EQ(res["memory"]["limit"], 512 << 20);
  EXPECT_EQ(res["memory"]["swap"], int64_t{1024} << 20);  // Docker: twice the memory
  EXPECT_EQ(res["memory"]["swappiness"], 10);
  EXPECT_EQ(res["cpu"]["quota"], 150000);
  EXPECT_EQ(res["cpu"]["period"], 100000);
  EXPECT_EQ(res["cpu"]["shares"], 512);
  EXPECT_EQ(res["cpu"]["cpus"], "0-1");
  EXPECT_EQ(res["pids"]["limit"], 100);

  r->set_memory_swap(-1);
  r->set_nano_cpus(10000000);  // 0.01 CPU: the smallest quota
  r->set_pids_limit(-1);
  res = Build(in)["linux"]["resources"];
  EXPECT_EQ(res["memory"]["swap"], -1);
  EXPECT_EQ(res["cpu"]["quota"], 1000);
  EXPECT_EQ(res["pids"]["limit"], -1);

  r->set_memory_swap(768 << 20);
  EXPECT_EQ(Build(in)["linux"]["resources"]["memory"]["swap"], 768 << 20);
}

TEST_F(SpecTest, SwapWithoutKernelSupportIsDroppedWithWarning) {
  SpecInput in = Input();
  in.host->swap_limit_supported = false;
  in.host_config.mutable_resources()->set_memory(64 << 20);
  in.host_config.mutable_resources()->set_memory_swap(128 << 20);
  std::vector<std::string> warnings;
  const Json spec = Build(in, &warnings);
  EXPECT_FALSE(spec["linux"]["resources"]["memory"].contains("swap"));
  EXPECT_THAT(warnings, Contains(HasSubstr("swap limit")));
}

TEST_F(SpecTest, DaemonDefaultPidsLimitAndCgroupParent) {
  SpecInput in = Input();
  in.default_pids_limit = 4096;
  in.default_cgroup_parent = "berth-test";
  Json spec = Build(in);
  EXPECT_EQ(spec["linux"]["resources"]["pids"]["limit"], 4096);
  EXPECT_EQ(spec["linux"]["cgroupsPath"], "/berth-test/" + kId);
  in.host_config.mutable_resources()->set_cgroup_parent("/custom/parent/");
  in.host_config.mutable_resources()->set_pids_limit(0);
  spec = Build(in);
  EXPECT_EQ(spec["linux"]["cgroupsPath"], "/custom/parent/" + kId);
  EXPECT_EQ(spec["linux"]["resources"]["pids"]["limit"], -1);
}

struct ResourceError {
  const char* name;
  std::function<void(berth::engine::v1::Resources*)> set;
  const char* message;
};

class ResourceErrorTest : public SpecTest, public ::testing::WithParamInterface<ResourceError> {};

TEST_P(ResourceErrorTest, Rejected) {
  SpecInput in = Input();
  GetParam().set(in.host_config.mutable_resources());
  EXPECT_THAT(BuildSpec(in),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(GetParam().message)));
}

berth::engine::v1::Ulimit* AddUlimit(berth::engine::v1::Resources* r, const char* name,
                                     int64_t soft, int64_t hard) {
  auto* u = r->add_ulimits();
  u->set_name(name);
  u->set_soft(soft);
  u->set_hard(hard);
  return u;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ResourceErrorTest,
    ::testing::Values(
        ResourceError{"memory_below_6mb", [](auto* r) { r->set_memory(1 << 20); },
                      "minimum memory limit allowed is 6MB"},
        ResourceError{"swap_below_memory",
                      [](auto* r) {
                        r->set_memory(64 << 20);
                        r->set_memory_swap(32 << 20);
                      },
                      "memoryswap limit should be larger than memory limit"},
        ResourceError{"swap_without_memory", [](auto* r) { r->set_memory_swap(64 << 20); },
                      "always set the memory limit"},
        ResourceError{"cpus_above_host", [](auto* r) { r->set_nano_cpus(3000000000); },
                      "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"},
        ResourceError{"cpus_and_period",
                      [](auto* r) {
                        r->set_nano_cpus(1000000000);
                        r->set_cpu_period(50000);
                      },
                      "Nano CPUs and CPU Period cannot both be set"},
        ResourceError{"quota_too_small", [](auto* r) { r->set_cpu_quota(500); },
                      "can not be less than 1ms"},
        ResourceError{"cpuset_unavailable", [](auto* r) { r->set_cpuset_cpus("0-5"); },
                      "are not available"},
        ResourceError{"cpuset_syntax", [](auto* r) { r->set_cpuset_cpus("a-b"); },
                      "invalid value a-b"},
        ResourceError{"swappiness", [](auto* r) { r->set_memory_swappiness(101); },
                      "swappiness range is 0-100"},
        ResourceError{"blkio_weight", [](auto* r) { r->set_blkio_weight(5); },
                      "blkio weight is from 10 to 1000"},
        ResourceError{"ulimit_above_host_hard",
                      [](auto* r) { AddUlimit(r, "nofile", 1024, 30000); },
                      "ulimit nofile: hard limit 30000 is above the host's hard limit 20000"},
        ResourceError{"ulimit_unlimited_above_host",
                      [](auto* r) { AddUlimit(r, "nproc", -1, -1); },
                      "hard limit unlimited is above the host's hard limit 32768"},
        ResourceError{"ulimit_soft_above_hard", [](auto* r) { AddUlimit(r, "nofile", 2048, 1024); },
                      "soft limit must be less than or equal to hard limit"},
        ResourceError{"ulimit_unknown", [](auto* r) { AddUlimit(r, "bogus", 1, 1); },
                      "invalid ulimit type: bogus"},
        ResourceError{"device_rule", [](auto* r) { r->add_device_cgroup_rules("x 1:2 rwm"); },
                      "invalid device cgroup rule"},
        ResourceError{"device_missing",
                      [](auto* r) { r->add_devices()->set_path_on_host("/dev/berth-nope"); },
                      "/dev/berth-nope"}),
    [](const ::testing::TestParamInfo<ResourceError>& info) { return info.param.name; });

TEST_F(SpecTest, UlimitsWithinHostLimits) {
  SpecInput in = Input();
  auto* r = in.host_config.mutable_resources();
  AddUlimit(r, "nofile", 1024, 20000);
  AddUlimit(r, "core", -1, -1);  // unlimited is fine where the host's is unlimited
  AddUlimit(r, "nproc", 100, 200);
  AddUlimit(r, "nproc", 300, 400);  // last one wins, as in Docker
  const Json rl = Build(in)["process"]["rlimits"];
  EXPECT_EQ(rl, Json::parse(R"([
      {"type": "RLIMIT_CORE", "hard": 18446744073709551615, "soft": 18446744073709551615},
      {"type": "RLIMIT_NOFILE", "hard": 20000, "soft": 1024},
      {"type": "RLIMIT_NPROC", "hard": 400, "soft": 300}])"));
}

TEST_F(SpecTest, RealHostLimitsAreEnforcedByDefault) {
  // With detected host facts, a hard limit above this process's is refused.
  struct rlimit rl;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &rl), 0);
  ASSERT_NE(rl.rlim_max, RLIM_INFINITY);
  SpecInput in = Input();
  in.host.reset();
  AddUlimit(in.host_config.mutable_resources(), "nofile", 1,
            static_cast<int64_t>(rl.rlim_max) + 1);
  EXPECT_THAT(BuildSpec(in), StatusIs(absl::StatusCode::kInvalidArgument,
                                      HasSubstr("above the host's hard limit")));
}

TEST_F(SpecTest, DevicesAndRules) {
  SpecInput in = Input();
  auto* d = in.host_config.mutable_resources()->add_devices();
  d->set_path_on_host("/dev/null");
  d->set_path_in_container("/dev/mynull");
  d->set_cgroup_permissions("rw");
  in.host_config.mutable_resources()->add_device_cgroup_rules("c 13:* rwm");
  const Json l = Build(in)["linux"];
  ASSERT_EQ(l["devices"].size(), 1u);
  EXPECT_EQ(l["devices"][0]["path"], "/dev/mynull");
  EXPECT_EQ(l["devices"][0]["type"], "c");
  EXPECT_EQ(l["devices"][0]["major"], 1);
  EXPECT_EQ(l["devices"][0]["minor"], 3);
  EXPECT_THAT(l["resources"]["devices"],
              Contains(Json::parse(
                  R"({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"})")));
  EXPECT_THAT(l["resources"]["devices"],
              Contains(Json::parse(R"({"allow": true, "type": "c", "major": 13, "access": "rwm"})")));
}

TEST_F(SpecTest, UserMounts) {
  SpecInput in = Input();
  in.named_volume_paths = {{"cache", "/var/lib/berth/volumes/cache/_data"}};
  in.anonymous_volume_paths["/anon"] = "/var/lib/berth/volumes/x/_data";
  auto& hc = in.host_config;
  hc.add_binds("/host/a/b:/a/b:ro");
  hc.add_binds("/host/a:/a");
  hc.add_binds("cache:/cache:rw,rshared");
  hc.add_binds("/anon");
  (*hc.mutable_tmpfs())["/run"] = "size=1m,exec";
  auto* m = hc.add_mounts();
  m->set_type(berth::engine::v1::MOUNT_TYPE_TMPFS);
  m->set_target("/scratch");
  m->mutable_tmpfs_options()->set_size_bytes(4096);
  m->mutable_tmpfs_options()->set_mode(0700);
  auto* b = hc.add_mounts();
  b->set_type(berth::engine::v1::MOUNT_TYPE_BIND);
  b->set_source("/host/etc-hosts");
  b->set_target("/etc/hosts");  // replaces the generated file
  b->mutable_bind_options()->set_non_recursive(true);
  auto* shm = hc.add_mounts();
  shm->set_type(berth::engine::v1::MOUNT_TYPE_TMPFS);
  shm->set_target("/dev/shm");  // replaces Docker's default /dev/shm
  const Json spec = Build(in);

  const std::vector<std::string> dests = MountDestinations(spec);
  auto pos = [&](const std::string& d) {
    return std::find(dests.begin(), dests.end(), d) - dests.begin();
  };
  EXPECT_LT(pos("/a"), pos("/a/b"));  // parents first
  EXPECT_EQ(std::count(dests.begin(), dests.end(), "/dev/shm"), 1);
  EXPECT_EQ(std::count(dests.begin(), dests.end(), "/etc/hosts"), 1);
  EXPECT_EQ(*FindMount(spec, "/a/b"),
            Json::parse(R"({"destination": "/a/b", "type": "bind", "source": "/host/a/b",
                "options": ["rbind", "ro", "rprivate"]})"));
  EXPECT_EQ((*FindMount(spec, "/cache"))["source"], "/var/lib/berth/volumes/cache/_data");
  EXPECT_EQ((*FindMount(spec, "/anon"))["source"], "/var/lib/berth/volumes/x/_data");
  EXPECT_EQ(Strings((*FindMount(spec, "/run"))["options"]),
            (std::vector<std::string>{"noexec", "nosuid", "nodev", "size=1m", "exec"}));
  EXPECT_EQ(Strings((*FindMount(spec, "/scratch"))["options"]),
            (std::vector<std::string>{"nosuid", "nodev", "noexec", "size=4096", "mode=700"}));
  EXPECT_EQ(*FindMount(spec, "/etc/hosts"),
            Json::parse(R"({"destination": "/etc/hosts", "type": "bind",
                "source": "/host/etc-hosts", "options": ["bind", "rw", "rprivate"]})"));
  EXPECT_EQ((*FindMount(spec, "/dev/shm"))["source"], "tmpfs");
  EXPECT_EQ(spec["linux"]["rootfsPropagation"], "rshared");
}

TEST_F(SpecTest, MountErrors) {
  const std::vector<std::vector<std::string>> cases = {
      {"/host:relative"}, {"/host:/"}, {"/x:/d", "/y:/d"}, {"nosuchvolume:/v"},
      {"/x:/d:bogus"},    {"a/b:/d"},  {"/x:/d:ro:extra"},
  };
  for (const auto& binds : cases) {
    SpecInput in = Input();
    for (const std::string& b : binds) in.host_config.add_binds(b);
    EXPECT_THAT(BuildSpec(in), StatusIs(absl::StatusCode::kInvalidArgument)) << binds[0];
  }
}

TEST_F(SpecTest, NamespaceModes) {
  SpecInput in = Input();
  in.network_namespace_path = "/run/berth/netns/abc";
  Json spec = Build(in);
  EXPECT_EQ((*FindNamespace(spec, "network"))["path"], "/run/berth/netns/abc");

  in.host_config.set_network_mode("host");
  in.host_config.set_pid_mode("host");
  in.host_config.set_ipc_mode("host");
  in.host_config.set_cgroupns_mode(berth::engine::v1::CGROUPNS_MODE_PRIVATE);
  spec = Build(in);
  EXPECT_EQ(Namespaces(spec), (std::set<std::string>{"uts", "mount", "cgroup"}));
  EXPECT_EQ((*FindMount(spec, "/dev/shm"))["type"], "bind");
  EXPECT_EQ((*FindMount(spec, "/dev/shm"))["source"], "/dev/shm");

  in.host_config.set_uts_mode("host");
  spec = Build(in);
  EXPECT_FALSE(spec.contains("hostname"));
  EXPECT_EQ(Namespaces(spec), (std::set<std::string>{"mount", "cgroup"}));

  SpecInput none = Input();
  none.host_config.set_network_mode("none");
  none.host_config.set_ipc_mode("none");
  none.network_namespace_path = "/ignored";
  spec = Build(none);
  EXPECT_FALSE((*FindNamespace(spec, "network")).contains("path"));
  EXPECT_FALSE(FindMount(spec, "/dev/shm").has_value());

  SpecInput joined = Input();
  joined.host_config.set_network_mode("container:other");
  EXPECT_THAT(BuildSpec(joined), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("needs the other container's namespace")));
  joined.network_namespace_path = "/proc/123/ns/net";
  joined.host_config.set_pid_mode("container:other");
  joined.pid_namespace_path = "/proc/123/ns/pid";
  spec = Build(joined);
  EXPECT_EQ((*FindNamespace(spec, "network"))["path"], "/proc/123/ns/net");
  EXPECT_EQ((*FindNamespace(spec, "pid"))["path"], "/proc/123/ns/pid");

  SpecInput bad = Input();
  bad.host_config.set_pid_mode("sideways");
  EXPECT_THAT(BuildSpec(bad), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("PID mode")));
}

TEST_F(SpecTest, Sysctls) {
  SpecInput in = Input();
  (*in.host_config.mutable_sysctls())["net.ipv4.ip_forward"] = "1";
  (*in.host_config.mutable_sysctls())["kernel.shmmax"] = "1000000";
  Json spec = Build(in);
  EXPECT_EQ(spec["linux"]["sysctl"],
            Json::parse(R"({"kernel.shmmax": "1000000", "net.ipv4.ip_forward": "1"})"));

  SpecInput host_net = in;
  host_net.host_config.set_network_mode("host");
  EXPECT_THAT(BuildSpec(host_net), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("host's network namespace")));
  SpecInput host_ipc = in;
  host_ipc.host_config.set_ipc_mode("host");
  EXPECT_THAT(BuildSpec(host_ipc),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("host's IPC namespace")));
  SpecInput vm = Input();
  (*vm.host_config.mutable_sysctls())["vm.swappiness"] = "0";
  EXPECT_THAT(BuildSpec(vm),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not namespaced")));
}

TEST_F(SpecTest, AnnotationsAndMisc) {
  SpecInput in = Input();
  (*in.config.mutable_labels())["tier"] = "web";
  (*in.config.mutable_labels())["owner"] = "me";
  (*in.host_config.mutable_annotations())["owner"] = "annotation";
  in.host_config.set_oom_score_adj(500);
  in.host_config.set_shm_size(1 << 20);
  in.host_config.add_masked_paths("/proc/custom");
  in.config.set_tty(true);
  in.host_config.mutable_console_size()->set_height(40);
  in.host_config.mutable_console_size()->set_width(120);
  const Json spec = Build(in);
  EXPECT_EQ(spec["annotations"],
            Json::parse(R"({"maintainer": "someone", "owner": "annotation", "tier": "web"})"));
  EXPECT_EQ(spec["process"]["oomScoreAdj"], 500);
  EXPECT_EQ(spec["process"]["consoleSize"], Json::parse(R"({"height": 40, "width": 120})"));
  EXPECT_THAT(Strings((*FindMount(spec, "/dev/shm"))["options"]), Contains("size=1048576"));
  EXPECT_EQ(Strings(spec["linux"]["maskedPaths"]), (std::vector<std::string>{"/proc/custom"}));

  in.host_config.set_oom_score_adj(1001);
  EXPECT_THAT(BuildSpec(in), StatusIs(absl::StatusCode::kInvalidArgument,
                                      HasSubstr("range for oom score adj is [-1000, 1000]")));
}

TEST_F(SpecTest, MalformedImageConfig) {
  SpecInput in = Input();
  in.image_config_json = "{not json";
  EXPECT_THAT(BuildSpec(in), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("image config")));
  in.image_config_json = R"({"config": {"Cmd": "sh -c id"}})";
  EXPECT_THAT(BuildSpec(in),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Cmd must be an array")));
}

}  // namespace
}  // namespace berth::engine::oci
