#include "runc/spec/parser.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runc/spec/names.h"

namespace berth::runc::spec {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using Json = nlohmann::json;

// A realistic config that uses every part of the spec the parser knows.
constexpr char kFullConfig[] = R"json({
  "ociVersion": "1.1.0",
  "process": {
    "terminal": true,
    "consoleSize": {"height": 25, "width": 80},
    "user": {"uid": 1000, "gid": 1001, "umask": 18, "additionalGids": [5, 6]},
    "args": ["/bin/sh", "-c", "echo hi"],
    "env": ["PATH=/usr/bin:/bin", "TERM=xterm", "EMPTY="],
    "cwd": "/home/user",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL"],
      "inheritable": ["CAP_KILL"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "ambient": ["CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [
      {"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024},
      {"type": "RLIMIT_NPROC", "hard": 512, "soft": 512}
    ],
    "noNewPrivileges": true,
    "oomScoreAdj": 100,
    "apparmorProfile": "acme_secure_profile",
    "selinuxLabel": "system_u:system_r:svirt_lxc_net_t:s0:c124,c675",
    "scheduler": {"policy": "SCHED_BATCH", "nice": -5, "priority": 0,
                  "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_KEEP_PARAMS"],
                  "runtime": 1, "deadline": 2, "period": 3},
    "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4}
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "box",
  "domainname": "example.test",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/data//./", "type": "none", "source": "volumes/data",
     "options": ["rbind", "rro", "rprivate", "nosuid"]},
    {"destination": "/etc/hosts", "source": "/var/lib/berth/hosts", "options": ["bind", "ro"]},
    {"destination": "/shared", "type": "none", "source": "/srv/shared",
     "options": ["rbind", "ridmap"],
     "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
     "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 65536}]}
  ],
  "hooks": {
    "prestart": [{"path": "/usr/bin/fix-mounts", "args": ["fix-mounts", "arg1"],
                  "env": ["key1=value1"]}],
    "createRuntime": [{"path": "/usr/bin/netns-setup", "timeout": 5}],
    "createContainer": [{"path": "/usr/bin/mount-hook"}],
    "startContainer": [{"path": "/usr/bin/refresh-ldcache"}],
    "poststart": [{"path": "/usr/bin/notify-start", "timeout": 1}],
    "poststop": [{"path": "/usr/sbin/cleanup.sh", "args": ["cleanup.sh", "-f"]}]
  },
  "annotations": {"com.example.key1": "value1", "key2": "value2"},
  "linux": {
    "namespaces": [
      {"type": "pid"}, {"type": "network", "path": "/var/run/netns/berth-test"},
      {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"},
      {"type": "user"}, {"type": "time"}
    ],
    "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 32000}],
    "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 32000},
                    {"containerID": 40000, "hostID": 50000, "size": 1}],
    "timeOffsets": {"monotonic": {"secs": 172800, "nanosecs": 0},
                    "boottime": {"secs": -3600, "nanosecs": 500}},
    "devices": [
      {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
       "fileMode": 438, "uid": 0, "gid": 0},
      {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0},
      {"path": "/dev/myfifo", "type": "p"}
    ],
    "cgroupsPath": "/berth/test",
    "resources": {
      "devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"},
        {"allow": true, "type": "b", "major": 8, "access": "r"}
      ],
      "memory": {"limit": 536870912, "reservation": 268435456, "swap": -1, "kernel": -1,
                 "kernelTCP": -1, "swappiness": 0, "disableOOMKiller": false,
                 "useHierarchy": true, "checkBeforeUpdate": true},
      "cpu": {"shares": 1024, "quota": 1000000, "burst": 100, "period": 500000,
              "realtimeRuntime": 950000, "realtimePeriod": 1000000, "cpus": "0-1",
              "mems": "0", "idle": 0},
      "pids": {"limit": 32771},
      "blockIO": {
        "weight": 10, "leafWeight": 10,
        "weightDevice": [{"major": 8, "minor": 0, "weight": 500, "leafWeight": 300},
                         {"major": 8, "minor": 16, "weight": 500}],
        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
        "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 700}],
        "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 800}],
        "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}]
      },
      "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200},
                         {"pageSize": "1GB", "limit": 0}],
      "network": {"classID": 1048577,
                  "priorities": [{"name": "eth0", "priority": 500},
                                 {"name": "eth1", "priority": 1000}]},
      "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}, "mlx4_0": {"hcaObjects": 1000}},
      "unified": {"io.max": "259:0 rbps=2097152", "memory.high": "1073741824"}
    },
    "sysctl": {"net.ipv4.ip_forward": "1", "net.core.somaxconn": "256"},
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO",
      "defaultErrnoRet": 38,
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
      "flags": ["SECCOMP_FILTER_FLAG_LOG"],
      "listenerPath": "/run/seccomp-agent.socket",
      "listenerMetadata": "metadata",
      "syscalls": [
        {"names": ["getcwd", "chmod"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                  {"index": 5, "value": 255, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
        {"names": ["mount"], "action": "SCMP_ACT_NOTIFY"}
      ]
    },
    "rootfsPropagation": "rslave",
    "maskedPaths": ["/proc/kcore", "/proc//keys/"],
    "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
    "mountLabel": "system_u:object_r:svirt_sandbox_file_t:s0:c715,c811",
    "personality": {"domain": "LINUX32", "flags": []},
    "intelRdt": {"closID": "guaranteed_group", "l3CacheSchema": "L3:0=7f0;1=1f"}
  },
  "unknownTopLevel": {"ignored": [1, 2, 3]}
})json";

class ParserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> dir = TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(std::move(*dir));
    ASSERT_EQ(mkdir(dir_->Sub("rootfs").c_str(), 0755), 0);
  }

  const std::string& bundle() const { return dir_->path(); }

  std::optional<TempDir> dir_;
};

