#include "runc/spec/default_spec.h"

#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runc/spec/parser.h"

namespace berth::runc::spec {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::TempDir;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

class DefaultSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> dir = TempDir::Create();
    ASSERT_THAT(dir, IsOk());
    dir_.emplace(std::move(*dir));
    ASSERT_EQ(mkdir(dir_->Sub("rootfs").c_str(), 0755), 0);
  }
  std::optional<TempDir> dir_;
};

TEST_F(DefaultSpecTest, ParsesAndMatchesRuncSpec) {
  const std::string json = DefaultSpecJson(/*rootless=*/false);
  EXPECT_THAT(json, StartsWith("{\n  \"ociVersion\": \"1.1.0\",\n  \"process\": {"));
  EXPECT_THAT(json, EndsWith("}\n"));

  absl::StatusOr<Spec> s = ParseSpec(json, dir_->path());
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->oci_version, kOciVersion);
  ASSERT_TRUE(s->process.has_value());
  const Process& p = *s->process;
  EXPECT_TRUE(p.terminal);
  EXPECT_EQ(p.user.uid, 0u);
  EXPECT_EQ(p.user.gid, 0u);
  EXPECT_THAT(p.args, ElementsAre("sh"));
  EXPECT_THAT(p.env,
              ElementsAre("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                          "TERM=xterm"));
  EXPECT_EQ(p.cwd, "/");
  ASSERT_TRUE(p.capabilities.has_value());
  for (const auto* set :
       {&p.capabilities->bounding, &p.capabilities->effective, &p.capabilities->permitted}) {
    EXPECT_THAT(*set, ElementsAre(CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE));
  }
  EXPECT_THAT(p.capabilities->inheritable, IsEmpty());
  EXPECT_THAT(p.capabilities->ambient, IsEmpty());
  ASSERT_EQ(p.rlimits.size(), 1u);
  EXPECT_EQ(p.rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(p.rlimits[0].soft, 1024u);
  EXPECT_EQ(p.rlimits[0].hard, 1024u);
  EXPECT_TRUE(p.no_new_privileges);

  EXPECT_EQ(s->root.path, dir_->Sub("rootfs"));
  EXPECT_TRUE(s->root.readonly);
  EXPECT_EQ(s->hostname, "berth");

  ASSERT_EQ(s->mounts.size(), 7u);
  const char* destinations[] = {"/proc",       "/dev", "/dev/pts",      "/dev/shm",
                                "/dev/mqueue", "/sys", "/sys/fs/cgroup"};
  const char* types[] = {"proc", "tmpfs", "devpts", "tmpfs", "mqueue", "sysfs", "cgroup"};
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(s->mounts[i].destination, destinations[i]);
    EXPECT_EQ(s->mounts[i].type, types[i]);
  }
  EXPECT_EQ(s->mounts[2].data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  EXPECT_EQ(s->mounts[5].flags,
            static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY));
  EXPECT_EQ(s->mounts[6].flags,
            static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME | MS_RDONLY));

  std::vector<NamespaceType> ns;
  for (const Namespace& n : s->linux.namespaces) {
    ns.push_back(n.type);
    EXPECT_EQ(n.path, "");
  }
  EXPECT_THAT(ns, ElementsAre(NamespaceType::kPid, NamespaceType::kNetwork, NamespaceType::kIpc,
                              NamespaceType::kUts, NamespaceType::kMount, NamespaceType::kCgroup));
  EXPECT_THAT(s->linux.uid_mappings, IsEmpty());
  ASSERT_TRUE(s->linux.resources.has_value());
  ASSERT_EQ(s->linux.resources->devices.size(), 1u);
  EXPECT_FALSE(s->linux.resources->devices[0].allow);
  EXPECT_EQ(s->linux.resources->devices[0].access, "rwm");
  EXPECT_THAT(
      s->linux.masked_paths,
      ElementsAre("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                  "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                  "/proc/scsi", "/sys/devices/virtual/tpm"));
  EXPECT_THAT(s->linux.readonly_paths, ElementsAre("/proc/bus", "/proc/fs", "/proc/irq",
                                                   "/proc/sys", "/proc/sysrq-trigger"));
}

TEST_F(DefaultSpecTest, Rootless) {
  const std::string json = DefaultSpecJson(/*rootless=*/true);
  absl::StatusOr<Spec> s = ParseSpec(json, dir_->path());
  ASSERT_THAT(s, IsOk());
  EXPECT_FALSE(s->HasNamespace(NamespaceType::kNetwork));
  ASSERT_TRUE(s->HasNamespace(NamespaceType::kUser));
  EXPECT_TRUE(s->HasNamespace(NamespaceType::kPid));
  EXPECT_TRUE(s->HasNamespace(NamespaceType::kMount));
  ASSERT_EQ(s->linux.uid_mappings.size(), 1u);
  EXPECT_EQ(s->linux.uid_mappings[0].container_id, 0u);
  EXPECT_EQ(s->linux.uid_mappings[0].host_id, geteuid());
  EXPECT_EQ(s->linux.uid_mappings[0].size, 1u);
  ASSERT_EQ(s->linux.gid_mappings.size(), 1u);
  EXPECT_EQ(s->linux.gid_mappings[0].host_id, getegid());
  EXPECT_FALSE(s->linux.resources.has_value());

  const Mount& sys = s->mounts[5];
  EXPECT_EQ(sys.destination, "/sys");
  EXPECT_TRUE(sys.bind);
  EXPECT_TRUE(sys.recursive);
  EXPECT_EQ(sys.source, "/sys");
  EXPECT_EQ(s->mounts[2].data, "newinstance,ptmxmode=0666,mode=0620");  // no gid=5
  EXPECT_THAT(json, Not(HasSubstr("gid=")));
  EXPECT_THAT(json, HasSubstr("\"hostname\": \"berth\""));
}

}  // namespace
}  // namespace berth::runc::spec