TEST_F(ParserTest, FullConfig) {
  ParseOptions options;
  options.cap_last_cap = 40;
  absl::StatusOr<Spec> parsed = ParseSpec(kFullConfig, bundle(), options);
  ASSERT_THAT(parsed, IsOk());
  const Spec& s = *parsed;

  EXPECT_EQ(s.oci_version, "1.1.0");
  EXPECT_EQ(s.root.path, bundle() + "/rootfs");
  EXPECT_TRUE(s.root.readonly);
  EXPECT_EQ(s.hostname, "box");
  EXPECT_EQ(s.domainname, "example.test");

  // process
  ASSERT_TRUE(s.process.has_value());
  const Process& p = *s.process;
  EXPECT_TRUE(p.terminal);
  ASSERT_TRUE(p.console_size.has_value());
  EXPECT_EQ(p.console_size->height, 25u);
  EXPECT_EQ(p.console_size->width, 80u);
  EXPECT_EQ(p.user.uid, 1000u);
  EXPECT_EQ(p.user.gid, 1001u);
  EXPECT_EQ(p.user.umask, 18u);
  EXPECT_THAT(p.user.additional_gids, ElementsAre(5u, 6u));
  EXPECT_THAT(p.args, ElementsAre("/bin/sh", "-c", "echo hi"));
  EXPECT_THAT(p.env, ElementsAre("PATH=/usr/bin:/bin", "TERM=xterm", "EMPTY="));
  EXPECT_EQ(p.cwd, "/home/user");
  ASSERT_TRUE(p.capabilities.has_value());
  EXPECT_THAT(p.capabilities->bounding,
              ElementsAre(CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE, CAP_CHOWN));
  EXPECT_THAT(p.capabilities->effective, ElementsAre(CAP_AUDIT_WRITE, CAP_KILL));
  EXPECT_THAT(p.capabilities->inheritable, ElementsAre(CAP_KILL));
  EXPECT_THAT(p.capabilities->permitted,
              ElementsAre(CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE));
  EXPECT_THAT(p.capabilities->ambient, ElementsAre(CAP_NET_BIND_SERVICE));
  ASSERT_EQ(p.rlimits.size(), 2u);
  EXPECT_EQ(p.rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(p.rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(p.rlimits[0].soft, 1024u);
  EXPECT_EQ(p.rlimits[0].hard, 4096u);
  EXPECT_EQ(p.rlimits[1].resource, RLIMIT_NPROC);
  EXPECT_EQ(p.rlimits[1].soft, 512u);
  EXPECT_EQ(p.rlimits[1].hard, 512u);
  EXPECT_TRUE(p.no_new_privileges);
  EXPECT_EQ(p.oom_score_adj, 100);
  EXPECT_EQ(p.apparmor_profile, "acme_secure_profile");
  EXPECT_EQ(p.selinux_label, "system_u:system_r:svirt_lxc_net_t:s0:c124,c675");
  ASSERT_TRUE(p.scheduler.has_value());
  EXPECT_EQ(p.scheduler->policy_name, "SCHED_BATCH");
  EXPECT_EQ(p.scheduler->policy, SCHED_BATCH);
  EXPECT_EQ(p.scheduler->nice, -5);
  EXPECT_EQ(p.scheduler->priority, 0);
  EXPECT_THAT(p.scheduler->flag_names,
              ElementsAre("SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_KEEP_PARAMS"));
  EXPECT_EQ(p.scheduler->flags, 0x11u);
  EXPECT_EQ(p.scheduler->runtime, 1u);
  EXPECT_EQ(p.scheduler->deadline, 2u);
  EXPECT_EQ(p.scheduler->period, 3u);
  ASSERT_TRUE(p.io_priority.has_value());
  EXPECT_EQ(p.io_priority->class_name, "IOPRIO_CLASS_BE");
  EXPECT_EQ(p.io_priority->io_class, 2);
  EXPECT_EQ(p.io_priority->priority, 4);

  // mounts
  ASSERT_EQ(s.mounts.size(), 7u);
  EXPECT_EQ(s.mounts[0].destination, "/proc");
  EXPECT_EQ(s.mounts[0].type, "proc");
  EXPECT_EQ(s.mounts[0].source, "proc");
  EXPECT_THAT(s.mounts[0].options, IsEmpty());
  EXPECT_EQ(s.mounts[0].flags, 0u);
  EXPECT_FALSE(s.mounts[0].bind);

  EXPECT_EQ(s.mounts[1].destination, "/dev");
  EXPECT_THAT(s.mounts[1].options, ElementsAre("nosuid", "strictatime", "mode=755", "size=65536k"));
  EXPECT_EQ(s.mounts[1].flags, static_cast<unsigned long>(MS_NOSUID | MS_STRICTATIME));
  EXPECT_EQ(s.mounts[1].data, "mode=755,size=65536k");

  EXPECT_EQ(s.mounts[2].flags, static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC));
  EXPECT_EQ(s.mounts[2].data, "newinstance,ptmxmode=0666,mode=0620,gid=5");

  EXPECT_EQ(s.mounts[3].flags,
            static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY));

  const Mount& data = s.mounts[4];
  EXPECT_EQ(data.destination, "/data");  // cleaned
  EXPECT_EQ(data.type, "bind");          // runc: a bind mount's type is "bind"
  EXPECT_EQ(data.source, bundle() + "/volumes/data");
  EXPECT_TRUE(data.bind);
  EXPECT_TRUE(data.recursive);
  EXPECT_EQ(data.flags, static_cast<unsigned long>(MS_BIND | MS_REC | MS_NOSUID));
  EXPECT_EQ(data.rec_attr_set, static_cast<uint64_t>(MOUNT_ATTR_RDONLY));
  EXPECT_THAT(data.propagation, ElementsAre(MS_PRIVATE | MS_REC));
  EXPECT_EQ(data.data, "");

  const Mount& hosts = s.mounts[5];
  EXPECT_EQ(hosts.type, "bind");
  EXPECT_EQ(hosts.source, "/var/lib/berth/hosts");
  EXPECT_TRUE(hosts.bind);
  EXPECT_FALSE(hosts.recursive);
  EXPECT_EQ(hosts.flags, static_cast<unsigned long>(MS_BIND | MS_RDONLY));

  const Mount& shared = s.mounts[6];
  EXPECT_TRUE(shared.idmap);
  EXPECT_TRUE(shared.idmap_recursive);
  ASSERT_EQ(shared.uid_mappings.size(), 1u);
  EXPECT_EQ(shared.uid_mappings[0].host_id, 100000u);
  EXPECT_EQ(shared.uid_mappings[0].size, 65536u);
  ASSERT_EQ(shared.gid_mappings.size(), 1u);
  EXPECT_EQ(shared.gid_mappings[0].host_id, 200000u);

  // hooks
  ASSERT_TRUE(s.hooks.has_value());
  ASSERT_EQ(s.hooks->prestart.size(), 1u);
  EXPECT_EQ(s.hooks->prestart[0].path, "/usr/bin/fix-mounts");
  EXPECT_THAT(s.hooks->prestart[0].args, ElementsAre("fix-mounts", "arg1"));
  EXPECT_THAT(s.hooks->prestart[0].env, ElementsAre("key1=value1"));
  EXPECT_EQ(s.hooks->prestart[0].timeout, std::nullopt);
  ASSERT_EQ(s.hooks->create_runtime.size(), 1u);
  EXPECT_EQ(s.hooks->create_runtime[0].timeout, 5);
  ASSERT_EQ(s.hooks->create_container.size(), 1u);
  EXPECT_EQ(s.hooks->create_container[0].path, "/usr/bin/mount-hook");
  ASSERT_EQ(s.hooks->start_container.size(), 1u);
  EXPECT_EQ(s.hooks->start_container[0].path, "/usr/bin/refresh-ldcache");
  ASSERT_EQ(s.hooks->poststart.size(), 1u);
  EXPECT_EQ(s.hooks->poststart[0].timeout, 1);
  ASSERT_EQ(s.hooks->poststop.size(), 1u);
  EXPECT_THAT(s.hooks->poststop[0].args, ElementsAre("cleanup.sh", "-f"));

  EXPECT_THAT(s.annotations,
              ElementsAre(Pair("com.example.key1", "value1"), Pair("key2", "value2")));

  // linux
  const Linux& l = s.linux;
  ASSERT_EQ(l.namespaces.size(), 8u);
  EXPECT_EQ(l.namespaces[0].type, NamespaceType::kPid);
  EXPECT_EQ(l.namespaces[0].path, "");
  EXPECT_EQ(l.namespaces[1].type, NamespaceType::kNetwork);
  EXPECT_EQ(l.namespaces[1].path, "/var/run/netns/berth-test");
  EXPECT_EQ(l.namespaces[2].type, NamespaceType::kIpc);
  EXPECT_EQ(l.namespaces[3].type, NamespaceType::kUts);
  EXPECT_EQ(l.namespaces[4].type, NamespaceType::kMount);
  EXPECT_EQ(l.namespaces[5].type, NamespaceType::kCgroup);
  EXPECT_EQ(l.namespaces[6].type, NamespaceType::kUser);
  EXPECT_EQ(l.namespaces[7].type, NamespaceType::kTime);
  EXPECT_TRUE(s.HasNamespace(NamespaceType::kTime));
  ASSERT_EQ(l.uid_mappings.size(), 1u);
  EXPECT_EQ(l.uid_mappings[0].container_id, 0u);
  EXPECT_EQ(l.uid_mappings[0].host_id, 1000u);
  EXPECT_EQ(l.uid_mappings[0].size, 32000u);
  ASSERT_EQ(l.gid_mappings.size(), 2u);
  EXPECT_EQ(l.gid_mappings[1].container_id, 40000u);
  EXPECT_EQ(l.gid_mappings[1].host_id, 50000u);
  EXPECT_EQ(l.gid_mappings[1].size, 1u);
  EXPECT_THAT(l.time_offsets, ElementsAre(Pair("boottime", Pair(-3600, 500u)),
                                          Pair("monotonic", Pair(172800, 0u))));

  ASSERT_EQ(l.devices.size(), 3u);
  EXPECT_EQ(l.devices[0].path, "/dev/fuse");
  EXPECT_EQ(l.devices[0].type, 'c');
  EXPECT_EQ(l.devices[0].major, 10);
  EXPECT_EQ(l.devices[0].minor, 229);
  EXPECT_EQ(l.devices[0].file_mode, 438u);
  EXPECT_EQ(l.devices[0].uid, 0u);
  EXPECT_EQ(l.devices[0].gid, 0u);
  EXPECT_EQ(l.devices[1].type, 'b');
  EXPECT_EQ(l.devices[1].file_mode, std::nullopt);
  EXPECT_EQ(l.devices[2].type, 'p');
  EXPECT_EQ(l.cgroups_path, "/berth/test");

  ASSERT_TRUE(l.resources.has_value());
  const Resources& r = *l.resources;
  ASSERT_EQ(r.devices.size(), 3u);
  EXPECT_FALSE(r.devices[0].allow);
  EXPECT_EQ(r.devices[0].type, "");
  EXPECT_EQ(r.devices[0].major, std::nullopt);
  EXPECT_EQ(r.devices[0].access, "rwm");
  EXPECT_TRUE(r.devices[1].allow);
  EXPECT_EQ(r.devices[1].type, "c");
  EXPECT_EQ(r.devices[1].major, 10);
  EXPECT_EQ(r.devices[1].minor, 229);
  EXPECT_EQ(r.devices[2].minor, std::nullopt);
  ASSERT_TRUE(r.memory.has_value());
  EXPECT_EQ(r.memory->limit, 536870912);
  EXPECT_EQ(r.memory->reservation, 268435456);
  EXPECT_EQ(r.memory->swap, -1);
  EXPECT_EQ(r.memory->kernel, -1);
  EXPECT_EQ(r.memory->kernel_tcp, -1);
  EXPECT_EQ(r.memory->swappiness, 0u);
  EXPECT_EQ(r.memory->disable_oom_killer, false);
  EXPECT_EQ(r.memory->use_hierarchy, true);
  EXPECT_EQ(r.memory->check_before_update, true);
  ASSERT_TRUE(r.cpu.has_value());
  EXPECT_EQ(r.cpu->shares, 1024u);
  EXPECT_EQ(r.cpu->quota, 1000000);
  EXPECT_EQ(r.cpu->burst, 100u);
  EXPECT_EQ(r.cpu->period, 500000u);
  EXPECT_EQ(r.cpu->realtime_runtime, 950000);
  EXPECT_EQ(r.cpu->realtime_period, 1000000u);
  EXPECT_EQ(r.cpu->cpus, "0-1");
  EXPECT_EQ(r.cpu->mems, "0");
  EXPECT_EQ(r.cpu->idle, 0);
  EXPECT_EQ(r.pids_limit, 32771);
  ASSERT_TRUE(r.block_io.has_value());
  EXPECT_EQ(r.block_io->weight, 10);
  EXPECT_EQ(r.block_io->leaf_weight, 10);
  ASSERT_EQ(r.block_io->weight_devices.size(), 2u);
  EXPECT_EQ(r.block_io->weight_devices[0].major, 8);
  EXPECT_EQ(r.block_io->weight_devices[0].weight, 500);
  EXPECT_EQ(r.block_io->weight_devices[0].leaf_weight, 300);
  EXPECT_EQ(r.block_io->weight_devices[1].minor, 16);
  EXPECT_EQ(r.block_io->weight_devices[1].leaf_weight, std::nullopt);
  ASSERT_EQ(r.block_io->throttle_read_bps.size(), 1u);
  EXPECT_EQ(r.block_io->throttle_read_bps[0].rate, 600u);
  ASSERT_EQ(r.block_io->throttle_write_bps.size(), 1u);
  EXPECT_EQ(r.block_io->throttle_write_bps[0].rate, 700u);
  ASSERT_EQ(r.block_io->throttle_read_iops.size(), 1u);
  EXPECT_EQ(r.block_io->throttle_read_iops[0].rate, 800u);
  ASSERT_EQ(r.block_io->throttle_write_iops.size(), 1u);
  EXPECT_EQ(r.block_io->throttle_write_iops[0].minor, 16);
  EXPECT_EQ(r.block_io->throttle_write_iops[0].rate, 300u);
  ASSERT_EQ(r.hugepage_limits.size(), 2u);
  EXPECT_EQ(r.hugepage_limits[0].page_size, "2MB");
  EXPECT_EQ(r.hugepage_limits[0].limit, 209715200u);
  EXPECT_EQ(r.hugepage_limits[1].page_size, "1GB");
  EXPECT_TRUE(r.has_network);
  EXPECT_EQ(r.net_class_id, 1048577u);
  EXPECT_THAT(r.net_priorities, ElementsAre(Pair("eth0", 500u), Pair("eth1", 1000u)));
  ASSERT_EQ(r.rdma.size(), 2u);
  EXPECT_EQ(r.rdma.at("mlx5_1").hca_handles, 3u);
  EXPECT_EQ(r.rdma.at("mlx5_1").hca_objects, 10000u);
  EXPECT_EQ(r.rdma.at("mlx4_0").hca_handles, std::nullopt);
  EXPECT_THAT(r.unified,
              ElementsAre(Pair("io.max", "259:0 rbps=2097152"), Pair("memory.high", "1073741824")));

  EXPECT_THAT(l.sysctl,
              ElementsAre(Pair("net.core.somaxconn", "256"), Pair("net.ipv4.ip_forward", "1")));

  ASSERT_TRUE(l.seccomp.has_value());
  const Seccomp& sc = *l.seccomp;
  EXPECT_EQ(sc.default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(sc.default_errno_ret, 38u);
  EXPECT_THAT(sc.architectures, ElementsAre("SCMP_ARCH_X86_64", "SCMP_ARCH_X86"));
  EXPECT_THAT(sc.flags, ElementsAre("SECCOMP_FILTER_FLAG_LOG"));
  EXPECT_TRUE(sc.has_flags);
  EXPECT_EQ(sc.listener_path, "/run/seccomp-agent.socket");
  EXPECT_EQ(sc.listener_metadata, "metadata");
  ASSERT_EQ(sc.syscalls.size(), 4u);
  EXPECT_THAT(sc.syscalls[0].names, ElementsAre("getcwd", "chmod"));
  EXPECT_EQ(sc.syscalls[0].action, "SCMP_ACT_ALLOW");
  EXPECT_EQ(sc.syscalls[0].errno_ret, std::nullopt);
  ASSERT_EQ(sc.syscalls[1].args.size(), 2u);
  EXPECT_EQ(sc.syscalls[1].args[0].index, 0u);
  EXPECT_EQ(sc.syscalls[1].args[0].op, "SCMP_CMP_EQ");
  EXPECT_EQ(sc.syscalls[1].args[1].index, 5u);
  EXPECT_EQ(sc.syscalls[1].args[1].value, 255u);
  EXPECT_EQ(sc.syscalls[1].args[1].value_two, 8u);
  EXPECT_EQ(sc.syscalls[1].args[1].op, "SCMP_CMP_MASKED_EQ");
  EXPECT_EQ(sc.syscalls[2].errno_ret, 1u);
  EXPECT_EQ(sc.syscalls[3].action, "SCMP_ACT_NOTIFY");

  EXPECT_EQ(l.rootfs_propagation, "rslave");
  EXPECT_THAT(l.masked_paths, ElementsAre("/proc/kcore", "/proc/keys"));  // cleaned
  EXPECT_THAT(l.readonly_paths, ElementsAre("/proc/sys", "/proc/sysrq-trigger"));
  EXPECT_EQ(l.mount_label, "system_u:object_r:svirt_sandbox_file_t:s0:c715,c811");
  ASSERT_TRUE(l.personality.has_value());
  EXPECT_EQ(l.personality->domain, "LINUX32");
  EXPECT_THAT(l.personality->flags, IsEmpty());
  EXPECT_TRUE(l.has_intel_rdt);
}

TEST_F(ParserTest, MinimalConfig) {
  absl::StatusOr<Spec> s =
      ParseSpec(R"({"ociVersion": "1.0.2-dev", "root": {"path": "rootfs"}})", bundle());
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->oci_version, "1.0.2-dev");
  EXPECT_FALSE(s->process.has_value());
  EXPECT_FALSE(s->root.readonly);
  EXPECT_THAT(s->mounts, IsEmpty());
  EXPECT_FALSE(s->hooks.has_value());
  EXPECT_THAT(s->linux.namespaces, IsEmpty());
  EXPECT_FALSE(s->linux.resources.has_value());
  EXPECT_FALSE(s->linux.seccomp.has_value());
  EXPECT_FALSE(s->linux.has_intel_rdt);
}

TEST_F(ParserTest, NullIsAbsentAndUnknownKeysAreIgnored) {
  absl::StatusOr<Spec> s = ParseSpec(R"({
    "ociVersion": "1.2.0", "root": {"path": "rootfs", "readonly": null},
    "hostname": null, "mounts": null, "hooks": null, "annotations": null,
    "windows": {"layerFolders": []}, "vm": {}, "solaris": 1,
    "process": {"args": ["sh"], "cwd": "/", "env": null, "user": {"uid": 5, "username": "x"},
                "capabilities": null, "rlimits": null, "commandLine": "x",
                "execCPUAffinity": {"initial": "0"}},
    "linux": {"namespaces": null, "seccomp": null, "resources": {"memory": null,
              "newController": {"a": 1}}, "netDevices": {"eth0": {}}, "memoryPolicy": {}}
  })",
                                     bundle());
  ASSERT_THAT(s, IsOk());
  EXPECT_FALSE(s->root.readonly);
  EXPECT_EQ(s->hostname, "");
  ASSERT_TRUE(s->process.has_value());
  EXPECT_EQ(s->process->user.uid, 5u);
  EXPECT_EQ(s->process->user.gid, 0u);
  EXPECT_FALSE(s->process->capabilities.has_value());
  ASSERT_TRUE(s->linux.resources.has_value());
  EXPECT_FALSE(s->linux.resources->memory.has_value());
}

TEST_F(ParserTest, AbsoluteRootPathIsKept) {
  const std::string config =
      absl::StrCat(R"({"ociVersion": "1.1.0", "root": {"path": ")", bundle(), R"(/rootfs"}})");
  absl::StatusOr<Spec> s = ParseSpec(config, "/nonexistent-bundle");
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->root.path, bundle() + "/rootfs");
}

TEST_F(ParserTest, RelativeBundleIsMadeAbsolute) {
  char old_cwd[4096];
  ASSERT_NE(getcwd(old_cwd, sizeof(old_cwd)), nullptr);
  ASSERT_EQ(chdir(bundle().c_str()), 0);
  absl::StatusOr<Spec> dot =
      ParseSpec(R"({"ociVersion": "1.1.0", "root": {"path": "rootfs"}})", "");
  ASSERT_EQ(chdir("/tmp"), 0);
  const std::string rel = bundle().substr(std::string("/tmp/").size());
  absl::StatusOr<Spec> relative =
      ParseSpec(R"({"ociVersion": "1.1.0", "root": {"path": "./rootfs/"}})", rel);
  ASSERT_EQ(chdir(old_cwd), 0);
  ASSERT_THAT(dot, IsOk());
  EXPECT_EQ(dot->root.path, bundle() + "/rootfs");
  ASSERT_THAT(relative, IsOk());
  EXPECT_EQ(relative->root.path, bundle() + "/rootfs");
}

TEST_F(ParserTest, EmptySeccompIsNoSeccomp) {
  absl::StatusOr<Spec> s = ParseSpec(
      R"({"ociVersion": "1.1.0", "root": {"path": "rootfs"}, "linux": {"seccomp": {}}})", bundle());
  ASSERT_THAT(s, IsOk());
  EXPECT_FALSE(s->linux.seccomp.has_value());

  s = ParseSpec(R"({"ociVersion": "1.1.0", "root": {"path": "rootfs"},
                    "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW"}}})",
                bundle());
  ASSERT_THAT(s, IsOk());
  ASSERT_TRUE(s->linux.seccomp.has_value());
  EXPECT_FALSE(s->linux.seccomp->has_flags);

  s = ParseSpec(R"({"ociVersion": "1.1.0", "root": {"path": "rootfs"},
                    "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "flags": []}}})",
                bundle());
  ASSERT_THAT(s, IsOk());
  EXPECT_TRUE(s->linux.seccomp->has_flags);
}

TEST_F(ParserTest, CapabilitiesTheKernelLacks) {
  constexpr char kConfig[] = R"({"ociVersion": "1.1.0", "root": {"path": "rootfs"},
    "process": {"args": ["sh"], "cwd": "/",
                "capabilities": {"permitted": ["CAP_KILL", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"]}}})";
  ParseOptions old_kernel;
  old_kernel.cap_last_cap = 39;
  EXPECT_THAT(ParseSpec(kConfig, bundle(), old_kernel),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "process.capabilities.permitted[2]: capability "
                       "\"CAP_CHECKPOINT_RESTORE\" (40) is not supported by this kernel "
                       "(last is 39)"));
  ParseOptions new_kernel;
  new_kernel.cap_last_cap = 40;
  absl::StatusOr<Spec> s = ParseSpec(kConfig, bundle(), new_kernel);
  ASSERT_THAT(s, IsOk());
  EXPECT_THAT(s->process->capabilities->permitted, ElementsAre(CAP_KILL, 39, 40));
  // Capabilities up to CAP_AUDIT_READ never ask the kernel.
  ParseOptions ancient;
  ancient.cap_last_cap = 0;
  EXPECT_THAT(ParseSpec(R"({"ociVersion": "1.1.0", "root": {"path": "rootfs"},
    "process": {"args": ["sh"], "cwd": "/", "capabilities": {"bounding": ["CAP_AUDIT_READ"]}}})",
                        bundle(), ancient),
              IsOk());
}

TEST_F(ParserTest, LoadSpec) {
  {
    std::ofstream f(dir_->Sub("config.json"));
    f << R"({"ociVersion": "1.1.0", "root": {"path": "rootfs"}, "hostname": "h",
             "linux": {"namespaces": [{"type": "uts"}]}})";
  }
  absl::StatusOr<Spec> s = LoadSpec(bundle());
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->hostname, "h");

  {
    std::ofstream f(dir_->Sub("config.json"));
    f << R"({"ociVersion": "1.1.0", "root": {"path": "rootfs"}, "process": {"cwd": "/"}})";
  }
  EXPECT_THAT(LoadSpec(bundle()),
              StatusIs(absl::StatusCode::kInvalidArgument, "config.json: process.args: required"));
  {
    std::ofstream f(dir_->Sub("config.json"));
    f << "{\n  \"ociVersion\": \"1.1.0\",\n  \"root\": {\"path\": \"rootfs\",}\n}";
  }
  EXPECT_THAT(
      LoadSpec(bundle()),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr("config.json: invalid JSON: parse error at line 3, column 29: syntax error "
                    "while parsing object key - unexpected '}'; expected string literal")));

  EXPECT_THAT(LoadSpec(dir_->Sub("missing")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("config.json")));
}

TEST(ParseProcessTest, ExecProcessFile) {
  absl::StatusOr<Process> p = ParseProcess(R"({
    "terminal": false, "user": {"uid": 1, "gid": 2}, "args": ["ps", "aux"],
    "env": ["A=b"], "cwd": "/tmp", "capabilities": {"bounding": ["CAP_KILL"]},
    "noNewPrivileges": true})");
  ASSERT_THAT(p, IsOk());
  EXPECT_THAT(p->args, ElementsAre("ps", "aux"));
  EXPECT_EQ(p->user.gid, 2u);
  EXPECT_THAT(p->capabilities->bounding, ElementsAre(CAP_KILL));

  EXPECT_THAT(ParseProcess(R"({"cwd": "/"})"),
              StatusIs(absl::StatusCode::kInvalidArgument, "args: required"));
  EXPECT_THAT(
      ParseProcess(R"({"args": ["x"], "cwd": "/", "user": {"uid": "0"}})"),
      StatusIs(absl::StatusCode::kInvalidArgument, "user.uid: want unsigned integer, got string"));
  EXPECT_THAT(ParseProcess("[1]"),
              StatusIs(absl::StatusCode::kInvalidArgument, "process: want object, got array"));
}

TEST(ParseResourcesTest, UpdateResourcesFile) {
  absl::StatusOr<Resources> r =
      ParseResources(R"({"memory": {"limit": 1048576}, "pids": {"limit": 10},
                         "cpu": {"cpus": "0"}})");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->memory->limit, 1048576);
  EXPECT_EQ(r->pids_limit, 10);
  EXPECT_EQ(r->cpu->cpus, "0");
  EXPECT_THAT(
      ParseResources(R"({"memory": {"limit": "1G"}})"),
      StatusIs(absl::StatusCode::kInvalidArgument, "memory.limit: want integer, got string"));
}

// ---- Bad inputs: each case edits the full config and must fail naming the field. ----

struct Edit {
  const char* pointer;  // JSON pointer into kFullConfig
  const char* value;    // JSON text to put there; nullptr removes the member
};

struct BadCase {
  const char* name;
  std::vector<Edit> edits;
  const char* message;  // substring of the error, starting with the field path
};

std::string Edited(const std::vector<Edit>& edits) {
  Json doc = Json::parse(kFullConfig);
  for (const Edit& e : edits) {
    const Json::json_pointer ptr(e.pointer);
    if (e.value == nullptr) {
      Json& parent = doc.at(ptr.parent_pointer());
      if (parent.is_array()) {
        parent.erase(std::stoul(ptr.back()));
      } else {
        parent.erase(ptr.back());
      }
    } else {
      doc[ptr] = Json::parse(e.value);
    }
  }
  return doc.dump();
}

class BadConfigTest : public ParserTest, public ::testing::WithParamInterface<BadCase> {};

TEST_P(BadConfigTest, FailsNamingTheField) {
  const BadCase& c = GetParam();
  ParseOptions options;
  options.cap_last_cap = 40;
  const std::string config = Edited(c.edits);
  EXPECT_THAT(ParseSpec(config, bundle(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)))
      << config;
}

const BadCase kBadCases[] = {
    // Top level.
    {"OciVersionMissing", {{"/ociVersion", nullptr}}, "ociVersion: required"},
    {"OciVersionTwo", {{"/ociVersion", R"("2.0.0")"}}, "ociVersion: unsupported version \"2.0.0\""},
    {"OciVersionNumber", {{"/ociVersion", "1.1"}}, "ociVersion: want string, got 1.1"},
    {"RootMissing", {{"/root", nullptr}}, "root: required"},
    {"RootPathMissing", {{"/root/path", nullptr}}, "root.path: required"},
    {"RootDirMissing", {{"/root/path", R"("nope")"}}, "/nope does not exist"},
    {"RootEscapesBundle",
     {{"/root/path", R"("../rootfs")"}},
     "root.path: \"../rootfs\" escapes the bundle directory"},
    {"RootReadonlyString",
     {{"/root/readonly", R"("yes")"}},
     "root.readonly: want boolean, got string"},
    {"HostnameNumber", {{"/hostname", "7"}}, "hostname: want string, got 7"},
    {"AnnotationNotString",
     {{"/annotations/com.example.key1", "true"}},
     "annotations[\"com.example.key1\"]: want string, got boolean"},
    // process
    {"ProcessArray", {{"/process", "[]"}}, "process: want object, got array"},
    {"ArgsMissing", {{"/process/args", nullptr}}, "process.args: required"},
    {"ArgsEmpty", {{"/process/args", "[]"}}, "process.args: must not be empty"},
    {"ArgsString", {{"/process/args", R"("sh")"}}, "process.args: want array, got string"},
    {"ArgNumber", {{"/process/args/1", "1"}}, "process.args[1]: want string, got 1"},
    {"ArgNulByte", {{"/process/args/0", R"("sh\u0000x")"}}, "process.args[0]: contains a NUL byte"},
    {"CwdMissing", {{"/process/cwd", nullptr}}, "process.cwd: required"},
    {"CwdRelative", {{"/process/cwd", R"("tmp")"}}, "process.cwd: \"tmp\" is not an absolute path"},
    {"EnvNoEquals", {{"/process/env/1", R"("FOO")"}}, "process.env[1]: \"FOO\" is not KEY=value"},
    {"EnvNoKey", {{"/process/env/0", R"("=x")"}}, "process.env[0]: \"=x\" is not KEY=value"},
    {"TerminalString",
     {{"/process/terminal", R"("true")"}},
     "process.terminal: want boolean, got string"},
    {"ConsoleWidthMissing",
     {{"/process/consoleSize/width", nullptr}},
     "process.consoleSize.width: required"},
    {"UidNegative",
     {{"/process/user/uid", "-1"}},
     "process.user.uid: want unsigned integer, got -1"},
    {"UidString",
     {{"/process/user/uid", R"("0")"}},
     "process.user.uid: want unsigned integer, got string"},
    {"UidTooBig",
     {{"/process/user/uid", "4294967296"}},
     "process.user.uid: 4294967296 out of range (max 4294967295)"},
    {"GidFraction",
     {{"/process/user/gid", "1.5"}},
     "process.user.gid: want unsigned integer, got 1.5"},
    {"GidExponent",
     {{"/process/user/gid", "1e3"}},
     "process.user.gid: want unsigned integer, got 1000.0"},
    {"AdditionalGidNegative",
     {{"/process/user/additionalGids/1", "-3"}},
     "process.user.additionalGids[1]: want unsigned integer, got -3"},
    {"UnknownCapability",
     {{"/process/capabilities/bounding/3", R"("CAP_FOO")"}},
     "process.capabilities.bounding[3]: unknown capability \"CAP_FOO\""},
    {"LowerCaseCapability",
     {{"/process/capabilities/ambient/0", R"("cap_kill")"}},
     "process.capabilities.ambient[0]: unknown capability \"cap_kill\""},
    {"CapabilitySetNotArray",
     {{"/process/capabilities/effective", R"("CAP_KILL")"}},
     "process.capabilities.effective: want array, got string"},
    {"UnknownRlimit",
     {{"/process/rlimits/0/type", R"("RLIMIT_FOO")"}},
     "process.rlimits[0].type: unknown rlimit \"RLIMIT_FOO\""},
    {"RlimitSoftAboveHard",
     {{"/process/rlimits/1/soft", "1024"}},
     "process.rlimits[1]: soft limit 1024 exceeds hard limit 512"},
    {"DuplicateRlimit",
     {{"/process/rlimits/1/type", R"("RLIMIT_NOFILE")"}},
     "process.rlimits[1].type: duplicate rlimit \"RLIMIT_NOFILE\""},
    {"RlimitHardMissing",
     {{"/process/rlimits/0/hard", nullptr}},
     "process.rlimits[0].hard: required"},
    {"RlimitBeyond64Bits",
     {{"/process/rlimits/0/hard", "18446744073709551616"}},
     "process.rlimits[0].hard: want unsigned integer, got 1.8446744073709552e+19"},
    {"OomScoreAdjRange",
     {{"/process/oomScoreAdj", "1001"}},
     "process.oomScoreAdj: 1001 out of range [-1000, 1000]"},
    {"UnknownSchedulerPolicy",
     {{"/process/scheduler/policy", R"("SCHED_FAST")"}},
     "process.scheduler.policy: unknown scheduler policy \"SCHED_FAST\""},
    {"UnknownSchedulerFlag",
     {{"/process/scheduler/flags/1", R"("X")"}},
     "process.scheduler.flags[1]: unknown scheduler flag \"X\""},
    {"NiceOutOfInt32",
     {{"/process/scheduler/nice", "2147483648"}},
     "process.scheduler.nice: 2147483648 out of range [-2147483648, 2147483647]"},
    {"IoPriorityRange",
     {{"/process/ioPriority/priority", "8"}},
     "process.ioPriority.priority: 8 out of range [0, 7]"},
    {"IoPriorityClass",
     {{"/process/ioPriority/class", R"("IOPRIO_CLASS_NONE")"}},
     "process.ioPriority.class: unknown I/O priority class"},
    // mounts
    {"MountsObject", {{"/mounts", "{}"}}, "mounts: want array, got object"},
    {"MountNotObject", {{"/mounts/2", R"("/dev/pts")"}}, "mounts[2]: want object, got string"},
    {"MountDestinationMissing",
     {{"/mounts/0/destination", nullptr}},
     "mounts[0].destination: required"},
    {"MountDestinationRelative",
     {{"/mounts/1/destination", R"("dev")"}},
     "mounts[1].destination: \"dev\" is not an absolute path"},
    {"MountDestinationEscapes",
     {{"/mounts/4/destination", R"("/../etc")"}},
     "mounts[4].destination: \"/../etc\" escapes the container root"},
    {"MountDestinationEscapesDeep",
     {{"/mounts/3/destination", R"("/sys/../../../etc")"}},
     "mounts[3].destination: \"/sys/../../../etc\" escapes the container root"},
    {"MountOptionsString",
     {{"/mounts/2/options", R"("ro")"}},
     "mounts[2].options: want array, got string"},
    {"BindSourceEscapesBundle",
     {{"/mounts/4/source", R"("volumes/../../x")"}},
     "mounts[4].source: \"volumes/../../x\" escapes the bundle directory"},
    {"BindWithoutSource",
     {{"/mounts/5/source", nullptr}},
     "mounts[5].source: required for a bind mount"},
    {"MountUidMappingsAlone",
     {{"/mounts/6/gidMappings", nullptr}},
     "mounts[6].gidMappings: required"},
    {"MountMappingSizeZero",
     {{"/mounts/6/uidMappings/0/size", "0"}},
     "mounts[6].uidMappings[0].size: must be at least 1"},
    // hooks
    {"HookRelativePath",
     {{"/hooks/prestart/0/path", R"("fix-mounts")"}},
     "hooks.prestart[0].path: \"fix-mounts\" is not an absolute path"},
    {"HookPathMissing",
     {{"/hooks/startContainer/0/path", nullptr}},
     "hooks.startContainer[0].path: required"},
    {"HookTimeoutZero",
     {{"/hooks/poststart/0/timeout", "0"}},
     "hooks.poststart[0].timeout: must be greater than zero"},
    {"HookTimeoutNegative",
     {{"/hooks/createRuntime/0/timeout", "-5"}},
     "hooks.createRuntime[0].timeout: must be greater than zero, got -5"},
    {"HookEnvNoEquals",
     {{"/hooks/prestart/0/env/0", R"("key1")"}},
     "hooks.prestart[0].env[0]: \"key1\" is not KEY=value"},
    // linux
    {"LinuxArray", {{"/linux", "[]"}}, "linux: want object, got array"},
    {"UnknownNamespace",
     {{"/linux/namespaces/2", R"({"type": "foo"})"}},
     "linux.namespaces[2].type: unknown namespace type \"foo\""},
    {"DuplicateNamespace",
     {{"/linux/namespaces/5", R"({"type": "pid"})"}},
     "linux.namespaces[5].type: duplicate namespace type \"pid\""},
    {"NamespaceTypeMissing",
     {{"/linux/namespaces/0", R"({"path": "/proc/1/ns/pid"})"}},
     "linux.namespaces[0].type: required"},
    {"NamespaceRelativePath",
     {{"/linux/namespaces/1/path", R"("var/run/netns/x")"}},
     "linux.namespaces[1].path: \"var/run/netns/x\" is not an absolute path"},
    {"NamespaceNetIsNotAType",
     {{"/linux/namespaces/6", R"({"type": "net"})"}},
     "linux.namespaces[6].type: unknown namespace type \"net\""},
    {"MappingsNeedUserNamespace",
     {{"/linux/namespaces/6", nullptr}},
     "linux.uidMappings: set, but linux.namespaces has no user namespace"},
    {"TimeOffsetsNeedTimeNamespace",
     {{"/linux/namespaces/7", nullptr}},
     "linux.timeOffsets: set, but linux.namespaces has no time namespace"},
    {"HostnameNeedsUts",
     {{"/linux/namespaces/3", nullptr}},
     "hostname: set, but linux.namespaces has no uts namespace"},
    {"MappingHostIdMissing",
     {{"/linux/gidMappings/1/hostID", nullptr}},
     "linux.gidMappings[1].hostID: required"},
    {"UnknownClock",
     {{"/linux/timeOffsets/realtime", R"({"secs": 1})"}},
     "linux.timeOffsets.realtime: unknown clock \"realtime\""},
    {"NanosecsTooBig",
     {{"/linux/timeOffsets/boottime/nanosecs", "1000000000"}},
     "linux.timeOffsets.boottime.nanosecs: 1000000000 out of range"},
    {"DeviceBadType",
     {{"/linux/devices/0/type", R"("x")"}},
     "linux.devices[0].type: unknown device type \"x\""},
    {"DeviceMajorMissing",
     {{"/linux/devices/1/major", nullptr}},
     "linux.devices[1].major: required"},
    {"DeviceRelativePath",
     {{"/linux/devices/0/path", R"("dev/fuse")"}},
     "linux.devices[0].path: \"dev/fuse\" is not an absolute path"},
    {"DevicePathEscapes",
     {{"/linux/devices/0/path", R"("/dev/../../fuse")"}},
     "linux.devices[0].path: \"/dev/../../fuse\" escapes the container root"},
    {"DeviceFileModeNegative",
     {{"/linux/devices/0/fileMode", "-1"}},
     "linux.devices[0].fileMode: want unsigned integer, got -1"},
    {"CgroupDeviceAccess",
     {{"/linux/resources/devices/1/access", R"("rwx")"}},
     "linux.resources.devices[1].access: invalid access \"rwx\""},
    {"CgroupDeviceType",
     {{"/linux/resources/devices/1/type", R"("p")"}},
     "linux.resources.devices[1].type: unknown device type \"p\""},
    {"CgroupDeviceAllowMissing",
     {{"/linux/resources/devices/0/allow", nullptr}},
     "linux.resources.devices[0].allow: required"},
    {"MemoryLimitString",
     {{"/linux/resources/memory/limit", R"("512M")"}},
     "linux.resources.memory.limit: want integer, got string"},
    {"CpuSharesNegative",
     {{"/linux/resources/cpu/shares", "-2"}},
     "linux.resources.cpu.shares: want unsigned integer, got -2"},
    {"PidsLimitMissing", {{"/linux/resources/pids", "{}"}}, "linux.resources.pids.limit: required"},
    {"BlkioWeightRange",
     {{"/linux/resources/blockIO/weight", "70000"}},
     "linux.resources.blockIO.weight: 70000 out of range (max 65535)"},
    {"ThrottleRateMissing",
     {{"/linux/resources/blockIO/throttleReadBpsDevice/0/rate", nullptr}},
     "linux.resources.blockIO.throttleReadBpsDevice[0].rate: required"},
    {"HugepageSizeMissing",
     {{"/linux/resources/hugepageLimits/1/pageSize", nullptr}},
     "linux.resources.hugepageLimits[1].pageSize: required"},
    {"NetworkPriorityName",
     {{"/linux/resources/network/priorities/0/name", "1"}},
     "linux.resources.network.priorities[0].name: want string, got 1"},
    {"RdmaEmpty",
     {{"/linux/resources/rdma/mlx4_0", "{}"}},
     "linux.resources.rdma.mlx4_0: needs hcaHandles or hcaObjects"},
    {"UnifiedValueNumber",
     {{"/linux/resources/unified/memory.high", "5"}},
     "linux.resources.unified[\"memory.high\"]: want string, got 5"},
    {"SysctlValueNumber",
     {{"/linux/sysctl/net.ipv4.ip_forward", "1"}},
     "linux.sysctl[\"net.ipv4.ip_forward\"]: want string, got 1"},
    {"SeccompDefaultAction",
     {{"/linux/seccomp/defaultAction", R"("SCMP_ACT_FOO")"}},
     "linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_FOO\""},
    {"SeccompDefaultActionMissing",
     {{"/linux/seccomp/defaultAction", nullptr}},
     "linux.seccomp.defaultAction: required"},
    {"SeccompNotifyDefault",
     {{"/linux/seccomp/defaultAction", R"("SCMP_ACT_NOTIFY")"},
      {"/linux/seccomp/defaultErrnoRet", nullptr}},
     "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"},
    {"SeccompDefaultErrnoWithKill",
     {{"/linux/seccomp/defaultAction", R"("SCMP_ACT_KILL")"}},
     "linux.seccomp.defaultErrnoRet: not allowed with default action SCMP_ACT_KILL"},
    {"SeccompFlag",
     {{"/linux/seccomp/flags/0", R"("SECCOMP_FILTER_FLAG_FOO")"}},
     "linux.seccomp.flags[0]: unknown seccomp flag \"SECCOMP_FILTER_FLAG_FOO\""},
    {"SeccompMetadataWithoutListener",
     {{"/linux/seccomp/listenerPath", nullptr}},
     "linux.seccomp.listenerMetadata: set without listenerPath"},
    {"SeccompSyscallAction",
     {{"/linux/seccomp/syscalls/1/action", R"("ALLOW")"}},
     "linux.seccomp.syscalls[1].action: unknown seccomp action \"ALLOW\""},
    {"SeccompNamesEmpty",
     {{"/linux/seccomp/syscalls/0/names", "[]"}},
     "linux.seccomp.syscalls[0].names: must not be empty"},
    {"SeccompErrnoWithAllow",
     {{"/linux/seccomp/syscalls/0/errnoRet", "1"}},
     "linux.seccomp.syscalls[0].errnoRet: not allowed with action SCMP_ACT_ALLOW"},
    {"SeccompArgOp",
     {{"/linux/seccomp/syscalls/1/args/1/op", R"("SCMP_CMP_FOO")"}},
     "linux.seccomp.syscalls[1].args[1].op: unknown seccomp operator \"SCMP_CMP_FOO\""},
    {"SeccompArgIndex",
     {{"/linux/seccomp/syscalls/1/args/0/index", "6"}},
     "linux.seccomp.syscalls[1].args[0].index: 6 out of range"},
    {"SeccompArgValueMissing",
     {{"/linux/seccomp/syscalls/1/args/0/value", nullptr}},
     "linux.seccomp.syscalls[1].args[0].value: required"},
    {"RootfsPropagation",
     {{"/linux/rootfsPropagation", R"("sideways")"}},
     "linux.rootfsPropagation: unknown propagation \"sideways\""},
    {"MaskedPathRelative",
     {{"/linux/maskedPaths/0", R"("proc/kcore")"}},
     "linux.maskedPaths[0]: \"proc/kcore\" is not an absolute path"},
    {"ReadonlyPathEscapes",
     {{"/linux/readonlyPaths/1", R"("/proc/../../sys")"}},
     "linux.readonlyPaths[1]: \"/proc/../../sys\" escapes the container root"},
    {"PersonalityDomain",
     {{"/linux/personality/domain", R"("BSD")"}},
     "linux.personality.domain: unknown personality domain \"BSD\""},
    {"PersonalityFlags",
     {{"/linux/personality/flags", R"(["ADDR_NO_RANDOMIZE"])"}},
     "linux.personality.flags[0]: unsupported personality flag"},
    {"IntelRdtNotObject",
     {{"/linux/intelRdt", "true"}},
     "linux.intelRdt: want object, got boolean"},
};

INSTANTIATE_TEST_SUITE_P(Cases, BadConfigTest, ::testing::ValuesIn(kBadCases),
                         [](const ::testing::TestParamInfo<BadCase>& info) {
                           return std::string(info.param.name);
                         });

// Whole-document problems: not JSON, or not an object.
TEST_F(ParserTest, NotJson) {
  const struct {
    const char* text;
    const char* message;
  } cases[] = {
      {"", "invalid JSON: parse error at line 1, column 1"},
      {"{", "invalid JSON: parse error at line 1, column 2"},
      {"{\"ociVersion\": \"1.1.0\",\n \"root\": }",
       "invalid JSON: parse error at line 2, column 10"},
      {"{\"a\": 1} trailing", "invalid JSON: parse error at line 1, column 12"},
      {"{\"a\": \"\xff\"}", "invalid JSON: parse error at line 1"},
      {"// comment\n{}", "invalid JSON: parse error at line 1, column 1"},
      {"[]", "config: want object, got array"},
      {"\"x\"", "config: want object, got string"},
      {"null", "config: want object, got null"},
  };
  for (const auto& c : cases) {
    EXPECT_THAT(ParseSpec(c.text, bundle()),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << c.text;
  }
}

TEST_F(ParserTest, RootPathThatIsAFile) {
  { std::ofstream f(dir_->Sub("file")); }
  EXPECT_THAT(ParseSpec(R"({"ociVersion": "1.1.0", "root": {"path": "file"}})", bundle()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("root.path: ", bundle(), "/file is not a directory")));
}

}  // namespace
}  // namespace berth::runc::spec
